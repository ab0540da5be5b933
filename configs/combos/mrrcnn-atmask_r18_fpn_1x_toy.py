# Combo: ATMask R-CNN's adaptive-threshold mask head inside MR R-CNN, as the
# vanilla and the refining mask head (toy). Parents: the toy MR R-CNN and the
# toy ATMask head (configs/_base_/models/atmask-head_r18_fpn_toy.py, the head
# of configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py).
# - the guide P of the refining box head is the vanilla head's
#   B = sigmoid(k (P - T)) of each RoI's guide class, and F^- comes from its
#   probability features after T2P fusion (the mask-head protocol,
#   mmext/models/mask_heads/feature_reuse.py);
# - the refining mask head is the same ATMask head with conv_res (F^-); it
#   trains with the three ATMask losses (refine.loss_mask,
#   refine.loss_threshold, refine.loss_binary) on B^r and segments with
#   P >= T;
# - both heads read their threshold features through the RoI head's one
#   threshold_roi_extractor (P2, 28x28; pooling has no weights).
# Start: the toy shared start (inherited load_from); the refining heads copy
# the start's vanilla heads (init_refine_from_vanilla), the threshold
# branches start from their initialisation, as in the toy ATMask R-CNN.
_base_ = [
    '../mrrcnn/mrrcnn_r18_fpn_1x_toy.py',
    '../_base_/models/atmask-head_r18_fpn_toy.py'
]

model = dict(
    roi_head=dict(
        threshold_roi_source='P2',
        threshold_roi_extractor=_base_.atmask_threshold_roi_extractor,
        mask_head=_base_.atmask_mask_head,
        refine_mask_head=dict(_base_.atmask_mask_head, with_conv_res=True)))
