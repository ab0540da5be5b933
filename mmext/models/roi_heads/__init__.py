from .adaptive_threshold_roi_head import AdaptiveThresholdRoIHead
from .cascade_roi_head import MMExtCascadeRoIHead
from .htc_roi_head import MMExtHybridTaskCascadeRoIHead
from .mask_head_inputs import (FullImageContextMixin, MaskHeadInputsMixin,
                               ThresholdFeaturesMixin)
from .mask_refining_roi_head import MaskRefiningRoIHead
from .maskplus_roi_head import MaskPlusCascadeRoIHead, MaskPlusRoIHead

__all__ = [
    'MaskRefiningRoIHead',
    'AdaptiveThresholdRoIHead', 'MaskPlusRoIHead', 'MaskPlusCascadeRoIHead',
    'MMExtCascadeRoIHead', 'MaskHeadInputsMixin', 'ThresholdFeaturesMixin',
    'FullImageContextMixin', 'MMExtHybridTaskCascadeRoIHead'
]
