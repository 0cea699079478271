#!/usr/bin/env bash
# Entry point of the redis container: decide this pod's role from the cluster's
# own state, write the runtime config, then exec redis-server in the foreground.
#
# A restarting pod never assumes it is the master. In order:
#  1. A majority of Sentinels name the master:
#     - another pod, verified with ROLE -> replicate it;
#     - this pod, while a peer replica holds data synced from it -> wait for
#       Sentinel to promote that replica (its copy is at least as new as our AOF);
#     - this pod, while a peer reports ROLE master -> a failover is under way: wait;
#     - this pod, with no replica holding its data -> serve as master from the AOF.
#  2. No Sentinel answers at all: a peer that reports ROLE master, else the master
#     in the Sentinel state saved on this pod's volume.
#  3. True cold start (nothing answers, nothing saved): the first pod is master.
# Sentinels that answer but cannot agree are waited for; we never guess.
LOG_TAG=start-redis
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

DISCOVERY_TIMEOUT_SECONDS="${DISCOVERY_TIMEOUT_SECONDS:-60}"
SILENT_ROUNDS_BEFORE_FALLBACK="${SILENT_ROUNDS_BEFORE_FALLBACK:-3}"

# Prints "master" or "replica HOST".
decide_role() {
  local deadline=$((SECONDS + DISCOVERY_TIMEOUT_SECONDS)) silent=0 named_me=0 answer rc host promoted
  while ((SECONDS < deadline)); do
    rc=0
    answer=$(sentinel_majority_master) || rc=$?
    case $rc in
      0)
        host=${answer% *}
        if [[ $host == "$POD_FQDN" ]]; then
          named_me=1
          if has_synced_replica_of "$POD_FQDN"; then
            log "Sentinels still name this pod master and a replica holds its data; waiting for Sentinel to promote it"
          elif promoted=$(peer_master); then
            # Mid-failover: the replica is promoted but the majority has not heard yet.
            log "Sentinels still name this pod master but $promoted reports ROLE master; waiting for Sentinel to agree"
          else
            log "Sentinels name this pod master and no replica holds data from it; serving as master from local data"
            echo master
            return 0
          fi
        elif [[ $(redis_role "$host" || true) == master ]]; then
          log "Sentinel majority names $host as master (verified with ROLE)"
          echo "replica $host"
          return 0
        else
          log "Sentinels name $host but it does not report ROLE master yet; waiting"
        fi
        silent=0
        ;;
      1) log "Sentinels answer but no majority agrees on a master; waiting"; silent=0 ;;
      *)
        silent=$((silent + 1))
        if ((silent >= SILENT_ROUNDS_BEFORE_FALLBACK)); then
          fallback_role
          return 0
        fi
        ;;
    esac
    sleep 1
  done
  if ((named_me)) && ! peer_master >/dev/null; then
    # Sentinel could not promote a replica (e.g. all too stale): our data is the best there is.
    log "no failover happened within ${DISCOVERY_TIMEOUT_SECONDS}s; serving as master from local data"
    echo master
    return 0
  fi
  log "no agreed master within ${DISCOVERY_TIMEOUT_SECONDS}s; exiting so the kubelet retries"
  return 1
}

fallback_role() {
  local host
  if host=$(peer_master); then
    log "no Sentinel answers; peer $host reports ROLE master"
  elif host=$(saved_master); then
    log "no Sentinel answers; using the master in saved Sentinel state: $host"
  else
    host=$(first_node)
    if has_local_data; then
      log "no Sentinel answers and no saved state, but local data exists; following the first pod $host"
    else
      log "cold start: nothing answers and no data anywhere; the first pod $host is master"
    fi
  fi
  if [[ $host == "$POD_FQDN" ]]; then echo master; else echo "replica $host"; fi
}

: "${REPLICATION_PASSWORDS:?REPLICATION_PASSWORDS must be set}"
role=$(decide_role)
mkdir -p "$RUNTIME_DIR"
{
  echo "include $CONFIG_DIR/redis.conf"
  echo "port $REDIS_PORT"
  if [[ -n ${REDIS_BIND:-} ]]; then echo "bind $REDIS_BIND"; fi
  echo "dir $DATA_DIR"
  echo "replica-announce-ip $POD_FQDN"
  echo "replica-announce-port $REDIS_PORT"
  # Least privilege: one user per role (users.acl), and no default user at all.
  echo "user default reset off"
  acl_user_lines
  echo "masteruser replication"
  echo "masterauth $(first_password "$REPLICATION_PASSWORDS")"
  if [[ $role == replica* ]]; then echo "replicaof ${role#replica } $REDIS_PORT"; fi
} | write_private "$RUNTIME_DIR/redis.conf"

log "starting redis-server as ${role}"
exec redis-server "$RUNTIME_DIR/redis.conf"
