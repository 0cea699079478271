#!/usr/bin/env bash
# The README's test command (npm test): every stage in order, stopping at the first that
# fails, with the time each one took and a closing table, so a slow stage shows at a glance.
set -euo pipefail
cd "$(dirname "$0")/.."

STAGES=(
  "install:bash scripts/bootstrap.sh"
  "typecheck:npm run --silent typecheck"
  "shellcheck:npm run --silent lint:sh"
  "app build:npm run --silent app:build"
  "app tests:bash scripts/app-test.sh app/build"
  "app build (ASan/UBSan):npm run --silent app:build-asan"
  "app tests (ASan/UBSan):bash scripts/app-test.sh app/build-asan"
  "program and process tests:bash scripts/rootless.sh npx vitest run"
)

summary=()
report() {
  printf '\ntest stages:\n'
  printf '  %s\n' "${summary[@]}"
}
trap report EXIT

for stage in "${STAGES[@]}"; do
  name=${stage%%:*}
  command=${stage#*:}
  printf '\n== %s: %s\n' "$name" "$command"
  started=$SECONDS
  status=0
  # shellcheck disable=SC2086 # each command is a fixed word list above
  $command || status=$?
  summary+=("$(printf '%-28s %4ds %s' "$name" $((SECONDS - started)) "$([[ $status -eq 0 ]] && echo ok || echo "FAILED ($status)")")")
  ((status == 0)) || exit "$status"
done
summary+=("$(printf '%-28s %4ds' total "$SECONDS")")
