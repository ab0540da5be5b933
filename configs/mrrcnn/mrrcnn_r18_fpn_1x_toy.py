# MR R-CNN on the toy Mask R-CNN (ResNet-18 FPN, 64 channels, 4 classes).
# Unlike the paper's 9k-iteration fine-tune of a trained Mask R-CNN, the toy
# model trains vanilla and refining heads jointly from scratch with the toy
# "1x" schedule of the baseline, so the two are compared under one schedule.
_base_ = '../mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        type='MaskRefiningRoIHead',
        # The vanilla mask head: Mask R-CNN's FCN head (same layers and
        # weights) as an HTCMaskHead without conv_res, which returns its 4th
        # conv output (the source of F^-) with the logits.
        mask_head=dict(type='HTCMaskHead', with_conv_res=False),
        refine_bbox_roi_extractor=dict(
            type='ShapeAwareRoIExtractor',
            roi_layer=dict(type='SaRoIAlign', output_size=7, sampling_ratio=0),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32],
            finest_scale=16),
        refine_bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=64,
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes=4,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        refine_mask_head=dict(
            type='HTCMaskHead',
            with_conv_res=True,
            num_convs=4,
            in_channels=64,
            conv_out_channels=64,
            num_classes=4,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
        detach_mask_guide=False,
        init_refine_from_vanilla=True),
    train_cfg=dict(rcnn=dict(refine=dict(sampler=dict(type='PseudoSampler')))),
    test_cfg=dict(rcnn=dict(refine_alpha=1.0)))
