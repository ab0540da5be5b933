# Toy counterpart of atmask-rcnn_r50_fpn_k1-thr-src-all_1x_coco.py: threshold
# features from P2-P5, both fusions, k=1 (Table 3 "threshold + fusion";
# Table 4 "P2~P5"; Table 5 "P2T + T2P").
_base_ = './atmask-rcnn_r18_fpn_k1_1x_toy.py'

model = dict(roi_head=dict(threshold_roi_source='all'))
