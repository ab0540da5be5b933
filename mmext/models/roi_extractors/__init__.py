from .shape_aware_roi_extractor import ShapeAwareRoIExtractor

__all__ = ['ShapeAwareRoIExtractor']
