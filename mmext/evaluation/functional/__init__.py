from .voc_instance import ap_from_matches, mask_iou_matrix, match_detections

__all__ = ['ap_from_matches', 'mask_iou_matrix', 'match_detections']
