# Combo: the MaskPlus mask head inside MR R-CNN, as the vanilla and the
# refining mask head (R50-FPN, COCO, MR R-CNN's 9k fine-tune). See
# mrrcnn-maskplus_r18_fpn_1x_toy.py. Parents: MR R-CNN R50 and the R50
# MaskPlus head (configs/_base_/models/maskplus-head_r50_fpn.py).
_base_ = [
    '../mrrcnn/mrrcnn_r50_fpn_9k_coco.py',
    '../_base_/models/maskplus-head_r50_fpn.py'
]

model = dict(
    roi_head=dict(
        mask_head=_base_.maskplus_mask_head,
        refine_mask_head=dict(_base_.maskplus_mask_head, with_conv_res=True)))
