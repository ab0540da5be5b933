from .boundary_iou import boundary_dilation, boundary_iou, mask_to_boundary
from .coco_eval import BoundaryCOCOeval, SubsetCOCOeval
from .voc_instance import ap_from_matches, mask_iou_matrix, match_detections

__all__ = [
    'ap_from_matches', 'mask_iou_matrix', 'match_detections',
    'boundary_dilation', 'boundary_iou', 'mask_to_boundary',
    'BoundaryCOCOeval', 'SubsetCOCOeval'
]
