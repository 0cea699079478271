#!/usr/bin/env bash
# push_metrics JOB BODY: POST BODY (Prometheus text format) to the Pushgateway at PUSHGATEWAY
# (host:port; unset: nothing is pushed), grouped by job JOB and label bucket=BACKUP_BUCKET.
# Sourced by backup.sh and archive.sh, never run; needs a log function. A Pushgateway that is
# down costs a warning, never the job: metrics are not worth a failed backup or a stalled archive.

push_metrics() {
  [[ -n ${PUSHGATEWAY:-} ]] || return 0
  # The text format ends every sample with a newline; $(...) stripped the last one.
  local job="$1" body="$2"$'\n' host="${PUSHGATEWAY%:*}" port="${PUSHGATEWAY##*:}" status
  # POST replaces only the metrics it names, so a failure push keeps the last success's figures.
  if ! exec 3<>"/dev/tcp/$host/$port"; then
    log "warning: Pushgateway $PUSHGATEWAY unreachable; metrics not pushed"
    return 0
  fi
  printf 'POST /metrics/job/%s/bucket/%s HTTP/1.0\r\nHost: %s\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %s\r\n\r\n%s' \
    "$job" "$BACKUP_BUCKET" "$PUSHGATEWAY" "$(LC_ALL=C; echo "${#body}")" "$body" >&3
  status=$(timeout 5 head -n 1 <&3 | tr -d '\r' || true)
  exec 3<&-
  [[ $status =~ ^HTTP/[0-9.]+\ 2 ]] || log "warning: Pushgateway answered '$status'"
}
