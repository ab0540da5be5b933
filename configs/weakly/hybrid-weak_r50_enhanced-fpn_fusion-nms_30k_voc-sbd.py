# Variant of the test-time fusion (not in the paper): after the size split a
# class-aware box NMS (IoU 0.5) across the two branches keeps an object found
# by both near the 64x64 border once, and GrabCut runs only on the 20
# best-scored small detections of an image (the others get the ellipse),
# which bounds the CPU time per image. Same trained model as the parent.
_base_ = './hybrid-weak_r50_enhanced-fpn_30k_voc-sbd.py'

model = dict(
    test_cfg=dict(
        fusion_nms_type='box',
        fusion_nms_iou_thr=0.5,
        max_grabcut_per_image=20))
