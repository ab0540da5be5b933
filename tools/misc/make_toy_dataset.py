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

from mmext.datasets.toy import (generate_toy_dataset,  # noqa: E402
                                toy_dataset_summary)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='data/toy')
    parser.add_argument('--num-train', type=int, default=240)
    parser.add_argument('--num-val', type=int, default=60)
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
    stamp = osp.join(args.out_dir, 'params.json')
    if not args.force and osp.isfile(stamp):
        with open(stamp, encoding='utf-8') as f:
            if json.load(f) == params:
                print(f'toy dataset in {args.out_dir} is up to date')
                return
    ann_files = generate_toy_dataset(args.out_dir, **params)
    with open(stamp, 'w', encoding='utf-8') as f:
        json.dump(params, f)
    for split, ann_file in ann_files.items():
        stats = toy_dataset_summary(ann_file)
        print(f'{split}: ' + ', '.join(f'{k} {v}' for k, v in stats.items()))
    print(f'toy dataset written to {args.out_dir}')


if __name__ == '__main__':
    main()
