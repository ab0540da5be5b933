# MaskPlus+ R50-FPN (MaskPlus Sec. 4.9): the MaskPlus mask head (all five
# techniques, same settings as maskplus_r50_fpn_360k_coco.py) in each of the
# three stages of Cascade Mask R-CNN, 540k iterations. Biased training covers
# the first half (270k iterations) and scales every stage's mask loss.
_base_ = './cascade-mask-rcnn_r50_fpn_540k_coco.py'

model = dict(
    roi_head=dict(
        type='MaskPlusCascadeRoIHead',
        mask_head=dict(
            type='MaskPlusMaskHead',
            context_cfg=dict(channels=(720, 512, 512, 256)),
            dpm_cfg=dict(type='DeconvPyramidModule', num_levels=2),
            boundary_refine_cfg=dict(type='DenseBoundaryRefinement'),
            qmt_scales=(0.5, ))))

custom_hooks = [
    # alpha 1.5 for the first half of training (end=None: half of max_iters)
    dict(type='BiasedLossHook', alpha=1.5, by_epoch=False)
]
