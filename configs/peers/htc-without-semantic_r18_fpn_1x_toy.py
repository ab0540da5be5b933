# Peer (mmdet's own alternative): Hybrid Task Cascade without the semantic
# branch on the toy benchmark. mmdet's htc/htc-without-semantic_r50_fpn_1x_coco.py
# (interleaved box/mask stages, mask information flow: stages 2-3 add the
# previous stage's mask features through conv_res) on the toy Cascade Mask
# R-CNN (3 stages, IoU 0.5/0.6/0.7), with the toy baseline's data, schedule,
# seed and start. Every stage starts from the shared start's box and mask
# heads like the cascade peer and MaskPlus+ (the conv_res layers from their
# initialisation): MMExtHybridTaskCascadeRoIHead is mmdet's
# HybridTaskCascadeRoIHead plus init_stages_from_single_stage.
_base_ = '../maskplus/cascade-mask-rcnn_r18_fpn_1x_toy.py'

model = dict(
    type='HybridTaskCascade',
    roi_head=dict(
        type='MMExtHybridTaskCascadeRoIHead',
        init_stages_from_single_stage=True,
        interleaved=True,
        mask_info_flow=True,
        mask_head=[
            dict(
                _base_.model.roi_head.mask_head,
                type='HTCMaskHead',
                with_conv_res=stage > 0) for stage in range(3)
        ]))
