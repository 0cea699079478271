#!/usr/bin/env bash
# archive.sh COMMAND: the shipper of the continuous archive, beside redis-dr-archiver in the
# archiver's pod (docs/archive.md).
#
#   resume   before the archiver starts: with no position in the spool, continue after the
#            newest segment (or gap) in the store, so a new pod resumes where the last one stored
#   ship     until SIGTERM: upload every closed segment of the spool (data, checksum, then its
#            manifest), then remove it from the spool; says how far behind the upload is
#
# Environment (besides objectstore.sh's and archivestore.sh's):
#   ARCHIVE_SPOOL_DIR   the spool redis-dr-archiver writes
#   ARCHIVE_SHIP_MS     how often the spool is looked at (default 100)
LOG_TAG=archive
SCRIPTS="$(dirname "$0")"
# shellcheck source=k8s/redis/scripts/objectstore.sh
source "$SCRIPTS/objectstore.sh"
# shellcheck source=k8s/redis/scripts/archivestore.sh
source "$SCRIPTS/archivestore.sh"
umask 077

: "${ARCHIVE_SPOOL_DIR:?ARCHIVE_SPOOL_DIR must be set}"
ARCHIVE_SHIP_MS="${ARCHIVE_SHIP_MS:-100}"

log() { printf '%s %s[%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$LOG_TAG" "${POD_NAME:-archiver}" "$*" >&2; }

cmd_resume() {
  local newest gap_newest work
  mkdir -p "$ARCHIVE_SPOOL_DIR"
  [[ -e $ARCHIVE_SPOOL_DIR/position.json ]] && { log "resume: the spool has its own position"; return 0; }
  newest=$(archive_segments | tail -n 1)
  gap_newest=$(archive_manifests | grep '^gap-' | sed 's/^gap-//; s/\.json$//' | tail -n 1 || true)
  [[ -n $newest || -n $gap_newest ]] || { log "resume: the archive is empty; the archiver starts with a full sync"; return 0; }
  work=$(mktemp -d)
  if [[ -n $gap_newest && $gap_newest > $newest ]]; then
    rclone_quiet copyto "$(archive_path)/gap-$gap_newest.json" "$work/m.json" || { log "resume: cannot read gap-$gap_newest.json"; return 1; }
    printf '{"db":0,"offset":%s,"replicationId":"%s"}\n' "$(json_number "$work/m.json" toOffset)" "$(json_text "$work/m.json" toReplicationId)" >"$work/position.json"
  else
    rclone_quiet copyto "$(archive_path)/$newest.json" "$work/m.json" || { log "resume: cannot read $newest.json"; return 1; }
    printf '{"db":%s,"offset":%s,"replicationId":"%s"}\n' "$(json_number "$work/m.json" dbAtEnd)" \
      "$(json_number "$work/m.json" endOffset)" "$(json_text "$work/m.json" replicationId)" >"$work/position.json"
  fi
  mv "$work/position.json" "$ARCHIVE_SPOOL_DIR/position.json"
  rm -rf "$work"
  log "resume: continuing after the stored archive: $(cat "$ARCHIVE_SPOOL_DIR/position.json")"
}

# Every name is new (an offset and an id), so nothing is compared with the store: without these
# rclone lists the whole archive folder on each pass, which grows with the archive (seen: a
# pass of 13 s on a loaded machine against a few hundred segments).
NO_LISTING=(--no-traverse --no-check-dest)

# One pass: what the archiver has closed (its manifest is renamed in last), shipped in two
# copies so that no manifest is ever in the store before its data.
ship_once() {
  local names gaps name
  names=$(find "$ARCHIVE_SPOOL_DIR" -maxdepth 1 -name '*.json' -printf '%f\n' | { grep -E "^$SEGMENT_NAME\\.json\$" || true; } | sed 's/\.json$//' | sort)
  gaps=$(find "$ARCHIVE_SPOOL_DIR" -maxdepth 1 -name 'gap-*.json' -printf '%f\n' | sort)
  [[ -n $names || -n $gaps ]] || return 0
  for name in $names; do sha256_of "$ARCHIVE_SPOOL_DIR/$name.resp" >"$ARCHIVE_SPOOL_DIR/$name.sha256"; done
  if [[ -n $names ]]; then
    awk '{print $0 ".resp"; print $0 ".sha256"}' <<<"$names" >"$ARCHIVE_SPOOL_DIR/ship.data"
    rclone_quiet copy "${NO_LISTING[@]}" --files-from "$ARCHIVE_SPOOL_DIR/ship.data" "$ARCHIVE_SPOOL_DIR" "$(archive_path)" || return 1
  fi
  { [[ -z $names ]] || awk '{print $0 ".json"}' <<<"$names"; [[ -z $gaps ]] || echo "$gaps"; } >"$ARCHIVE_SPOOL_DIR/ship.manifests"
  rclone_quiet copy "${NO_LISTING[@]}" --files-from "$ARCHIVE_SPOOL_DIR/ship.manifests" "$ARCHIVE_SPOOL_DIR" "$(archive_path)" || return 1
  for name in $names; do rm -f "$ARCHIVE_SPOOL_DIR/$name".{resp,sha256,json}; done
  for name in $gaps; do rm -f "${ARCHIVE_SPOOL_DIR:?}/$name"; done
  [[ -z $gaps ]] || log "shipped a gap record: $gaps"
}

cmd_ship() {
  local stopping=0 failing_since=0 waiting
  trap 'stopping=1' TERM INT
  mkdir -p "$ARCHIVE_SPOOL_DIR"
  log "shipping $ARCHIVE_SPOOL_DIR to $(archive_path) every ${ARCHIVE_SHIP_MS}ms"
  while :; do
    if ship_once; then
      ((failing_since == 0)) || log "upload works again after $((SECONDS - failing_since))s"
      failing_since=0
    else
      waiting=$(find "$ARCHIVE_SPOOL_DIR" -maxdepth 1 -name '*.resp' | wc -l)
      ((failing_since > 0)) || failing_since=$SECONDS
      log "upload failed; $waiting segment(s) wait in the spool (failing for $((SECONDS - failing_since))s)"
      sleep 1
    fi
    # A last pass after SIGTERM ships what the archiver closed as it stopped.
    ((stopping == 1)) && { ship_once || true; return 0; }
    sleep "$(awk -v ms="$ARCHIVE_SHIP_MS" 'BEGIN {printf "%.3f", ms / 1000}')"
  done
}

case "${1:-}" in
  resume) cmd_resume ;;
  ship) cmd_ship ;;
  *) echo "usage: archive.sh resume|ship" >&2; exit 2 ;;
esac
