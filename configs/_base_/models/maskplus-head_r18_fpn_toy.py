# The toy MaskPlus mask head (configs/maskplus/maskplus_r18_fpn_1x_toy.py
# explains the settings), shared by the toy MaskPlus, MaskPlus+ and the
# combos of configs/combos/. A fragment: it defines only this variable.
maskplus_mask_head = dict(
    type='MaskPlusMaskHead',
    context_cfg=dict(channels=(180, 128, 128, 64)),
    dpm_cfg=dict(type='DeconvPyramidModule', num_levels=2),
    boundary_refine_cfg=dict(type='DenseBoundaryRefinement'),
    qmt_scales=(0.5, ))
