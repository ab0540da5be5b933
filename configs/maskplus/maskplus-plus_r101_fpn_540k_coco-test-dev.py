# COCO test-dev2017 (MaskPlus Table 7, MaskPlus+ R101): the model and weights
# of maskplus-plus_r101_fpn_540k_coco.py, tested on the 20,288 test-dev images;
# CocoMetric only writes the results (format_only) to
# <outfile_prefix>.bbox.json / .segm.json for the evaluation server (zip the
# segm json as detections_test-dev2017_<method>_results.json). Needs
# data/coco/test2017/ and data/coco/annotations/image_info_test-dev2017.json:
#   python tools/test.py configs/maskplus/maskplus-plus_r101_fpn_540k_coco-test-dev.py \
#       CHECKPOINT
_base_ = './maskplus-plus_r101_fpn_540k_coco.py'

test_dataloader = dict(
    dataset=dict(
        ann_file='annotations/image_info_test-dev2017.json',
        data_prefix=dict(img='test2017/')))
test_evaluator = dict(
    format_only=True,
    ann_file=_base_.data_root + 'annotations/image_info_test-dev2017.json',
    outfile_prefix='./work_dirs/maskplus-plus_r101_fpn_540k_coco-test-dev/test')
