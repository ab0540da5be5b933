# Toy counterpart of atmask-rcnn_r50_fpn_k1_1x_coco.py: full model, k=1
# (Table 3 last row; Table 4 "P2").
_base_ = './atmask-rcnn_r18_fpn_1x_toy.py'

model = dict(roi_head=dict(mask_head=dict(k=1.0)))
