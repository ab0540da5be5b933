"""Bad dataset input gives errors naming the file or annotation."""
import json
import logging
import os
import os.path as osp
import shutil

import pytest
from mmengine.logging import MMLogger

from mmext.datasets import ValidatedCocoDataset

CLASSES = ('disk', 'square', 'triangle', 'ring')


def _dataset(data_root, ann_file='annotations/instances_val.json', **kw):
    return ValidatedCocoDataset(
        data_root=data_root,
        ann_file=ann_file,
        data_prefix=dict(img='val/'),
        metainfo=dict(classes=CLASSES),
        pipeline=[],
        **kw)


def _infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


@pytest.fixture
def toy_copy(toy_data_root, tmp_path):
    root = tmp_path / 'toy'
    shutil.copytree(toy_data_root, root)
    return str(root) + '/'


def _edit_annotations(root, fn):
    path = osp.join(root, 'annotations', 'instances_val.json')
    with open(path) as f:
        coco = json.load(f)
    fn(coco)
    with open(path, 'w') as f:
        json.dump(coco, f)
    return coco


def test_valid_data_loads(toy_data_root):
    ds = _dataset(toy_data_root)
    assert len(ds) == 6
    assert all(len(d['instances']) > 0 for d in _infos(ds))


def test_missing_data_root(tmp_path):
    missing = str(tmp_path / 'no_such_root') + '/'
    with pytest.raises(FileNotFoundError, match='no_such_root'):
        _dataset(missing)


def test_missing_ann_file(toy_data_root):
    with pytest.raises(FileNotFoundError, match='instances_missing.json'):
        _dataset(toy_data_root, ann_file='annotations/instances_missing.json')


def test_missing_image_names_file(toy_copy):
    os.remove(osp.join(toy_copy, 'val', 'val_00002.png'))
    with pytest.raises(FileNotFoundError, match='val_00002.png') as err:
        _dataset(toy_copy)
    assert 'instances_val.json' in str(err.value)


def test_annotation_without_bbox_names_id(toy_copy):

    def drop_bbox(coco):
        del coco['annotations'][0]['bbox']
        coco['annotations'][0]['id'] = 4242

    _edit_annotations(toy_copy, drop_bbox)
    with pytest.raises(ValueError, match='4242'):
        _dataset(toy_copy)


def test_degenerate_annotations_are_skipped_with_warning(toy_copy):

    def corrupt(coco):
        anns = coco['annotations']
        anns[0].update(id=9001, bbox=[10, 10, 0.5, 20])  # zero width
        anns[1].update(id=9002, segmentation=[])  # empty polygon list
        anns[2].update(id=9003, segmentation=[[1, 2, 3, 4]])  # 2 points
        anns.append(dict(anns[3], id=9004, area=0))  # non-positive area
        anns[3].update(segmentation=[[10, 10, 20, 10, 20, 20], [1, 1]])

    coco = _edit_annotations(toy_copy, corrupt)
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        ds = _dataset(toy_copy)
    finally:
        logger.removeHandler(handler)
    text = '\n'.join(r.getMessage() for r in records)
    for ann_id in (9001, 9002, 9003, 9004):
        assert f'annotation id {ann_id}' in text
    assert 'instances_val.json' in text and 'skipped 4' in text
    kept = sum(len(d['instances']) for d in _infos(ds))
    assert kept == len(coco['annotations']) - 4
    # the annotation with one good and one bad polygon keeps the good one
    image = next(d for d in _infos(ds)
                 if d['img_id'] == coco['annotations'][3]['image_id'])
    masks = [i['mask'] for i in image['instances'] if 'mask' in i]
    assert [[10, 10, 20, 10, 20, 20]] in masks
