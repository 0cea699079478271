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
#   ARCHIVE_MAX_LAG_SECONDS  the ArchiveLagging threshold, pushed beside the figures (default 21)
#   PUSHGATEWAY         host:port of a Prometheus Pushgateway for the figures below (optional)
#
# After each pass that stored something, $ARCHIVE_SPOOL_DIR/shipped.json says how far the store
# reaches: {"endOffset":N,"lastAtMs":MS,"passMs":MS}; every ten seconds the log says it too.
# At most once a second the same goes to the Pushgateway (job redis_dr_archive), with the newest
# gap stored and the last failed pass: the ArchiveLagging and ArchiveGap alerts read them.
LOG_TAG=archive
SCRIPTS="$(dirname "$0")"
# shellcheck source=k8s/redis/scripts/objectstore.sh
source "$SCRIPTS/objectstore.sh"
# shellcheck source=k8s/redis/scripts/archivestore.sh
source "$SCRIPTS/archivestore.sh"
# shellcheck source=k8s/redis/scripts/pushmetrics.sh
source "$SCRIPTS/pushmetrics.sh"
umask 077

: "${ARCHIVE_SPOOL_DIR:?ARCHIVE_SPOOL_DIR must be set}"
ARCHIVE_SHIP_MS="${ARCHIVE_SHIP_MS:-100}"
ARCHIVE_MAX_LAG_SECONDS="${ARCHIVE_MAX_LAG_SECONDS:-21}"

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

# curl_config_text VALUE: VALUE as a double-quoted string of curl's config syntax.
curl_config_text() { local v=${1//\\/\\\\}; printf '"%s"' "${v//\"/\\\"}"; }

# archive_upload < "SHA256 FILE" lines (sha256sum's output): PUT each file as
# <ARCHIVE_PREFIX>/<its name>, in that order on one connection, stopping at the first that fails (fail-early), so a file is only ever stored
# after every file before it. One light curl per pass instead of rclone: rclone takes ~130 ms
# just to start, and two runs per pass put the store a second behind on a loaded machine, which
# is the whole recovery point. curl signs with SigV4 (--aws-sigv4, curl >= 7.75); 7.88 does not
# hash the body itself, so the signed x-amz-content-sha256 carries it and the store checks the
# upload against it. The key goes to curl on stdin (-K -), never in its argv.
archive_upload() {
  local endpoint="${RCLONE_CONFIG_STORE_ENDPOINT%/}" first=1 file sum
  : "${RCLONE_CONFIG_STORE_ACCESS_KEY_ID:?}" "${RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY:?}" "${RCLONE_CONFIG_STORE_REGION:?}"
  {
    echo "fail-early"
    while read -r sum file; do
      ((first == 1)) || echo "next"
      first=0
      echo "user = $(curl_config_text "$RCLONE_CONFIG_STORE_ACCESS_KEY_ID:$RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY")"
      echo "aws-sigv4 = $(curl_config_text "aws:amz:$RCLONE_CONFIG_STORE_REGION:s3")"
      echo "header = $(curl_config_text "x-amz-content-sha256: $sum")"
      echo "upload-file = $(curl_config_text "$file")"
      echo "url = $(curl_config_text "$endpoint/$BACKUP_BUCKET/$ARCHIVE_PREFIX/${file##*/}")"
      # Segments are small: a connection that does not open in seconds is retried rather than
      # waited on (seen here with rclone's default of a minute: one pass of 60 s), and no
      # round trip is spent on "Expect: 100-continue".
      printf '%s\n' "fail" "silent" "show-error" "output = /dev/null" 'header = "Expect:"' "connect-timeout = 3" "max-time = 15" "retry = 2"
    done
  } | curl -K -
}

# One pass: what the archiver has closed (its manifest is renamed in last), uploaded data and
# checksums first, manifests last, so that no manifest is ever in the store before its data.
ship_once() {
  local names gaps name started=$EPOCHREALTIME newest sum file sums="" data=() rest=()
  names=$(find "$ARCHIVE_SPOOL_DIR" -maxdepth 1 -name '*.json' -printf '%f\n' | { grep -E "^$SEGMENT_NAME\\.json\$" || true; } | sed 's/\.json$//' | sort)
  gaps=$(find "$ARCHIVE_SPOOL_DIR" -maxdepth 1 -name 'gap-*.json' -printf '%f\n' | sort)
  [[ -n $names || -n $gaps ]] || return 0
  for name in $names; do data+=("$ARCHIVE_SPOOL_DIR/$name.resp"); done
  # Each file is hashed once, by two sha256sum runs a pass (each process costs tens of ms on a
  # loaded node): the data, whose sums are also its .sha256 files, then everything after it.
  [[ -z $names ]] || sums=$(sha256sum "${data[@]}")
  while read -r sum file; do
    [[ -n $file ]] || continue
    echo "$sum" >"${file%.resp}.sha256"
    rest+=("${file%.resp}.sha256")
  done <<<"$sums"
  for name in $names; do rest+=("$ARCHIVE_SPOOL_DIR/$name.json"); done
  for name in $gaps; do rest+=("$ARCHIVE_SPOOL_DIR/$name"); done
  { [[ -z $sums ]] || echo "$sums"; sha256sum "${rest[@]}"; } | archive_upload || return 1
  newest=$(tail -n 1 <<<"$names")
  [[ -z $newest ]] || record_shipped "$ARCHIVE_SPOOL_DIR/$newest.json" "$started"
  for name in $names; do rm -f "$ARCHIVE_SPOOL_DIR/$name".{resp,sha256,json}; done
  for name in $gaps; do
    # The archive's very first full sync has nothing before it: its start, not a gap.
    [[ -z $(json_text "$ARCHIVE_SPOOL_DIR/$name" fromReplicationId) ]] || newest_gap_ms=$(json_number "$ARCHIVE_SPOOL_DIR/$name" atMs)
    rm -f "${ARCHIVE_SPOOL_DIR:?}/$name"
  done
  [[ -z $gaps ]] || log "shipped a gap record: $gaps"
}

# seconds_of MS: milliseconds since the epoch as seconds, for Prometheus.
seconds_of() { printf '%d.%03d' "$(($1 / 1000))" "$(($1 % 1000))"; }

spool_segments() { find "$ARCHIVE_SPOOL_DIR" -maxdepth 1 -name '*.resp' | wc -l; }

# push_progress [failed]: the store's reach, the spool and the newest gap; at most once a second
# unless a pass failed.
push_progress() {
  local shipped="$ARCHIVE_SPOOL_DIR/shipped.json" lines=()
  [[ -n ${PUSHGATEWAY:-} ]] || return 0
  [[ -n ${1:-} ]] || ((SECONDS >= next_push)) || return 0
  next_push=$((SECONDS + 1))
  lines+=("redis_dr_archive_spool_segments $(spool_segments)" "redis_dr_archive_max_lag_seconds $ARCHIVE_MAX_LAG_SECONDS")
  [[ -n ${1:-} ]] && lines+=("redis_dr_archive_last_failure_timestamp_seconds $(date +%s)")
  if [[ -e $shipped ]]; then
    lines+=("redis_dr_archive_stored_through_timestamp_seconds $(seconds_of "$(json_number "$shipped" lastAtMs)")"
      "redis_dr_archive_stored_offset $(json_number "$shipped" endOffset)"
      "redis_dr_archive_last_pass_seconds $(seconds_of "$(json_number "$shipped" passMs)")")
  fi
  [[ -z $newest_gap_ms ]] || lines+=("redis_dr_archive_last_gap_timestamp_seconds $(seconds_of "$newest_gap_ms")")
  push_metrics redis_dr_archive "$(printf '%s\n' "${lines[@]}")"
}

# record_shipped MANIFEST STARTED: the newest stored segment and how long its pass took.
record_shipped() {
  local pass_ms
  pass_ms=$(ms_since "$2")
  printf '{"endOffset":%s,"lastAtMs":%s,"passMs":%s}\n' "$(json_number "$1" endOffset)" "$(json_number "$1" lastAtMs)" "$pass_ms" >"$ARCHIVE_SPOOL_DIR/shipped.tmp"
  mv "$ARCHIVE_SPOOL_DIR/shipped.tmp" "$ARCHIVE_SPOOL_DIR/shipped.json"
  ((pass_ms <= slowest_pass_ms)) || slowest_pass_ms=$pass_ms
}

# ms_since EPOCHREALTIME: whole milliseconds from then to now.
ms_since() { awk -v from="$1" -v to="$EPOCHREALTIME" 'BEGIN { printf "%d", (to - from) * 1000 }'; }

# Every ten seconds: how far behind the store is (the newest stored write's age) and the slowest pass.
report_progress() {
  local last_at
  ((SECONDS >= next_report)) || return 0
  next_report=$((SECONDS + 10))
  [[ -e $ARCHIVE_SPOOL_DIR/shipped.json ]] || return 0
  last_at=$(json_number "$ARCHIVE_SPOOL_DIR/shipped.json" lastAtMs)
  log "stored through offset $(json_number "$ARCHIVE_SPOOL_DIR/shipped.json" endOffset); newest stored write $(ms_since "$(seconds_of "$last_at")") ms ago; slowest pass ${slowest_pass_ms} ms; $(spool_segments) segment(s) in the spool"
  slowest_pass_ms=0
}

cmd_ship() {
  local stopping=0 failing_since=0
  slowest_pass_ms=0 next_report=$((SECONDS + 10)) next_push=0 newest_gap_ms=""
  trap 'stopping=1' TERM INT
  mkdir -p "$ARCHIVE_SPOOL_DIR"
  log "shipping $ARCHIVE_SPOOL_DIR to $(archive_path) every ${ARCHIVE_SHIP_MS}ms"
  while :; do
    if ship_once; then
      ((failing_since == 0)) || log "upload works again after $((SECONDS - failing_since))s"
      failing_since=0
      report_progress
      push_progress
    else
      ((failing_since > 0)) || failing_since=$SECONDS
      log "upload failed; $(spool_segments) segment(s) wait in the spool (failing for $((SECONDS - failing_since))s)"
      push_progress failed
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
