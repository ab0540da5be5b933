# Table 4, REG only, on the R101-FPN model: the refining box head only
# regresses; the scores are the vanilla box head's (S = S^b).
_base_ = './mrrcnn_r101_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_cls=False)))
