from .adaptive_threshold_mask_head import AdaptiveThresholdMaskHead
from .maskplus_blocks import (ContextFusionBranch, DeconvPyramidModule,
                              DenseBoundaryRefinement,
                              ResidualBoundaryRefinement)
from .maskplus_mask_head import MaskPlusMaskHead

__all__ = [
    'AdaptiveThresholdMaskHead', 'MaskPlusMaskHead', 'ContextFusionBranch',
    'DeconvPyramidModule', 'DenseBoundaryRefinement',
    'ResidualBoundaryRefinement'
]
