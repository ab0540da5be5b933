# Table 3, "RM without SARA" (r101): plain RoIAlign in the refining
# module.
_base_ = './mrrcnn_r101_fpn_9k_coco.py'

model = dict(
    roi_head=dict(
        refine_bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))))
