# Single-branch baseline of the paper's Fig. 5 on the toy set: the
# large-object branch alone (Mask R-CNN R18 + EnhancedFPN) trained on *all*
# GrabCut pseudo masks, valid and invalid. Same data, schedule and
# evaluation (mAP^r, ABO) as the parent hybrid.
_base_ = './hybrid-weak_r18_enhanced-fpn_1x_toy.py'

model = dict(_delete_=True, **_base_.model.large_branch)
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
