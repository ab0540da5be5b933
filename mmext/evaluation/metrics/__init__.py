from .instance_quality_metric import InstanceQualityMetric
from .voc_instance_metric import VOCInstanceMetric

__all__ = ['InstanceQualityMetric', 'VOCInstanceMetric']
