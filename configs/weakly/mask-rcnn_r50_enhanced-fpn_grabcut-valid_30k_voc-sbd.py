# Single-branch ablation: the large-object branch alone (Mask R-CNN R50 +
# EnhancedFPN) trained on the valid GrabCut pseudo masks only - the hybrid's
# large branch without its small-object partner. The instances with invalid
# masks are ignore regions (neither objects nor background: the dataset's
# unselected='ignore' packs them as ignored_instances and the branch's
# IgnoreRegionMaxIoUAssigner ignores the priors inside them). Compared with
# mask-rcnn_r50_enhanced-fpn_grabcut-all_30k_voc-sbd.py it measures what
# removing the invalid masks alone brings; compared with the hybrid, what the
# small-object branch adds. Same data, schedule and evaluation as the hybrid.
_base_ = './mask-rcnn_r50_enhanced-fpn_grabcut-all_30k_voc-sbd.py'

train_dataloader = dict(
    dataset=dict(pseudo_mask_subset='valid', unselected='ignore'))
