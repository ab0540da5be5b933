# COCO test-dev2017 (MR R-CNN Table 2): the model and weights of
# mrrcnn_x101-32x8d_fpn_9k_coco.py, tested on the 20,288 test-dev images;
# CocoMetric only writes the results (format_only) to
# <outfile_prefix>.bbox.json / .segm.json for the evaluation server (zip the
# segm json as detections_test-dev2017_<method>_results.json). Needs
# data/coco/test2017/ and data/coco/annotations/image_info_test-dev2017.json:
#   python tools/test.py configs/mrrcnn/mrrcnn_x101-32x8d_fpn_9k_coco-test-dev.py \
#       CHECKPOINT
_base_ = './mrrcnn_x101-32x8d_fpn_9k_coco.py'

test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/image_info_test-dev2017.json',
        data_prefix=dict(img='test2017/')))
test_evaluator = dict(
    format_only=True,
    ann_file=_base_.data_root + 'annotations/image_info_test-dev2017.json',
    outfile_prefix='./work_dirs/mrrcnn_x101-32x8d_fpn_9k_coco-test-dev/test')
