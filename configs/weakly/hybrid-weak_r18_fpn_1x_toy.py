# Ablation: the large-object branch with mmdet's plain FPN instead of
# EnhancedFPN (everything else as in the parent).
_base_ = './hybrid-weak_r18_enhanced-fpn_1x_toy.py'

model = dict(large_branch=dict(neck=dict(type='FPN')))
