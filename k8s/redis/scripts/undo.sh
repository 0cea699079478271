#!/usr/bin/env bash
# Finding and undoing a bad write with the continuous archive (backup.sh log, backup.sh undo).
# Sourced by backup.sh, never run; uses its working directory, fetch, the scratch server and
# archivestore.sh.

# to_ms TIME: an RFC 3339 time as milliseconds since the epoch.
to_ms() { date -u -d "$1" +%s%3N 2>/dev/null || { log "'$1' is not a time (RFC 3339, e.g. 2026-12-04T21:30:00Z)"; return 1; }; }

# cmd_log [--since T] [--until T] [--match NAME|GLOB]: every archived command, with the time it
# was received, its offset (what undo takes), database, name and keys. The keys are asked of an
# empty scratch server (COMMAND GETKEYS), so every command form the server knows is read right.
cmd_log() {
  local args=() since="" until=""
  while (($# > 0)); do
    case $1 in
      --since) since=$(to_ms "${2:?--since needs a time}") || return 2; args+=(--since-ms "$since"); shift ;;
      --until) until=$(to_ms "${2:?--until needs a time}") || return 2; args+=(--until-ms "$until"); shift ;;
      --match) args+=(--match "${2:?--match needs a command name or a key pattern}"); shift ;;
      *) log "log: unknown option $1"; return 2 ;;
    esac
    shift
  done
  new_workdir
  # shellcheck disable=SC2046 # log_start_offset prints two numbers: the offset and the time
  archive_sync $(log_start_offset "$since") "$WORK/archive" || return 1
  mkdir -p "$WORK/keys"
  scratch_start "$WORK/keys" || return 1
  (cd "$SCRATCH_HOME" && KEYS_TARGET="./$SCRATCH_SOCKET" KEYS_USER="" KEYS_PASSWORD="" "$ARCHIVER" log --dir "$WORK/archive" "${args[@]}")
}

# log_start_offset SINCE_MS: where the archive must be read from to list commands received
# from SINCE_MS on, as "OFFSET SECONDS": the offset of the newest trusted backup verified before
# then, so its RDB was taken before then too, and when it was taken ("0 0": all of it).
log_start_offset() {
  local since="$1" id verified
  [[ -n $since ]] || { echo 0 0; return; }
  for id in $(store_trusted | sort -r); do
    (($(id_time "$id") * 1000 < since)) || continue
    store_get "$id" verified.json "$WORK/log-verified.json" || continue
    verified=$(date -u -d "$(manifest_field "$WORK/log-verified.json" verifiedAt)" +%s%3N 2>/dev/null) || continue
    ((verified < since)) || continue
    store_get "$id" manifest.json "$WORK/log-base.json" && { echo "$(manifest_field "$WORK/log-base.json" replicationOffset) $(id_time "$id")"; return; }
  done
  echo 0 0
}

REFERENCE_PID=""
FOLLOW_PID=""
# Stops undo's second scratch server and the archive follower, once: backup.sh's EXIT trap runs
# it again under set -e, where a kill of a reaped process would end the trap early.
# shellcheck disable=SC2317 # run by backup.sh's EXIT trap
undo_cleanup() {
  local pid
  for pid in $REFERENCE_PID $FOLLOW_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  REFERENCE_PID=""
  FOLLOW_PID=""
}

# cmd_undo OFFSET...: the live master as it would be had the archived units ending at those
# offsets (backup.sh log) never run; every other write, before and after, stays. The newest
# trusted backup from before the first of them is loaded into two scratch servers, the archive
# is replayed onto one without those units and onto the other with them, and the keys that
# differ are written into the master in one transaction (redis-dr-archiver undo).
cmd_undo() {
  local offset offsets floor answer master id base rc=0
  (($# > 0)) || { log "undo needs the offset of at least one archived command (backup.sh log lists them)"; return 2; }
  for offset in "$@"; do [[ $offset =~ ^[0-9]+$ ]] || { log "undo: '$offset' is not an offset (backup.sh log lists them)"; return 2; }; done
  offsets=$(tr ' ' ',' <<<"$*")
  floor=$(ARCHIVE_SKIP=$offsets archive_skip_floor)
  log "undo: looking for the master and a base backup from before offset $floor"
  answer=$(sentinel_majority_master) || { log "no Sentinel majority names a master; undo needs one"; return 1; }
  master=${answer% *}
  new_workdir
  base=""
  for id in $(store_trusted | sort -r); do
    backup_precedes "$id" "$floor" || continue
    base="$WORK/base-$id"
    mkdir -p "$base"
    fetch "$id" "$base" || return 1
    break
  done
  [[ -n $base ]] || { log "undo: no trusted backup from before offset $floor; the archive alone cannot rebuild what came before it"; return 1; }
  archive_sync "$(manifest_field "$base/manifest.json" replicationOffset)" "$(id_time "$id")" "$WORK/archive" || return 1
  archive_follow "$(manifest_field "$base/manifest.json" replicationOffset)" "$(id_time "$id")" "$WORK/archive" &
  FOLLOW_PID=$!
  mkdir -p "$WORK/with" && ln "$base/dump.rdb" "$WORK/with/dump.rdb"
  scratch_start "$WORK/with" || return 1
  REFERENCE_PID=$SCRATCH_PID
  scratch_start "$base" || return 1
  log "undo: base backup $id (offset $(manifest_field "$base/manifest.json" replicationOffset)); leaving out the units ending at $offsets; live master $master"
  # Relative socket paths from WORK (sun_path is short); the admin password only in the environment.
  (cd "$WORK" && REPLAY_TARGET="./base-$id/$SCRATCH_SOCKET" REFERENCE_TARGET="./with/$SCRATCH_SOCKET" LIVE_TARGET="$master:$REDIS_PORT" \
    LIVE_USER=admin LIVE_PASSWORD="$REDIS_PASSWORD" REPLAY_USER="" REPLAY_PASSWORD="" REFERENCE_USER="" REFERENCE_PASSWORD="" \
    "$ARCHIVER" undo --dir "$WORK/archive" --base-replid "$(manifest_field "$base/manifest.json" replicationId)" \
    --base-offset "$(manifest_field "$base/manifest.json" replicationOffset)" --skip "$offsets") || rc=$?
  undo_cleanup
  log "undo: finished (exit $rc)"
  return "$rc"
}
