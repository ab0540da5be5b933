# Table 4, REG only: the refining box head only regresses; the scores are
# the vanilla box head's (S = S^b, refine_alpha has no effect).
_base_ = './mrrcnn_r50_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_cls=False)))
