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


class StagesFromSingleStageMixin:
    """Cascade RoI heads: start every stage from a single-stage model.

    With ``self.init_stages_from_single_stage`` set, loading the state dict
    of a single-stage model (a Mask R-CNN: ``bbox_head.*``, ``mask_head.*``)
    copies its box and mask heads into every stage (``bbox_head.{i}.*``,
    ``mask_head.{i}.*``), as a cascade fine-tuned from a trained Mask R-CNN
    starts (the toy benchmark's protocol). Layers whose shapes differ keep
    their own initialisation (mmengine reports them); a cascade checkpoint
    loads as usual.
    """

    init_stages_from_single_stage: bool = False

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        if self.init_stages_from_single_stage:
            mapping = [(prefix + f'{head}.', prefix + f'{head}.{stage}.')
                       for head in ('bbox_head', 'mask_head')
                       for stage in range(self.num_stages)]
            # the single-stage keys are now loaded as the stages' copies;
            # left in place they would be reported as unexpected
            for key in copy_missing_prefixes(state_dict, mapping,
                                             type(self).__name__):
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
