# Table 3, "RM without SARA", on the X101-32x8d-FPN model: the refining
# module pools its box features with plain RoIAlign on the boxes B (no mask
# guidance), as mrrcnn_r50_fpn_no-sara_9k_coco.py does for R50.
_base_ = './mrrcnn_x101-32x8d_fpn_9k_coco.py'

model = dict(
    roi_head=dict(
        refine_bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))))
