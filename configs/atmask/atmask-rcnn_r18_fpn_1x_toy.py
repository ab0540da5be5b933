# ATMask R-CNN on the toy set (CPU-sized): the toy Mask R-CNN baseline plus
# the adaptive threshold branch with the paper's final settings (P2 threshold
# features at 28x28, P2T + T2P fusion, k=2, lambda=2) and the baseline's RoI
# level mapping (finest_scale=16). To keep within the toy cost budget
# (training <= 1.15x, inference <= 1.10x of the baseline on CPU) the
# threshold branch is narrow (8 channels; P2 is reduced by a bias-free 1x1
# conv before the 28x28 pooling) and its fusion convs are 1x1; the COCO
# configs keep the full-width branch with 3x3 fusion. Like the toy baseline's
# RoI layers, the threshold branch's is mmext's CPU RoIAlign.
_base_ = [
    '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py',
    '../_base_/models/atmask-head_r18_fpn_toy.py'
]
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='AdaptiveThresholdRoIHead',
        threshold_roi_source='P2',
        threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
        mask_head=_base_.atmask_mask_head))
