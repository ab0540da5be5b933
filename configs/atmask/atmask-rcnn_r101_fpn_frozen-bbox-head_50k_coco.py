# ATMask R-CNN, ResNet-101-FPN, the paper's recipe (Sec. 4, "Experimental
# Details"; Tables 1-2): "initialize our network with pre-training weights
# based on Faster R-CNN, freeze classification and detection branches", lr
# 0.02, 8 images per batch (4 GPUs x 2), 50,000 iterations, lr x0.1 at
# 30,000 and x0.01 at 40,000.
#
# Initialisation: `load_from` a trained Faster R-CNN R101-FPN (placeholder
# path of mmdet's faster-rcnn_r101_fpn_1x_coco checkpoint): backbone, neck,
# RPN and box head come from it; the mask head and the threshold branch
# start from their own initialisation (absent keys, non-strict load).
#
# Freezing (decision): "classification and detection branches" are read as
# the Fast R-CNN box head, roi_head.bbox_head (shared FCs, classifier and box
# regressor), which Faster R-CNN trained and the new mask branches do not
# need to change. Its parameters get lr_mult=0 and decay_mult=0, so SGD
# (momentum or not) never changes them, while gradients still flow through
# the rest; tests/test_paper_recipes.py checks that a training step leaves
# them untouched. Backbone, neck and RPN keep training (the paper freezes
# only the branches).
# Launch: tools/dist_train.sh <this config> 4
_base_ = './atmask-rcnn_r50_fpn_90k_coco.py'

load_from = 'checkpoints/faster-rcnn_r101_fpn_1x_coco.pth'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))

max_iters = 50000
train_dataloader = dict(batch_size=2)
train_cfg = dict(max_iters=max_iters, val_interval=10000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[30000, 40000],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(lr=0.02),
    paramwise_cfg=dict(
        custom_keys={
            'roi_head.bbox_head': dict(lr_mult=0.0, decay_mult=0.0)
        }))
auto_scale_lr = dict(enable=False, base_batch_size=8)
