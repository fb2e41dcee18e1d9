#!/usr/bin/env bash
# The whole test run: system packages the tests need, throwaway PostgreSQL and Redis, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

state=$(mktemp -d /tmp/opsbook-test-XXXXXX)
trap 'scripts/services.sh stop "$state"' EXIT
scripts/services.sh start "$state"
# shellcheck disable=SC1091
source "$state/env"

echo "== ruff"; $BIN/ruff check src tests bench scripts
echo "== mypy"; $BIN/mypy
# two workers: the suite waits on real servers, processes and a browser as much as it computes
echo "== pytest"; $BIN/pytest -n "${OPSBOOK_TEST_WORKERS:-2}" --durations=15 "$@"
