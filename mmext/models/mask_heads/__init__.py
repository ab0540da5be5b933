from .adaptive_threshold_mask_head import AdaptiveThresholdMaskHead
from .feature_reuse import (FeatureReuseMaskHeadMixin,
                            check_feature_reuse_head, mask_forward_with_feat,
                            mask_outputs, provides_feature_reuse, soft_masks)
from .maskplus_blocks import (ContextFusionBranch, DeconvPyramidModule,
                              DenseBoundaryRefinement,
                              ResidualBoundaryRefinement)
from .maskplus_mask_head import MaskPlusMaskHead

__all__ = [
    'AdaptiveThresholdMaskHead', 'MaskPlusMaskHead', 'ContextFusionBranch',
    'DeconvPyramidModule', 'DenseBoundaryRefinement',
    'ResidualBoundaryRefinement', 'FeatureReuseMaskHeadMixin',
    'check_feature_reuse_head', 'mask_forward_with_feat', 'mask_outputs',
    'provides_feature_reuse', 'soft_masks'
]
