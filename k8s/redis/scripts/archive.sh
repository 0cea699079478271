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
  local newest gap_newest gap_name work
  mkdir -p "$ARCHIVE_SPOOL_DIR"
  [[ -e $ARCHIVE_SPOOL_DIR/position.json ]] && { log "resume: the spool has its own position"; return 0; }
  newest=$(archive_newest_segment)
  gap_newest=$(archive_gap_records | tail -n 1)
  [[ -n $newest || -n $gap_newest ]] || { log "resume: the archive is empty; the archiver starts with a full sync"; return 0; }
  work=$(mktemp -d)
  # Names sort by offset: a gap record after the newest segment is where the archive continues.
  gap_name=${gap_newest##*/gap-}
  if [[ -n $gap_newest && ${gap_name%.json} > ${newest##*/} ]]; then
    rclone_quiet copyto "$(archive_path)/$gap_newest" "$work/m.json" || { log "resume: cannot read $gap_newest"; return 1; }
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

# The uploader (redis-dr-uploader, app/src/archive/uploader_main.cpp): a coprocess that keeps
# one connection to the store, so a pass forks nothing and pays no TCP or TLS handshake. Under
# steady writes on `npm run bench`, a curl run per pass took the shipper to 10-11% of a core;
# with the uploader the shipper and it take 2-3%. It signs with SigV4
# and sends each file's checksum as the signed x-amz-content-sha256, which the store checks the
# body against. The key reaches it in its environment, never in its argv.
ARCHIVE_UPLOADER="${ARCHIVE_UPLOADER:-redis-dr-uploader}"

# archive_upload "SHA256 NAME FILE"...: PUT each file as <ARCHIVE_PREFIX>/NAME, in that order,
# stopping at the first that fails, so a file is only ever stored after every file before it.
# Starts the uploader on first use (bash sets UPLOADER_PID while it runs) and again after a
# failure, which ends the one that failed.
archive_upload() {
  local reply=""
  [[ -n ${UPLOADER_PID:-} ]] || coproc UPLOADER { exec "$ARCHIVE_UPLOADER"; }
  if { printf '%s\n' "$@" "" >&"${UPLOADER[1]}" && read -r reply <&"${UPLOADER[0]}"; } 2>/dev/null && [[ $reply == "ok $#" ]]; then
    return 0
  fi
  if [[ $reply == failed* ]]; then
    log "upload failed: ${reply#failed }"
  else
    log "the uploader exited; starting it again"
    kill "$UPLOADER_PID" 2>/dev/null
    wait "$UPLOADER_PID" 2>/dev/null
  fi
  return 1
}

# The pass below runs ten times a second for the life of the pod: it lists, times and records
# with bash builtins (globs, EPOCHREALTIME, read) and hands the uploads to the uploader, forking
# nothing. The archiver writes each segment's checksums (<name>.sha256, as sha256sum prints them)
# before its manifest, so no pass hashes anything but a gap record. Measured on `npm run bench`:
# the fork-per-step version took a third of a core.
shopt -s nullglob
LC_COLLATE=C

# One pass: what the archiver has closed (its manifest is renamed in last), data first and
# manifests last, so that no manifest is ever in the store before its data.
ship_once() {
  local names=() gaps=() path name started=$EPOCHREALTIME data=() manifests=() records=() keys=() sums=() shipped=() sum line hour i
  for path in "$ARCHIVE_SPOOL_DIR"/*.json; do
    name=${path##*/}
    if [[ $name =~ ^$SEGMENT_NAME\.json$ ]]; then
      names+=("${name%.json}")
    elif [[ $name == gap-*.json ]]; then
      gaps+=("$name")
    fi
  done
  ((${#names[@]} + ${#gaps[@]} > 0)) || return 0
  for name in "${names[@]}"; do
    # Stored under the hour its first command arrived (archivestore.sh).
    read -r line <"$ARCHIVE_SPOOL_DIR/$name.json"
    json_field "$line" firstAtMs || { log "segment $name has no firstAtMs in its manifest"; return 1; }
    archive_hour "$((JSON_FIELD / 1000))"
    hour=$ARCHIVE_HOUR
    { read -r sum _ && data+=("$sum $hour/$name.resp $ARCHIVE_SPOOL_DIR/$name.resp") && read -r sum _ && manifests+=("$sum $hour/$name.json $ARCHIVE_SPOOL_DIR/$name.json"); } \
      <"$ARCHIVE_SPOOL_DIR/$name.sha256" || { log "segment $name has no checksums beside its manifest"; return 1; }
    shipped+=("$ARCHIVE_SPOOL_DIR/$name.sha256" "$ARCHIVE_SPOOL_DIR/$name.resp" "$ARCHIVE_SPOOL_DIR/$name.json")
  done
  for name in "${gaps[@]}"; do
    records+=("$ARCHIVE_SPOOL_DIR/$name")
    keys+=("$GAPS/$name")
    read -r line <"$ARCHIVE_SPOOL_DIR/$name"
    # The archive's very first full sync has nothing before it: its start, not a gap. A real
    # one is also stored under a fixed name, which the after-gap backup run reads with one GET.
    [[ $line == *'"fromReplicationId":""'* ]] || { json_field "$line" atMs && newest_gap_ms=$JSON_FIELD && cp "$ARCHIVE_SPOOL_DIR/$name" "$ARCHIVE_SPOOL_DIR/$NEWEST_GAP"; }
  done
  [[ ! -e $ARCHIVE_SPOOL_DIR/$NEWEST_GAP ]] || { records+=("$ARCHIVE_SPOOL_DIR/$NEWEST_GAP") && keys+=("$NEWEST_GAP"); }
  data+=("${manifests[@]}")
  if ((${#records[@]} > 0)); then
    mapfile -t sums < <(sha256sum -- "${records[@]}")
    for i in "${!records[@]}"; do data+=("${sums[i]%% *} ${keys[i]} ${records[i]}"); done
  fi
  archive_upload "${data[@]}" || return 1
  shipped+=("${records[@]}")
  ((${#names[@]} == 0)) || record_shipped "$ARCHIVE_SPOOL_DIR/${names[-1]}.json" "$started"
  rm -f "${shipped[@]}"
  ((${#gaps[@]} == 0)) || log "shipped a gap record: ${gaps[*]}"
}

# json_field LINE NAME: a number field of one line of the archiver's JSON, by bash's own
# regex, into JSON_FIELD (empty, and false, when the line has none).
json_field() {
  JSON_FIELD=""
  [[ $1 =~ \"$2\":(-?[0-9]+) ]] && JSON_FIELD=${BASH_REMATCH[1]}
}

# shipped_from LINE: shipped_end, shipped_at and shipped_pass_ms from a shipped.json line or a
# segment's manifest (which has no passMs).
shipped_from() {
  json_field "$1" endOffset && shipped_end=$JSON_FIELD
  json_field "$1" lastAtMs && shipped_at=$JSON_FIELD
  json_field "$1" passMs && shipped_pass_ms=$JSON_FIELD
  return 0
}

# seconds_of MS: milliseconds since the epoch as seconds, for Prometheus.
seconds_of() { printf '%d.%03d' "$(($1 / 1000))" "$(($1 % 1000))"; }

# now_ms: milliseconds since the epoch, into NOW_MS.
now_ms() { NOW_MS=$((10#${EPOCHREALTIME/./} / 1000)); }

# count_spool: closed segments waiting in the spool, into SPOOL_SEGMENTS.
count_spool() {
  local waiting=("$ARCHIVE_SPOOL_DIR"/*.resp)
  SPOOL_SEGMENTS=${#waiting[@]}
}

# push_progress [failed]: the store's reach, the spool and the newest gap; at most once a second
# unless a pass failed.
push_progress() {
  local lines=()
  [[ -n ${PUSHGATEWAY:-} ]] || return 0
  [[ -n ${1:-} ]] || ((SECONDS >= next_push)) || return 0
  next_push=$((SECONDS + 1))
  count_spool
  lines+=("redis_dr_archive_spool_segments $SPOOL_SEGMENTS" "redis_dr_archive_max_lag_seconds $ARCHIVE_MAX_LAG_SECONDS")
  [[ -n ${1:-} ]] && lines+=("redis_dr_archive_last_failure_timestamp_seconds $EPOCHSECONDS")
  if [[ -n $shipped_at ]]; then
    lines+=("redis_dr_archive_stored_through_timestamp_seconds $(seconds_of "$shipped_at")"
      "redis_dr_archive_stored_offset $shipped_end"
      "redis_dr_archive_last_pass_seconds $(seconds_of "$shipped_pass_ms")")
  fi
  [[ -z $newest_gap_ms ]] || lines+=("redis_dr_archive_last_gap_timestamp_seconds $(seconds_of "$newest_gap_ms")")
  push_metrics redis_dr_archive "$(printf '%s\n' "${lines[@]}")"
}

# record_shipped MANIFEST STARTED: the newest stored segment and how long its pass took, in
# shipped_* and in shipped.json (for whoever reads the spool).
record_shipped() {
  local line
  read -r line <"$1"
  shipped_from "$line"
  shipped_pass_ms=$(((10#${EPOCHREALTIME/./} - 10#${2/./}) / 1000))
  printf '{"endOffset":%s,"lastAtMs":%s,"passMs":%s}\n' "$shipped_end" "$shipped_at" "$shipped_pass_ms" >"$ARCHIVE_SPOOL_DIR/shipped.tmp"
  mv "$ARCHIVE_SPOOL_DIR/shipped.tmp" "$ARCHIVE_SPOOL_DIR/shipped.json"
  ((shipped_pass_ms <= slowest_pass_ms)) || slowest_pass_ms=$shipped_pass_ms
}

# Every ten seconds: how far behind the store is (the newest stored write's age) and the slowest pass.
report_progress() {
  ((SECONDS >= next_report)) || return 0
  next_report=$((SECONDS + 10))
  [[ -n $shipped_at ]] || return 0
  now_ms
  count_spool
  log "stored through offset $shipped_end; newest stored write $((NOW_MS - shipped_at)) ms ago; slowest pass ${slowest_pass_ms} ms; $SPOOL_SEGMENTS segment(s) in the spool"
  slowest_pass_ms=0
}

cmd_ship() {
  local stopping=0 failing_since=0 pause pause_fd line
  slowest_pass_ms=0 next_report=$((SECONDS + 10)) next_push=0 newest_gap_ms="" shipped_end="" shipped_at="" shipped_pass_ms=""
  # A restarted container goes on from what its spool says the store holds.
  if [[ -e $ARCHIVE_SPOOL_DIR/shipped.json ]]; then
    read -r line <"$ARCHIVE_SPOOL_DIR/shipped.json"
    shipped_from "$line"
  fi
  pause=$(printf '%d.%03d' "$((ARCHIVE_SHIP_MS / 1000))" "$((ARCHIVE_SHIP_MS % 1000))")
  # The pause between passes is a read that times out on a pipe nobody writes: a builtin, and
  # SIGTERM ends it at once (an external sleep would hold the trap until it finished).
  exec {pause_fd}<> <(:)
  trap 'stopping=1' TERM INT
  # A write to an uploader that has exited fails (and is retried) instead of ending the shipper.
  trap '' PIPE
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
      count_spool
      log "upload failed; $SPOOL_SEGMENTS segment(s) wait in the spool (failing for $((SECONDS - failing_since))s)"
      push_progress failed
      read -rt 1 -u "$pause_fd" || true
    fi
    # A last pass after SIGTERM ships what the archiver closed as it stopped.
    ((stopping == 1)) && { ship_once || true; return 0; }
    read -rt "$pause" -u "$pause_fd" || true
  done
}

case "${1:-}" in
  resume) cmd_resume ;;
  ship) cmd_ship ;;
  *) echo "usage: archive.sh resume|ship" >&2; exit 2 ;;
esac
