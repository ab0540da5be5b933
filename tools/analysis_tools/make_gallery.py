"""The benchmark gallery: one PNG of what each method does differently.

Given the benchmark's work dirs, shows a few val images with huddled and
small objects (ground truth and every method's predictions side by side),
ATMask R-CNN's probability map, threshold map and final mask for one
instance, and the hybrid networks' GrabCut pseudo masks (valid and invalid)
for one training image; see :mod:`mmext.visualization.gallery`. The toy
benchmark (``scripts/run_toy_benchmark.sh``) runs::

    python tools/analysis_tools/make_gallery.py \\
        --list configs/toy_benchmark.txt --work-dir-root work_dirs --seed 0 \\
        --out work_dirs/toy_benchmark_gallery.png

Each method is ``<config>`` from the list (one config path a line, ``#``
comments) with the checkpoint named by ``last_checkpoint`` in
``<work-dir-root>/<config name>/seed<seed>/`` (``--seed -1``: directly in
``<work-dir-root>/<config name>/``). A method without a checkpoint is
skipped with a warning. ``--methods NAME=CONFIG:CHECKPOINT ...`` gives the
columns by hand instead.
"""
import argparse
import os.path as osp
import sys
import warnings
from typing import List, Optional, Sequence

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmext.utils.run_records import find_last_checkpoint  # noqa: E402


def short_name(config: str) -> str:
    """``atmask-rcnn_r18_fpn_1x_toy.py`` -> ``atmask-rcnn``: the config
    name without the backbone, neck and schedule tokens the toy rows
    share."""
    name = osp.splitext(osp.basename(config))[0]
    for token in ('_r18', '_enhanced-fpn', '_fpn', '_1x_toy'):
        name = name.replace(token, '')
    return name


def read_config_list(path: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'config list not found: {path}')
    with open(path) as f:
        lines = [line.split('#', 1)[0].strip() for line in f]
    return [line for line in lines if line]


def methods_from_list(list_file: str, work_dir_root: str, seed: int):
    from mmext.visualization import GalleryMethod
    methods = []
    for config in read_config_list(list_file):
        name = osp.splitext(osp.basename(config))[0]
        work_dir = osp.join(work_dir_root, name)
        if seed >= 0:
            work_dir = osp.join(work_dir, f'seed{seed}')
        ckpt = find_last_checkpoint(work_dir)
        if ckpt is None:
            warnings.warn(f'{name}: no checkpoint in {work_dir} '
                          '(last_checkpoint missing or stale)')
        methods.append(GalleryMethod(short_name(config), config, ckpt))
    return methods


def methods_from_args(specs: Sequence[str]):
    from mmext.visualization import GalleryMethod
    methods = []
    for spec in specs:
        name, sep, rest = spec.partition('=')
        config, sep2, ckpt = rest.rpartition(':')
        if not (sep and sep2 and name and config):
            raise ValueError(f'--methods {spec!r}: expected '
                             'NAME=CONFIG:CHECKPOINT')
        methods.append(GalleryMethod(name, config, ckpt))
    return methods


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the benchmark gallery PNG')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--list', help='config list (configs/toy_benchmark.txt)')
    src.add_argument(
        '--methods', nargs='+', help='NAME=CONFIG:CHECKPOINT columns')
    parser.add_argument('--work-dir-root', default='work_dirs')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed<k> subdir; -1: none')
    parser.add_argument('--data-root', default='data/toy')
    parser.add_argument(
        '--val-ann', help='default <data-root>/annotations/instances_val.json')
    parser.add_argument('--val-img-dir', help='default <data-root>/val')
    parser.add_argument(
        '--pseudo-ann',
        help='default <data-root>/annotations/instances_train_pseudo.json; '
        '"none" leaves the pseudo masks out')
    parser.add_argument('--pseudo-img-dir', help='default <data-root>/train')
    parser.add_argument('--image-ids', type=int, nargs='+')
    parser.add_argument('--num-images', type=int, default=3)
    parser.add_argument('--pseudo-image-id', type=int)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', required=True, help='PNG path')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    from mmext.visualization import make_gallery
    methods = (
        methods_from_list(args.list, args.work_dir_root, args.seed)
        if args.list else methods_from_args(args.methods))
    root = args.data_root
    pseudo_ann = args.pseudo_ann or osp.join(root, 'annotations',
                                             'instances_train_pseudo.json')
    if pseudo_ann == 'none':
        pseudo_ann = None
    elif not osp.isfile(pseudo_ann):
        warnings.warn(f'no pseudo-mask json {pseudo_ann}: the gallery '
                      'leaves the pseudo masks out')
        pseudo_ann = None
    info = make_gallery(
        methods,
        args.val_ann or osp.join(root, 'annotations', 'instances_val.json'),
        args.val_img_dir or osp.join(root, 'val'),
        args.out,
        pseudo_ann_file=pseudo_ann,
        pseudo_img_dir=args.pseudo_img_dir or osp.join(root, 'train'),
        image_ids=args.image_ids,
        num_images=args.num_images,
        pseudo_image_id=args.pseudo_image_id,
        score_thr=args.score_thr,
        device=args.device)
    print(f"gallery written: {info['out']} (val images {info['image_ids']}; "
          f"{len(info['methods'])} method(s)" +
          (f"; skipped {info['skipped']}" if info['skipped'] else '') + ')')
    return info


if __name__ == '__main__':
    warnings.formatwarning = (
        lambda message, *args, **kwargs: f'warning: {message}\n')
    try:
        main()
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}')
