#!/usr/bin/env bash
# The main job: the toy benchmark (toy data -> pseudo masks -> shared start ->
# fine-tune + test every method -> tables -> curves and gallery).
#
#   bash scripts/run_toy_benchmark.sh               # one seed
#   bash scripts/run_toy_benchmark.sh --seeds 3     # the README's table
#   bash scripts/run_toy_benchmark.sh [--seeds N] [sweep.py args...]
#
# Protocol (README "Toy benchmark"): the toy Mask R-CNN is trained once from
# scratch (configs/toy_start/, cached in work_dirs/_start/ and rebuilt only
# when its config or the generated data change); the baseline and every
# method (configs/toy_benchmark.txt) then fine-tune from it with the same
# schedule, data order and seed, and are tested on the 300 val images. With
# --seeds N every row runs N times and the table shows mean±std and deltas to
# the baseline paired by seed. Finished runs are skipped and interrupted ones
# resumed, so the command can simply be run again after an interruption
# (--force retrains the fine-tunes, not the start).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup_env.sh
PY="${MMEXT_VENV:-$ROOT/.venv}/bin/python"
SEEDS=1
if [[ "${1:-}" == "--seeds" ]]; then
  SEEDS=$2
  shift 2
fi
START=configs/toy_start/mask-rcnn_r18_fpn_start_toy.py
BASELINE=mask-rcnn_r18_fpn_1x_toy
LIST="${MMEXT_BENCHMARK_LIST:-configs/toy_benchmark.txt}"
# outputs are named after the list, so the combos and peers lists do not
# overwrite the main table: work_dirs/toy_benchmark_peers_seeds1.md ...
OUT=work_dirs/$(basename "$LIST" .txt)_seeds${SEEDS}
T0=$SECONDS

"$PY" tools/misc/make_toy_dataset.py --out-dir data/toy
# Box-supervised hybrid networks train on GrabCut pseudo masks of the boxes.
ANN_DIR=data/toy/annotations
PSEUDO_JSON=$ANN_DIR/instances_train_pseudo.json
# Regenerated when the annotations or the converter's parameters (defaults
# included) changed since it was written.
"$PY" tools/dataset_converters/grabcut_pseudo_masks.py \
  "$ANN_DIR/instances_train.json" data/toy/train "$PSEUDO_JSON" \
  --workers 2 --no-progress --skip-if-current
# Fine-tunes are tested by tools/test.py, so their end-of-training
# validation is skipped (val_begin beyond the schedule: an iteration-based
# loop validates at its last iteration whatever val_interval says).
"$PY" tools/sweep.py --list "$LIST" \
  --start "$START" --seeds "$SEEDS" --baseline "$BASELINE" --speed \
  --title "mmext toy benchmark (CPU; shared start + toy 1x fine-tune; $SEEDS seed(s))" \
  --metrics "box AP" "mask AP" "mask AP75" "boundary AP" "huddled mask AP" \
    "mask APs" "mask APl" \
  --out-md "$OUT.md" --out-csv "$OUT.csv" \
  --cfg-options train_cfg.val_begin=100000 \
  "$@"
# The hybrid networks' own claim: mAP^r and ABO from boxes only, as a share
# of the fully supervised upper bound (same branch on the real masks); its
# rows are those of the main list.
if [[ "$LIST" == configs/toy_benchmark.txt ]]; then
"$PY" tools/analysis_tools/make_table.py \
  --work-dirs work_dirs/mask-rcnn_r18_enhanced-fpn_full-mask_1x_toy=full-mask-upper-bound \
    work_dirs/mask-rcnn_r18_enhanced-fpn_grabcut-all_1x_toy=single-branch-all-pseudo-masks \
    work_dirs/hybrid-weak_r18_enhanced-fpn_1x_toy=hybrid \
  --metrics "mAPr@0.5" "mAPr@0.75" ABO "mask AP" --baseline full-mask-upper-bound --share \
  --title "Weakly supervised hybrid networks (toy; share of the full-mask upper bound)" \
  --out-md "${OUT}_weakly.md" --out-csv "${OUT}_weakly.csv"
fi
# Pictures (README "Inference and pictures"): loss curves of the seed-0
# fine-tunes with their test APs (tested once, at the last iteration), and
# the gallery (val images with huddled and small objects, ground truth and
# every method side by side, ATMask's threshold maps, GrabCut pseudo masks).
# A run without logs or checkpoint is skipped with a warning.
RUNS=()
LABELS=()
while read -r cfg; do
  cfg="${cfg%%#*}"
  cfg="${cfg//[[:space:]]/}"
  [[ -z "$cfg" ]] && continue
  name=$(basename "$cfg" .py)
  RUNS+=("work_dirs/$name/seed0")
  LABELS+=("$name")
done < "$LIST"
"$PY" tools/analysis_tools/plot_curves.py --work-dirs "${RUNS[@]}" \
  --labels "${LABELS[@]}" --test-records --smooth 3 --ncols 3 \
  --keys loss coco/segm_mAP coco/huddled_segm_mAP \
  --title "toy fine-tunes, seed 0: training loss; APs of the final test" \
  --out "${OUT}_curves.png"
"$PY" tools/analysis_tools/make_gallery.py --list "$LIST" \
  --work-dir-root work_dirs --seed 0 --out "${OUT}_gallery.png"
echo "main job done in $(( (SECONDS - T0) / 60 )) min $(( (SECONDS - T0) % 60 )) s; tables: $OUT.md$([[ -f ${OUT}_weakly.md ]] && echo " ${OUT}_weakly.md"); pictures: ${OUT}_curves.png ${OUT}_gallery.png"
