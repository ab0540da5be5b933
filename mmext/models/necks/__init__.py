from .enhanced_fpn import EnhancedFPN

__all__ = ['EnhancedFPN']
