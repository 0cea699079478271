#!/usr/bin/env bash
# Entry point of the redis container: decide this pod's role from the cluster's
# own state, write the runtime config, then exec redis-server in the foreground.
#
# A restarting pod never assumes it is the master, and never guesses. It waits for the
# Sentinels (they start from the state saved on each volume, epochs included) to settle on
# a master: the one named at the highest config epoch, by a majority at that epoch
# (settled_master in lib.sh). Then:
#  - another pod is named -> replicate it (Redis retries until it answers; Sentinel moves
#    the replica on if that pod turns out to be gone);
#  - this pod is named -> serve as master only once every Sentinel has answered (one not
#    up yet may know of a newer master), and only if:
#    - its volume holds data, no peer replica holds data synced from it (Sentinel is
#      promoting that replica: wait) and no peer already reports ROLE master; or
#    - its volume is empty and every peer answers empty (a true cold start). An empty pod
#      never serves while a peer holds data or does not answer: it waits for Sentinel to
#      promote a peer that has the data.
# After a whole-tier restart the pod that was hung or cut off when Sentinel failed over
# comes back with the older epoch, so it follows; the newest master serves its own data.
LOG_TAG=start-redis
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

DISCOVERY_TIMEOUT_SECONDS="${DISCOVERY_TIMEOUT_SECONDS:-60}"
# How long a pod named master waits for every Sentinel to answer before a majority at the
# highest epoch is enough (a pod that stays away must not keep the others down forever).
ALL_SENTINELS_WAIT_SECONDS="${ALL_SENTINELS_WAIT_SECONDS:-$((DISCOVERY_TIMEOUT_SECONDS / 2))}"

# Peer replicas of this pod that hold keys become promotable: their copy beats this empty volume.
release_replicas_with_data() {
  local node info
  for node in $REDIS_NODES; do
    [[ $node == "$POD_FQDN" ]] && continue
    info=$(redis_cmd "$node" INFO 2>/dev/null | tr -d '\r') || continue
    if grep -qx "master_host:$POD_FQDN" <<<"$info" && grep -q '^db[0-9]*:keys=' <<<"$info" && grep -qx 'slave_priority:0' <<<"$info"; then
      restore_replica_priority "$node" && log "$node holds data: made it promotable"
    fi
  done
  return 0
}

# Prints "master" when this pod may serve as master now; logs why it waits otherwise.
may_serve_as_master() {
  local peers promoted
  if ! has_local_data; then
    peers=$(peers_data)
    case $peers in
      none) log "Sentinels name this pod master, its volume is empty and so is every peer's: cold start"; echo master ;;
      data)
        log "Sentinels name this pod master but its volume is empty and a peer holds data; waiting for Sentinel to promote it"
        # Replicas that could not sync from this empty pod stay unpromotable otherwise.
        release_replicas_with_data
        ;;
      *) log "Sentinels name this pod master but its volume is empty and a peer that does not answer may hold data; waiting" ;;
    esac
  elif has_synced_replica_of "$POD_FQDN"; then
    log "Sentinels still name this pod master and a replica holds its data; waiting for Sentinel to promote it"
  elif promoted=$(peer_master); then
    # Mid-failover: the replica is promoted but the majority has not heard yet.
    log "Sentinels still name this pod master but $promoted reports ROLE master; waiting for Sentinel to agree"
  else
    log "Sentinels name this pod master and no replica holds data from it; serving as master from local data"
    echo master
  fi
}

# Prints "master" or "replica HOST".
decide_role() {
  local started=$SECONDS deadline=$((SECONDS + DISCOVERY_TIMEOUT_SECONDS)) named_me=0 answer rc host epoch answered verdict
  while ((SECONDS < deadline)); do
    rc=0
    answer=$(settled_master) || rc=$?
    case $rc in
      0)
        read -r host _ epoch answered <<<"$answer"
        if [[ $host != "$POD_FQDN" ]]; then
          log "Sentinels settled on $host as master (config epoch $epoch, $answered of $(node_count) answering); replicating it"
          echo "replica $host"
          return 0
        fi
        named_me=1
        if ((answered < $(node_count) && SECONDS - started < ALL_SENTINELS_WAIT_SECONDS)); then
          log "a Sentinel majority names this pod master at epoch $epoch; waiting for every Sentinel (up to ${ALL_SENTINELS_WAIT_SECONDS}s) in case one knows a newer master"
        else
          verdict=$(may_serve_as_master)
          if [[ $verdict == master ]]; then echo master; return 0; fi
        fi
        ;;
      1) log "Sentinels answer but have not settled on a master; waiting" ;;
      *) log "no Sentinel answers yet; waiting" ;;
    esac
    sleep 1
  done
  if ((named_me)) && has_local_data && ! peer_master >/dev/null; then
    # Sentinel could not promote a replica (e.g. all too stale): our data is the best there is.
    log "no failover happened within ${DISCOVERY_TIMEOUT_SECONDS}s; serving as master from local data"
    echo master
    return 0
  fi
  log "no agreed master within ${DISCOVERY_TIMEOUT_SECONDS}s; exiting so the kubelet retries"
  return 1
}

: "${REPLICATION_PASSWORDS:?REPLICATION_PASSWORDS must be set}"
role=$(decide_role)
mkdir -p "$RUNTIME_DIR"
{
  echo "include $CONFIG_DIR/redis.conf"
  echo "port $REDIS_PORT"
  echo "dir $DATA_DIR"
  echo "replica-announce-ip $POD_FQDN"
  echo "replica-announce-port $REDIS_PORT"
  # Least privilege: one user per role (users.acl), and no default user at all.
  echo "user default reset off"
  acl_user_lines "$CONFIG_DIR/users.acl"
  echo "masteruser replication"
  echo "masterauth $(first_password "$REPLICATION_PASSWORDS")"
  if [[ $role == replica* ]]; then
    echo "replicaof ${role#replica } $REDIS_PORT"
    # Until its first sync in this run it holds only its own old copy, and Sentinel would count
    # a link never up (master_link_down_since_seconds -1) as fresh (sentinelSelectSlave): it is
    # not promotable until follow-promotion.sh sees the sync done and restores the priority.
    echo "replica-priority 0"
  fi
} | write_private "$RUNTIME_DIR/redis.conf"

log "starting redis-server as ${role}"
exec redis-server "$RUNTIME_DIR/redis.conf"
