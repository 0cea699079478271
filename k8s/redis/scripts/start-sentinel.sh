#!/usr/bin/env bash
# Entry point of the sentinel container. Sentinel rewrites its config file, so it
# runs from a writable copy on the pod's volume (never the read-only ConfigMap).
# The Sentinel id, epoch and known replicas and peers saved there survive
# restarts: peers never see a "new" Sentinel, votes stay consistent, and a
# restarted Sentinel can fail over at once even if the master dies before it
# has read the master's INFO (the only place Sentinel learns replicas from).
LOG_TAG=start-sentinel
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

MASTER_RESOLVE_TIMEOUT_SECONDS="${MASTER_RESOLVE_TIMEOUT_SECONDS:-120}"

saved_value() { # saved_value KEY -> value of "sentinel KEY value" in the saved state
  [[ -s $SAVED_SENTINEL_CONF ]] || return 1
  awk -v key="$1" '$1 == "sentinel" && $2 == key {print $3; found=1} END {exit !found}' "$SAVED_SENTINEL_CONF"
}
saved_master_value() { # saved_master_value KEY -> value of "sentinel KEY <master name> value" in the saved state
  [[ -s $SAVED_SENTINEL_CONF ]] || return 1
  awk -v key="$1" -v name="$MASTER_NAME" '$1 == "sentinel" && $2 == key && $3 == name {print $4; found=1} END {exit !found}' "$SAVED_SENTINEL_CONF"
}

# Prints "HOST EPOCH": the master to monitor and the config epoch of that knowledge. The epoch
# must survive a restart: Sentinels settle a disagreement by it (the higher one wins), so
# after a whole-tier restart the Sentinel of a pod that was hung during the last failover,
# and still names it, yields to the ones that saw the failover instead of tying with them.
choose_master() {
  local answer round host role
  for round in 1 2 3; do
    if answer=$(settled_master); then
      log "Sentinels settled on ${answer%% *} as master (config epoch $(awk '{print $3}' <<<"$answer"))"
      awk '{print $1, $3}' <<<"$answer"
      return 0
    fi
    ((round < 3)) && sleep 1
  done
  if host=$(saved_master); then
    log "no Sentinel majority; resuming saved state with master $host"
    echo "$host $(saved_master_value config-epoch || echo 0)"
    return 0
  fi
  if role=$(redis_role "$LOCAL_ADDRESS") && [[ $role == slave ]]; then
    host=$(redis_master_of "$LOCAL_ADDRESS")
    log "no Sentinel majority or saved state; local redis follows $host"
  elif [[ ${role:-} == master ]]; then
    host=$POD_FQDN
    log "no Sentinel majority or saved state; local redis is master"
  else
    host=$(first_node)
    log "cold start: monitoring the first pod $host"
  fi
  echo "$host 0"
}

wait_until_resolvable() {
  local host="$1" deadline=$((SECONDS + MASTER_RESOLVE_TIMEOUT_SECONDS))
  until getent ahosts "$host" >/dev/null; do
    if ((SECONDS >= deadline)); then
      log "master name $host does not resolve after ${MASTER_RESOLVE_TIMEOUT_SECONDS}s"
      return 1
    fi
    sleep 1
  done
}

# Saved "sentinel known-replica|known-sentinel" lines for our master name,
# except the replica entry for the host we now monitor as master.
saved_topology() {
  [[ -s $SAVED_SENTINEL_CONF ]] || return 0
  awk -v name="$MASTER_NAME" -v master="$1" '
    $1 == "sentinel" && $3 == name && $2 == "known-sentinel" { print }
    $1 == "sentinel" && $3 == name && $2 == "known-replica" && $4 != master { print }
  ' "$SAVED_SENTINEL_CONF"
}

mkdir -p "$DATA_DIR/sentinel"
read -r master config_epoch <<<"$(choose_master)"
wait_until_resolvable "$master"
myid=$(saved_value myid || true)
epoch=$(saved_value current-epoch || true)
leader_epoch=$(saved_master_value leader-epoch || true)
topology=$(saved_topology "$master")

{
  echo "port $SENTINEL_PORT"
  echo "dir $DATA_DIR/sentinel"
  sed -e "s|{{POD_FQDN}}|$POD_FQDN|g" -e "s|{{MASTER_HOST}}|$master|g" "$CONFIG_DIR/sentinel.conf"
  echo "sentinel announce-port $SENTINEL_PORT"
  if [[ -n $myid ]]; then echo "sentinel myid $myid"; fi
  if [[ -n $epoch ]]; then echo "sentinel current-epoch $epoch"; fi
  echo "sentinel config-epoch $MASTER_NAME $config_epoch"
  if [[ -n $leader_epoch ]]; then echo "sentinel leader-epoch $MASTER_NAME $leader_epoch"; fi
  if [[ -n $topology ]]; then echo "$topology"; fi
  echo "sentinel auth-user $MASTER_NAME sentinel"
  echo "sentinel auth-pass $MASTER_NAME $(first_password "${SENTINEL_USER_PASSWORDS:?SENTINEL_USER_PASSWORDS must be set}")"
  echo "requirepass $SENTINEL_PASSWORD"
  echo "sentinel sentinel-pass $SENTINEL_PASSWORD"
  # The clients' own users (sentinel-users.acl): lookups and events only, never the default user.
  acl_user_lines "$CONFIG_DIR/sentinel-users.acl"
} | write_private "$SAVED_SENTINEL_CONF"

log "starting redis-sentinel monitoring $master at config epoch $config_epoch${myid:+ as $myid}"
exec redis-sentinel "$SAVED_SENTINEL_CONF"
