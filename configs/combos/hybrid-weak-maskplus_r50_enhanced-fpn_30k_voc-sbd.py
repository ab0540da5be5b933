# Combo: the weakly supervised hybrid networks with the MaskPlus mask head
# in the large-object branch (the branch trained on the valid GrabCut pseudo
# masks). Parents: hybrid-weak_r50_enhanced-fpn_30k_voc-sbd.py and the MaskPlus head
# (configs/_base_/models/maskplus-head_r50_fpn.py: context, DPM, boundary refinement,
# 0.5x QMT; biased training, a loss schedule, is left out). The branch's RoI
# head becomes MaskPlusRoIHead (full-image context); the small-object
# branch, the fusion and the start (box parts of the shared start only) are
# the parent's.
_base_ = [
    '../weakly/hybrid-weak_r50_enhanced-fpn_30k_voc-sbd.py',
    '../_base_/models/maskplus-head_r50_fpn.py'
]

model = dict(
    large_branch=dict(
        roi_head=dict(
            type='MaskPlusRoIHead', mask_head=_base_.maskplus_mask_head)))
