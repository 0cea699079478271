#!/usr/bin/env bash
# Entry point of the promotion-follower container:
#   follow-promotion.sh            watch every Sentinel and follow promotions
#   follow-promotion.sh handle EV  act on one +failover-state-wait-promotion payload
#
# Why: after a failover the new master refuses writes (min-replicas-to-write)
# until a replica follows it, and Sentinel only reconfigures the other replicas
# once it has seen the promotion in the promoted replica's INFO, which it polls
# once a second. That wait was most of the write pause after the failover
# itself. The leader Sentinel announces its choice on +failover-state-wait-promotion
# right after it sent REPLICAOF NO ONE; this pod's replica follows the chosen one
# then, doing early exactly what Sentinel will ask it to do ("+slave-reconf-sent"
# then finds it already in place). The old master also loses this replica
# sooner, so it stops accepting writes sooner.
#
# Safety: only a replica that still follows the failed master moves, only to the
# replica the event names, and only once that replica answers ROLE master. If the
# failover is aborted, Sentinel's own fix-slave-config puts every replica back
# under the master it agrees on, as for any misconfigured replica.
LOG_TAG=follow-promotion
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PROMOTION_WAIT_SECONDS="${PROMOTION_WAIT_SECONDS:-3}"
CHANNEL=+failover-state-wait-promotion

# A payload reads "slave <name> <host> <port> @ <master-name> <old-host> <old-port>".
handle_promotion() {
  local kind host port at master old_host old_port
  read -r kind _ host port at master old_host old_port <<<"$1"
  [[ $kind == slave && $at == @ && $master == "$MASTER_NAME" && -n $old_port ]] || return 0
  [[ $host == "$POD_FQDN" ]] && return 0
  [[ $(redis_role "$LOCAL_ADDRESS" 2>/dev/null || true) == slave ]] || return 0
  local following
  following=$(redis_master_of "$LOCAL_ADDRESS") || return 0
  if [[ $following == "$host" ]]; then
    log "already following $host: Sentinel reconfigured this replica first"
    return 0
  elif [[ $following != "$old_host" ]]; then
    log "not following $host: this replica follows $following, not the failed $old_host"
    return 0
  fi
  local deadline=$((SECONDS + PROMOTION_WAIT_SECONDS))
  until [[ $(redis_role "$host" 2>/dev/null || true) == master ]]; do
    if ((SECONDS >= deadline)); then
      log "not following $host: it did not report ROLE master within ${PROMOTION_WAIT_SECONDS}s; Sentinel will reconfigure"
      return 0
    fi
    sleep 0.02
  done
  if redis_cmd "$LOCAL_ADDRESS" REPLICAOF "$host" "$port" >/dev/null; then
    log "following $host (promoted in place of $old_host) ahead of Sentinel's reconfiguration"
  else
    log "REPLICAOF $host $port failed; Sentinel will reconfigure"
  fi
}

# Subscribe to one Sentinel for as long as this container lives; it may be down or
# restarting, so reconnect every second. Only the failover leader publishes the event.
watch_sentinel() {
  local node="$1" line payload
  while true; do
    while IFS= read -r line; do
      # --csv lines: "message","+failover-state-wait-promotion","slave ..."
      [[ $line == '"message",'* ]] || continue
      payload=${line#*\",\"*\",\"}
      handle_promotion "${payload%\"}" || true
    done < <(REDISCLI_AUTH="$SENTINEL_PASSWORD" redis-cli --no-auth-warning --csv \
      -h "$node" -p "$SENTINEL_PORT" SUBSCRIBE "$CHANNEL" 2>/dev/null)
    sleep 1
  done
}

# A replica starts unpromotable (start-redis.sh); once its first sync in this run is done its
# data is the master's, and it gets the configured priority back. Once per redis-server run
# (run_id): a priority of 0 set later is an operator's or switchover.sh's steering, not ours.
release_priority_after_sync() {
  local info run_id settled_run=""
  while true; do
    info=$(redis_cmd "$LOCAL_ADDRESS" INFO 2>/dev/null | tr -d '\r') || info=""
    run_id=$(sed -n 's/^run_id://p' <<<"$info")
    if [[ -n $run_id && $run_id != "$settled_run" ]]; then
      if ! grep -qx 'slave_priority:0' <<<"$info" || ! grep -qx 'role:slave' <<<"$info"; then
        settled_run=$run_id
      elif grep -qx 'master_link_status:up' <<<"$info" && grep -qx 'master_sync_in_progress:0' <<<"$info"; then
        restore_replica_priority "$LOCAL_ADDRESS" && settled_run=$run_id \
          && log "synced from $(sed -n 's/^master_host://p' <<<"$info"): promotable again"
      fi
    fi
    sleep 1
  done
}

case "${1:-watch}" in
  watch)
    # As PID 1 in the container: ignore TERM for ourselves, pass it to every subscriber.
    trap 'trap "" TERM; kill -TERM 0 2>/dev/null; exit 0' TERM INT
    for node in $REDIS_NODES; do watch_sentinel "$node" & done
    release_priority_after_sync &
    log "watching $CHANNEL on every Sentinel"
    wait
    ;;
  handle) handle_promotion "${2:?usage: follow-promotion.sh handle PAYLOAD}" ;;
  *) echo "usage: follow-promotion.sh [watch | handle PAYLOAD]" >&2; exit 2 ;;
esac
