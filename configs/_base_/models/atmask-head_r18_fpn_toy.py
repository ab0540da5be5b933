# The toy ATMask R-CNN head (configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py
# explains the settings), shared by that config and the combos that put the
# head into other RoI heads (configs/combos/). A fragment: it defines only
# these two variables, merged into an RoI head by the configs that use it.
atmask_threshold_roi_extractor = dict(
    type='SingleRoIExtractor',
    roi_layer=dict(type='MMExtRoIAlign', output_size=28, sampling_ratio=0),
    out_channels=8,
    featmap_strides=[4, 8, 16, 32],
    finest_scale=16)
atmask_mask_head = dict(
    type='AdaptiveThresholdMaskHead',
    threshold_roi_feat_size=28,
    threshold_channels=8,
    num_threshold_convs=0,
    fusion_kernel_size=1,
    with_p2t_fusion=True,
    with_t2p_fusion=True,
    k=2.0,
    threshold_target='inverse_mask',
    loss_threshold=dict(
        type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
    loss_binary=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=2.0))
