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
#  2. Wait, unpaused, until the target (or every candidate) has caught up; then pause writes
#     (CLIENT PAUSE WRITE), check it holds every byte and request the failover within half of
#     Sentinel's down-after (below). When that does not fit, release writes and try again; if
#     nothing fits within SYNC_WAIT_SECONDS: refuse, changing nothing.
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

# The pause must end before Sentinel reads it as a dead master. Its hello PUBLISH waits out a
# WRITE pause (PUBLISH may replicate: processCommand in src/server.c, redis/redis), the PINGs it
# sends after it queue on the same link, and once one is down-after-milliseconds old the master
# is down (sentinelCheckSubjectivelyDown in src/sentinel.c): the Sentinels start a failover of
# their own beside this one. Seen in CI: a 5 s check under a 2 s down-after, two promotions, and
# no single master for the handover to follow. So the paused steps up to the failover request
# get half of down-after; when that is not enough, writes are released and the catch-up runs
# again, unpaused, until SYNC_WAIT_SECONDS.
down_after_ms=$(sentinel_cmd "$sentinel" SENTINEL MASTER "$MASTER_NAME" 2>/dev/null | tr -d '\r' | awk 'key == "down-after-milliseconds" { print; exit } { key = $0 }')
[[ $down_after_ms =~ ^[0-9]+$ ]] || { log "refused: Sentinel at $sentinel does not report down-after-milliseconds for $MASTER_NAME"; exit 3; }
paused_budget_ms=$((down_after_ms / 2))
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# Offsets are asked of each replica itself: the ones a master lists come from acknowledgements
# sent once a second, a replica's own is current.
replica_offset() { info_field master_repl_offset "$(redis_cmd "$1" INFO replication 2>/dev/null | tr -d '\r')"; }
local_offset() { info_field master_repl_offset "$(redis_cmd "$LOCAL_ADDRESS" INFO replication | tr -d '\r')"; }
# lagging_behind OFFSET: the candidates (the target, or every online replica) below OFFSET.
lagging_behind() {
  local replica offset lagging=""
  while read -r replica; do
    [[ -n $TARGET && $replica != "$TARGET" ]] && continue
    offset=$(replica_offset "$replica")
    ((${offset:-0} >= $1)) || lagging+="$replica "
  done <<<"$replicas"
  echo "${lagging% }"
}

# paused_handover: pause writes, check that the candidates hold every byte, ask Sentinel to fail
# over, all within the budget. 0: the failover was requested (writes stay paused); 1: the budget
# ran out (writes released again); exits 3 when Sentinel refuses.
paused_handover() {
  local remaining paused_at answer
  remaining=$((deadline - SECONDS))
  ((remaining > 0)) || { log "refused: no time left within ${SWITCHOVER_TIMEOUT_SECONDS}s"; exit 3; }
  pause_ms=$(((remaining < PAUSE_LIMIT_SECONDS ? remaining : PAUSE_LIMIT_SECONDS) * 1000))
  redis_cmd "$LOCAL_ADDRESS" CLIENT PAUSE "$pause_ms" WRITE >/dev/null
  paused=1
  paused_at=$(now_ms)
  master_offset=$(local_offset)
  while [[ -n $(lagging_behind "$master_offset") ]]; do
    (($(now_ms) - paused_at < paused_budget_ms)) || { release_writes; return 1; }
    sleep 0.05
  done
  log "writes paused; ${TARGET:-every online replica} holds offset $master_offset ($(($(now_ms) - paused_at)) ms in)"
  # NOGOODSLAVE can be a moment's view: Sentinel skips a replica whose last PING reply is over
  # five ping periods old (sentinelSelectSlave in src/sentinel.c), and on loaded nodes a reply can
  # be late. It pings every second: ask again while the budget lasts.
  until answer=$(sentinel_cmd "$sentinel" SENTINEL FAILOVER "$MASTER_NAME" 2>&1) && [[ $answer == OK ]]; do
    if [[ $answer != *NOGOODSLAVE* ]]; then
      log "refused: Sentinel at $sentinel did not accept SENTINEL FAILOVER: ${answer:-no answer}"
      exit 3
    fi
    (($(now_ms) - paused_at < paused_budget_ms)) || { release_writes; return 1; }
    sleep 0.2
  done
}
release_writes() { redis_cmd "$LOCAL_ADDRESS" CLIENT UNPAUSE >/dev/null && paused=0; }

sync_deadline=$((SECONDS + SYNC_WAIT_SECONDS))
attempts=0
while :; do
  # Unpaused first: catch up with where the master is now, so the paused check is short.
  caught_up_to=$(local_offset)
  until lagging=$(lagging_behind "$caught_up_to") && [[ -z $lagging ]]; do
    ((SECONDS < sync_deadline)) || { log "refused: $lagging not in sync with offset $caught_up_to after ${SYNC_WAIT_SECONDS}s"; exit 3; }
    sleep 0.05
  done
  attempts=$((attempts + 1))
  paused_handover && break
  ((SECONDS < sync_deadline)) || { log "refused: no attempt fitted its ${paused_budget_ms} ms of paused writes (half of down-after) within ${SYNC_WAIT_SECONDS}s; $attempts tried"; exit 3; }
  log "attempt $attempts did not fit ${paused_budget_ms} ms of paused writes; writes released, trying again"
done
log "failover requested through Sentinel at $sentinel"

# Follow the promoted replica the moment it reports ROLE master; only Sentinel can have
# promoted it while writes are paused here.
promote_deadline=$((SECONDS + pause_ms / 1000))
while ((SECONDS < promote_deadline)); do
  if promoted=$(peer_master) && [[ -z $TARGET || $promoted == "$TARGET" ]]; then
    redis_cmd "$LOCAL_ADDRESS" REPLICAOF "$promoted" "$REDIS_PORT" >/dev/null
    release_writes
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
