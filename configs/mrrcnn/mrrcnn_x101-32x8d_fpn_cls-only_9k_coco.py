# Table 4, CLS only, on the X101-32x8d-FPN model: the refining box head only
# classifies; the boxes regressed by the vanilla box head are the final boxes.
_base_ = './mrrcnn_x101-32x8d_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_reg=False)))
