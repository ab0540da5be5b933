# Table 4, CLS only, on the R101-FPN model: the refining box head only
# classifies; the boxes regressed by the vanilla box head are the final boxes.
_base_ = './mrrcnn_r101_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_reg=False)))
