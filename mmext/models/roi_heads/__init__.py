from .adaptive_threshold_roi_head import AdaptiveThresholdRoIHead
from .mask_refining_roi_head import MaskRefiningRoIHead
from .maskplus_roi_head import MaskPlusCascadeRoIHead, MaskPlusRoIHead

__all__ = [
    'MaskRefiningRoIHead',
    'AdaptiveThresholdRoIHead', 'MaskPlusRoIHead', 'MaskPlusCascadeRoIHead'
]
