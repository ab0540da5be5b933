# MaskPlus ablation, Tables 5 (box AP) and 6 (mask AP): "Mask R-CNN + Biased
# training" - the mask loss is weighted 1.5 in the first half of training
# (180k of 360k iterations) and 1.0 afterwards. The heads are mmdet's.
_base_ = './mask-rcnn_r50_fpn_360k_coco.py'

custom_hooks = [
    # alpha 1.5 for the first half of training (end=None: half of max_iters)
    dict(type='BiasedLossHook', alpha=1.5, by_epoch=False)
]
