from . import transforms  # noqa: F401  (registers the transforms)
from .coco import ValidatedCocoDataset
from .pseudo_mask_coco import PseudoMaskCocoDataset
from .pseudo_masks import (grabcut_box_mask, inscribed_ellipse_mask,
                           is_valid_pseudo_mask, mask_box_iou,
                           pseudo_mask_for_box)
from .toy import TOY_CLASSES, TOY_PALETTE, generate_toy_dataset

__all__ = [
    'ValidatedCocoDataset', 'TOY_CLASSES', 'TOY_PALETTE',
    'generate_toy_dataset', 'grabcut_box_mask', 'inscribed_ellipse_mask',
    'is_valid_pseudo_mask', 'mask_box_iou', 'pseudo_mask_for_box',
    'PseudoMaskCocoDataset'
]
