# Table 4, CLS only (r101): the refining box head only classifies.
_base_ = './mrrcnn_r101_fpn_9k_coco.py'

model = dict(roi_head=dict(refine_bbox_head=dict(with_reg=False)))
