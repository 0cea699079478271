#!/usr/bin/env bash
# Backups in an S3-compatible object store, through rclone. Sourced by backup.sh, never run.
#
# Layout, one folder per backup, named by its UTC start time (sortable):
#   <BACKUP_PREFIX>/<id>/dump.rdb        the RDB, uploaded first
#   <BACKUP_PREFIX>/<id>/manifest.json   written only after the RDB is stored and checked
#   <BACKUP_PREFIX>/<id>/verified.json   written only after the stored RDB restored
# A backup exists once its manifest does, and counts (for restore and retention) only once
# verified.json does. A run that dies midway leaves at most a folder without them, which
# nothing picks and the next run's retention removes. S3 PUTs (and completed multipart
# uploads) are atomic, so no reader ever sees half an object.
#
#   RCLONE                rclone binary (default: rclone on PATH)
#   RCLONE_CONFIG_STORE_* the S3 remote "store": TYPE=s3, PROVIDER, ENDPOINT, ACCESS_KEY_ID,
#                         SECRET_ACCESS_KEY, FORCE_PATH_STYLE, REGION (rclone reads them from
#                         the environment, so no config file holds the key)
#   BACKUP_BUCKET         the bucket
#   BACKUP_PREFIX         folder inside the bucket (default: backups)

: "${BACKUP_BUCKET:?BACKUP_BUCKET must be set}"
BACKUP_PREFIX="${BACKUP_PREFIX:-backups}"
RCLONE="${RCLONE:-rclone}"

store_path() { printf 'store:%s/%s' "$BACKUP_BUCKET" "$BACKUP_PREFIX"; }

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

rclone_quiet() { RCLONE_CONFIG=/dev/null "$RCLONE" --retries 3 --low-level-retries 3 -q "$@"; }

# store_put FILE ID NAME: upload FILE as <id>/<name>.
store_put() { rclone_quiet copyto "$1" "$(store_path)/$2/$3"; }

# store_get ID NAME FILE: download <id>/<name> into FILE. On S3, copyto of a missing object
# lists an empty prefix and exits 0 (no directories there): only a file that arrived counts.
store_get() { rclone_quiet copyto "$(store_path)/$1/$2" "$3" && [[ -f $3 ]]; }

# store_cat ID NAME: print a small object.
store_cat() { rclone_quiet cat "$(store_path)/$1/$2"; }

# store_delete ID: remove a backup, its verified marker first so no restore picks it midway.
store_delete() {
  rclone_quiet deletefile "$(store_path)/$1/verified.json" 2>/dev/null || true
  rclone_quiet purge "$(store_path)/$1"
}

# Every object as "ID/NAME", sorted.
store_objects() { rclone_quiet lsf --files-only -R "$(store_path)" | sort; }

# Backup ids that have a manifest, oldest first.
store_backups() { store_objects | sed -n 's#^\([^/]*\)/manifest\.json$#\1#p'; }

# Backup ids that restored, oldest first.
store_verified() { store_objects | sed -n 's#^\([^/]*\)/verified\.json$#\1#p'; }

# Verified backups whose keys or size dropped too far from the one before (suspect.json): kept,
# never taken for latest unless ALLOW_SUSPECT=1.
store_suspect() { store_objects | sed -n 's#^\([^/]*\)/suspect\.json$#\1#p'; }

# Verified backups that are not suspect, oldest first.
store_trusted() { comm -23 <(store_verified) <(store_suspect); }

# Every folder, backup or not (what a failed run may have left).
store_folders() { store_objects | sed -n 's#^\([^/]*\)/.*#\1#p' | uniq; }

# manifest_field FILE NAME: a scalar field of a manifest this script wrote (one field a line).
manifest_field() {
  sed -n "s/^  \"$2\": \"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}\$/\\1/p" "$1"
}

# manifest_sample FILE: the sampled keys, "TYPE HEX" a line.
manifest_sample() {
  sed -n 's/^    {"type": "\([a-z]*\)", "keyHex": "\([0-9a-f]*\)"},\{0,1\}$/\1 \2/p' "$1"
}
