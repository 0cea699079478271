#!/usr/bin/env bash
# app-test.sh BUILD_DIR: the C++ tests of one build, as many at once as app/test/resources.json
# has loopback slots (each process test holds one, so none shares an address with another).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:?usage: app-test.sh BUILD_DIR}"
ctest --test-dir "$build" --parallel "$(grep -c '"id"' app/test/resources.json)" --output-on-failure
