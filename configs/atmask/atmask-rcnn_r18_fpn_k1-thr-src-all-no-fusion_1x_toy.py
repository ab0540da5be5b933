# Toy counterpart of atmask-rcnn_r50_fpn_k1-thr-src-all-no-fusion_1x_coco.py:
# threshold branch only, no fusion (Table 3 "threshold"; Table 5
# "no fusion").
_base_ = './atmask-rcnn_r18_fpn_k1-thr-src-all_1x_toy.py'

model = dict(
    roi_head=dict(
        mask_head=dict(with_p2t_fusion=False, with_t2p_fusion=False)))
