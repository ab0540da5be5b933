"""Write the embedded toy instance segmentation dataset (COCO format).

Example::

    python tools/misc/make_toy_dataset.py                 # data/toy/
    python tools/misc/make_toy_dataset.py --out-dir /tmp/toy --num-train 16

The output is deterministic for given arguments; an existing set written
with the same arguments is reused unless ``--force`` is given.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmext.datasets.toy import (GENERATOR_VERSION,  # noqa: E402
                                generate_toy_dataset, toy_dataset_summary)
from mmext.utils.atomic_io import atomic_write_json  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='data/toy')
    parser.add_argument('--num-train', type=int, default=1200)
    parser.add_argument('--num-val', type=int, default=300)
    parser.add_argument('--size', type=int, default=128, help='image side')
    parser.add_argument('--max-objects', type=int, default=6)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--force', action='store_true', help='regenerate even if present')
    return parser.parse_args()


def main():
    args = parse_args()
    params = dict(
        num_train=args.num_train,
        num_val=args.num_val,
        seed=args.seed,
        size=args.size,
        max_objects=args.max_objects)
    # the stamp names the generator version too: a changed generator
    # regenerates the set (and so invalidates the toy benchmark's start)
    stamp_params = dict(params, generator_version=GENERATOR_VERSION)
    stamp = osp.join(args.out_dir, 'params.json')
    if not args.force and osp.isfile(stamp):
        with open(stamp, encoding='utf-8') as f:
            if json.load(f) == stamp_params:
                print(f'toy dataset in {args.out_dir} is up to date')
                return
    ann_files = generate_toy_dataset(args.out_dir, **params)
    atomic_write_json(stamp, stamp_params)
    for split, ann_file in ann_files.items():
        stats = toy_dataset_summary(ann_file)
        print(f'{split}: ' + ', '.join(f'{k} {v}' for k, v in stats.items()))
    print(f'toy dataset written to {args.out_dir}')


if __name__ == '__main__':
    main()
