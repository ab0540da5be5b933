# Single-branch baseline of the paper's Fig. 5: the large-object branch alone
# (Mask R-CNN R50 + EnhancedFPN) trained on *all* GrabCut pseudo masks, valid
# and invalid - the common box-supervised pipeline the hybrid network is
# compared with. Same data, schedule and evaluation as the parent.
_base_ = './hybrid-weak_r50_enhanced-fpn_30k_voc-sbd.py'

model = dict(_delete_=True, **_base_.model.large_branch)
# one network: no small-branch learning rate
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
