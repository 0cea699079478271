#!/usr/bin/env bash
# Probe of the redis container: probe-redis.sh liveness|readiness
#  liveness:  the process answers; PONG, LOADING and MASTERDOWN all count as alive
#             (a replica loading a dataset or cut off from its master must not be killed).
#  readiness: PONG, and a replica is linked to its master and not in a full sync.
LOG_TAG=probe-redis
# shellcheck source=k8s/redis/scripts/lib.sh
source "$(dirname "$0")/lib.sh"

mode="${1:?usage: probe-redis.sh liveness|readiness}"
reply=$(redis_cmd "$LOCAL_ADDRESS" PING 2>&1 || true)

case $mode in
  liveness)
    [[ $reply == PONG || $reply == LOADING* || $reply == MASTERDOWN* ]] && exit 0
    echo "redis not alive: ${reply:-no answer}"
    exit 1
    ;;
  readiness)
    [[ $reply == PONG ]] || { echo "redis not ready: ${reply:-no answer}"; exit 1; }
    replication=$(redis_cmd "$LOCAL_ADDRESS" INFO replication | tr -d '\r')
    grep -qx 'role:master' <<<"$replication" && exit 0
    grep -qx 'master_link_status:up' <<<"$replication" || { echo "replica not linked to its master"; exit 1; }
    grep -qx 'master_sync_in_progress:0' <<<"$replication" || { echo "replica in full sync"; exit 1; }
    exit 0
    ;;
  *) echo "usage: probe-redis.sh liveness|readiness"; exit 2 ;;
esac
