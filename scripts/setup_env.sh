#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install mmext.
#
#   bash scripts/setup_env.sh          # .venv in the repo root
#   MMEXT_VENV=/path/to/venv bash scripts/setup_env.sh
#
# Idempotent: dependencies are (re)installed only when requirements/*.txt
# change or an import fails; pip's wheel cache makes a rebuilt venv cheap
# (mmcv is compiled once, ~10 min on 2 cores, then reused from the cache).
# The mmext C++/CUDA extension is rebuilt incrementally on every call.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMEXT_VENV:-$ROOT/.venv}
BASE_PYTHON=${PYTHON:-python3}
cd "$ROOT"

log() { printf '[setup_env] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$BASE_PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
export PIP_NO_INPUT=1

STAMP="$VENV/.mmext-requirements"
WANT=$(cat requirements/*.txt | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ] || \
   ! "$PY" -c "import mmcv.ops, mmdet, mmengine, pycocotools, cv2" 2>/dev/null; then
  log "installing build requirements (torch 2.13.0 CPU unless one is present)"
  if ! "$PY" -c "import torch" 2>/dev/null; then
    # pinned: a plain `torch` would pull a multi-GB CUDA build
    "${PIP[@]}" install -q "torch==2.13.0"
  fi
  "${PIP[@]}" install -q -r requirements/build.txt
  if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
    log "building mmcv 2.1.0 with ops (cached as a wheel after the first build)"
    MMCV_WITH_OPS=1 "${PIP[@]}" install -q --no-build-isolation "mmcv==2.1.0"
  fi
  log "installing runtime and test requirements"
  "${PIP[@]}" install -q -r requirements/runtime.txt -r requirements/tests.txt \
    -r requirements/optional.txt
  echo "$WANT" > "$STAMP"
fi

if ! "${PIP[@]}" show -q mmext >/dev/null 2>&1; then
  log "installing mmext (editable)"
  "${PIP[@]}" install -q --no-build-isolation --no-deps -e .
fi
log "building mmext._ext (incremental)"
"$PY" setup.py -q build_ext --inplace >/dev/null
"$PY" -c "import mmext, mmcv, mmdet, torch; print('[setup_env] ready: torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__, '| mmext', mmext.__version__)"
