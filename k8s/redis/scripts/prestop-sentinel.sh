#!/usr/bin/env bash
# preStop of the sentinel container: stay up while the local redis is still the master, so the
# handover in prestop-redis.sh has this pod's Sentinel to vote, and then until a majority of
# Sentinels names another master. switchover.sh asks this pod's own Sentinel to run the
# failover, and the kubelet stops each container as soon as its own preStop returns: leaving
# at the demotion would stop the leader before its new configuration reached the other
# Sentinels, which would keep the demoted pod as master and fail over a second time when it
# stops (found by the rolling-restart drill on the local kubelet).
LOG_TAG=prestop-sentinel
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PRESTOP_TIMEOUT_SECONDS="${PRESTOP_TIMEOUT_SECONDS:-50}"
deadline=$((SECONDS + PRESTOP_TIMEOUT_SECONDS))
own_view() { sentinel_cmd "$LOCAL_ADDRESS" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1; }

while ((SECONDS < deadline)); do
  if [[ $(redis_role "$LOCAL_ADDRESS" || true) != master ]]; then
    rc=0
    answer=$(sentinel_majority_master) || rc=$?
    if ((rc == 0)); then
      # A majority still naming this pod has not heard of the handover yet: wait for it.
      [[ ${answer% *} != "$POD_FQDN" ]] && exit 0
    elif [[ $(own_view) != "$POD_FQDN" ]]; then
      exit 0 # no majority to wait for, and this Sentinel holds no news of this pod's handover
    fi
  fi
  sleep 0.2
done
log "Sentinels still name this pod master after ${PRESTOP_TIMEOUT_SECONDS}s; stopping anyway"
