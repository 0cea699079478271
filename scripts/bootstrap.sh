#!/usr/bin/env bash
# Install everything redis-dr needs on a Debian machine, idempotently:
# Debian packages (Redis, Sentinel, the C++ toolchain and libraries, shellcheck)
# and the npm packages from package-lock.json. Both README commands run it first.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  redis-server redis-sentinel redis-tools # the real Redis processes the tests and local topology run
  g++ make cmake pkg-config               # builds app/
  libhiredis-dev libboost-dev nlohmann-json3-dev # the service: hiredis, Boost.Beast/Asio, JSON
  libssl-dev                              # the archiver's segment checksums (libcrypto, linked in statically)
  libcurl4-openssl-dev                    # the archive's uploader (libcurl: TLS, SigV4, one kept connection)
  openssl                                 # certificates for the uploader's TLS test
  libgtest-dev libcpp-httplib-dev                # its tests (cpp-httplib as the HTTP client)
  shellcheck                              # lints the pod scripts
  iproute2 procps                         # ip netns, pkill for the local topology
  wrk                                     # HTTP load for the benchmark (npm run bench)
  python3-redis                           # redis-py, a peer Sentinel client in the drills
  prometheus prometheus-redis-exporter    # promtool checks the alert rules; the exporter proves their metric names
  rclone                                  # the backup job's S3 client (the CronJob copies it from the rclone image)
  curl                                    # the requests npm start prints and the README shows
  prometheus-pushgateway                  # where the backup job pushes its metrics, in the tests
)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "bootstrap: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
