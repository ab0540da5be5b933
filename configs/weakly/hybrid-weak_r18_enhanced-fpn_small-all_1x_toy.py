# Variant: the small-object branch is trained on every box (valid and
# invalid pseudo masks alike) instead of only the invalid ones.
_base_ = './hybrid-weak_r18_enhanced-fpn_1x_toy.py'

model = dict(train_cfg=dict(small_branch_instances='all'))
