#!/usr/bin/env bash
# The test command: set up (or reuse) the environment, then run the suite.
#   bash scripts/run_tests.sh [pytest args...]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup_env.sh
PY="${MMEXT_VENV:-$ROOT/.venv}/bin/python"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
set +e
"$PY" -m pytest tests -ra -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
