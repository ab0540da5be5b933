#!/usr/bin/env bash
# The weakly supervised hybrid networks (Liao et al.) end to end on the toy
# set, on CPU, under the toy benchmark's protocol (README "Toy benchmark"):
#
#   1. toy data with boxes and real masks     tools/misc/make_toy_dataset.py
#   2. boxes -> GrabCut pseudo masks + `valid` flags
#        tools/dataset_converters/grabcut_pseudo_masks.py
#        -> data/toy/annotations/instances_train_pseudo.json
#   3. the shared start (built once, cached) and a fine-tune + test of
#        mask-rcnn_r18_enhanced-fpn_full-mask_1x_toy     real masks (upper
#                                                   bound)
#        mask-rcnn_r18_enhanced-fpn_grabcut-all_1x_toy   single branch on all
#                                                   pseudo masks (Fig. 5)
#        hybrid-weak_r18_enhanced-fpn_1x_toy        both branches (the method)
#      through tools/sweep.py, which skips finished runs (the main job's
#      runs of these configs are reused) and resumes interrupted ones;
#   4. a table of mAP^r@0.5/0.75, ABO and mask AP with each row's share of
#      the upper bound.
#
# Usage (from anywhere; paths are relative to the repository root):
#   tools/misc/run_weakly_toy_pipeline.sh [sweep.py args, e.g. --seeds 3]
# Environment variables:
#   PYTHON   interpreter (default .venv/bin/python)
#   CONFIGS  config names under configs/weakly/ (default: the three above,
#            upper bound first; add hybrid-weak_r18_enhanced-fpn_small-all_1x_toy
#            or hybrid-weak_r18_fpn_1x_toy for the variants)
#   WORKERS  processes of the pseudo-mask converter (default 2)
#   FORCE_PSEUDO  1 = regenerate the pseudo masks even if up to date
# The work dirs are the main job's (work_dirs/<config>/seed<k>): the configs
# read the start from work_dirs/_start/.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
CONFIGS=${CONFIGS:-"mask-rcnn_r18_enhanced-fpn_full-mask_1x_toy mask-rcnn_r18_enhanced-fpn_grabcut-all_1x_toy hybrid-weak_r18_enhanced-fpn_1x_toy"}
WORKERS=${WORKERS:-2}
FORCE_PSEUDO=${FORCE_PSEUDO:-0}

ANN_DIR=data/toy/annotations
PSEUDO_JSON=$ANN_DIR/instances_train_pseudo.json

echo "== 1. toy data"
"$PYTHON" tools/misc/make_toy_dataset.py

echo "== 2. GrabCut pseudo masks"
if [[ "$FORCE_PSEUDO" == 1 || ! -f "$PSEUDO_JSON" \
      || "$ANN_DIR/instances_train.json" -nt "$PSEUDO_JSON" ]]; then
    "$PYTHON" tools/dataset_converters/grabcut_pseudo_masks.py \
        "$ANN_DIR/instances_train.json" data/toy/train "$PSEUDO_JSON" \
        --workers "$WORKERS" --no-progress
else
    echo "$PSEUDO_JSON is up to date"
fi

echo "== 3. shared start, fine-tunes, tests; 4. table"
configs=()
for name in $CONFIGS; do
    configs+=("configs/weakly/$name.py")
done
first=${CONFIGS%% *}
"$PYTHON" tools/sweep.py "${configs[@]}" \
    --start configs/toy_start/mask-rcnn_r18_fpn_start_toy.py --seeds 1 \
    --baseline "$first" --share \
    --metrics "mAPr@0.5" "mAPr@0.75" ABO "mask AP" \
    --title "Weakly supervised hybrid networks (toy; share of $first)" \
    --cfg-options train_cfg.val_begin=100000 "$@"
