#!/usr/bin/env bash
# GPU readiness check of mmext: one command for a machine with an NVIDIA GPU.
#
#   tools/misc/gpu_check.sh REPORT_DIR
#
# Steps (each logs to REPORT_DIR/NN-<step>.log; a failing step is recorded
# and the next one still runs; the exit status is 1 if any step failed):
#   environment  nvidia-smi, torch / mmcv / mmdet versions, a CUDA tensor
#                through mmcv's RoIAlign (mmcv built with its CUDA ops)
#   build        mmext._ext with its CUDA kernels (FORCE_CUDA=1 setup.py
#                build_ext --inplace, offline, with the interpreter's
#                packages), then checks with_cuda() and the CUDA launchers'
#                symbols in the library (nm)
#   cuda_tests   pytest tests/test_ops: the CUDA tests must run (a skip
#                because CUDA is missing counts as a failure), plus the
#                emulation and CPU tests
#   cuda_vs_cpu  tools/analysis_tools/check_sa_roi_align_cuda.py: CUDA vs CPU
#                kernel on random inputs (float32/64 over aligned and sampling
#                ratios 0-3, 512 x 256-channel RoIs, float16, autocast, bad
#                RoIs)
#   benchmark    tools/analysis_tools/benchmark_sa_roi_align.py --device cuda
#                (its default shapes: features (2, 256, 200, 304), 512 RoIs,
#                28x28 masks, 7x7 output), float32 and float16: SaRoIAlign
#                vs mmcv RoIAlign, forward and forward+backward, with ratios
#   toy_data     a small toy set (32 train / 8 val images) and its GrabCut
#                pseudo masks in REPORT_DIR/workspace/data/toy
#   toy_start    the toy benchmark's shared start (configs/toy_start), ITERS
#                iterations: the fine-tune configs and the weakly configs'
#                Pretrained parts load it
#   train        every configs/**/*_toy.py, ITERS iterations + validation on
#                the 8 val images, fp32 and with --amp (tools/train.py), JOBS
#                runs at a time on the GPU; table in train_runs.md
#   dist_train   tools/dist_train.sh with 1 process (NCCL) on the MR R-CNN
#                toy config
# The summary (step, status, seconds, benchmark ratios, training table) is
# REPORT_DIR/summary.md. Training runs from REPORT_DIR/workspace as working
# directory, so data/ and work_dirs/ of the checkout are not touched; the
# build replaces mmext/_ext*.so of the checkout by its CUDA build.
#
# Environment variables:
#   PYTHON               interpreter (default: .venv/bin/python, else python3)
#   GPU_CHECK_ITERS      training iterations per run (default 20)
#   GPU_CHECK_JOBS       training runs at a time (default 8)
#   GPU_CHECK_CONFIGS    configs to train (default: every *_toy.py)
#   GPU_CHECK_SKIP       steps to skip, e.g. "build benchmark" (recorded as
#                        skipped; for dry runs of the script without a GPU)
#   MAX_JOBS             parallel compile jobs of the build (default: nproc)
# Budget: under 8 minutes on one H200-class GPU with 16 cores; the summary
# records the total.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ $# -ne 1 ]]; then
  echo "usage: tools/misc/gpu_check.sh REPORT_DIR" >&2
  exit 2
fi
mkdir -p "$1"
REPORT=$(cd "$1" && pwd)
if [[ -n "${PYTHON:-}" ]]; then
  PY=$PYTHON
elif [[ -x "$ROOT/.venv/bin/python" ]]; then
  PY=$ROOT/.venv/bin/python
else
  PY=$(command -v python3)
fi
ITERS=${GPU_CHECK_ITERS:-20}
# training losses are logged every LOG_INTERVAL iterations (at least once)
LOG_INTERVAL=$((ITERS < 5 ? ITERS : 5))
JOBS=${GPU_CHECK_JOBS:-8}
SKIP=" ${GPU_CHECK_SKIP:-} "
WS=$REPORT/workspace
BUDGET_S=480
# the venv's tools (ninja for the builds) even when it is not activated
export PATH="$(dirname "$PY"):$PATH"
export PYTHONUNBUFFERED=1

STEP_NAMES=()
STEP_RESULTS=()
STEP_SECONDS=()
T_START=$SECONDS

log() { printf '[gpu_check] %s\n' "$*"; }

# run_step NAME FUNCTION: runs FUNCTION in a subshell with errexit (started
# in the background, so that `set -e` holds inside it), its output in
# REPORT/NN-NAME.log; records ok / FAIL (rc) / skipped and the seconds.
run_step() {
  local name=$1 fn=$2 idx rc=0 t0=$SECONDS logfile
  idx=$(printf '%02d' $((${#STEP_NAMES[@]} + 1)))
  logfile="$REPORT/$idx-$name.log"
  if [[ "$SKIP" == *" $name "* ]]; then
    log "$idx $name: skipped (GPU_CHECK_SKIP)"
    echo "skipped (GPU_CHECK_SKIP)" >"$logfile"
    STEP_NAMES+=("$name")
    STEP_RESULTS+=("skipped")
    STEP_SECONDS+=(0)
    return 0
  fi
  log "$idx $name ... (log: $logfile)"
  (
    set -euo pipefail
    cd "$ROOT"
    "$fn"
  ) >"$logfile" 2>&1 &
  wait $! || rc=$?
  STEP_NAMES+=("$name")
  STEP_SECONDS+=($((SECONDS - t0)))
  if [[ $rc -eq 0 ]]; then
    STEP_RESULTS+=("ok")
    log "$idx $name: ok ($((SECONDS - t0)) s)"
  else
    STEP_RESULTS+=("FAIL (exit $rc)")
    log "$idx $name: FAIL (exit $rc, $((SECONDS - t0)) s); last lines:"
    tail -n 15 "$logfile" | sed 's/^/    /'
  fi
}

step_environment() {
  date -u
  echo "checkout: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null \
    || echo 'not a git checkout'))"
  git -C "$ROOT" status --short 2>/dev/null | head -n 20 || true
  echo "python: $PY"
  nvidia-smi
  "$PY" - <<'EOF'
import mmcv, mmdet, mmengine, torch
print('torch', torch.__version__, '| CUDA', torch.version.cuda,
      '| cudnn', torch.backends.cudnn.version())
print('mmcv', mmcv.__version__, '| mmdet', mmdet.__version__,
      '| mmengine', mmengine.__version__)
assert torch.cuda.is_available(), 'torch.cuda.is_available() is False'
print('device:', torch.cuda.get_device_name(),
      torch.cuda.get_device_capability())
from mmcv.ops import roi_align
x = torch.rand(1, 2, 8, 8, device='cuda')
r = torch.tensor([[0, 1., 1., 6., 6.]], device='cuda')
print('mmcv RoIAlign on CUDA:', tuple(roi_align(x, r, 2, 1.0, 0).shape))
EOF
}

step_build() {
  FORCE_CUDA=1 MAX_JOBS=${MAX_JOBS:-$(getconf _NPROCESSORS_ONLN)} "$PY" setup.py build_ext --inplace
  local so
  so=$("$PY" -c 'import mmext._ext as e; print(e.__file__)')
  echo "library: $so"
  "$PY" -c 'import sys, mmext._ext as e; print("with_cuda():", e.with_cuda()); sys.exit(0 if e.with_cuda() else 1)'
  echo "CUDA launchers in the library (nm -DC --defined-only):"
  nm -DC --defined-only "$so" | grep -E 'sa_roi_align_(forward|backward)_cuda\(' \
    | tee "$REPORT/ext_cuda_symbols.txt"
  [[ $(wc -l <"$REPORT/ext_cuda_symbols.txt") -eq 2 ]]
  if command -v cuobjdump >/dev/null; then
    echo "device code (cuobjdump --list-elf):"
    cuobjdump --list-elf "$so" || true
  fi
}

step_cuda_tests() {
  "$PY" -m pytest tests/test_ops -q -rs -p no:cacheprovider \
    --junitxml="$REPORT/test_ops.xml" 2>&1 | tee "$REPORT/test_ops.txt"
  if grep -E 'SKIPPED.*CUDA' "$REPORT/test_ops.txt"; then
    echo "CUDA tests were skipped: they did not run on the GPU"
    return 1
  fi
}

step_cuda_vs_cpu() {
  "$PY" tools/analysis_tools/check_sa_roi_align_cuda.py \
    --out "$REPORT/cuda_vs_cpu.json"
}

step_benchmark() {
  local dtype rc=0
  : >"$REPORT/benchmark_ratios.txt"
  for dtype in float32 float16; do
    "$PY" tools/analysis_tools/benchmark_sa_roi_align.py --device cuda \
      --dtype "$dtype" --skip-reference --warmup 5 --repeats 20 \
      | tee "$REPORT/benchmark_$dtype.txt" || rc=1
    {
      echo "$dtype:"
      grep -E '^(device|SaRoIAlign|mmcv RoIAlign) |/ mmcv' \
        "$REPORT/benchmark_$dtype.txt" || true
    } >>"$REPORT/benchmark_ratios.txt"
  done
  return $rc
}

step_toy_data() {
  "$PY" tools/misc/make_toy_dataset.py --out-dir "$WS/data/toy" \
    --num-train 32 --num-val 8
  "$PY" tools/dataset_converters/grabcut_pseudo_masks.py \
    "$WS/data/toy/annotations/instances_train.json" "$WS/data/toy/train" \
    "$WS/data/toy/annotations/instances_train_pseudo.json" \
    --workers "$(getconf _NPROCESSORS_ONLN)" --no-progress
}

# train CONFIG WORK_DIR [train.py args]: ITERS iterations and a validation,
# run from the workspace (data/toy, work_dirs/_start relative to it)
train() {
  local config=$1 work_dir=$2
  shift 2
  (cd "$WS" && "$PY" "$ROOT/tools/train.py" "$config" --work-dir "$work_dir" \
    "$@" --cfg-options train_cfg.max_iters="$ITERS" \
    train_cfg.val_interval="$ITERS" \
    default_hooks.checkpoint.interval="$ITERS" \
    default_hooks.logger.interval="$LOG_INTERVAL")
}

START_CONFIG=configs/toy_start/mask-rcnn_r18_fpn_start_toy.py

step_toy_start() {
  local dir=$WS/work_dirs/_start/mask-rcnn_r18_fpn_start_toy
  train "$ROOT/$START_CONFIG" "$dir"
  cp "$dir/iter_$ITERS.pth" "$dir/start.pth"
  ls -l "$dir/start.pth"
}

toy_configs() {
  if [[ -n "${GPU_CHECK_CONFIGS:-}" ]]; then
    printf '%s\n' $GPU_CHECK_CONFIGS
  else
    find configs -name '*_toy.py' -not -path '*/_base_/*' | sort
  fi
}

step_train() {
  # runs of an earlier call (other configs) must not enter the table
  rm -rf "$REPORT/train" "$WS/runs"
  mkdir -p "$REPORT/train" "$WS/runs"
  local config mode name running=0 failed=0 status
  for config in $(toy_configs); do
    for mode in fp32 amp; do
      name=$(basename "$config" .py)-$mode
      (
        rc=0
        if [[ $mode == amp ]]; then
          train "$ROOT/$config" "$WS/runs/$name" --amp || rc=$?
        else
          train "$ROOT/$config" "$WS/runs/$name" || rc=$?
        fi
        echo "$rc" >"$REPORT/train/$name.rc"
      ) >"$REPORT/train/$name.log" 2>&1 &
      running=$((running + 1))
      if [[ $running -ge $JOBS ]]; then
        wait -n || true
        running=$((running - 1))
      fi
    done
  done
  wait || true
  for status in "$REPORT"/train/*.rc; do
    if [[ $(cat "$status") != 0 ]]; then
      echo "FAIL: $(basename "$status" .rc) (exit $(cat "$status"), log" \
        "$REPORT/train/$(basename "$status" .rc).log)"
      failed=1
    fi
  done
  "$PY" tools/analysis_tools/summarize_train_runs.py "$WS"/runs/*-fp32 \
    "$WS"/runs/*-amp --iters "$ITERS" --out "$REPORT/train_runs.md" \
    || failed=1
  return $failed
}

step_dist_train() {
  local config=configs/mrrcnn/mrrcnn_r18_fpn_1x_toy.py
  rm -rf "$WS/dist_runs"
  (cd "$WS" && PYTHON="$PY" PORT=$((29500 + RANDOM % 1000)) \
    bash "$ROOT/tools/dist_train.sh" "$ROOT/$config" 1 \
    --work-dir "$WS/dist_runs/mrrcnn-dist1" \
    --cfg-options train_cfg.max_iters="$ITERS" \
    train_cfg.val_interval="$ITERS" \
    default_hooks.checkpoint.interval="$ITERS" \
    default_hooks.logger.interval="$LOG_INTERVAL")
  "$PY" tools/analysis_tools/summarize_train_runs.py \
    "$WS/dist_runs/mrrcnn-dist1" --iters "$ITERS" \
    --out "$REPORT/dist_train_run.md"
}

log "report: $REPORT"
run_step environment step_environment
run_step build step_build
run_step cuda_tests step_cuda_tests
run_step cuda_vs_cpu step_cuda_vs_cpu
run_step benchmark step_benchmark
run_step toy_data step_toy_data
run_step toy_start step_toy_start
run_step train step_train
run_step dist_train step_dist_train

TOTAL=$((SECONDS - T_START))
FAILED=0
{
  echo "# mmext GPU check"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), checkout $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "| step | status | seconds | log |"
  echo "|---|---|---:|---|"
  for i in "${!STEP_NAMES[@]}"; do
    printf '| %s | %s | %s | %02d-%s.log |\n' "${STEP_NAMES[$i]}" \
      "${STEP_RESULTS[$i]}" "${STEP_SECONDS[$i]}" $((i + 1)) "${STEP_NAMES[$i]}"
  done
  echo
  if [[ $TOTAL -le $BUDGET_S ]]; then
    echo "Total: $TOTAL s (budget $BUDGET_S s: met)"
  else
    echo "Total: $TOTAL s (budget $BUDGET_S s: EXCEEDED)"
  fi
  if [[ -s "$REPORT/benchmark_ratios.txt" ]]; then
    echo
    echo "## SaRoIAlign vs mmcv RoIAlign on CUDA"
    echo
    echo '```'
    cat "$REPORT/benchmark_ratios.txt"
    echo '```'
  fi
  for table in train_runs dist_train_run; do
    if [[ -s "$REPORT/$table.md" ]]; then
      echo
      echo "## $table (ITERS=$ITERS)"
      echo
      cat "$REPORT/$table.md"
    fi
  done
} >"$REPORT/summary.md"
for result in "${STEP_RESULTS[@]}"; do
  if [[ $result == FAIL* ]]; then
    FAILED=1
  fi
done
cat "$REPORT/summary.md"
if [[ $FAILED -ne 0 ]]; then
  log "some steps FAILED: see $REPORT/summary.md and the step logs"
  exit 1
fi
log "all steps passed ($TOTAL s)"
