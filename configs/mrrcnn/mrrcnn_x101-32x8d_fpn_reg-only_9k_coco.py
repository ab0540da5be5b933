# Table 4, REG only, on the X101-32x8d-FPN model: the refining box head only
# regresses; the scores are the vanilla box head's (S = S^b).
_base_ = './mrrcnn_x101-32x8d_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_cls=False)))
