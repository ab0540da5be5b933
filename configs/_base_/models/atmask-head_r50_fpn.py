# The ATMask R-CNN head of the R50-FPN configs
# (configs/atmask/atmask-rcnn_r50_fpn_1x_coco.py explains the settings),
# shared by that config and the combos of configs/combos/. A fragment: it
# defines only these two variables, merged into an RoI head by the configs
# that use it.
atmask_threshold_roi_extractor = dict(
    type='SingleRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=28, sampling_ratio=0),
    out_channels=256,
    featmap_strides=[4, 8, 16, 32])
atmask_mask_head = dict(
    type='AdaptiveThresholdMaskHead',
    threshold_roi_feat_size=28,
    num_threshold_convs=0,
    with_p2t_fusion=True,
    with_t2p_fusion=True,
    k=2.0,
    threshold_target='inverse_mask',
    loss_threshold=dict(
        type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
    loss_binary=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=2.0))
