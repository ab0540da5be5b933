from .loading import ValidatedLoadImageFromFile
from .pseudo_mask_validity import (LoadPseudoMaskAnnotations,
                                   PackPseudoMaskInputs)

__all__ = [
    'LoadPseudoMaskAnnotations', 'PackPseudoMaskInputs',
    'ValidatedLoadImageFromFile'
]
