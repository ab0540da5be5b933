# MaskPlus+ on the toy set: the toy MaskPlus mask head (see
# maskplus_r18_fpn_1x_toy.py) in each stage of the toy Cascade Mask R-CNN.
_base_ = './cascade-mask-rcnn_r18_fpn_1x_toy.py'

model = dict(
    roi_head=dict(
        type='MaskPlusCascadeRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            context_cfg=dict(channels=(180, 128, 128, 64)),
            dpm_cfg=dict(type='DeconvPyramidModule', num_levels=2),
            boundary_refine_cfg=dict(type='DenseBoundaryRefinement'),
            qmt_scales=(0.5, ))))

custom_hooks = [
    dict(
        type='BiasedLossHook',
        alpha=1.5,
        end=_base_.max_epochs // 2,
        by_epoch=True)
]
