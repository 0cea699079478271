#!/usr/bin/env bash
# Probe of the sentinel container: probe-sentinel.sh liveness|readiness
#  liveness:  Sentinel answers PING.
#  readiness: Sentinel knows an address for the monitored master.
LOG_TAG=probe-sentinel
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

mode="${1:?usage: probe-sentinel.sh liveness|readiness}"
case $mode in
  liveness)
    reply=$(sentinel_cmd "$LOCAL_ADDRESS" PING 2>&1 || true)
    [[ $reply == PONG ]] || { echo "sentinel not alive: ${reply:-no answer}"; exit 1; }
    ;;
  readiness)
    reply=$(sentinel_cmd "$LOCAL_ADDRESS" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>&1 | paste -sd' ' || true)
    [[ $reply =~ ^[^[:space:]]+\ [0-9]+$ ]] || { echo "sentinel has no master address: ${reply:-no answer}"; exit 1; }
    ;;
  *) echo "usage: probe-sentinel.sh liveness|readiness"; exit 2 ;;
esac
