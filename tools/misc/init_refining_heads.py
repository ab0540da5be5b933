"""Initialise MR R-CNN's refining heads from a Mask R-CNN checkpoint.

The paper fine-tunes MR R-CNN from a trained Mask R-CNN and initialises the
refining module with the weights of the vanilla heads. This tool writes a
checkpoint in which ``roi_head.refine_bbox_head.*`` and
``roi_head.refine_mask_head.*`` are copies of ``roi_head.bbox_head.*`` and
``roi_head.mask_head.*``; layers only the refining heads have (the
``conv_res`` 1x1 conv of ``F^-``) keep their random initialisation when the
model loads it. Optimizer state and message
hub are dropped: the output is meant for ``load_from``, not ``--resume``.

``MaskRefiningRoIHead(init_refine_from_vanilla=True)`` (the configs'
default) performs the same copy when a Mask R-CNN checkpoint is loaded
directly, so this tool is only needed to ship a converted file or to use
``init_refine_from_vanilla=False``.

Usage::

    python tools/misc/init_refining_heads.py \
        checkpoints/mask-rcnn_r50_fpn_1x_coco.pth \
        checkpoints/mrrcnn_r50_fpn_init.pth
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmext.utils import safe_load_checkpoint  # noqa: E402

DEFAULT_MAPPING = (('roi_head.bbox_head.', 'roi_head.refine_bbox_head.'),
                   ('roi_head.mask_head.', 'roi_head.refine_mask_head.'))


def init_refining_heads(
    state_dict: Dict[str, torch.Tensor],
    mapping: Sequence[Tuple[str, str]] = DEFAULT_MAPPING,
    overwrite: bool = False
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, int]]:
    """Copy every ``src`` prefixed tensor to the ``dst`` prefix.

    Args:
        state_dict (dict): Model state dict (keys without ``module.``).
        mapping (sequence[tuple[str, str]]): (source, destination) prefixes.
        overwrite (bool): Replace destination tensors already present.

    Returns:
        tuple: The new state dict (copied tensors are clones) and the number
        of tensors copied per destination prefix.

    Raises:
        KeyError: A source prefix has no tensor, or a destination prefix
            exists and ``overwrite`` is False.
    """
    new_state = OrderedDict(state_dict)
    counts = {}
    for src, dst in mapping:
        src_keys = [k for k in state_dict if k.startswith(src)]
        if not src_keys:
            raise KeyError(f'no "{src}*" weights in the checkpoint: is it a '
                           'Mask R-CNN checkpoint?')
        if not overwrite and any(k.startswith(dst) for k in state_dict):
            raise KeyError(f'the checkpoint already has "{dst}*" weights; '
                           'pass --overwrite to replace them')
        for key in src_keys:
            new_state[dst + key[len(src):]] = state_dict[key].clone()
        counts[dst] = len(src_keys)
    return new_state, counts


def parse_args():
    parser = argparse.ArgumentParser(
        description='Initialise MR R-CNN refining heads from the vanilla '
        'heads of a Mask R-CNN checkpoint')
    parser.add_argument('in_checkpoint', help='Mask R-CNN checkpoint')
    parser.add_argument('out_checkpoint', help='output checkpoint path')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace refining-head weights already in the checkpoint')
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.isfile(args.in_checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.in_checkpoint}')
    checkpoint = safe_load_checkpoint(args.in_checkpoint)
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        raise TypeError(f'{args.in_checkpoint} holds no state dict')
    state_dict = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    new_state, counts = init_refining_heads(
        state_dict, overwrite=args.overwrite)
    out = dict(state_dict=new_state)
    if isinstance(checkpoint.get('meta'), dict):
        out['meta'] = checkpoint['meta']
    out_dir = osp.dirname(osp.abspath(args.out_checkpoint))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(out, args.out_checkpoint)
    for dst, num in counts.items():
        print(f'{dst}*: {num} tensors copied')
    print(f'saved {args.out_checkpoint}')


if __name__ == '__main__':
    main()
