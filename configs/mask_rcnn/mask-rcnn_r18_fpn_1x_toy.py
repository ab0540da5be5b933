# Toy baseline: every toy method config inherits this file, so the toy
# benchmark compares methods under one schedule, seed and data pipeline.
_base_ = [
    '../_base_/models/mask-rcnn_r18_fpn_toy.py',
    '../_base_/datasets/toy_instance.py',
    '../_base_/schedules/schedule_1x_toy.py', '../_base_/default_runtime.py'
]
