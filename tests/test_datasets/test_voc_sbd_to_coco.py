"""Tests of tools/dataset_converters/voc_sbd_to_coco.py on hand-made files."""
import importlib.util
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO
from scipy.io import savemat

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'voc_sbd_to_coco.py')


@pytest.fixture(scope='module')
def conv():
    spec = importlib.util.spec_from_file_location('voc_sbd_to_coco', TOOL)
    module = importlib.util.module_from_spec(spec)
    # Registered so that worker processes can unpickle its functions.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


H, W = 40, 50


def _write_png(conv, path, index_map, palette_png=True):
    """A VOC-style PNG: palette-indexed (PIL) or colour-expanded (cv2)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if palette_png:
        from PIL import Image
        img = Image.fromarray(index_map.astype(np.uint8), mode='P')
        img.putpalette(conv.voc_palette().reshape(-1).tolist())
        img.save(path)
    else:
        rgb = conv.voc_palette()[index_map]
        cv2.imwrite(path, rgb[:, :, ::-1])


def _voc_image(seed):
    """Instance map, class map and instance -> class of a VOC image.

    Two instances (ids 1 and 2) with a 1-pixel void border around each, and
    a void blob.
    """
    inst = np.zeros((H, W), np.uint8)
    inst[5:15, 5:20] = 1
    inst[20:35, 25:45] = 2
    classes = {1: 15, 2: 8 + seed}  # person, cat/chair
    cls = np.zeros_like(inst)
    for i, c in classes.items():
        cls[inst == i] = c
    void = np.zeros((H, W), bool)
    for i in (1, 2):
        m = (inst == i).astype(np.uint8)
        ring = cv2.dilate(m, np.ones((3, 3), np.uint8)) - m
        void |= ring.astype(bool)
    void[0:3, 40:50] = True
    inst[void] = 255
    cls[void] = 255
    return inst, cls, classes, void


def _sbd_image(num_instances):
    inst = np.zeros((H, W), np.uint8)
    cats = []
    for i in range(num_instances):
        inst[2 + 10 * i:8 + 10 * i, 3:3 + 10 * (i + 1)] = i + 1
        cats.append(3 + i)  # bird, boat, ...
    cls = np.zeros_like(inst)
    for i, c in enumerate(cats):
        cls[inst == i + 1] = c
    return inst, cls, cats


def _build(conv, root, palette_png=True):
    """VOC + SBD folders; returns the expected content per image."""
    voc = osp.join(root, 'VOCdevkit', 'VOC2012')
    sbd = osp.join(root, 'benchmark_RELEASE', 'dataset')
    seg_sets = osp.join(voc, 'ImageSets', 'Segmentation')
    os.makedirs(seg_sets)
    os.makedirs(osp.join(sbd, 'inst'))
    os.makedirs(osp.join(sbd, 'cls'))
    splits = dict(
        voc_train=['2007_000001', '2008_000004'],
        voc_val=['2007_000002', '2007_000003'],
        sbd_train=['2007_000003', '2008_000004', '2008_000005'],
        sbd_val=['2008_000006'])
    for name, path in (('voc_train', osp.join(seg_sets, 'train.txt')),
                       ('voc_val', osp.join(seg_sets, 'val.txt')),
                       ('sbd_train', osp.join(sbd, 'train.txt')),
                       ('sbd_val', osp.join(sbd, 'val.txt'))):
        with open(path, 'w') as f:
            f.write('\n'.join(splits[name]) + '\n')
    expected = {}
    for k, name in enumerate(splits['voc_train'] + splits['voc_val']):
        inst, cls, classes, void = _voc_image(k % 2)
        _write_png(conv, osp.join(voc, 'SegmentationObject', f'{name}.png'),
                   inst, palette_png)
        _write_png(conv, osp.join(voc, 'SegmentationClass', f'{name}.png'),
                   cls, palette_png)
        expected[name, 'voc'] = (inst, classes, void)
    for k, name in enumerate(splits['sbd_train'] + splits['sbd_val']):
        inst, cls, cats = _sbd_image(1 + k % 3)
        gt_inst = dict(
            Segmentation=inst.astype(np.uint8),
            Categories=np.array(cats, np.uint8).reshape(-1, 1),
            Boundaries=np.zeros((len(cats), 1), dtype=object))
        if name == '2008_000006':  # no Categories: classes come from GTcls
            del gt_inst['Categories']
        savemat(osp.join(sbd, 'inst', f'{name}.mat'), dict(GTinst=gt_inst))
        savemat(
            osp.join(sbd, 'cls', f'{name}.mat'),
            dict(GTcls=dict(Segmentation=cls.astype(np.uint8))))
        expected[name, 'sbd'] = (inst, {
            i + 1: c
            for i, c in enumerate(cats)
        }, None)
    return voc, sbd, expected


def _check_image(coco, img_id, inst, classes, void):
    img = coco.imgs[img_id]
    assert (img['height'], img['width']) == (H, W)
    anns = coco.imgToAnns[img_id]
    assert len(anns) == len(classes)
    for ann in anns:
        mask = coco.annToMask(ann)
        matches = [i for i in classes if np.array_equal(mask, inst == i)]
        assert len(matches) == 1
        i = matches[0]
        assert ann['category_id'] == classes[i]
        ys, xs = np.nonzero(inst == i)
        assert ann['bbox'] == [
            xs.min(),
            ys.min(),
            xs.max() - xs.min() + 1,
            ys.max() - ys.min() + 1
        ]
        assert ann['area'] == (inst == i).sum()
        assert ann['iscrowd'] == 0
    if void is None:
        assert 'void_rle' not in img
    else:
        np.testing.assert_array_equal(
            mask_utils.decode(img['void_rle']).astype(bool), void)


@pytest.mark.parametrize('palette_png', [True, False])
def test_convert(conv, tmp_path, palette_png):
    voc, sbd, expected = _build(conv, str(tmp_path), palette_png)
    out_dir = str(tmp_path / 'out')
    # Roots one level up are entered automatically.
    conv.main([
        '--voc-root',
        osp.dirname(voc), '--sbd-root',
        osp.dirname(sbd), '--out-dir', out_dir
    ])
    train = COCO(osp.join(out_dir, 'instances_train_aug.json'))
    val = COCO(osp.join(out_dir, 'instances_val.json'))
    # train_aug = SBD train + val + VOC train - VOC val.
    train_names = ['2007_000001', '2008_000004', '2008_000005', '2008_000006']
    val_names = ['2007_000002', '2007_000003']
    with open(osp.join(out_dir, 'train_aug.txt')) as f:
        assert f.read().split() == train_names
    with open(osp.join(out_dir, 'val.txt')) as f:
        assert f.read().split() == val_names
    assert sorted(
        train.getImgIds()) == [2007000001, 2008000004, 2008000005, 2008000006]
    assert sorted(val.getImgIds()) == [2007000002, 2007000003]
    assert [c['name'] for c in train.loadCats(train.getCatIds())
            ] == list(conv.VOC_CLASSES)
    assert train.getCatIds() == list(range(1, 21))
    assert val.imgs[2007000003]['file_name'] == '2007_000003.jpg'
    # 2008_000004 is in VOC train and SBD: VOC's annotation is used.
    sources = {
        2007000001: 'voc',
        2008000004: 'voc',
        2008000005: 'sbd',
        2008000006: 'sbd'
    }
    for img_id, source in sources.items():
        name = f'{str(img_id)[:4]}_{str(img_id)[4:]}'
        assert train.imgs[img_id]['source'] == source
        _check_image(train, img_id, *expected[name, source])
    for img_id in (2007000002, 2007000003):
        name = f'{str(img_id)[:4]}_{str(img_id)[4:]}'
        _check_image(val, img_id, *expected[name, 'voc'])
    # Annotation ids are unique and start at 1.
    assert sorted(train.getAnnIds()) == list(
        range(1,
              len(train.getAnnIds()) + 1))


def test_prefer_sbd(conv, tmp_path):
    voc, sbd, expected = _build(conv, str(tmp_path))
    out = conv.convert(
        voc, sbd, str(tmp_path / 'o'), prefer='sbd', splits=['train_aug'])
    imgs = {i['id']: i for i in out['train_aug']['images']}
    assert imgs[2008000004]['source'] == 'sbd'
    assert imgs[2007000001]['source'] == 'voc'  # not in SBD
    assert not osp.exists(str(tmp_path / 'o' / 'instances_val.json'))


def test_missing_files(conv, tmp_path):
    voc, sbd, _ = _build(conv, str(tmp_path))
    os.remove(osp.join(voc, 'SegmentationObject', '2007_000002.png'))
    with pytest.raises(FileNotFoundError, match='2007_000002.png'):
        conv.convert(voc, sbd, str(tmp_path / 'o'), splits=['val'])
    os.remove(osp.join(sbd, 'inst', '2008_000005.mat'))
    with pytest.raises(FileNotFoundError, match='2008_000005.mat'):
        conv.convert(voc, sbd, str(tmp_path / 'o'), splits=['train_aug'])
    os.remove(osp.join(sbd, 'val.txt'))
    with pytest.raises(FileNotFoundError, match='val.txt'):
        conv.convert(voc, sbd, str(tmp_path / 'o'))
    with pytest.raises(FileNotFoundError, match='--voc-root'):
        conv.convert(str(tmp_path / 'nowhere'), sbd, str(tmp_path / 'o'))


def test_read_indexed_png_rejects_foreign_colours(conv, tmp_path):
    path = str(tmp_path / 'x.png')
    img = np.zeros((4, 4, 3), np.uint8)
    img[0, 0] = (1, 2, 3)
    cv2.imwrite(path, img)
    with pytest.raises(ValueError, match='x.png'):
        conv.read_indexed_png(path)


def test_output_is_valid_json(conv, tmp_path):
    voc, sbd, _ = _build(conv, str(tmp_path))
    conv.convert(voc, sbd, str(tmp_path / 'o'), workers=2)
    with open(tmp_path / 'o' / 'instances_val.json') as f:
        data = json.load(f)
    assert {'info', 'images', 'annotations', 'categories'} <= set(data)
    assert all(
        isinstance(a['segmentation']['counts'], str)
        for a in data['annotations'])
