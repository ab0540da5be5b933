# Table 3, "RM without SARA": the refining module pools its box features with
# plain RoIAlign on the boxes B (no mask guidance). The vanilla mask head
# still runs on B to provide F^- for the refining mask head.
_base_ = './mrrcnn_r50_fpn_9k_coco.py'

model = dict(
    roi_head=dict(
        refine_bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))))
