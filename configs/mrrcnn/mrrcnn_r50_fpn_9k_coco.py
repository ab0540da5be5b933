# MR R-CNN (Mask Refining R-CNN, "Shape-aware Feature Extraction for Instance
# Segmentation", Ding et al.) on Mask R-CNN R50-FPN, COCO 2017.
#
# Paper schedule: start from a trained Mask R-CNN, initialise the refining
# heads from its box/mask heads, fine-tune everything for 9k iterations at
# batch 16, SGD lr 0.002 (x0.1 at 6k), momentum 0.9, wd 1e-4. Test: NMS 0.5,
# score fusion weight alpha = 1.
_base_ = '../mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# The trained Mask R-CNN to fine-tune from. Placeholder path: put a
# mask-rcnn_r50_fpn_1x_coco checkpoint there (e.g. mmdet's model zoo one, or
# your own run of configs/mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py). Its
# bbox_head/mask_head weights are copied into refine_bbox_head/
# refine_mask_head on load (init_refine_from_vanilla=True); alternatively
# convert it offline with tools/misc/init_refining_heads.py.
load_from = 'checkpoints/mask-rcnn_r50_fpn_1x_coco.pth'

model = dict(
    roi_head=dict(
        type='MaskRefiningRoIHead',
        # The vanilla mask head: Mask R-CNN's FCN head (same layers and
        # weights) as an HTCMaskHead without conv_res, which returns its 4th
        # conv output (the source of F^-) with the logits.
        mask_head=dict(type='HTCMaskHead', with_conv_res=False),
        # rBoxHead pools SaRoIAlign(B, P, F): B = vanilla-regressed boxes,
        # P = vanilla mask probabilities of B's guide class.
        refine_bbox_roi_extractor=dict(
            type='ShapeAwareRoIExtractor',
            roi_layer=dict(type='SaRoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        # Same architecture (and box coding) as the vanilla box head, so
        # the vanilla weights initialise it.
        refine_bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=80,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        # The refining mask head reads RoIAlign(B^r, F) + F^-; F^- is the
        # 1x1 conv (conv_res) over the vanilla mask head's 4th conv output.
        refine_mask_head=dict(
            type='HTCMaskHead',
            with_conv_res=True,
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
        # False: the refining box loss also trains the vanilla mask head
        # through SaRoIAlign (end to end, as in the paper).
        detach_mask_guide=False,
        init_refine_from_vanilla=True),
    train_cfg=dict(
        rcnn=dict(
            # Refining stage: the regressed vanilla RoIs are re-assigned
            # (IoU 0.5, as the vanilla stage) and all of them are used.
            refine=dict(sampler=dict(type='PseudoSampler')))),
    test_cfg=dict(
        # refine_alpha: weight of the refining head's logits in
        # S = (S^b + alpha * S^r) / (1 + alpha).
        rcnn=dict(refine_alpha=1.0)))

# 9k iterations at batch 16 (8 GPUs x 2 images; the paper used 4 GPUs x 4).
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=9000,
    val_interval=9000)
# No warm-up: the paper fine-tunes a trained model at a small lr.
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=9000,
        by_epoch=False,
        milestones=[6000],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=0.0001))
train_dataloader = dict(batch_size=2, sampler=dict(type='InfiniteSampler'))
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=3000),
    logger=dict(log_metric_by_epoch=False))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=16)
