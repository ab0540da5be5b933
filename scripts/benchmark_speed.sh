#!/usr/bin/env bash
# CPU cost of every method against the Mask R-CNN baseline on mmcv's RoIAlign
# (tools/analysis_tools/benchmark_model.py; README "CPU speed").
#
#   bash scripts/benchmark_speed.sh [OUT_DIR]      # default work_dirs/speed
#
# 1. The toy benchmark's rows (configs/toy_benchmark.txt) with their seed-0
#    weights (work_dirs/<config>/seed0/iter_300.pth, from the main job), so
#    that the heads see as many detections as in the real runs, against the
#    toy Mask R-CNN on mmcv's RoIAlign, on the same toy batch (4 images).
# 2. Every toy config (ablations included) the same way with one shared
#    random initialisation (no checkpoint needed; detection counts are then
#    those of an untrained model, so this table is about relative cost).
# 3. The R50 COCO configs of every method against mmdet's R50 Mask R-CNN at
#    800x1333, batch 1, random weights (init_cfg=None), synthetic inputs,
#    score_thr 0 so that inference keeps its 100 detections per image
#    (random weights pass no real threshold) and the mask heads and the
#    pasting are timed too.
# 4. Profiles (--profile) of MR R-CNN, MaskPlus and MaskPlus+ with their
#    seed-0 weights: where their time goes beyond the baseline's, by module
#    scope and by operator, training step and inference (profile_toy.md).
# 5. The combos and peers lists (configs/toy_benchmark_{combos,peers}.txt)
#    the same way as 1, for the rows whose seed-0 weights exist (run those
#    lists with scripts/run_toy_benchmark.sh first): {combos,peers}_trained.md.
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
ckpt_of() { echo "work_dirs/$(basename "$1" .py)/seed0/iter_300.pth"; }

mapfile -t ROWS < <(grep -v '^#' configs/toy_benchmark.txt | grep . \
                    | grep -vx "$BASELINE")
CKPTS=()
MISSING=()
for cfg in "$BASELINE" "${ROWS[@]}"; do
  [[ -f "$(ckpt_of "$cfg")" ]] || MISSING+=("$(ckpt_of "$cfg")")
  [[ "$cfg" == "$BASELINE" ]] || CKPTS+=("$(ckpt_of "$cfg")")
done
if (( ${#MISSING[@]} )); then
  echo "[speed] skipping the trained table: missing ${MISSING[*]}" \
       "(run bash scripts/run_toy_benchmark.sh first)"
else
  echo "[speed] toy benchmark rows (seed-0 weights) vs $BASELINE [RoIAlign]"
  "$PY" "${BENCH[@]}" --baseline "$BASELINE" --baseline-roi-layer RoIAlign \
    --baseline-checkpoint "$(ckpt_of "$BASELINE")" \
    "$BASELINE" "${ROWS[@]}" --checkpoints "$(ckpt_of "$BASELINE")" \
    "${CKPTS[@]}" --inputs dataset --batch-size 4 --out-md "$OUT/toy_trained.md"
fi

mapfile -t TOY < <(ls configs/*/*_toy.py | grep -v '^configs/toy_start/' \
                   | sort)
echo "[speed] ${#TOY[@]} toy configs (random weights) vs $BASELINE [RoIAlign]"
"$PY" "${BENCH[@]}" --baseline "$BASELINE" --baseline-roi-layer RoIAlign \
  "${TOY[@]}" --inputs dataset --batch-size 4 --out-md "$OUT/toy_random.md"

PROFILED=(configs/mrrcnn/mrrcnn_r18_fpn_1x_toy.py
          configs/maskplus/maskplus_r18_fpn_1x_toy.py
          configs/maskplus/maskplus-plus_r18_fpn_1x_toy.py)
if (( ${#MISSING[@]} )); then
  echo "[speed] skipping the profiles: missing seed-0 checkpoints"
else
  echo "[speed] profiles of ${PROFILED[*]} (seed-0 weights)"
  PROFILED_CKPTS=()
  for cfg in "${PROFILED[@]}"; do PROFILED_CKPTS+=("$(ckpt_of "$cfg")"); done
  "$PY" "${BENCH[@]}" --baseline "$BASELINE" \
    --baseline-checkpoint "$(ckpt_of "$BASELINE")" "${PROFILED[@]}" \
    --checkpoints "${PROFILED_CKPTS[@]}" --inputs dataset --batch-size 4 \
    --profile --profile-iters 5 --out-md "$OUT/profile_toy.md"
fi

COCO_BASELINE=configs/mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
COCO=(configs/atmask/atmask-rcnn_r50_fpn_1x_coco.py
      configs/mrrcnn/mrrcnn_r50_fpn_9k_coco.py
      configs/maskplus/maskplus_r50_fpn_360k_coco.py
      configs/maskplus/maskplus-plus_r50_fpn_540k_coco.py
      configs/maskplus/cascade-mask-rcnn_r50_fpn_540k_coco.py)
echo "[speed] ${#COCO[@]} R50 COCO configs vs $COCO_BASELINE at 800x1333"
"$PY" "${BENCH[@]}" --baseline "$COCO_BASELINE" "${COCO[@]}" \
  --inputs synthetic --img-shape 800 1333 --batch-size 1 \
  --cfg-options model.test_cfg.rcnn.score_thr=0 --out-md "$OUT/coco_r50.md"
for list in combos peers; do
  LIST_ROWS=()
  LIST_CKPTS=()
  while read -r cfg; do
    [[ "$cfg" == "$BASELINE" || ! -f "$(ckpt_of "$cfg")" ]] && continue
    LIST_ROWS+=("$cfg")
    LIST_CKPTS+=("$(ckpt_of "$cfg")")
  done < <(grep -v '^#' "configs/toy_benchmark_$list.txt" | grep .)
  if (( ${#LIST_ROWS[@]} == 0 )) || [[ ! -f "$(ckpt_of "$BASELINE")" ]]; then
    echo "[speed] skipping the $list list: no seed-0 checkpoints"
    continue
  fi
  echo "[speed] $list list (${#LIST_ROWS[@]} rows with seed-0 weights) vs $BASELINE"
  "$PY" "${BENCH[@]}" --baseline "$BASELINE" \
    --baseline-checkpoint "$(ckpt_of "$BASELINE")" "${LIST_ROWS[@]}" \
    --checkpoints "${LIST_CKPTS[@]}" --inputs dataset --batch-size 4 \
    --out-md "$OUT/${list}_trained.md"
done
echo "[speed] tables in $OUT: toy_trained.md toy_random.md profile_toy.md coco_r50.md {combos,peers}_trained.md"
