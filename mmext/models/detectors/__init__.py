from .hybrid_weak_detector import HybridWeakDetector

__all__ = ['HybridWeakDetector']
