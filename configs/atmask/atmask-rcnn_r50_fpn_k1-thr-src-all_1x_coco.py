# Ablations (R50, COCO 1x, k=1). Threshold RoI features from P2-P5 with FPN
# level mapping (no P2 RoI strategy), both fusions:
#   Table 3, row "threshold + fusion";
#   Table 4, row "P2~P5";
#   Table 5, row "P2T + T2P".
_base_ = './atmask-rcnn_r50_fpn_k1_1x_coco.py'

model = dict(roi_head=dict(threshold_roi_source='all'))
