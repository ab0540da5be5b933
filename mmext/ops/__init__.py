from .roi_align import MMExtRoIAlign, MMExtRoIAlignFunction, mmext_roi_align
from .sa_roi_align import (SaRoIAlign, SaRoIAlignFunction, sa_roi_align,
                           sa_roi_align_reference)

__all__ = [
    'MMExtRoIAlign', 'MMExtRoIAlignFunction', 'mmext_roi_align',
    'SaRoIAlign', 'SaRoIAlignFunction', 'sa_roi_align',
    'sa_roi_align_reference'
]
