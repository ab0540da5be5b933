from .sa_roi_align import (SaRoIAlign, SaRoIAlignFunction, sa_roi_align,
                           sa_roi_align_reference)

__all__ = [
    'SaRoIAlign', 'SaRoIAlignFunction', 'sa_roi_align',
    'sa_roi_align_reference'
]
