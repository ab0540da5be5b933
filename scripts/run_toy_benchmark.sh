#!/usr/bin/env bash
# The main job: toy dataset -> train + test every method -> one table.
#
#   bash scripts/run_toy_benchmark.sh [sweep.py args...]
#
# Trains the Mask R-CNN baseline and each implemented method on the embedded
# toy set with the same schedule and seed (configs listed in
# configs/toy_benchmark.txt), tests each with tools/test.py and prints a table
# of box/mask AP with training s/iter and inference img/s relative to the
# baseline. Finished runs are skipped and interrupted ones resumed, so the
# command can simply be run again after an interruption (--force retrains).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup_env.sh
PY="${MMEXT_VENV:-$ROOT/.venv}/bin/python"

"$PY" tools/misc/make_toy_dataset.py --out-dir data/toy
# Box-supervised hybrid networks train on GrabCut pseudo masks of the boxes.
ANN_DIR=data/toy/annotations
PSEUDO_JSON=$ANN_DIR/instances_train_pseudo.json
if [[ ! -f "$PSEUDO_JSON" || "$ANN_DIR/instances_train.json" -nt "$PSEUDO_JSON" ]]; then
  "$PY" tools/dataset_converters/grabcut_pseudo_masks.py \
    "$ANN_DIR/instances_train.json" data/toy/train "$PSEUDO_JSON" \
    --workers 2 --no-progress
fi
# tools/test.py evaluates every run after training, so the validation at the
# end of training is skipped (train_cfg.val_interval beyond the schedule).
"$PY" tools/sweep.py --list "${MMEXT_BENCHMARK_LIST:-configs/toy_benchmark.txt}" \
  --baseline mask-rcnn_r18_fpn_1x_toy --speed \
  --title "mmext toy benchmark (CPU, toy 1x = 6 epochs, seed 0)" \
  --metrics "box AP" "box AP50" "box AP75" "mask AP" "mask AP50" "mask AP75" \
    "mask APs" "mask APm" "mask APl" \
  --out-md work_dirs/toy_benchmark.md --out-csv work_dirs/toy_benchmark.csv \
  --cfg-options train_cfg.val_interval=1000 \
  "$@"
