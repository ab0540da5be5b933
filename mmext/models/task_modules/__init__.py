from .assigners import IgnoreRegionMaxIoUAssigner

__all__ = ['IgnoreRegionMaxIoUAssigner']
