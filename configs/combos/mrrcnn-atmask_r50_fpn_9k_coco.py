# Combo: ATMask R-CNN's adaptive-threshold mask head inside MR R-CNN, as the
# vanilla and the refining mask head (R50-FPN, COCO, MR R-CNN's 9k fine-tune).
# See mrrcnn-atmask_r18_fpn_1x_toy.py for how the parts connect. Parents: MR
# R-CNN R50 and the R50 ATMask head
# (configs/_base_/models/atmask-head_r50_fpn.py). load_from: a trained
# Mask R-CNN (MR R-CNN's protocol) leaves the threshold branches at their
# initialisation; an ATMask R-CNN checkpoint gives the vanilla head its
# threshold branch and, through init_refine_from_vanilla, the refining one.
_base_ = [
    '../mrrcnn/mrrcnn_r50_fpn_9k_coco.py',
    '../_base_/models/atmask-head_r50_fpn.py'
]

model = dict(
    roi_head=dict(
        threshold_roi_source='P2',
        threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
        mask_head=_base_.atmask_mask_head,
        refine_mask_head=dict(_base_.atmask_mask_head, with_conv_res=True)))
