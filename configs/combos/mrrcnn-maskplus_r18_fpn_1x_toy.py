# Combo: the MaskPlus mask head inside MR R-CNN, as the vanilla and the
# refining mask head (toy). Parents: the toy MR R-CNN and the toy MaskPlus
# head (configs/_base_/models/maskplus-head_r18_fpn_toy.py: contextual
# fusion, DPM, dense boundary refinement, 0.5x QMT).
# - the guide P is the sigmoid of the vanilla MaskPlus head's logits (after
#   context, DPM and boundary refinement) and F^- comes from its features
#   after the DPM (the mask-head protocol,
#   mmext/models/mask_heads/feature_reuse.py);
# - both heads get the full-image context of their own context stack; the
#   refining head adds F^- (conv_res) and trains with its QMT loss too
#   (targets cropped to B^r).
# Biased training (MaskPlus' loss schedule, not part of the head) is left
# out, so the row measures the head.
# Start: the toy shared start (inherited load_from); the refining heads copy
# the start's vanilla heads, MaskPlus' own layers start from their
# initialisation.
_base_ = [
    '../mrrcnn/mrrcnn_r18_fpn_1x_toy.py',
    '../_base_/models/maskplus-head_r18_fpn_toy.py'
]

model = dict(
    roi_head=dict(
        mask_head=_base_.maskplus_mask_head,
        refine_mask_head=dict(_base_.maskplus_mask_head, with_conv_res=True)))
