"""Inference entry points (import ``mmext.apis`` explicitly: it pulls in
``mmdet.apis``, which ``import mmext`` alone does not need)."""
from .inference import (CheckpointMismatchError, MMExtDetInferencer,
                        check_checkpoint_fits, check_image_readable,
                        checkpoint_state_dict, load_checkpoint_strict,
                        expand_image_inputs, predictions_to_coco,
                        state_dict_mismatch)

__all__ = [
    'MMExtDetInferencer', 'CheckpointMismatchError', 'check_checkpoint_fits',
    'load_checkpoint_strict', 'check_image_readable', 'checkpoint_state_dict',
    'expand_image_inputs', 'predictions_to_coco', 'state_dict_mismatch'
]
