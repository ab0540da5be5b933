from .voc_instance_metric import VOCInstanceMetric

__all__ = ['VOCInstanceMetric']
