#!/usr/bin/env bash
# Shared helpers for the Redis pod's start, probe and preStop scripts.
# Sourced, never run. Every value comes from the environment the StatefulSet
# (or the local topology) sets, declared in k8s/redis/podEnvironment.ts; see
# docs/failover.md "Pod environment contract".
#
#   POD_FQDN           this pod's stable DNS name, announced to peers
#   REDIS_NODES        stable names of all Redis pods, in ordinal order
#   REDIS_PORT         Redis port (6379)          SENTINEL_PORT  Sentinel port (26379)
#   MASTER_NAME        name Sentinel monitors (the quorum is in the rendered sentinel.conf)
#   REDIS_PASSWORD     the Redis user `admin`'s password (from the Secret): these scripts,
#                      backups and operators; the default user is off (users.acl)
#   SENTINEL_PASSWORD  Sentinel requirepass (from the Secret), or with SENTINEL_USERNAME that
#                      Sentinel user's password (sentinel-users.acl: the backup job's `backup`)
#   REPLICATION_PASSWORDS, SENTINEL_USER_PASSWORDS, APP_PASSWORDS, MONITOR_PASSWORDS
#                      each Redis role user's accepted passwords, comma-separated (start-redis.sh,
#                      start-sentinel.sh); clients use the first
#   DATA_DIR           the pod's volume: AOF and saved Sentinel state
#   CONFIG_DIR         the ConfigMap: redis.conf, sentinel.conf, users.acl, sentinel-users.acl
#   RUNTIME_DIR        writable scratch for the generated config files

set -euo pipefail
# Config files here hold passwords; Redis derives a rewritten file's mode from the umask.
umask 077

: "${POD_FQDN:?POD_FQDN must be set}"
: "${REDIS_NODES:?REDIS_NODES must be set}"
: "${MASTER_NAME:?MASTER_NAME must be set}"
: "${REDIS_PASSWORD:?REDIS_PASSWORD must be set}"
: "${SENTINEL_PASSWORD:?SENTINEL_PASSWORD must be set}"
REDIS_PORT="${REDIS_PORT:-6379}"
SENTINEL_PORT="${SENTINEL_PORT:-26379}"
DATA_DIR="${DATA_DIR:-/data}"
CONFIG_DIR="${CONFIG_DIR:-/config}"
RUNTIME_DIR="${RUNTIME_DIR:-/run/redis}"
# Where this pod's own redis and sentinel answer: every container of the pod shares its network.
# shellcheck disable=SC2034 # read by the scripts that source this file
LOCAL_ADDRESS=127.0.0.1
CALL_TIMEOUT_SECONDS="${CALL_TIMEOUT_SECONDS:-2}"
SAVED_SENTINEL_CONF="$DATA_DIR/sentinel/sentinel.conf"

log() {
  printf '%s %s[%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${LOG_TAG:-redis-dr}" "$POD_FQDN" "$*" >&2
}

# redis_cmd HOST ARGS... : one Redis command as `admin`, bounded in time, password via env (not argv).
redis_cmd() {
  local host="$1"; shift
  REDISCLI_AUTH="$REDIS_PASSWORD" timeout "$CALL_TIMEOUT_SECONDS" \
    redis-cli --no-auth-warning --user admin -h "$host" -p "$REDIS_PORT" "$@"
}

# The password a client uses out of a comma-separated list a server accepts (during a
# rotation both old and new are accepted, and the first is still the one in use).
first_password() { echo "${1%%,*}"; }

# acl_user_lines FILE: one `user` directive per line of a ConfigMap users file ("NAME VARIABLE
# RULES": users.acl for Redis, sentinel-users.acl for Sentinel): the user reset, on, with every
# password listed in VARIABLE accepted, then its rules.
acl_user_lines() {
  local file="$1" name variable rules list password line
  local -a passwords
  while read -r name variable rules; do
    [[ -z $name || $name == \#* ]] && continue
    list="${!variable:-}"
    [[ -n $list ]] || { log "$variable is empty: user $name of ${file##*/} would have no password"; return 1; }
    IFS=',' read -ra passwords <<<"$list"
    line="user $name reset on"
    for password in "${passwords[@]}"; do line+=" >$password"; done
    echo "$line $rules"
  done <"$file"
}

# sentinel_cmd HOST ARGS... : one Sentinel command, bounded in time.
sentinel_cmd() {
  local host="$1"; shift
  REDISCLI_AUTH="$SENTINEL_PASSWORD" timeout "$CALL_TIMEOUT_SECONDS" \
    redis-cli --no-auth-warning ${SENTINEL_USERNAME:+--user "$SENTINEL_USERNAME"} -h "$host" -p "$SENTINEL_PORT" "$@"
}

node_count() { wc -w <<<"$REDIS_NODES"; }
majority() { echo $(( $(node_count) / 2 + 1 )); }
first_node() { awk '{print $1}' <<<"$REDIS_NODES"; }

# Prints "role" (master/slave/sentinel) of a Redis instance, or fails.
redis_role() {
  local out
  out=$(redis_cmd "$1" ROLE 2>/dev/null) || return 1
  out=$(head -n 1 <<<"$out")
  [[ $out == master || $out == slave ]] || return 1
  echo "$out"
}

# Prints the master host a replica is configured to follow.
redis_master_of() {
  redis_cmd "$1" ROLE 2>/dev/null | sed -n 2p
}

# Asks every Sentinel (by stable name) which instance is the master.
# Prints "HOST PORT" when a majority of all Sentinels agree and returns 0;
# returns 1 if some answered without a majority, 2 if none answered.
sentinel_majority_master() {
  local node reply answered=0 votes=""
  for node in $REDIS_NODES; do
    reply=$(sentinel_cmd "$node" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | paste -sd' ') || continue
    if [[ $reply =~ ^[^[:space:]]+\ [0-9]+$ ]]; then
      answered=$((answered + 1))
      votes+="$reply"$'\n'
    fi
  done
  (( answered > 0 )) || return 2
  local best
  best=$(printf '%s' "$votes" | sort | uniq -c | sort -rn | head -n 1)
  if (( $(awk '{print $1}' <<<"$best") >= $(majority) )); then
    awk '{print $2, $3}' <<<"$best"
    return 0
  fi
  return 1
}

# "HOST PORT EPOCH" of the master each Sentinel that answers monitors, one line per Sentinel
# (SENTINEL MASTER: with announce-hostnames its ip field is the name).
sentinel_views() {
  local node
  for node in $REDIS_NODES; do
    sentinel_cmd "$node" SENTINEL MASTER "$MASTER_NAME" 2>/dev/null | awk '
      NR % 2 == 1 { key = $0; next }
      key == "ip" { ip = $0 } key == "port" { port = $0 } key == "config-epoch" { epoch = $0 }
      END { if (ip != "" && port ~ /^[0-9]+$/ && epoch ~ /^[0-9]+$/) print ip, port, epoch }' || true
  done
}

# The master the Sentinels have settled on, by Sentinel's own rule that the newest configuration
# wins (a hello with a higher config epoch replaces an older one: sentinel.c,
# sentinelProcessHelloMessage): the master named at the highest config epoch any Sentinel
# reports, by a majority of all Sentinels at that same epoch. A majority at an older epoch never
# counts, so a stale majority loses to one Sentinel that saw the last failover; ANSWERED tells a
# caller whether a Sentinel that is not up yet (and may be the only one that knows of the
# newest master) was missing.
# Prints "HOST PORT EPOCH ANSWERED" and returns 0; returns 1 when Sentinels answer without
# settling, 2 when none answers.
settled_master() {
  local views
  views=$(sentinel_views)
  [[ -n $views ]] || return 2
  awk -v need="$(majority)" '
    { answered++; votes[$1 " " $2 " " $3]++; if ($3 + 0 > top) top = $3 + 0 }
    END {
      for (view in votes) {
        split(view, field, " ")
        if (field[3] + 0 == top) { named++; best = view; count = votes[view] }
      }
      if (named != 1 || count < need) exit 1
      print best, answered
    }' <<<"$views"
}

# The master recorded in this pod's saved Sentinel state (on the volume), if any.
saved_master() {
  [[ -s $SAVED_SENTINEL_CONF ]] || return 1
  awk -v name="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == name {print $4; found=1} END {exit !found}' "$SAVED_SENTINEL_CONF"
}

# True when this pod's volume holds Redis data from an earlier run.
has_local_data() {
  compgen -G "$DATA_DIR/appendonlydir/*" >/dev/null || [[ -s $DATA_DIR/dump.rdb ]]
}

# A peer Redis that reports itself master right now, if exactly one does.
peer_master() {
  local node masters=()
  for node in $REDIS_NODES; do
    [[ $node == "$POD_FQDN" ]] && continue
    if [[ $(redis_role "$node" 2>/dev/null || true) == master ]]; then masters+=("$node"); fi
  done
  (( ${#masters[@]} == 1 )) || return 1
  echo "${masters[0]}"
}

# Whether the peers may hold data, for a pod with an empty volume that would otherwise serve as
# master or restore a backup. Prints "data" when a peer has keys, is loading, serves as master
# or has synced from a master; "unknown" when a peer does not answer (a pod that is not up yet
# may hold data: it counts as holding it); "none" only when every peer answers empty.
peers_data() {
  local node info offset unknown=0
  for node in $REDIS_NODES; do
    [[ $node == "$POD_FQDN" ]] && continue
    info=$(redis_cmd "$node" INFO 2>/dev/null | tr -d '\r') || info=""
    if ! grep -q '^role:' <<<"$info"; then unknown=1; continue; fi
    offset=$(sed -n 's/^master_repl_offset:\([0-9]*\)$/\1/p' <<<"$info")
    if grep -q '^db[0-9]*:keys=' <<<"$info" || grep -qx 'loading:1' <<<"$info" || grep -qx 'role:master' <<<"$info" \
      || ((${offset:-0} > 0)); then
      echo data
      return 0
    fi
  done
  if ((unknown)); then echo unknown; else echo none; fi
}

# The replica-priority of the rendered redis.conf: what a replica gets back once it is promotable.
configured_replica_priority() {
  awk '$1 == "replica-priority" {print $2}' "$CONFIG_DIR/redis.conf"
}

# Make the replica at HOST promotable again (start-redis.sh starts every replica at priority 0).
restore_replica_priority() {
  redis_cmd "$1" CONFIG SET replica-priority "$(configured_replica_priority)" >/dev/null
}

# True if some peer Redis is a replica of HOST that holds data replicated from
# it, i.e. HOST's data exists elsewhere. A replica that never completed a sync
# (cold start) does not count.
has_synced_replica_of() {
  local host="$1" node info offset
  for node in $REDIS_NODES; do
    [[ $node == "$POD_FQDN" || $node == "$host" ]] && continue
    # INFO, not ROLE: with the master link down ROLE reports offset -1. And the
    # replica's own master_repl_offset, not slave_repl_offset: Redis 7.0 reports
    # slave_repl_offset:1 for a replica that never synced at all.
    info=$(redis_cmd "$node" INFO replication 2>/dev/null | tr -d '\r') || continue
    grep -qx 'role:slave' <<<"$info" || continue
    grep -qx "master_host:$host" <<<"$info" || continue
    offset=$(sed -n 's/^master_repl_offset:\([0-9]*\)$/\1/p' <<<"$info")
    (( ${offset:-0} > 0 )) && return 0
  done
  return 1
}

# Write FILE atomically from stdin, readable only by the owner (it holds secrets).
write_private() {
  local file="$1" tmp
  tmp=$(mktemp "$file.XXXXXX")
  chmod 600 "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$file"
}
