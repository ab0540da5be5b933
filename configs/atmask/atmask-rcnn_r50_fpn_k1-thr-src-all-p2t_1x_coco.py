# Ablations (R50, COCO 1x, k=1). P2T fusion only, threshold features from
# P2-P5:
#   Table 5, row "P2T".
_base_ = './atmask-rcnn_r50_fpn_k1-thr-src-all_1x_coco.py'

model = dict(roi_head=dict(mask_head=dict(with_t2p_fusion=False)))
