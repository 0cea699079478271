#!/usr/bin/env bash
# preStop of the sentinel container: stay up while the local redis is still the
# master, so the handover in prestop-redis.sh has this pod's Sentinel to vote.
LOG_TAG=prestop-sentinel
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PRESTOP_TIMEOUT_SECONDS="${PRESTOP_TIMEOUT_SECONDS:-50}"
deadline=$((SECONDS + PRESTOP_TIMEOUT_SECONDS))
while ((SECONDS < deadline)) && [[ $(redis_role "$LOCAL_ADDRESS" || true) == master ]]; do
  sleep 0.5
done
