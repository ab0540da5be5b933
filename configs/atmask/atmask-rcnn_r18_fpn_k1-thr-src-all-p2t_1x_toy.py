# Toy counterpart of atmask-rcnn_r50_fpn_k1-thr-src-all-p2t_1x_coco.py: P2T
# fusion only (Table 5 "P2T").
_base_ = './atmask-rcnn_r18_fpn_k1-thr-src-all_1x_toy.py'

model = dict(roi_head=dict(mask_head=dict(with_t2p_fusion=False)))
