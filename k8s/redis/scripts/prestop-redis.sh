#!/usr/bin/env bash
# preStop of the redis container: if this pod is the master, hand the role to a
# replica before Kubernetes stops it, so a planned restart loses no write.
#  1. pause writes (clients block instead of writing to a master about to go),
#  2. wait until a replica has every byte (offsets equal),
#  3. SENTINEL FAILOVER, then wait until the Sentinels agree on the new master,
#  4. become the new master's replica, and unpause: blocked clients get READONLY
#     and re-resolve.
LOG_TAG=prestop-redis
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PRESTOP_TIMEOUT_SECONDS="${PRESTOP_TIMEOUT_SECONDS:-50}"
SYNC_WAIT_SECONDS="${SYNC_WAIT_SECONDS:-5}"
deadline=$((SECONDS + PRESTOP_TIMEOUT_SECONDS))

[[ $(redis_role "$LOCAL_ADDRESS" || true) == master ]] || { log "not the master; nothing to hand over"; exit 0; }

info_field() { sed -n "s/^$1:\\([^[:space:]]*\\).*/\\1/p" <<<"$2"; }
replication=$(redis_cmd "$LOCAL_ADDRESS" INFO replication | tr -d '\r')
if (( $(info_field connected_slaves "$replication") == 0 )); then
  log "master with no connected replica; stopping without handover"
  exit 0
fi

pause_ms=$(( (deadline - SECONDS) * 1000 ))
redis_cmd "$LOCAL_ADDRESS" CLIENT PAUSE "$pause_ms" WRITE >/dev/null
trap 'redis_cmd "$LOCAL_ADDRESS" CLIENT UNPAUSE >/dev/null 2>&1 || true' EXIT
log "writes paused for at most ${pause_ms}ms"

# Wait until the best replica has acknowledged everything the master wrote.
sync_deadline=$((SECONDS + SYNC_WAIT_SECONDS))
while ((SECONDS < sync_deadline)); do
  replication=$(redis_cmd "$LOCAL_ADDRESS" INFO replication | tr -d '\r')
  master_offset=$(info_field master_repl_offset "$replication")
  best=$(grep -o 'offset=[0-9]*' <<<"$replication" | cut -d= -f2 | sort -n | tail -n 1)
  [[ -n $best && $best -ge $master_offset ]] && break
  sleep 0.1
done
log "replica offset ${best:-none} of master offset $master_offset"

failover_requested=0
for sentinel in "$LOCAL_ADDRESS" $REDIS_NODES; do
  if [[ $(sentinel_cmd "$sentinel" SENTINEL FAILOVER "$MASTER_NAME" 2>&1) == OK ]]; then
    log "failover requested through Sentinel at $sentinel"
    failover_requested=1
    break
  fi
done
((failover_requested)) || { log "no Sentinel accepted SENTINEL FAILOVER; stopping without handover"; exit 0; }

# Follow the promoted replica as soon as it reports ROLE master: while writes are
# paused here, only Sentinel's failover can have made a peer master. Demoting now,
# rather than after Sentinel's next INFO round (~10 s), leaves no moment with two
# masters, and clients blocked by the pause get READONLY and re-resolve at once.
demoted=""
while ((SECONDS < deadline)); do
  if [[ -z $demoted ]] && promoted=$(peer_master); then
    redis_cmd "$LOCAL_ADDRESS" REPLICAOF "$promoted" "$REDIS_PORT" >/dev/null && demoted=$promoted \
      && log "$promoted was promoted; now its replica"
  fi
  if answer=$(sentinel_majority_master) && [[ ${answer% *} != "$POD_FQDN" ]] \
      && [[ $(redis_role "${answer% *}" || true) == master ]]; then
    log "handover complete: ${answer% *} is master (Sentinel majority agrees)"
    [[ -n $demoted ]] || redis_cmd "$LOCAL_ADDRESS" REPLICAOF "${answer% *}" "$REDIS_PORT" >/dev/null || true
    exit 0
  fi
  sleep 0.1
done
log "handover not confirmed within ${PRESTOP_TIMEOUT_SECONDS}s"
