#!/usr/bin/env bash
# preStop of the redis container: if this pod is the master, hand the role to a replica
# before Kubernetes stops it, so a planned restart loses no write. The handover is
# switchover.sh, the same one operators run (npm run ops -- switchover); a refusal or a
# failure still lets the pod stop (Sentinel then fails over as for any lost master).
SWITCHOVER_TIMEOUT_SECONDS="${PRESTOP_TIMEOUT_SECONDS:-50}" bash "$(dirname "$0")/switchover.sh" || true
exit 0
