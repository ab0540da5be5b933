#!/usr/bin/env bash
# The weakly supervised hybrid networks (Liao et al.) end to end on the toy
# set, on CPU:
#
#   1. toy data with boxes and real masks     tools/misc/make_toy_dataset.py
#   2. boxes -> GrabCut pseudo masks + `valid` flags
#        tools/dataset_converters/grabcut_pseudo_masks.py
#        -> data/toy/annotations/instances_train_pseudo.json
#   3. train each config                      tools/train.py
#        hybrid-weak_r18_enhanced-fpn_1x_toy        both branches (the method)
#        mask-rcnn_r18_enhanced-fpn_grabcut-all_1x_toy   single branch on all
#                                                   pseudo masks (Fig. 5)
#        mask-rcnn_r18_enhanced-fpn_full-mask_1x_toy     real masks (upper
#                                                   bound)
#   4. test each on the toy val set: mAP^r@0.5, mAP^r@0.75, ABO
#        tools/test.py  (VOCInstanceMetric; writes <work_dir>/metrics.json)
#   5. print a summary table.
#
# Usage (from anywhere; paths are relative to the repository root):
#   tools/misc/run_weakly_toy_pipeline.sh
# Environment variables:
#   PYTHON        interpreter (default .venv/bin/python)
#   WORK_ROOT     one work dir per config below it (default
#                 work_dirs/weakly_toy)
#   CONFIGS       config names under configs/weakly/ (default: the three
#                 above; add hybrid-weak_r18_enhanced-fpn_small-all_1x_toy or
#                 hybrid-weak_r18_fpn_1x_toy for the variants)
#   TRAIN_OPTIONS extra --cfg-options for training, e.g.
#                 "train_cfg.max_epochs=2" for a quick check
#   WORKERS       processes of the pseudo-mask converter (default 2)
#   FORCE_PSEUDO  1 = regenerate the pseudo masks even if up to date
# A config whose work dir already has metrics.json newer than its last
# checkpoint is not trained or tested again (delete the work dir to redo it).
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
WORK_ROOT=${WORK_ROOT:-work_dirs/weakly_toy}
CONFIGS=${CONFIGS:-"hybrid-weak_r18_enhanced-fpn_1x_toy mask-rcnn_r18_enhanced-fpn_grabcut-all_1x_toy mask-rcnn_r18_enhanced-fpn_full-mask_1x_toy"}
TRAIN_OPTIONS=${TRAIN_OPTIONS:-}
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

for name in $CONFIGS; do
    config=configs/weakly/$name.py
    work_dir=$WORK_ROOT/$name
    if [[ ! -f "$config" ]]; then
        echo "no config $config" >&2
        exit 1
    fi
    last=$work_dir/last_checkpoint
    if [[ -f "$work_dir/metrics.json" && -f "$last" \
          && "$work_dir/metrics.json" -nt "$(cat "$last")" ]]; then
        echo "== $name: already tested ($work_dir/metrics.json)"
        continue
    fi
    echo "== 3. train $name"
    if [[ -n "$TRAIN_OPTIONS" ]]; then
        # shellcheck disable=SC2086  (options are space-separated on purpose)
        "$PYTHON" tools/train.py "$config" --work-dir "$work_dir" \
            --cfg-options $TRAIN_OPTIONS
    else
        "$PYTHON" tools/train.py "$config" --work-dir "$work_dir"
    fi
    checkpoint=$(cat "$last")
    echo "== 4. test $name ($checkpoint)"
    "$PYTHON" tools/test.py "$config" "$checkpoint" --work-dir "$work_dir"
done

echo "== 5. summary (toy val set, fractions in [0, 1])"
"$PYTHON" - "$WORK_ROOT" $CONFIGS <<'EOF'
import json
import os.path as osp
import sys

root, names = sys.argv[1], sys.argv[2:]
# VOCInstanceMetric keys are '<prefix>/mAPr_50' etc.: match the suffix
keys = ('mAPr_50', 'mAPr_75', 'ABO')
print(f'{"config":<50} {"mAPr@0.5":>9} {"mAPr@0.75":>9} {"ABO":>7}')
for name in names:
    path = osp.join(root, name, 'metrics.json')
    try:
        with open(path) as f:
            metrics = json.load(f)['metrics']
    except (OSError, KeyError, ValueError) as e:
        print(f'{name:<50} (no metrics: {e})')
        continue
    row = [
        next((v for m, v in metrics.items() if m.split('/')[-1] == k),
             float('nan')) for k in keys
    ]
    print(f'{name:<50} {row[0]:>9.4f} {row[1]:>9.4f} {row[2]:>7.4f}')
EOF
