#!/usr/bin/env bash
# backup.sh COMMAND: backups of the Redis tier in an S3-compatible object store.
# The CronJob, the restore init container, `npm run ops -- backup` and the local topology
# all run this one file.
#
#   run              take, verify from the store, apply retention, push metrics (the CronJob)
#   run --after-gap  the same, only when the archive recorded a gap since the newest backup
#   take             copy an RDB from the most up-to-date healthy replica (never the master),
#                    check it, sample it, upload it and its manifest; prints the id
#   verify ID        download ID from the store, check its sha256, load it into a scratch
#                    redis-server, compare with the manifest; only then mark it verified,
#                    and suspect first when it shrank too far from the newest trusted one
#   list             every backup: id, time, keys, bytes, verified or not, suspect
#   accept ID        trust a suspect backup (the shrink was meant): latest may take it again
#   prune            retention: keep the newest verified backup of each of the last
#                    BACKUP_KEEP_HOURLY hours and BACKUP_KEEP_DAILY days; delete the rest
#   seed             (init container) on a new, empty deployment only: the first pod loads
#                    RESTORE_BACKUP into its volume before Redis starts
#   restore ID|latest [--allow-suspect]  write every key of a backup into the live master
#                    (bad-write recovery); keys created since the backup are left alone
#   restore --at TIME [--skip OFFSET,...] [--allow-gap]  the same with the state at TIME (RFC
#                    3339): the newest trusted backup before it plus the continuous archive
#                    replayed to the last write received by then (archivestore.sh), without the
#                    units ending at the --skip offsets; refused, naming what is covered, outside
#                    it; --allow-gap crosses recorded gaps, printing what each leaves out
#   window           the times restore --at can reach (restore.sh)
#   log [--since T] [--until T] [--match NAME|GLOB]  the archived commands (undo.sh)
#   undo OFFSET...   the live master without those archived units, every other write kept (undo.sh)
#
# Environment (besides lib.sh's and objectstore.sh's):
#   SCRATCH_DIR            working space for dumps and the scratch server
#   BACKUP_KEEP_HOURLY     default 48          BACKUP_KEEP_DAILY   default 30
#   BACKUP_SAMPLE_KEYS     keys sampled into the manifest (default 20)
#   PUSHGATEWAY            host:port of a Prometheus Pushgateway (optional)
#   BACKUP_MAX_AGE_SECONDS pushed beside the metrics: the BackupTooOld threshold
#   BACKUP_RUN_DEADLINE_SECONDS  the longest a run may take (the Job's deadline); retention
#                          leaves younger unverified folders alone: another run may own them
#   RESTORE_BACKUP         latest or an id (seed)
#   ALLOW_UNVERIFIED       1 lets restore/seed use a backup that never verified (by id only)
#   BACKUP_SHRINK_ALARM_PERCENT  a drop of keys or bytes by this many percent from the newest
#                          trusted backup marks a new one suspect (default 50)
#   ALLOW_SUSPECT          1 lets latest and an id take a suspect backup
#   ARCHIVE_PRUNE_MARGIN_SECONDS  retention deletes archive objects stored this long before the
#                          oldest kept backup (default 600)
LOG_TAG=backup
SCRIPTS="$(dirname "$0")"
# shellcheck source=k8s/redis/scripts/lib.sh
source "$SCRIPTS/lib.sh"
# shellcheck source=k8s/redis/scripts/objectstore.sh
source "$SCRIPTS/objectstore.sh"
# shellcheck source=k8s/redis/scripts/scratch.sh
source "$SCRIPTS/scratch.sh"
# shellcheck source=k8s/redis/scripts/archivestore.sh
source "$SCRIPTS/archivestore.sh"
# shellcheck source=k8s/redis/scripts/seed.sh
source "$SCRIPTS/seed.sh"
# shellcheck source=k8s/redis/scripts/pushmetrics.sh
source "$SCRIPTS/pushmetrics.sh"
# shellcheck source=k8s/redis/scripts/archiveverify.sh
source "$SCRIPTS/archiveverify.sh"
# shellcheck source=k8s/redis/scripts/restore.sh
source "$SCRIPTS/restore.sh"
# shellcheck source=k8s/redis/scripts/undo.sh
source "$SCRIPTS/undo.sh"
umask 077

SCRATCH_DIR="${SCRATCH_DIR:-/tmp/redis-dr-backup}"
BACKUP_KEEP_HOURLY="${BACKUP_KEEP_HOURLY:-48}"
BACKUP_KEEP_DAILY="${BACKUP_KEEP_DAILY:-30}"
BACKUP_SAMPLE_KEYS="${BACKUP_SAMPLE_KEYS:-20}"
DUMP_TIMEOUT_SECONDS="${DUMP_TIMEOUT_SECONDS:-1800}"
MIGRATE_BATCH="${MIGRATE_BATCH:-200}"
BACKUP_RUN_DEADLINE_SECONDS="${BACKUP_RUN_DEADLINE_SECONDS:-7200}"
BACKUP_SHRINK_ALARM_PERCENT="${BACKUP_SHRINK_ALARM_PERCENT:-50}"
BACKUP_KEEP_ALL_SECONDS=3600
ARCHIVE_PRUNE_MARGIN_SECONDS="${ARCHIVE_PRUNE_MARGIN_SECONDS:-600}"

WORK=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  undo_cleanup
  scratch_stop
  [[ -n $WORK ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

# A fresh working directory; the previous one (a downloaded RDB, perhaps large) goes first.
new_workdir() {
  [[ -n $WORK ]] && rm -rf "$WORK"
  mkdir -p "$SCRATCH_DIR"
  WORK=$(mktemp -d "$SCRATCH_DIR/work.XXXXXX")
}

info_value() { sed -n "s/^$1:\\([^[:space:]]*\\).*/\\1/p"; }
# id_time ID [FORMAT]: the UTC time a backup id stands for (default: seconds since the epoch).
id_time() { date -u -d "${1:0:8} ${1:9:2}:${1:11:2}:${1:13:2}" "+${2:-%s}"; }
bytes_of() { wc -c <"$1" | tr -d ' '; }

# The replica to copy from: linked to the agreed master, not syncing, with the highest
# replication offset. Never the master: its fork would stall the writes clients wait on.
choose_source() {
  local answer master node info best="" best_offset=-1 offset
  answer=$(sentinel_majority_master) || { log "no Sentinel majority names a master; not backing up mid-failover"; return 1; }
  master=${answer% *}
  for node in $REDIS_NODES; do
    [[ $node == "$master" ]] && continue
    info=$(redis_cmd "$node" INFO replication 2>/dev/null | tr -d '\r') || continue
    [[ $(info_value role <<<"$info") == slave ]] || continue
    [[ $(info_value master_host <<<"$info") == "$master" ]] || continue
    [[ $(info_value master_link_status <<<"$info") == up ]] || continue
    [[ $(info_value master_sync_in_progress <<<"$info") == 0 ]] || continue
    offset=$(info_value slave_repl_offset <<<"$info")
    if ((offset > best_offset)); then best=$node best_offset=$offset; fi
  done
  [[ -n $best ]] || { log "no healthy replica of $master to copy from (a backup never loads the master)"; return 1; }
  echo "$best"
}

# check_rdb FILE: redis-check-rdb's verdict; prints "KEYS VERSION REPLID OFFSET".
check_rdb() {
  local out
  out=$(redis-check-rdb "$1" 2>&1) || { log "redis-check-rdb rejects $1: $(tail -n 3 <<<"$out")"; return 1; }
  grep -q 'RDB looks OK' <<<"$out" || { log "redis-check-rdb did not confirm $1"; return 1; }
  printf '%s %s %s %s\n' \
    "$(sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p' <<<"$out")" \
    "$(sed -n "s/.*AUX FIELD redis-ver = '\\([^']*\\)'.*/\\1/p" <<<"$out")" \
    "$(sed -n "s/.*AUX FIELD repl-id = '\\([^']*\\)'.*/\\1/p" <<<"$out")" \
    "$(sed -n "s/.*AUX FIELD repl-offset = '\\([^']*\\)'.*/\\1/p" <<<"$out")"
}

cmd_take() {
  local started=$SECONDS id source facts keys version replid offset sample
  id=$(date -u +%Y%m%dT%H%M%SZ)
  source=$(choose_source) || return 1
  new_workdir
  log "backup $id: copying an RDB from replica $source"
  REDISCLI_AUTH="$REDIS_PASSWORD" timeout "$DUMP_TIMEOUT_SECONDS" \
    redis-cli --no-auth-warning --user admin -h "$source" -p "$REDIS_PORT" --rdb "$WORK/dump.rdb" >"$WORK/rdb.log" 2>&1 \
    || { log "redis-cli --rdb from $source failed: $(tail -n 2 "$WORK/rdb.log")"; return 1; }
  facts=$(check_rdb "$WORK/dump.rdb") || return 1
  read -r keys version replid offset <<<"$facts"
  scratch_start "$WORK" || return 1
  [[ $(scratch_cmd DBSIZE) == "$keys" ]] || { log "scratch load holds $(scratch_cmd DBSIZE) keys, redis-check-rdb read $keys"; return 1; }
  sample=$(scratch_sample "$BACKUP_SAMPLE_KEYS")
  scratch_stop
  {
    printf '{\n'
    printf '  "id": "%s",\n' "$id"
    printf '  "createdAt": "%s",\n' "$(id_time "$id" %Y-%m-%dT%H:%M:%SZ)"
    printf '  "createdAtEpoch": %s,\n' "$(id_time "$id")"
    printf '  "sourcePod": "%s",\n' "$source"
    printf '  "replicationId": "%s",\n' "$replid"
    printf '  "replicationOffset": %s,\n' "${offset:-0}"
    printf '  "keys": %s,\n' "$keys"
    printf '  "redisVersion": "%s",\n' "$version"
    printf '  "bytes": %s,\n' "$(bytes_of "$WORK/dump.rdb")"
    printf '  "sha256": "%s",\n' "$(sha256_of "$WORK/dump.rdb")"
    printf '  "takeSeconds": %s,\n' "$((SECONDS - started))"
    printf '  "sample": [\n'
    awk 'NF == 2 {printf "%s    {\"type\": \"%s\", \"keyHex\": \"%s\"}", (n++ ? ",\n" : ""), $1, $2} END {if (n) printf "\n"}' <<<"$sample"
    printf '  ]\n}\n'
  } >"$WORK/manifest.json"
  # The RDB first: a manifest never points at an object that is not there.
  store_put "$WORK/dump.rdb" "$id" dump.rdb || { log "upload of $id/dump.rdb failed"; return 1; }
  store_put "$WORK/manifest.json" "$id" manifest.json || { log "upload of $id/manifest.json failed"; return 1; }
  log "backup $id: $keys keys, $(bytes_of "$WORK/dump.rdb") bytes from $source (replication offset ${offset:-?}) stored"
  rm -rf "$WORK"
  WORK=""
  echo "$id"
}

# fetch ID DIR: DIR/dump.rdb and DIR/manifest.json of a backup, sha256 checked.
fetch() {
  local id="$1" dir="$2" expected actual
  store_get "$id" manifest.json "$dir/manifest.json" || { log "backup $id has no manifest in $(store_path)"; return 1; }
  log "downloading $id/dump.rdb ($(manifest_field "$dir/manifest.json" bytes) bytes)"
  store_get "$id" dump.rdb "$dir/dump.rdb" || { log "download of $id/dump.rdb failed"; return 1; }
  expected=$(manifest_field "$dir/manifest.json" sha256)
  actual=$(sha256_of "$dir/dump.rdb")
  [[ $actual == "$expected" ]] || { log "backup $id: sha256 $actual does not match the manifest's $expected"; return 1; }
}

cmd_verify() {
  local id="${1:?verify needs a backup id}" keys loaded bad
  new_workdir
  fetch "$id" "$WORK" || return 1
  keys=$(manifest_field "$WORK/manifest.json" keys)
  check_rdb "$WORK/dump.rdb" >/dev/null || return 1
  scratch_start "$WORK" || return 1
  loaded=$(scratch_cmd DBSIZE)
  [[ $loaded == "$keys" ]] || { log "backup $id: restored $loaded keys, the manifest says $keys"; return 1; }
  bad=$(manifest_sample "$WORK/manifest.json" | scratch_check_sample)
  [[ -z $bad ]] || { log "backup $id: sampled keys differ: $bad"; return 1; }
  # What the archive check compares the replay with, taken while the dump is loaded anyway.
  VERIFIED_DIGEST=$(scratch_digest)
  scratch_stop
  # Suspect before verified: no listing ever shows it verified and trusted at once.
  mark_if_shrunk "$id" "$WORK/manifest.json" || return 1
  printf '{\n  "id": "%s",\n  "verifiedAt": "%s",\n  "keys": %s,\n  "sampledKeys": %s\n}\n' \
    "$id" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$loaded" "$(manifest_sample "$WORK/manifest.json" | wc -l)" >"$WORK/verified.json"
  store_put "$WORK/verified.json" "$id" verified.json || { log "could not mark $id verified"; return 1; }
  log "backup $id verified: restored into a scratch redis-server, $loaded keys, sample matches"
}

# mark_if_shrunk ID MANIFEST: write ID/suspect.json when its keys or bytes are at least
# BACKUP_SHRINK_ALARM_PERCENT below those of the newest trusted backup before it (a FLUSHALL,
# a mass delete: the backup of the incident must not become latest).
mark_if_shrunk() {
  local id="$1" manifest="$2" baseline keys bytes base_keys base_bytes floor=$((100 - BACKUP_SHRINK_ALARM_PERCENT))
  baseline=$(store_trusted | awk -v id="$id" '$0 < id' | tail -n 1)
  [[ -n $baseline ]] || return 0
  store_cat "$baseline" manifest.json >"$WORK/baseline.json" || { log "could not read the manifest of $baseline"; return 1; }
  keys=$(manifest_field "$manifest" keys) bytes=$(manifest_field "$manifest" bytes)
  base_keys=$(manifest_field "$WORK/baseline.json" keys) base_bytes=$(manifest_field "$WORK/baseline.json" bytes)
  ((keys * 100 <= base_keys * floor || bytes * 100 <= base_bytes * floor)) || return 0
  printf '{\n  "id": "%s",\n  "baseline": "%s",\n  "keys": %s,\n  "baselineKeys": %s,\n  "bytes": %s,\n  "baselineBytes": %s,\n  "alarmPercent": %s\n}\n' \
    "$id" "$baseline" "$keys" "$base_keys" "$bytes" "$base_bytes" "$BACKUP_SHRINK_ALARM_PERCENT" >"$WORK/suspect.json"
  store_put "$WORK/suspect.json" "$id" suspect.json || { log "could not mark $id suspect"; return 1; }
  log "backup $id is SUSPECT: $keys keys and $bytes bytes against $base_keys and $base_bytes in $baseline (alarm at -$BACKUP_SHRINK_ALARM_PERCENT%); latest skips it (backup.sh accept $id trusts it)"
}

cmd_accept() {
  local id="${1:?accept needs a backup id}"
  store_suspect | grep -qx "$id" || { log "backup $id is not suspect"; return 1; }
  rclone_quiet deletefile "$(store_path)/$id/suspect.json" || { log "could not clear $id/suspect.json"; return 1; }
  log "backup $id trusted: latest may take it"
}

cmd_list() {
  local id verified suspect manifest status
  verified=$(store_verified)
  suspect=$(store_suspect)
  new_workdir
  printf '%-17s  %-20s  %10s  %12s  %s\n' ID CREATED KEYS BYTES STATUS
  for id in $(store_backups); do
    manifest="$WORK/$id.json"
    store_cat "$id" manifest.json >"$manifest" || continue
    status=$(grep -qx "$id" <<<"$verified" && echo verified || echo unverified)
    grep -qx "$id" <<<"$suspect" && status+=", suspect"
    printf '%-17s  %-20s  %10s  %12s  %s\n' "$id" "$(manifest_field "$manifest" createdAt)" \
      "$(manifest_field "$manifest" keys)" "$(manifest_field "$manifest" bytes)" "$status"
  done
}

# The ids retention keeps: the newest trusted backup of each of the last N hours and days, and
# every suspect one newer than the oldest of those (a suspect never pushes a trusted one out).
kept_backups() {
  local trusted slots
  trusted=$(store_trusted | sort -r)
  slots=$({
    awk -v keep="$BACKUP_KEEP_HOURLY" '{hour = substr($0, 1, 11)} !(hour in seen) {seen[hour]; if (n++ < keep) print}' <<<"$trusted"
    awk -v keep="$BACKUP_KEEP_DAILY" '{day = substr($0, 1, 8)} !(day in seen) {seen[day]; if (n++ < keep) print}' <<<"$trusted"
  } | sed '/^$/d' | sort -u)
  {
    echo "$slots"
    [[ -z $slots ]] || store_suspect | awk -v oldest="$(head -n 1 <<<"$slots")" '$0 > oldest'
    # Every trusted backup of the last hour: the base of an undo or a restore --at of a recent
    # bad write must come from before it, and an hour's slot keeps only its newest backup.
    awk -v since="$(date -u -d "@$(($(date -u +%s) - BACKUP_KEEP_ALL_SECONDS))" +%Y%m%dT%H%M%SZ)" '$0 >= since' <<<"$trusted"
  } | sed '/^$/d' | sort -u
}

# Seconds since the UTC time an id (or folder name) stands for; 0 for a name that is not an id.
age_of() {
  local id="$1"
  [[ $id =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || { echo 0; return; }
  echo $(($(date -u +%s) - $(id_time "$id")))
}

cmd_prune() {
  local keep verified folder removed=0 oldest pruned
  keep=$(kept_backups)
  verified=$(store_verified)
  [[ -n $keep ]] || { log "retention: no verified backup yet; deleting nothing"; return 0; }
  for folder in $(store_folders); do
    grep -qx "$folder" <<<"$keep" && continue
    # An unverified folder younger than a run's deadline may be another run still at work
    # (an operator's `backup now` beside the schedule): leave it to a later prune.
    if ! grep -qx "$folder" <<<"$verified" && (($(age_of "$folder") < BACKUP_RUN_DEADLINE_SECONDS)); then continue; fi
    store_delete "$folder" || { log "retention: could not delete $folder"; return 1; }
    removed=$((removed + 1))
  done
  log "retention: kept $(wc -l <<<"$keep") verified backup(s), deleted $removed"
  # The archive is replayed only from a kept base on: what was stored well before the oldest is
  # dead weight. The margin covers a base taken from a replica that lagged.
  oldest=$(head -n 1 <<<"$keep")
  OLDEST_KEPT=$oldest
  pruned=$(archive_prune $(($(id_time "$oldest") - ARCHIVE_PRUNE_MARGIN_SECONDS))) || { log "retention: could not prune the archive"; return 1; }
  log "retention: deleted $pruned archive object(s) stored more than ${ARCHIVE_PRUNE_MARGIN_SECONDS}s before the oldest kept backup $oldest"
}

newest_verified_epoch() {
  local id
  id=$(store_verified | tail -n 1)
  [[ -n $id ]] || { echo 0; return; }
  id_time "$id"
}

cmd_run() {
  local started=$SECONDS id manifest
  if ! id=$(cmd_take) || ! cmd_verify "$id" || ! run_archive_check "$id" || ! cmd_prune; then
    push_metrics redis_dr_backup "$(printf 'redis_dr_backup_last_failure_timestamp_seconds %s\nredis_dr_backup_newest_verified_timestamp_seconds %s\n' "$(date +%s)" "$(newest_verified_epoch)")"
    log "backup run failed"
    return 1
  fi
  # cmd_verify left the manifest it checked against in its working directory.
  manifest="$WORK/manifest.json"
  push_metrics redis_dr_backup "$(printf '%s\n' \
    "redis_dr_backup_last_success_timestamp_seconds $(date +%s)" \
    "redis_dr_backup_last_duration_seconds $((SECONDS - started))" \
    "redis_dr_backup_last_size_bytes $(manifest_field "$manifest" bytes)" \
    "redis_dr_backup_last_keys $(manifest_field "$manifest" keys)" \
    "redis_dr_backup_last_suspect $(store_suspect | grep -cx "$id" || true)" \
    "redis_dr_backup_newest_verified_timestamp_seconds $(newest_verified_epoch)" \
    "redis_dr_backup_verified_backups $(store_verified | wc -l)" \
    "redis_dr_backup_oldest_kept_timestamp_seconds $(id_time "$OLDEST_KEPT")" \
    "redis_dr_backup_archive_mismatch $([[ $ARCHIVE_CHECK == mismatched ]] && echo 1 || echo 0)" \
    ${ARCHIVE_CHECKED_AT:+"redis_dr_backup_archive_verified_timestamp_seconds $ARCHIVE_CHECKED_AT"} \
    "redis_dr_backup_max_age_seconds ${BACKUP_MAX_AGE_SECONDS:-7200}")"
  echo "$id"
}

# cmd_run_after_gap: cmd_run, only when the archive recorded a gap after the newest verified
# backup's offset: no restore crosses a gap unless told (--allow-gap), so until a base exists
# after it nothing archived since is in reach whole (the after-gap CronJob, every minute; a suspect base counts, or a shrink
# would bring a run every minute).
cmd_run_after_gap() {
  local gap offset when newest
  gap=$(archive_newest_gap) || { log "after-gap: the store cannot be read; no run"; return 1; }
  [[ -n $gap ]] || { log "after-gap: the archive has recorded no gap; nothing to do"; return 0; }
  offset=${gap% *}
  when=$(date -u -d "@$((${gap#* } / 1000))" +%Y-%m-%dT%H:%M:%SZ)
  newest=$(store_verified | tail -n 1)
  new_workdir
  if [[ -n $newest ]] && store_get "$newest" manifest.json "$WORK/newest.json" && (($(manifest_field "$WORK/newest.json" replicationOffset) >= offset)); then
    log "after-gap: backup $newest was taken after the newest gap (at $when, offset $offset); nothing to do"
    return 0
  fi
  log "after-gap: the archive has a gap at $when (offset $offset) and no backup since${newest:+ (newest $newest)}: taking a new base now"
  cmd_run
}

# run_archive_check ID: archive_verify, whose verdict goes to the metrics and the log, never to
# the run's outcome: the new backup is good either way, and it is the next check's base.
run_archive_check() {
  ARCHIVE_CHECKED_AT=""
  archive_verify "$1" && ARCHIVE_CHECKED_AT=$(date +%s)
  return 0
}

# resolve_backup latest|ID: the id a restore uses; only verified ones unless ALLOW_UNVERIFIED,
# never a suspect one unless ALLOW_SUSPECT.
resolve_backup() {
  local wanted="$1" verified suspect candidates
  verified=$(store_verified)
  suspect=$(store_suspect)
  if [[ $wanted == latest ]]; then
    candidates=$(if [[ ${ALLOW_SUSPECT:-0} == 1 ]]; then echo "$verified"; else store_trusted; fi)
    [[ -n $candidates ]] || { log "no verified backup${suspect:+ that is not suspect} in $(store_path)"; return 1; }
    if [[ -n $suspect && ${ALLOW_SUSPECT:-0} != 1 ]] && [[ $(tail -n 1 <<<"$verified") != "$(tail -n 1 <<<"$candidates")" ]]; then
      log "latest skips suspect backup(s) newer than $(tail -n 1 <<<"$candidates"): $(awk -v t="$(tail -n 1 <<<"$candidates")" '$0 > t' <<<"$suspect" | tr '\n' ' ')(ALLOW_SUSPECT=1 takes them)"
    fi
    tail -n 1 <<<"$candidates"
    return 0
  fi
  store_backups | grep -qx "$wanted" || { log "no backup $wanted in $(store_path)"; return 1; }
  if grep -qx "$wanted" <<<"$suspect" && [[ ${ALLOW_SUSPECT:-0} != 1 ]]; then
    log "backup $wanted is suspect (it shrank from the one before); refusing (ALLOW_SUSPECT=1 overrides, backup.sh accept $wanted trusts it)"
    return 1
  fi
  if ! grep -qx "$wanted" <<<"$verified" && [[ ${ALLOW_UNVERIFIED:-0} != 1 ]]; then
    log "backup $wanted never verified; refusing (ALLOW_UNVERIFIED=1 overrides)"
    return 1
  fi
  echo "$wanted"
}

case "${1:-}" in
  run) if [[ ${2:-} == --after-gap ]]; then cmd_run_after_gap; else cmd_run; fi ;;
  take) cmd_take ;;
  verify) cmd_verify "${2:-}" ;;
  list) cmd_list ;;
  prune) cmd_prune ;;
  seed) cmd_seed ;;
  restore)
    shift
    target="" at=""
    while (($# > 0)); do
      case $1 in
        --allow-suspect) ALLOW_SUSPECT=1 ;;
        --at) at="${2:?--at needs a time}"; shift ;;
        --skip) ARCHIVE_SKIP="${2:?--skip needs offsets}"; shift ;;
        --allow-gap) ARCHIVE_ALLOW_GAP=1 ;;
        *) target=$1 ;;
      esac
      shift
    done
    [[ -z $at || -z $target ]] || { echo "restore takes a backup (ID|latest) or --at TIME, not both" >&2; exit 2; }
    [[ -z ${ARCHIVE_SKIP:-} && ${ARCHIVE_ALLOW_GAP:-0} != 1 || -n $at ]] || { echo "restore --skip and --allow-gap need --at (latest: the newest archived write)" >&2; exit 2; }
    cmd_restore "${target:-at}" "$at"
    ;;
  accept) cmd_accept "${2:-}" ;;
  window) cmd_window ;;
  log) shift; cmd_log "$@" ;;
  undo) shift; cmd_undo "$@" ;;
  *) echo "usage: backup.sh run [--after-gap]|take|verify ID|list|prune|seed|restore ID|latest|--at TIME [--skip OFFSET,...] [--allow-gap] [--allow-suspect]|accept ID|window|log [--since T] [--until T] [--match X]|undo OFFSET..." >&2; exit 2 ;;
esac
