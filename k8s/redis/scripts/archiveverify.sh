#!/usr/bin/env bash
# shellcheck disable=SC2034 # ARCHIVE_CHECK is read by backup.sh's run
# The archive counts only once it has been replayed (docs/archive.md, "Verification"). Sourced
# by backup.sh, never run; uses its fetch, the scratch server and archivestore.sh.
#
#   ARCHIVE_CHECK_WAIT_SECONDS  how long a check waits for the archive to reach the new
#                               backup's offset (default 60)

ARCHIVE_CHECK_WAIT_SECONDS="${ARCHIVE_CHECK_WAIT_SECONDS:-60}"

# scratch_digest: "KEYS DIGEST" of the scratch server's dataset: every database's keys, and
# DEBUG DIGEST (a digest of every key, value and expiry; the scratch server allows DEBUG only
# on its socket).
scratch_digest() {
  local keys
  keys=$(scratch_cmd INFO keyspace | tr -d '\r' | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
  printf '%s %s\n' "$keys" "$(scratch_cmd DEBUG DIGEST)"
}

# archive_verify ID: replay the newest trusted backup before ID plus the archive, exactly to
# ID's replication offset, and compare the result with ID itself, which is a replica's data at
# that offset and was just verified (cmd_verify left its manifest in WORK and its digest in
# VERIFIED_DIGEST). On a match ID/archive-verified.json
# records the stretch of archive that replayed true. Exit 0: it matched; 3: nothing to compare
# (no earlier base, or the archive does not continue it to that offset: a gap); 1: a mismatch
# or a failure. Sets ARCHIVE_CHECK to matched, mismatched or unchecked.
archive_verify() {
  local id="$1" base dir offset replid from want got deadline rc=0 replayed
  ARCHIVE_CHECK=unchecked
  base=$(store_trusted | awk -v id="$id" '$0 < id' | tail -n 1)
  [[ -n $base ]] || { log "archive check: no trusted backup before $id to replay from"; return 3; }
  [[ -n $(archive_newest_segment) ]] || { log "archive check: the archive is empty"; return 3; }
  offset=$(manifest_field "$WORK/manifest.json" replicationOffset)
  want=$VERIFIED_DIGEST
  dir="$WORK/archive-check"
  mkdir -p "$dir/base"
  fetch "$base" "$dir/base" || return 1
  replid=$(manifest_field "$dir/base/manifest.json" replicationId)
  from=$(manifest_field "$dir/base/manifest.json" replicationOffset)
  # The shipper stores within archiveIntervalMs; the backup may be ahead of it by that much.
  deadline=$((SECONDS + ARCHIVE_CHECK_WAIT_SECONDS))
  until archive_fetch "$from" "$(id_time "$base")" "$dir/segments" >/dev/null && ARCHIVE_UNTIL_OFFSET=$offset ARCHIVE_PLAN_ONLY=1 archive_replay "$dir/segments" "$replid" "$from" "" "$dir" >"$dir/plan.log" 2>&1; do
    if ((SECONDS >= deadline)); then
      log "archive check: the archive does not continue $base (offset $from) to $id's offset $offset: $(tail -n 1 "$dir/plan.log")"
      return 3
    fi
    sleep 2
  done
  scratch_start "$dir/base" || return 1
  replayed=$(ARCHIVE_UNTIL_OFFSET=$offset archive_replay "$dir/segments" "$replid" "$from" "" "$SCRATCH_HOME" 2>&1) || rc=$?
  ((rc == 0)) || { log "archive check: the replay failed: $(tail -n 1 <<<"$replayed")"; scratch_stop; return 1; }
  got=$(scratch_digest)
  scratch_stop
  if [[ $got != "$want" ]]; then
    ARCHIVE_CHECK=mismatched
    log "archive check: MISMATCH: $base plus the archive to offset $offset gives ${got%% *} keys, digest ${got#* }; backup $id (a replica at that offset) holds ${want%% *} keys, digest ${want#* }. Restores to a time between the two replay what may be wrong; take a new base and see docs/archive.md"
    return 1
  fi
  printf '{\n  "base": "%s",\n  "fromOffset": %s,\n  "toOffset": %s,\n  "keys": %s,\n  "digest": "%s",\n  "checkedAt": "%s"\n}\n' \
    "$base" "$from" "$offset" "${want%% *}" "${want#* }" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/archive-verified.json"
  store_put "$dir/archive-verified.json" "$id" archive-verified.json || { log "could not record the archive check in $id"; return 1; }
  ARCHIVE_CHECK=matched
  log "archive check: $base plus the archive replayed to offset $offset matches backup $id (${want%% *} keys, digest ${want#* })"
}
