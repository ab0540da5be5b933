# Ablations (R50, COCO 1x, k=1). Threshold branch only: no fusion, threshold
# features from P2-P5:
#   Table 3, row "threshold";
#   Table 5, row "no fusion".
_base_ = './atmask-rcnn_r50_fpn_k1-thr-src-all_1x_coco.py'

model = dict(
    roi_head=dict(
        mask_head=dict(with_p2t_fusion=False, with_t2p_fusion=False)))
