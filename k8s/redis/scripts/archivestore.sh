#!/usr/bin/env bash
# The continuous archive in the object store, beside the backups (docs/archive.md). Sourced by
# archive.sh and backup.sh, never run; needs objectstore.sh.
#
# Layout, under ARCHIVE_PREFIX (default archive), named by redis-dr-archiver (sortable by offset):
#   <hour>/<offset>-<id>.resp   the replication stream's bytes, uploaded first
#   <hour>/<offset>-<id>.json   the segment's manifest, with the data's sha256, uploaded last: a
#                               segment exists once it does
#   gaps/gap-<offset>-<id>.json a full resync: the archive holds nothing between the segment
#                               before and this offset
#   newest-gap.json             a copy of the newest gap record after the archive's start: what
#                               the after-gap backup run (backup.sh run --after-gap) reads
# <hour> is the UTC hour the segment's first command arrived (2026-12-07T18). Under steady
# writes segments close four times a second, so one flat list of a month's retention would be
# millions of objects, listed whole by every restore, undo and resume; by the hour, a reader
# lists only the hours from its base on, and the newest hour gives the newest segment.
# Segments stored before hours existed (at the top level) are still listed by every reader,
# until retention has deleted them.
#
#   ARCHIVER   the redis-dr-archiver binary (default: on PATH)

ARCHIVE_PREFIX="${ARCHIVE_PREFIX:-archive}"
ARCHIVER="${ARCHIVER:-redis-dr-archiver}"
SEGMENT_NAME='[0-9]{20}-[0-9a-f]{40}'
HOUR_NAME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}'
GAPS=gaps
# How far before its base's time a reader looks for the segment holding the base's offset: the
# backup's replica may have been ahead of the archiver's when the base was taken.
ARCHIVE_LOOKBACK_SECONDS=600

NEWEST_GAP="newest-gap.json"

archive_path() { printf 'store:%s/%s' "$BACKUP_BUCKET" "$ARCHIVE_PREFIX"; }

# archive_hour SECONDS: the hour a segment whose first command arrived then is stored under,
# into ARCHIVE_HOUR (a builtin: the shipper's pass forks nothing).
archive_hour() { TZ=UTC printf -v ARCHIVE_HOUR '%(%Y-%m-%dT%H)T' "$1"; }

# archive_newest_gap: "OFFSET MS" of the newest gap after the archive's start (where the archive
# continues, and when it was recorded), from one read of newest-gap.json; nothing when none.
# Exit 1 when the store cannot be read.
archive_newest_gap() {
  local record rc=0
  record=$(rclone_quiet cat "$(archive_path)/$NEWEST_GAP" 2>/dev/null) || rc=$?
  # rclone's 3 and 4 are "directory not found" and "file not found": no gap stored yet.
  ((rc == 0 || rc == 3 || rc == 4)) || { log "cannot read $NEWEST_GAP in $(archive_path) (rclone exit $rc)"; return 1; }
  [[ $record =~ \"toOffset\":([0-9]+) ]] || return 0
  printf '%s ' "${BASH_REMATCH[1]}"
  [[ $record =~ \"atMs\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

# archive_hours: the hours the archive has, oldest first (one listing of the top level).
archive_hours() { rclone_quiet lsf --dirs-only "$(archive_path)" 2>/dev/null | sed 's|/$||' | grep -E "^$HOUR_NAME\$" | sort || true; }

# archive_manifests SINCE: the manifests (segments and gaps) as paths under the prefix
# (<hour>/<name>.json, gaps/<name>.json, or a top-level <name>.json), in offset order: every
# gap, the segments of the hours from SINCE's on (epoch seconds; 0: all), and the top level's.
archive_manifests() {
  local since="$1" filter hour first=""
  ((since == 0)) || { archive_hour "$since" && first=$ARCHIVE_HOUR; }
  filter=$(mktemp)
  {
    echo "- /$NEWEST_GAP"
    echo "+ /$GAPS/*.json"
    # What was stored before hours existed: listed always, until retention has deleted it.
    echo "+ /*.json"
    for hour in $(archive_hours); do
      [[ -n $first && $hour < $first ]] || echo "+ /$hour/*.json"
    done
    echo "- **"
  } >"$filter"
  rclone_quiet lsf -R --files-only --filter-from "$filter" "$(archive_path)" 2>/dev/null | by_name
  rm -f "$filter"
}

# archive_end_segment_in HOUR head|tail: the oldest (head) or newest (tail) segment's name (no
# suffix) stored directly under HOUR ("" for the top level); nothing when it holds none.
archive_end_segment_in() {
  rclone_quiet lsf --files-only --max-depth 1 --include '*.json' "$(archive_path)${1:+/$1}" 2>/dev/null | grep -E "^$SEGMENT_NAME\.json\$" | sort | "$2" -n 1 | sed 's/\.json$//'
}

# archive_newest_segment: the newest segment's path under the prefix (no suffix), from the
# newest hour that has one (the top level when none has); nothing when the archive is empty.
archive_newest_segment() {
  local hour newest
  for hour in $(archive_hours | sort -r) ""; do
    newest=$(archive_end_segment_in "$hour" tail)
    [[ -n $newest ]] && { echo "${hour:+$hour/}$newest"; return 0; }
  done
}

# archive_oldest_segment: the oldest segment's path under the prefix (no suffix), from the top
# level or the oldest hour that has one; nothing when the archive is empty.
archive_oldest_segment() {
  local hour oldest
  for hour in "" $(archive_hours); do
    oldest=$(archive_end_segment_in "$hour" head)
    [[ -n $oldest ]] && { echo "${hour:+$hour/}$oldest"; return 0; }
  done
}

# by_name: paths, sorted by their last component (segment and gap names sort by offset).
by_name() { awk -F / '{ print $NF "\t" $0 }' | sort | cut -f 2; }

# archive_gap_records: every gap record's path under the prefix (gaps/, or the top level from
# before hours), oldest first.
archive_gap_records() {
  rclone_quiet lsf -R --files-only --include "/$GAPS/gap-*.json" --include "/gap-*.json" "$(archive_path)" 2>/dev/null | by_name
}

# json_number FILE NAME, json_text FILE NAME: a field of the one-line JSON the archiver writes.
json_number() { sed -n "s/.*\"$2\":\\([0-9-]*\\).*/\\1/p" "$1"; }
json_text() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" "$1"; }

# archive_fetch FROM SINCE DIR: every segment from the one holding offset FROM on, and every
# gap, into DIR (flat, by name), each checked against the sha256 its manifest gives (and marked
# .checked: a later fetch into the same DIR downloads and checks only what is new). SINCE is
# when the base at FROM was taken (epoch seconds; 0: the whole archive): only the hours from
# ARCHIVE_LOOKBACK_SECONDS before it are listed. Prints how many segments DIR holds from
# FROM on.
archive_fetch() {
  local from="$1" since="$2" dir="$3" manifests paths wanted first="" path name fresh=() incoming
  mkdir -p "$dir"
  since=$((since > ARCHIVE_LOOKBACK_SECONDS ? since - ARCHIVE_LOOKBACK_SECONDS : 0))
  manifests=$(archive_manifests "$since")
  paths=$(grep -E "(^|/)$SEGMENT_NAME\.json\$" <<<"$manifests" | sed 's/\.json$//' || true)
  [[ -n $paths ]] || { log "the archive in $(archive_path) holds no segment"; return 1; }
  for path in $paths; do
    name=${path##*/}
    ((10#${name%%-*} <= from)) && first=$path
  done
  # None starts at or before FROM: fetch from the oldest, and the replay names what is missing.
  [[ -n $first ]] || first=$(head -n 1 <<<"$paths")
  wanted=$(awk -v first="$first" 'found || $0 == first { found = 1; print }' <<<"$paths")
  for path in $wanted; do [[ -e $dir/${path##*/}.checked ]] || fresh+=("$path"); done
  {
    for path in "${fresh[@]}"; do printf '%s.resp\n%s.json\n' "$path" "$path"; done
    for path in $(grep -E '(^|/)gap-' <<<"$manifests" || true); do [[ -e $dir/${path##*/} ]] || echo "$path"; done
  } >"$dir/fetch.list"
  if [[ -s $dir/fetch.list ]]; then
    # Segments are small and many: more transfers at once than rclone's 4. They arrive under
    # their hours and are moved up beside the rest.
    incoming="$dir/.incoming"
    rclone_quiet copy --no-traverse --transfers 16 --checkers 16 --files-from "$dir/fetch.list" "$(archive_path)" "$incoming" || { log "download of the archive failed"; return 1; }
    find "$incoming" -type f -exec mv -f -t "$dir" {} +
    rm -rf "$incoming"
  fi
  ((${#fresh[@]} == 0)) || archive_check_sums "$dir" "${fresh[@]##*/}" || return 1
  wc -l <<<"$wanted"
}

# archive_check_sums DIR NAME...: each segment's data against the sha256 in its manifest, in a
# few processes (a fork per segment was most of a large fetch), then marked .checked.
archive_check_sums() {
  local dir="$1" expected actual bad
  shift
  # "NAME SHA256" from each side; a manifest without a sum matches nothing.
  # shellcheck disable=SC2016 # awk, not shell
  expected=$(cd "$dir" && printf '%s.json\n' "$@" | xargs awk 'match($0, /"sha256":"[0-9a-f]+"/) { print substr(FILENAME, 1, length(FILENAME) - 5), substr($0, RSTART + 10, RLENGTH - 11) }' | sort)
  actual=$(cd "$dir" && printf '%s.resp\n' "$@" | xargs sha256sum | awk '{ print substr($2, 1, length($2) - 5), $1 }' | sort)
  bad=$(comm -13 <(echo "$expected") <(echo "$actual") | head -n 1)
  [[ -z $bad ]] || { log "archive segment ${bad% *}: sha256 does not match its manifest's"; return 1; }
  (cd "$dir" && printf '%s.checked\n' "$@" | xargs touch)
}

# archive_sync FROM SINCE DIR: archive_fetch into DIR.incoming, then each whole, checked segment
# (and gap) linked into DIR, every segment's data before any manifest, so a reader of DIR never
# sees half a segment. The staging copies stay: the next sync downloads only what is new.
archive_sync() {
  local from="$1" since="$2" dir="$3" staging="$3.incoming" file name data=() manifests=()
  mkdir -p "$dir"
  archive_fetch "$from" "$since" "$staging" >/dev/null || return 1
  for file in "$staging"/*.json; do
    name=${file##*/}
    name=${name%.json}
    [[ -e $dir/$name.json ]] && continue
    [[ $name == gap-* ]] || data+=("$staging/$name.resp")
    manifests+=("$file")
  done
  ((${#manifests[@]} > 0)) || return 0
  if ((${#data[@]} > 0)); then printf '%s\n' "${data[@]}" | xargs ln -f -t "$dir" || return 1; fi
  printf '%s\n' "${manifests[@]}" | xargs ln -f -t "$dir"
}

# archive_follow FROM SINCE DIR: archive_sync until killed, ARCHIVE_FOLLOW_SECONDS (default 1) after
# a sync that brought a segment, backing off to 2 s while none comes (each sync lists the store);
# run in the background while undo waits for the archive to reach the live master. A failing
# sync is logged once, with its last line, until one succeeds again.
archive_follow() {
  local from="$1" since="$2" dir="$3" pause="${ARCHIVE_FOLLOW_SECONDS:-1}" idle before failing=""
  idle=$pause
  while sleep "$idle"; do
    before=$(find "$dir" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)
    if archive_sync "$from" "$since" "$dir" 2>"$dir.errors"; then
      [[ -n $failing ]] && log "following the archive: syncing again"
      failing=""
    elif [[ -z $failing ]]; then
      log "following the archive: a sync failed ($(tail -n 1 "$dir.errors")); retrying"
      failing=1
    fi
    if (($(find "$dir" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l) > before)); then
      idle=$pause
    else
      idle=$(awk -v s="$idle" 'BEGIN { s *= 2; print (s > 2 ? 2 : s) }')
    fi
  done
}

# archive_prune BEFORE: delete the archive's objects stored before epoch second BEFORE (each
# segment's data and manifest, and gap records), but never the newest segment or gap: the
# archiver's resume continues after them. Only the hours up to BEFORE's are listed (a later hour's
# segments began after it), with the top level and the gaps. Manifests go first, so no reader
# ever finds a manifest whose data is gone. Prints how many objects it deleted.
archive_prune() {
  local cutoff last listing filter hour newest_segment newest_gap doomed list
  cutoff=$(date -u -d "@$1" '+%Y-%m-%d %H:%M:%S')
  archive_hour "$1"
  last=$ARCHIVE_HOUR
  newest_segment=$(archive_newest_segment)
  newest_gap=$(archive_gap_records | tail -n 1)
  filter=$(mktemp)
  {
    echo "+ /$GAPS/**"
    echo "+ /*"
    for hour in $(archive_hours); do [[ $hour > $last ]] || echo "+ /$hour/**"; done
    echo "- **"
  } >"$filter"
  # lsf prints "modtime;path", the time in the process's zone: UTC, so it compares as text.
  listing=$(TZ=UTC rclone_quiet lsf -R --files-only --format tp --filter-from "$filter" "$(archive_path)") || { rm -f "$filter"; return 1; }
  rm -f "$filter"
  doomed=$(awk -F ';' -v cutoff="$cutoff" -v segment="${newest_segment:-none}" -v gap="${newest_gap:-none}" \
    '$1 < cutoff && $2 != gap && index($2, segment ".") != 1 { print $2 }' <<<"$listing")
  [[ -n $doomed ]] || { echo 0; return 0; }
  list=$(mktemp)
  grep '\.json$' <<<"$doomed" >"$list" || true
  if [[ -s $list ]]; then rclone_quiet delete --files-from "$list" "$(archive_path)" || { rm -f "$list"; return 1; }; fi
  grep -v '\.json$' <<<"$doomed" >"$list" || true
  if [[ -s $list ]]; then rclone_quiet delete --files-from "$list" "$(archive_path)" || { rm -f "$list"; return 1; }; fi
  rm -f "$list"
  wc -l <<<"$doomed"
}

# archive_replay DIR REPLID OFFSET UNTIL_MS HOME: replay DIR's segments that continue a base
# at REPLID/OFFSET onto the scratch server whose socket is in HOME, up to UNTIL_MS (empty: the
# newest archived command) or to exactly ARCHIVE_UNTIL_OFFSET, leaving out the units ending at
# ARCHIVE_SKIP (offsets, comma-separated), across recorded gaps with ARCHIVE_ALLOW_GAP=1 (it
# prints what each leaves out); ARCHIVE_PLAN_ONLY=1 only plans (HOME unused).
# Exit 3: refused (the time lies outside what the archive covers after this base).
archive_replay() {
  local dir="$1" replid="$2" offset="$3" until="$4" home="$5" args
  dir=$(cd "$dir" && pwd) || return 1
  args=(replay --dir "$dir" --base-replid "$replid" --base-offset "$offset")
  [[ -n $until ]] && args+=(--until-ms "$until")
  [[ -n ${ARCHIVE_SKIP:-} ]] && args+=(--skip "$ARCHIVE_SKIP")
  [[ -n ${ARCHIVE_UNTIL_OFFSET:-} ]] && args+=(--until-offset "$ARCHIVE_UNTIL_OFFSET")
  [[ ${ARCHIVE_ALLOW_GAP:-0} == 1 ]] && args+=(--allow-gap)
  [[ -n ${ARCHIVE_PLAN_ONLY:-} ]] && args+=(--plan-only)
  (cd "$home" && REPLAY_TARGET="./$SCRATCH_SOCKET" REPLAY_USER="" REPLAY_PASSWORD="" "$ARCHIVER" "${args[@]}")
}

# archive_skip_floor: the lowest offset in ARCHIVE_SKIP (empty when none): a base must be older.
archive_skip_floor() { tr ',' '\n' <<<"${ARCHIVE_SKIP:-}" | grep -E '^[0-9]+$' | sort -n | head -n 1; }
