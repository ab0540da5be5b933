# Variant of the joint training: each branch's instances of the other subset
# are background (dropped from the branch's ground truth) instead of ignore
# regions - the other reading of "the former [valid masks] is used to train
# the large object instance branch, while the latter is used to train the
# small object instance branch" (Sec. 2). Then a small object with a valid
# mask is a negative of the small branch, and an image without invalid
# instances is pure background for it.
_base_ = './hybrid-weak_r50_enhanced-fpn_30k_voc-sbd.py'

model = dict(train_cfg=dict(unselected_as_ignored=False))
