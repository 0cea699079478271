#!/usr/bin/env bash
# The seed of an empty deployment from a backup (backup.sh seed, the restore init container of
# the first Redis pod). Sourced by backup.sh, never run; uses its fetch, resolve_backup and the
# scratch server.

# Waits until every peer answers; true when one holds data or acts as master (then this is not an
# empty deployment). A peer that is not up yet may hold data, so it is waited for, never skipped;
# fails when one still does not answer after DISCOVERY_TIMEOUT_SECONDS (the init container is retried).
peers_hold_data() {
  local deadline=$((SECONDS + ${DISCOVERY_TIMEOUT_SECONDS:-60})) peers
  while :; do
    peers=$(peers_data)
    case $peers in
      data) return 0 ;;
      none) return 1 ;;
    esac
    if ((SECONDS >= deadline)); then
      log "seed: a peer still does not answer after ${DISCOVERY_TIMEOUT_SECONDS:-60}s; it may hold data, so nothing is restored yet"
      exit 1
    fi
    sleep 1
  done
}

# Turn DIR/dump.rdb into the AOF the pods run with: load it with AOF off, switch AOF on (Redis
# writes the whole dataset as the AOF base), wait for that rewrite, shut down. Redis 7 started
# with appendonly yes ignores a lone dump.rdb, so copying the file in would start empty.
convert_to_aof() {
  local dir="$1" info deadline
  log "loading $(bytes_of "$dir/dump.rdb") bytes into a scratch redis-server to write them as the AOF"
  scratch_start "$dir" || return 1
  scratch_cmd CONFIG SET appendonly yes >/dev/null
  deadline=$((SECONDS + SCRATCH_LOAD_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    info=$(scratch_cmd INFO persistence | tr -d '\r')
    if [[ $(info_value aof_rewrite_in_progress <<<"$info") == 0 && $(info_value aof_rewrite_scheduled <<<"$info") == 0 \
      && $(info_value aof_enabled <<<"$info") == 1 ]]; then
      [[ $(info_value aof_last_bgrewrite_status <<<"$info") == ok ]] || { log "AOF rewrite failed"; return 1; }
      scratch_cmd SHUTDOWN >/dev/null 2>&1 || true
      wait "$SCRATCH_PID" 2>/dev/null || true
      SCRATCH_PID=""
      return 0
    fi
    sleep 0.2
  done
  log "AOF rewrite did not finish"
  return 1
}

cmd_seed() {
  local wanted="${RESTORE_BACKUP:-}" at="${RESTORE_AT:-}" id keys
  [[ -n $wanted || -n $at ]] || { log "seed: no RESTORE_BACKUP or RESTORE_AT; nothing to do"; return 0; }
  # RESTORE_SKIP: archived units to leave out of the replay (offsets from backup.sh log).
  ARCHIVE_SKIP="${RESTORE_SKIP:-}"
  [[ -z $ARCHIVE_SKIP || -n $at ]] || { log "seed: RESTORE_SKIP needs RESTORE_AT (latest: the newest archived write)"; return 1; }
  # RESTORE_ALLOW_GAP=1: replay across recorded gaps (full resyncs), printing what each leaves out.
  ARCHIVE_ALLOW_GAP="${RESTORE_ALLOW_GAP:-0}"
  [[ $ARCHIVE_ALLOW_GAP != 1 || -n $at ]] || { log "seed: RESTORE_ALLOW_GAP needs RESTORE_AT (latest: the newest archived write)"; return 1; }
  [[ $POD_FQDN == "$(first_node)" ]] || { log "seed: only the first pod seeds; the others replicate it"; return 0; }
  if has_local_data; then log "seed: this volume already holds data; never restoring over it"; return 0; fi
  if peers_hold_data; then log "seed: a peer holds data or serves as master; not an empty deployment, nothing restored"; return 0; fi
  mkdir -p "$DATA_DIR/seed"
  rm -rf "${DATA_DIR:?}/seed/"*
  if [[ -n $at ]]; then
    # A backup and the archive replayed onto it, saved by the scratch server as the dump to load.
    new_workdir
    restore_point_into_scratch "$at" || return 1
    scratch_cmd SAVE >/dev/null || { log "seed: the scratch server could not save the restored point"; return 1; }
    keys=$(scratch_cmd DBSIZE)
    scratch_stop
    mv "$SCRATCH_HOME/dump.rdb" "$DATA_DIR/seed/dump.rdb"
    cp "$WORK/manifest.json" "$DATA_DIR/seed/manifest.json"
  else
    id=$(resolve_backup "$wanted") || return 1
    fetch "$id" "$DATA_DIR/seed" || return 1
    keys=$(manifest_field "$DATA_DIR/seed/manifest.json" keys)
  fi
  convert_to_aof "$DATA_DIR/seed" || return 1
  mv "$DATA_DIR/seed/appendonlydir" "$DATA_DIR/appendonlydir"
  mv "$DATA_DIR/seed/manifest.json" "$DATA_DIR/restored-from.json"
  rm -rf "$DATA_DIR/seed"
  log "seed: restored $keys keys from backup $id (taken $(manifest_field "$DATA_DIR/restored-from.json" createdAt))${RESTORED_POINT:+ and the archive: $RESTORED_POINT} into $DATA_DIR"
}
