# Table 4, REG only (x101-32x8d): the refining box head only regresses.
_base_ = './mrrcnn_x101-32x8d_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_cls=False)))
