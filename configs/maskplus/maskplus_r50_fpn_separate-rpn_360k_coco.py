# MaskPlus R50-FPN with a separately trained RPN (Sec. 4.2: "The RPN is
# trained separately and do not share the weights with Mask R-CNN"), step 3
# of the recipe in configs/maskplus/README.md. The detector has no RPN of
# its own (rpn_head=None): every image brings the proposals of the
# separately trained RPN (rpn_r50_fpn_360k_coco.py, its own backbone and
# neck), precomputed on train2017 and val2017 and loaded by LoadProposals
# (mmdet's Fast R-CNN data path), 1000 per image as the joint RPN gives.
# Decision: precomputed proposals rather than a frozen second backbone in
# the model - mmdet-native, and the Mask R-CNN stage then never runs the
# RPN. Everything else is maskplus_r50_fpn_360k_coco.py (today's joint RPN).
#   tools/dist_train.sh configs/maskplus/maskplus_r50_fpn_separate-rpn_360k_coco.py 8
_base_ = './maskplus_r50_fpn_360k_coco.py'

model = dict(rpn_head=None)

backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadProposals', num_max_proposals=1000),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='ProposalBroadcaster',
        transforms=[
            dict(type='Resize', scale=(1333, 800), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadProposals', num_max_proposals=1000),
    dict(
        type='ProposalBroadcaster',
        transforms=[
            dict(type='Resize', scale=(1333, 800), keep_ratio=True),
        ]),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        proposal_file='proposals/rpn_r50_fpn_360k_train2017.pkl',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        proposal_file='proposals/rpn_r50_fpn_360k_val2017.pkl',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
