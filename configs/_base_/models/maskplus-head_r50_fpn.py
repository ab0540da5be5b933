# The MaskPlus mask head of the R50-FPN configs
# (configs/maskplus/maskplus_r50_fpn_360k_coco.py explains the settings),
# shared by MaskPlus, MaskPlus+ and the combos of configs/combos/. A
# fragment: it defines only this variable.
maskplus_mask_head = dict(
    type='MaskPlusMaskHead',
    context_cfg=dict(channels=(720, 512, 512, 256)),
    dpm_cfg=dict(type='DeconvPyramidModule', num_levels=2),
    boundary_refine_cfg=dict(type='DenseBoundaryRefinement'),
    qmt_scales=(0.5, ))
