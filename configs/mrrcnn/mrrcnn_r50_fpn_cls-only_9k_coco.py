# Table 4, CLS only: the refining box head only classifies; the boxes B
# regressed by the vanilla box head are the final boxes.
_base_ = './mrrcnn_r50_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_reg=False)))
