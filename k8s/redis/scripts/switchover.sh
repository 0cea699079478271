#!/usr/bin/env bash
# switchover.sh [--check] [TARGET]: move the master role from this pod to a replica, losing
# no write. Run inside the master pod: by the preStop hook, by `npm run ops -- switchover`
# (kubectl exec) and by the local topology. --check prints this pod's role and exits.
#
#  1. Choose the target: TARGET (a replica's stable name), else every online replica is a
#     candidate. With a TARGET, Sentinel is made to choose it: replica-priority 0 on every
#     other replica (restored on exit), then wait until the Sentinel that will run the failover
#     sees those priorities (it reads them from INFO, every 10 s). Either way, wait until that
#     Sentinel sees a candidate it may promote (a replica restarted moments ago is not one until
#     its first sync). No write is paused yet.
#  2. Pause writes (CLIENT PAUSE WRITE) and wait until the target (or every candidate) holds
#     every byte. If not within SYNC_WAIT_SECONDS: refuse, changing nothing.
#  3. SENTINEL FAILOVER. The moment the promoted replica reports ROLE master, this pod follows
#     it (REPLICAOF), so there is never a moment with two writable masters, and the pause is
#     released: blocked clients get READONLY and follow the new master.
#  4. Wait until a majority of the Sentinels names the new master.
#
# Exit codes: 0 done (or this pod is not the master: nothing to do), 3 refused (nothing
# changed), 1 failed. Writes are never left paused and priorities are always restored.
LOG_TAG=switchover
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

if [[ ${1:-} == --check ]]; then
  redis_role "$LOCAL_ADDRESS" || echo down
  exit 0
fi
TARGET="${1:-}"
SWITCHOVER_TIMEOUT_SECONDS="${SWITCHOVER_TIMEOUT_SECONDS:-60}"
# The longest writes may stay paused. The pause is released explicitly on every path; this
# bounds it if the script itself is killed.
PAUSE_LIMIT_SECONDS="${PAUSE_LIMIT_SECONDS:-10}"
SYNC_WAIT_SECONDS="${SYNC_WAIT_SECONDS:-5}"
PRIORITY_WAIT_SECONDS="${PRIORITY_WAIT_SECONDS:-15}"
deadline=$((SECONDS + SWITCHOVER_TIMEOUT_SECONDS))

[[ $(redis_role "$LOCAL_ADDRESS" || true) == master ]] || { log "not the master; nothing to hand over"; exit 0; }

info_field() { sed -n "s/^$1:\\([^[:space:]]*\\).*/\\1/p" <<<"$2"; }
# Online replicas of this master, one stable name a line (INFO replication slaveN fields).
online_replicas() {
  redis_cmd "$LOCAL_ADDRESS" INFO replication | tr -d '\r' \
    | sed -n 's/^slave[0-9]*:ip=\([^,]*\),port=[0-9]*,state=online,.*/\1/p'
}

replicas=$(online_replicas)
[[ -n $replicas ]] || { log "refused: no online replica to hand over to"; exit 3; }
if [[ -n $TARGET ]]; then
  grep -qx "$TARGET" <<<"$replicas" || { log "refused: $TARGET is not an online replica of this master (online: $(paste -sd' ' <<<"$replicas"))"; exit 3; }
fi

# The Sentinel that will run the failover: the first that answers, this pod's own first.
sentinel=""
for node in "$LOCAL_ADDRESS" $REDIS_NODES; do
  if sentinel_cmd "$node" PING 2>/dev/null | grep -qx PONG; then sentinel=$node; break; fi
done
[[ -n $sentinel ]] || { log "refused: no Sentinel answers"; exit 3; }

paused=0
restore_priorities=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  ((paused)) && { redis_cmd "$LOCAL_ADDRESS" CLIENT UNPAUSE >/dev/null 2>&1 || true; }
  local entry
  for entry in "${restore_priorities[@]}"; do
    redis_cmd "${entry% *}" CONFIG SET replica-priority "${entry##* }" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# The priority Sentinel reports for a replica (SENTINEL REPLICAS: key and value lines).
sentinel_sees_priority() {
  sentinel_cmd "$sentinel" SENTINEL REPLICAS "$MASTER_NAME" 2>/dev/null | tr -d '\r' \
    | awk -v host="$1" 'NR % 2 == 1 {key = $0; next} key == "ip" {ip = $0} key == "slave-priority" && ip == host {print $0}'
}

# An online replica at priority 0 may be one restarted moments ago whose lock
# (start-redis.sh) follow-promotion.sh lifts within a second of its sync: let it, so the
# priority recorded and restored below is the lasting one. A 0 that stays is an operator's.
lock_deadline=$((SECONDS + 3))
while ((SECONDS < lock_deadline)); do
  locked=0
  while read -r replica; do
    [[ $(redis_cmd "$replica" CONFIG GET replica-priority 2>/dev/null | sed -n 2p) == 0 ]] && locked=1
  done <<<"$replicas"
  ((locked)) || break
  sleep 0.2
done

if [[ -n $TARGET ]]; then
  while read -r other; do
    [[ $other == "$TARGET" ]] && continue
    previous=$(redis_cmd "$other" CONFIG GET replica-priority | sed -n 2p)
    redis_cmd "$other" CONFIG SET replica-priority 0 >/dev/null
    restore_priorities+=("$other ${previous:-100}")
  done <<<"$replicas"
  priority_deadline=$((SECONDS + PRIORITY_WAIT_SECONDS))
  for entry in "${restore_priorities[@]}"; do
    until [[ $(sentinel_sees_priority "${entry% *}") == 0 ]]; do
      ((SECONDS < priority_deadline)) || { log "refused: Sentinel at $sentinel does not see ${entry% *} excluded after ${PRIORITY_WAIT_SECONDS}s"; exit 3; }
      sleep 0.2
    done
  done
  log "Sentinel at $sentinel will choose $TARGET"
fi

# A replica restarted moments ago is unpromotable until its first sync (start-redis.sh), and
# Sentinel sees its priority back only at its next INFO: wait until it sees a candidate it may promote.
promotable_candidate() {
  local replica priority
  while read -r replica; do
    [[ -n $TARGET && $replica != "$TARGET" ]] && continue
    priority=$(sentinel_sees_priority "$replica")
    ((${priority:-0} > 0)) && return 0
  done <<<"$replicas"
  return 1
}
priority_deadline=$((SECONDS + PRIORITY_WAIT_SECONDS))
until promotable_candidate; do
  ((SECONDS < priority_deadline)) || { log "refused: Sentinel at $sentinel sees no promotable ${TARGET:-replica} after ${PRIORITY_WAIT_SECONDS}s"; exit 3; }
  sleep 0.2
done

remaining=$((deadline - SECONDS))
((remaining > 0)) || { log "refused: no time left within ${SWITCHOVER_TIMEOUT_SECONDS}s"; exit 3; }
pause_ms=$(( (remaining < PAUSE_LIMIT_SECONDS ? remaining : PAUSE_LIMIT_SECONDS) * 1000 ))
redis_cmd "$LOCAL_ADDRESS" CLIENT PAUSE "$pause_ms" WRITE >/dev/null
paused=1
log "writes paused for at most ${pause_ms}ms"

# Every byte on the target (or on every candidate). Asked of each replica itself: the offsets
# a master lists come from acknowledgements sent once a second, a replica's own is current.
replica_offset() { info_field master_repl_offset "$(redis_cmd "$1" INFO replication 2>/dev/null | tr -d '\r')"; }
master_offset=$(info_field master_repl_offset "$(redis_cmd "$LOCAL_ADDRESS" INFO replication | tr -d '\r')")
sync_deadline=$((SECONDS + SYNC_WAIT_SECONDS))
while :; do
  lagging=""
  while read -r replica; do
    [[ -n $TARGET && $replica != "$TARGET" ]] && continue
    offset=$(replica_offset "$replica")
    ((${offset:-0} >= master_offset)) || lagging+="$replica "
  done <<<"$replicas"
  [[ -z $lagging ]] && break
  ((SECONDS < sync_deadline)) || { log "refused: ${lagging% } not in sync with offset $master_offset after ${SYNC_WAIT_SECONDS}s"; exit 3; }
  sleep 0.05
done
log "${TARGET:-every online replica} holds offset $master_offset"

# NOGOODSLAVE can be a moment's view: Sentinel skips a replica whose last PING reply is over
# five ping periods old (sentinelSelectSlave, redis/redis src/sentinel.c), and on loaded nodes
# a reply can be late. It pings every second, so ask again for a few seconds, still paused.
failover_deadline=$((SECONDS + 3))
until answer=$(sentinel_cmd "$sentinel" SENTINEL FAILOVER "$MASTER_NAME" 2>&1) && [[ $answer == OK ]]; do
  if [[ $answer != *NOGOODSLAVE* ]] || ((SECONDS >= failover_deadline)); then
    log "refused: Sentinel at $sentinel did not accept SENTINEL FAILOVER: ${answer:-no answer}"
    exit 3
  fi
  sleep 0.2
done
log "failover requested through Sentinel at $sentinel"

# Follow the promoted replica the moment it reports ROLE master; only Sentinel can have
# promoted it while writes are paused here.
promote_deadline=$((SECONDS + pause_ms / 1000))
while ((SECONDS < promote_deadline)); do
  if promoted=$(peer_master) && [[ -z $TARGET || $promoted == "$TARGET" ]]; then
    redis_cmd "$LOCAL_ADDRESS" REPLICAOF "$promoted" "$REDIS_PORT" >/dev/null
    redis_cmd "$LOCAL_ADDRESS" CLIENT UNPAUSE >/dev/null && paused=0
    log "$promoted was promoted; now its replica, writes released"
    break
  fi
  sleep 0.05
done
[[ -n ${promoted:-} ]] || { log "failed: no replica was promoted while writes were paused (${pause_ms}ms)"; exit 1; }

while ((SECONDS < deadline)); do
  if answer=$(sentinel_majority_master) && [[ ${answer% *} == "$promoted" ]]; then
    log "handover complete: $promoted is master (Sentinel majority agrees)"
    exit 0
  fi
  sleep 0.1
done
log "failed: the Sentinels did not agree on $promoted within ${SWITCHOVER_TIMEOUT_SECONDS}s"
exit 1
