# Combo: the weakly supervised hybrid networks with an ATMask mask head in
# the large-object branch (the branch trained on the valid GrabCut pseudo
# masks). Parents: hybrid-weak_r18_enhanced-fpn_1x_toy.py and the ATMask head
# (configs/_base_/models/atmask-head_r18_fpn_toy.py). The branch becomes an ATMask R-CNN
# (AdaptiveThresholdRoIHead): it learns a threshold map from the pseudo
# masks and segments with P >= T; the small-object branch, the fusion and the
# start (box parts of the shared start only) are the parent's.
_base_ = [
    '../weakly/hybrid-weak_r18_enhanced-fpn_1x_toy.py',
    '../_base_/models/atmask-head_r18_fpn_toy.py'
]

model = dict(
    large_branch=dict(
        roi_head=dict(
            type='AdaptiveThresholdRoIHead',
            threshold_roi_source='P2',
            threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
            mask_head=_base_.atmask_mask_head)))
