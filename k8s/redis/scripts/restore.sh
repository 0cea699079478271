#!/usr/bin/env bash
# Restores into the live master (backup.sh restore): from a backup, or from a backup and the
# continuous archive to a time. Sourced by backup.sh, never run; uses its fetch, resolve_backup,
# the scratch server and archivestore.sh.

# backup_precedes ID OFFSET: whether backup ID was taken before replication offset OFFSET, by
# its manifest alone (the dump is not downloaded).
backup_precedes() {
  store_get "$1" manifest.json "$WORK/candidate.json" && (($(manifest_field "$WORK/candidate.json" replicationOffset) < $2))
}

# restore_point_into_scratch AT: the scratch server holding the state at time AT (RFC 3339, or
# latest: the newest archived write): the newest trusted backup taken before it, plus the archive
# replayed up to the last write received by then. A base whose data already holds a later write
# is passed over for an older one; latest with nothing archived is the newest backup alone.
# Sets id (the base) and RESTORED_POINT (what the replay reached).
restore_point_into_scratch() {
  local at="$1" at_ms="" candidates base replayed rc floor
  if [[ $at != latest ]]; then
    at_ms=$(date -u -d "$at" +%s%3N 2>/dev/null) || { log "restore: '$at' is not a time (RFC 3339, e.g. 2026-12-04T21:30:00Z) or latest"; return 1; }
  fi
  if [[ $at == latest && -z $(archive_segments) ]]; then
    log "restore: the archive is empty; latest is the newest backup alone"
    id=$(resolve_backup latest) || return 1
    base="$WORK/base-$id"
    mkdir -p "$base"
    fetch "$id" "$base" && scratch_start "$base" && cp "$base/manifest.json" "$WORK/manifest.json"
    return
  fi
  candidates=$(if [[ ${ALLOW_SUSPECT:-0} == 1 ]]; then store_verified; else store_trusted; fi | sort -r)
  floor=$(archive_skip_floor)
  for id in $candidates; do
    [[ -z $at_ms ]] || (($(id_time "$id") * 1000 <= at_ms)) || continue
    # A unit left out (ARCHIVE_SKIP) must come after the base: an older one may do.
    [[ -z $floor ]] || backup_precedes "$id" "$floor" || continue
    base="$WORK/base-$id"
    mkdir -p "$base"
    store_get "$id" manifest.json "$base/manifest.json" || { log "backup $id has no manifest in $(store_path)"; return 1; }
    archive_fetch "$(manifest_field "$base/manifest.json" replicationOffset)" "$WORK/archive" >/dev/null || return 1
    # Plan from the manifest first; only a base the archive continues to AT costs a download.
    # A time past the newest archived write is past it for every older base too.
    rc=0
    replayed=$(ARCHIVE_PLAN_ONLY=1 archive_replay "$WORK/archive" "$(manifest_field "$base/manifest.json" replicationId)" \
      "$(manifest_field "$base/manifest.json" replicationOffset)" "$at_ms" "$WORK" 2>&1) || rc=$?
    if ((rc != 0)); then
      while IFS= read -r line; do log "restore: $line"; done <<<"$replayed"
      ((rc == 3)) || return 1
      grep -q '^refused: cannot restore to ' <<<"$replayed" && return 1
      continue
    fi
    fetch "$id" "$base" || return 1
    scratch_start "$base" || return 1
    rc=0
    replayed=$(archive_replay "$WORK/archive" "$(manifest_field "$base/manifest.json" replicationId)" \
      "$(manifest_field "$base/manifest.json" replicationOffset)" "$at_ms" "$SCRATCH_HOME" 2>&1) || rc=$?
    while IFS= read -r line; do log "restore: $line"; done <<<"$replayed"
    ((rc == 0)) && { RESTORED_POINT=$(grep '^restored to' <<<"$replayed"); cp "$base/manifest.json" "$WORK/manifest.json"; return 0; }
    scratch_stop
    ((rc == 3)) || return 1
  done
  log "restore: no verified backup before $at${floor:+ and offset $floor} that the archive continues to that time"
  return 1
}

cmd_restore() {
  local wanted="${1:?restore needs latest, a backup id or --at TIME}" at="${2:-}" id answer master keys done=0 batch=() key reply created
  answer=$(sentinel_majority_master) || { log "no Sentinel majority names a master; restore needs one"; return 1; }
  master=${answer% *}
  new_workdir
  if [[ -n $at ]]; then
    restore_point_into_scratch "$at" || return 1
  else
    id=$(resolve_backup "$wanted") || return 1
    fetch "$id" "$WORK" || return 1
    scratch_start "$WORK" || return 1
  fi
  keys=$(scratch_cmd DBSIZE)
  created=$(manifest_field "$WORK/manifest.json" createdAt)
  log "restore: writing $keys keys of backup $id (taken $created)${at:+ and the archive to $at} into master $master"
  migrate() {
    ((${#batch[@]} > 0)) || return 0
    # The password reaches redis-cli on stdin (-X: the first argument equal to the tag, which
    # comes before any key, is replaced by it; redis-cli.c), never in its argv.
    reply=$(printf '%s' "$REDIS_PASSWORD" |
      scratch_cmd -X password-from-stdin MIGRATE "$master" "$REDIS_PORT" "" 0 30000 COPY REPLACE AUTH2 admin password-from-stdin KEYS "${batch[@]}" 2>&1)
    [[ $reply == OK || $reply == NOKEY ]] || { log "MIGRATE to $master failed: $reply"; return 1; }
    done=$((done + ${#batch[@]}))
    batch=()
    log "restore: $done/$keys keys"
  }
  # Keys are read a line at a time; a key holding a newline would not match and is counted below.
  while IFS= read -r key; do
    batch+=("$key")
    ((${#batch[@]} >= MIGRATE_BATCH)) && { migrate || return 1; }
  done < <(scratch_cmd --scan)
  migrate || return 1
  ((done == keys)) || { log "restore: wrote $done of $keys keys"; return 1; }
  log "restore: done, $done keys restored from backup $id (taken $created)${RESTORED_POINT:+; archive $RESTORED_POINT}"
}

