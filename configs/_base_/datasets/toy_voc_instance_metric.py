# The weakly supervised hybrid networks' own metrics on the toy val split
# (mAP^r at IoU 0.5 / 0.75 and ABO, VOCInstanceMetric), shared by the hybrid
# toy configs (configs/weakly/) and the box-supervised peer (configs/peers/
# boxinst_*). A fragment: it defines only this variable, appended to the toy
# COCO evaluator by the configs that use it (the path is toy_instance.py's
# data_root + the val annotations).
toy_voc_instance_metric = dict(
    type='VOCInstanceMetric',
    ann_file='data/toy/annotations/instances_val.json',
    iou_thrs=(0.5, 0.75))
