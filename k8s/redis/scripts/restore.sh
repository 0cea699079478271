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
  if [[ $at == latest && -z $(archive_newest_segment) ]]; then
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
    archive_fetch "$(manifest_field "$base/manifest.json" replicationOffset)" "$(id_time "$id")" "$WORK/archive" >/dev/null || return 1
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

# ms_time MS: epoch milliseconds as RFC 3339 with milliseconds, UTC.
ms_time() { date -u -d "@$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ; }

# first_base_after OFFSET SINCE_ID: the oldest trusted backup from SINCE_ID on (an id, or empty)
# taken at or after replication offset OFFSET, by their manifests; nothing when none is.
first_base_after() {
  local offset="$1" since="$2" id
  for id in $(store_trusted | awk -v since="$since" '$0 >= since'); do
    store_get "$id" manifest.json "$WORK/window-base.json" || continue
    (($(manifest_field "$WORK/window-base.json" replicationOffset) >= offset)) && { echo "$id"; return 0; }
  done
  return 0
}

# cmd_window: the times restore --at can reach, one line: from the oldest trusted backup to the
# newest archived write, less each stretch from a gap to the first trusted backup after it (a
# restore crosses a gap only with --allow-gap). Exit 1 when the store cannot be listed.
cmd_window() {
  local trusted oldest="" oldest_segment newest gap gap_offset gap_ms next line why="no segment"
  rclone_quiet lsf --max-depth 1 "$(store_path)" >/dev/null || { log "window: cannot list $(store_path)"; return 1; }
  new_workdir
  trusted=$(store_trusted)
  [[ -n $trusted ]] || { echo "restorable: nothing (no trusted backup in $(store_path))"; return 0; }
  oldest_segment=$(archive_oldest_segment)
  # A base the archive continues from: taken at or after the oldest stored segment's start.
  if [[ -n $oldest_segment ]]; then
    oldest_segment=${oldest_segment##*/}
    oldest=$(first_base_after "$((10#${oldest_segment%%-*}))" "")
    why="no trusted backup since its oldest segment"
  fi
  if [[ -z $oldest ]]; then
    echo "restorable: the backups alone, $(id_time "$(head -n 1 <<<"$trusted")" %Y-%m-%dT%H:%M:%SZ) to $(id_time "$(tail -n 1 <<<"$trusted")" %Y-%m-%dT%H:%M:%SZ); no time between (the archive in $(archive_path) has $why)"
    return 0
  fi
  newest=$(archive_newest_segment)
  rclone_quiet copyto "$(archive_path)/$newest.json" "$WORK/newest-segment.json" || { log "window: cannot read $newest.json"; return 1; }
  line="restorable: $(id_time "$oldest" %Y-%m-%dT%H:%M:%SZ) (backup $oldest) to $(ms_time "$(json_number "$WORK/newest-segment.json" lastAtMs)")"
  line+=" (the newest archived write, offset $(json_number "$WORK/newest-segment.json" endOffset), $((EPOCHSECONDS - $(json_number "$WORK/newest-segment.json" lastAtMs) / 1000)) s ago)"
  for gap in $(archive_gap_records); do
    rclone_quiet copyto "$(archive_path)/$gap" "$WORK/gap.json" || { log "window: cannot read $gap"; return 1; }
    gap_offset=$(json_number "$WORK/gap.json" toOffset)
    gap_ms=$(json_number "$WORK/gap.json" atMs)
    # A gap before the window's first base is behind it already.
    ((gap_ms / 1000 >= $(id_time "$oldest"))) || continue
    next=$(first_base_after "$gap_offset" "$(date -u -d "@$((gap_ms / 1000 - 1))" +%Y%m%dT%H%M%SZ)")
    line+="; not from $(ms_time "$gap_ms") (a gap: full resync, the archive continues at offset $gap_offset)"
    if [[ -n $next ]]; then line+=" to $(id_time "$next" %Y-%m-%dT%H:%M:%SZ) (backup $next, the first base after it)"; else line+=" on: no trusted backup after it yet"; fi
  done
  echo "$line"
}
