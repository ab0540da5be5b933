# Table 5: score fusion weight alpha = 0.1 in
# S = (S^b + alpha * S^r) / (1 + alpha). Only the test cfg changes, so the
# model trained with the parent config can be evaluated directly.
_base_ = './mrrcnn_r50_fpn_9k_coco.py'

model = dict(test_cfg=dict(rcnn=dict(refine_alpha=0.1)))
