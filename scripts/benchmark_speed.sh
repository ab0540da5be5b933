#!/usr/bin/env bash
# CPU cost of every method against the Mask R-CNN baseline on mmcv's RoIAlign
# (tools/analysis_tools/benchmark_model.py; README "CPU speed").
#
#   bash scripts/benchmark_speed.sh [OUT_DIR]      # default work_dirs/speed
#
# 1. Every toy config against the toy Mask R-CNN with mmcv's RoIAlign, on the
#    same toy training batch (4 images); the toy benchmark's seed-0 weights
#    (work_dirs/<config>/seed0/iter_300.pth) are used where they exist, so
#    that the heads see as many detections as in the real runs; otherwise the
#    models keep one shared random initialisation (said in the table title).
# 2. The R50 COCO configs of every method against mmdet's R50 Mask R-CNN at
#    800x1333, batch 1, random weights (init_cfg=None), synthetic inputs.
# Run it on an otherwise idle machine: the ratios are medians of models
# measured in turns, but oversubscribed cores still distort them.
# ITERS / WARMUP / THREADS override the defaults (10 / 2 / all cores).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup_env.sh
PY="${MMEXT_VENV:-$ROOT/.venv}/bin/python"
OUT=${1:-work_dirs/speed}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
BENCH=(tools/analysis_tools/benchmark_model.py --iters "$ITERS"
       --warmup "$WARMUP" --threads "$THREADS")

BASELINE=configs/mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py
mapfile -t TOY < <(ls configs/*/*_toy.py | grep -v '^configs/toy_start/' | sort)
ckpt_of() {
  local name
  name=$(basename "$1" .py)
  if [[ -f "work_dirs/$name/seed0/iter_300.pth" ]]; then
    echo "work_dirs/$name/seed0/iter_300.pth"
  fi
}
BASE_CKPT=$(ckpt_of "$BASELINE")
CKPT_ARGS=()
if [[ -n "$BASE_CKPT" ]]; then
  # trained weights only when every config has them: mixing trained and
  # random models would compare different detection counts
  CKPTS=()
  for cfg in "${TOY[@]}"; do
    c=$(ckpt_of "$cfg")
    if [[ -z "$c" ]]; then CKPTS=(); break; fi
    CKPTS+=("$c")
  done
  if (( ${#CKPTS[@]} )); then
    CKPT_ARGS=(--baseline-checkpoint "$BASE_CKPT" --checkpoints "${CKPTS[@]}")
  fi
fi
WEIGHTS="random weights (no benchmark checkpoints)"
(( ${#CKPT_ARGS[@]} )) && WEIGHTS="the toy benchmark's seed-0 weights"
echo "[speed] ${#TOY[@]} toy configs vs $BASELINE [RoIAlign], $WEIGHTS"
"$PY" "${BENCH[@]}" --baseline "$BASELINE" --baseline-roi-layer RoIAlign \
  "${TOY[@]}" "${CKPT_ARGS[@]}" --inputs dataset --batch-size 4 \
  --out-md "$OUT/toy.md"

COCO_BASELINE=configs/mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
COCO=(configs/atmask/atmask-rcnn_r50_fpn_1x_coco.py
      configs/mrrcnn/mrrcnn_r50_fpn_9k_coco.py
      configs/maskplus/maskplus_r50_fpn_360k_coco.py
      configs/maskplus/maskplus-plus_r50_fpn_540k_coco.py
      configs/maskplus/cascade-mask-rcnn_r50_fpn_540k_coco.py)
echo "[speed] ${#COCO[@]} R50 COCO configs vs $COCO_BASELINE at 800x1333"
"$PY" "${BENCH[@]}" --baseline "$COCO_BASELINE" "${COCO[@]}" \
  --inputs synthetic --img-shape 800 1333 --batch-size 1 \
  --out-md "$OUT/coco_r50.md"
echo "[speed] tables: $OUT/toy.md $OUT/coco_r50.md"
