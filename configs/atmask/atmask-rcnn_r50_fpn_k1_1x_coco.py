# Ablations (R50, COCO 1x, k=1). Full model with k=1:
#   Table 3, last row (threshold + fusion + RoI strategy);
#   Table 4, row "P2".
_base_ = './atmask-rcnn_r50_fpn_1x_coco.py'

model = dict(roi_head=dict(mask_head=dict(k=1.0)))
