# The standard Mask R-CNN R50-FPN 1x COCO baseline (39.2 box / 35.4 mask AP in
# mmdet's model zoo), inherited from mmdet's packaged configs; the COCO-scale
# method configs of mmext compare against it and inherit it.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

# The changes to mmdet's config are mmext's safety nets (README "Safety
# nets"), the model and schedule are mmdet's. The dataset reports bad input
# (a wrong category id, a NaN box, invalid JSON, a missing or undecodable
# image are named, degenerate boxes skipped with a warning) instead of
# dropping it silently; mmdet's pipelines are kept (their LoadImageFromFile
# is built as ValidatedLoadImageFromFile by the dataset).
train_dataloader = dict(dataset=dict(type='ValidatedCocoDataset'))
val_dataloader = dict(dataset=dict(type='ValidatedCocoDataset'))
test_dataloader = dict(dataset=dict(type='ValidatedCocoDataset'))
# A NaN/inf loss or gradient stops training before the optimizer step, naming
# the iteration and the images, and no non-finite checkpoint is written.
default_hooks = dict(
    non_finite_loss=dict(type='NonFiniteLossHook', action='raise'))
