# Peer (mmdet's own alternative): Cascade Mask R-CNN on the toy benchmark.
# mmdet's cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py as the toy
# Cascade Mask R-CNN of configs/maskplus/ (3 stages, IoU 0.5/0.6/0.7), with
# the toy baseline's data, schedule, seed and start. Unlike that config
# (the MaskPlus+ parent, whose stage heads start from scratch), every stage
# starts from the shared start's box and mask heads, as the toy MaskPlus+
# does, so MaskPlus+ minus this row is the MaskPlus head's effect:
# MMExtCascadeRoIHead with FCN mask heads computes exactly what mmdet's
# CascadeRoIHead computes and adds only init_stages_from_single_stage.
_base_ = '../maskplus/cascade-mask-rcnn_r18_fpn_1x_toy.py'

model = dict(
    roi_head=dict(
        type='MMExtCascadeRoIHead', init_stages_from_single_stage=True))
