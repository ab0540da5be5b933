from .ignore_region_max_iou_assigner import IgnoreRegionMaxIoUAssigner

__all__ = ['IgnoreRegionMaxIoUAssigner']
