"""Initialise a head's new layers from another head's weights on load.

The papers fine-tune their methods from a trained Mask R-CNN; layers the
method adds (MR R-CNN's refining heads, the stages of a cascade) then start
as copies of the corresponding Mask R-CNN heads. A RoI head does that in its
``_load_from_state_dict``, which ``nn.Module`` and mmengine call on parents
before their children, all reading one shared state dict: copies added there
are then loaded by the children like any other key (``load_from``,
``tools/test.py``, ``Pretrained`` init).
"""
from typing import Dict, Sequence, Set, Tuple

from mmengine.logging import print_log


def copy_missing_prefixes(state_dict: Dict, mapping: Sequence[Tuple[str,
                                                                    str]],
                          owner: str) -> Set[str]:
    """Copy ``src``-prefixed tensors to ``dst`` where ``dst`` has none.

    A destination that already has any key in ``state_dict`` (a checkpoint
    of the same model, e.g. for ``--resume`` or testing) is left alone, so
    only a checkpoint without those layers is expanded.

    Args:
        state_dict (dict): The state dict being loaded, modified in place.
        mapping (Sequence[tuple[str, str]]): Full ``(src, dst)`` key
            prefixes, e.g. ``('roi_head.bbox_head.',
            'roi_head.bbox_head.0.')``.
        owner (str): Module name for the log line.

    Returns:
        set[str]: The source keys that were copied.
    """
    sources: Set[str] = set()
    # the keys as given: a copy made for one destination is never the
    # source of another ('mask_head.0.x' also starts with 'mask_head.')
    original = list(state_dict)
    for src, dst in mapping:
        if any(k.startswith(dst) for k in original):
            continue
        copied = [k for k in original if k.startswith(src)]
        for key in copied:
            state_dict[dst + key[len(src):]] = state_dict[key]
        sources.update(copied)
        if copied:
            print_log(
                f'{owner}: initialised {dst}* from {src}* '
                f'({len(copied)} tensors)',
                logger='current')
    return sources
