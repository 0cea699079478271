#!/usr/bin/env bash
# Runs a command where the local kubelet runtime can build its pod networks. As root that is
# here. Otherwise it is the root of a new user, network and mount namespace (unshare -Urnm, as
# rootless containers do; user_namespaces(7)): there the user may add network namespaces,
# bridges and veth pairs, but the host's /run/netns and /etc/netns are not writable. So,
# inside: a tmpfs on /run (for /run/netns), an overlay on /etc whose upper layer (on that
# tmpfs) holds /etc/netns (for the pods' hosts files, which `ip netns exec` binds over
# /etc/hosts), and loopback up. Everything goes with the last process in the namespaces.
# Unprivileged overlay mounts need Linux 5.11 or later (Debian 12 has 6.1).
#   scripts/rootless.sh COMMAND [ARG...]
set -euo pipefail

if (($# == 0)); then
  echo "usage: scripts/rootless.sh COMMAND [ARG...]" >&2
  exit 2
fi

if [[ ${1-} != --inside ]]; then
  if [[ $(id -u) -eq 0 ]]; then exec "$@"; fi
  if ! unshare -Urnm --propagation private true 2>/dev/null; then
    echo "rootless: this machine refuses an unprivileged user namespace (unshare -Urnm); run as root, or allow it (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or an AppArmor userns profile)" >&2
    exit 1
  fi
  # Inside, every user is root: tools that key a shared directory by uid (tsx's /tmp/tsx-0)
  # would find root's. A temporary directory of this user's own keeps them apart.
  TMPDIR="${TMPDIR:-/tmp}/redis-dr-rootless-$(id -u)"
  export TMPDIR
  if ! mkdir -m 700 "$TMPDIR" 2>/dev/null && ! [[ -d $TMPDIR && -O $TMPDIR ]]; then
    echo "rootless: cannot make $TMPDIR, a temporary directory of this user's own" >&2
    exit 1
  fi
  exec unshare -Urnm --propagation private bash "$0" --inside "$@"
fi
shift

mount -t tmpfs -o mode=755 rootless-run /run
mkdir -p /run/netns /run/rootless-etc/upper/netns /run/rootless-etc/work
mount -t overlay rootless-etc -o lowerdir=/etc,upperdir=/run/rootless-etc/upper,workdir=/run/rootless-etc/work /etc
ip link set lo up
exec "$@"
