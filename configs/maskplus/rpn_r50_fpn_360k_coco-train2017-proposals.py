# Step 2 of MaskPlus' separate-RPN recipe: the trained RPN
# (rpn_r50_fpn_360k_coco.py) run on the train2017 images; its proposals are
# dumped to data/coco/proposals/rpn_r50_fpn_360k_train2017.pkl for training
# the Mask R-CNN stage (maskplus_r50_fpn_separate-rpn_360k_coco.py). In
# training the joint RPN keeps 1000 of 2000 pre-NMS boxes per image (mmdet's
# rpn_proposal), so do these.
#   tools/dist_test.sh configs/maskplus/rpn_r50_fpn_360k_coco-train2017-proposals.py RPN_CKPT 8
_base_ = './rpn_r50_fpn_360k_coco.py'

model = dict(test_cfg=dict(rpn=dict(nms_pre=2000, max_per_img=1000)))
test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/')))
test_evaluator = [
    dict(
        type='DumpProposals',
        output_dir=_base_.data_root + 'proposals/',
        proposals_file='rpn_r50_fpn_360k_train2017.pkl')
]
