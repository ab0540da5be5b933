"""The gallery (mmext.visualization.gallery, make_gallery.py) and
browse_pseudo_masks.py on the tiny toy set with fresh models."""
import json
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
from PIL import Image

from _inference_helpers import (ATMASK_TOY, MASK_RCNN_TOY, REPO_ROOT,
                                save_fresh_checkpoint, toy_cfg)

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis_tools'))

import browse_pseudo_masks  # noqa: E402
import make_gallery  # noqa: E402


def _coco(images, anns):
    return dict(
        images=[
            dict(id=i, file_name=f'{i}.png', height=8, width=8) for i in images
        ],
        annotations=anns,
        categories=[dict(id=1, name='disk')])


def test_pick_gallery_images_prefers_huddled_and_small():
    anns = [
        dict(image_id=1, area=2000),  # large, alone: 0
        dict(image_id=2, area=100),  # small: 1
        dict(image_id=3, area=2000, huddled=True),  # huddled: 2
        dict(image_id=3, area=2000, huddled=True),  # -> 4
        dict(image_id=4, area=100, huddled=True),  # small + huddled: 3
    ]
    from mmext.visualization import pick_gallery_images
    assert pick_gallery_images(_coco([1, 2, 3, 4], anns), 3) == [3, 4, 2]
    # ties go to the lower id
    assert pick_gallery_images(_coco([5, 1], []), 2) == [1, 5]


def test_pick_pseudo_mask_image_wants_both_kinds():
    from mmext.visualization import pick_pseudo_mask_image
    anns = ([dict(image_id=1, valid=True)] * 5 +
            [dict(image_id=2, valid=True)] * 3 +
            [dict(image_id=2, valid=False)] +
            [dict(image_id=3, valid=True)] +
            [dict(image_id=3, valid=False)] * 2)
    # image 1 has the most masks but no invalid one, image 2 more masks
    # than image 3 but fewer invalid ones
    assert pick_pseudo_mask_image(_coco([1, 2, 3], anns)) == 3


@pytest.fixture(scope='module')
def fresh_methods(toy_data_root, tmp_path_factory):
    from mmext.visualization import GalleryMethod
    d = tmp_path_factory.mktemp('gallery_ckpts')
    methods = []
    for name, config in (('mask-rcnn', MASK_RCNN_TOY), ('atmask', ATMASK_TOY)):
        cfg = toy_cfg(config, toy_data_root)
        ckpt = str(d / f'{name}.pth')
        save_fresh_checkpoint(cfg, ckpt)
        cfg_path = str(d / f'{name}.py')
        cfg.dump(cfg_path)
        methods.append(GalleryMethod(name, cfg_path, ckpt))
    return methods


def test_make_gallery_tiny(toy_data_root, fresh_methods, tmp_path):
    from mmext.visualization import GalleryMethod, make_gallery
    root = toy_data_root
    out = str(tmp_path / 'gallery.png')
    missing = GalleryMethod('not-trained', MASK_RCNN_TOY,
                            str(tmp_path / 'none.pth'))
    with pytest.warns(UserWarning, match='skipping not-trained'):
        info = make_gallery([fresh_methods[0], missing, fresh_methods[1]],
                            osp.join(root, 'annotations',
                                     'instances_val.json'),
                            osp.join(root, 'val'),
                            out,
                            pseudo_ann_file=osp.join(
                                root, 'annotations',
                                'instances_train_pseudo.json'),
                            pseudo_img_dir=osp.join(root, 'train'),
                            num_images=2,
                            score_thr=0.0)
    assert info['methods'] == ['mask-rcnn', 'atmask']
    assert info['skipped'] == ['not-trained']
    # the two val images with the most huddled and small objects
    with open(osp.join(root, 'annotations', 'instances_val.json')) as f:
        val = json.load(f)
    score = {im['id']: 0 for im in val['images']}
    for a in val['annotations']:
        score[a['image_id']] += 2 * bool(a.get('huddled')) + (a['area'] < 1024)
    assert [score[i] for i in info['image_ids']] == sorted(
        score.values(), reverse=True)[:2]
    # ATMask's threshold maps of one instance of the first image
    assert info['threshold']['method'] == 'atmask'
    assert info['threshold']['image_id'] == info['image_ids'][0]
    # the pseudo-mask image has valid and invalid masks
    with open(osp.join(root, 'annotations',
                       'instances_train_pseudo.json')) as f:
        pseudo = json.load(f)
    flags = {
        a['valid']
        for a in pseudo['annotations']
        if a['image_id'] == info['pseudo_image_id']
    }
    assert flags == {True, False}
    with Image.open(out) as im:
        assert im.mode == 'P'  # palette PNG: small enough to commit
        width, height = im.size
    # 2 rows of 128 px panels on top, the threshold/pseudo row below
    assert width >= 3 * 128 and height >= 3 * 128


def test_make_gallery_cli_list(toy_data_root, fresh_methods, tmp_path):
    """--list resolves <root>/<config name>/seed0/last_checkpoint; a row
    without one is skipped with a warning."""
    config, ckpt = fresh_methods[0].config, fresh_methods[0].checkpoint
    name = osp.splitext(osp.basename(config))[0]
    work_dir = tmp_path / 'work_dirs' / name / 'seed0'
    work_dir.mkdir(parents=True)
    (work_dir / 'last_checkpoint').write_text(ckpt)
    listing = tmp_path / 'list.txt'
    listing.write_text(f'# benchmark\n{config}\n{ATMASK_TOY}  # untrained\n')
    out = str(tmp_path / 'g.png')
    with pytest.warns(UserWarning, match='atmask-rcnn'):
        info = make_gallery.main([
            '--list',
            str(listing), '--work-dir-root',
            str(tmp_path / 'work_dirs'), '--data-root', toy_data_root,
            '--pseudo-ann', 'none', '--image-ids', '1', '--out', out
        ])
    assert info['methods'] == [name]
    assert info['skipped'] == ['atmask-rcnn']
    assert info['threshold'] is None and info['pseudo_image_id'] is None
    assert osp.isfile(out)


def _mask(ann, h, w):
    from mmext.visualization import segmentation_to_mask
    return segmentation_to_mask(ann['segmentation'], h, w)


def test_browse_pseudo_masks_colours(toy_data_root, tmp_path):
    """Valid masks are blended with green, invalid ones with red."""
    from mmext.visualization import INVALID_COLOR, VALID_COLOR
    from scipy.ndimage import binary_erosion
    ann_file = osp.join(toy_data_root, 'annotations',
                        'instances_train_pseudo.json')
    with open(ann_file) as f:
        coco = json.load(f)
    by_image = {}
    for a in coco['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    image_id = next(i for i, anns in by_image.items()
                    if {a['valid']
                        for a in anns} == {True, False})
    img = next(im for im in coco['images'] if im['id'] == image_id)
    out_dir = str(tmp_path / 'pm')
    written = browse_pseudo_masks.main([
        ann_file,
        osp.join(toy_data_root, 'train'), '--out-dir', out_dir, '--image-ids',
        str(image_id), '--no-labels'
    ])
    assert written == [
        osp.join(out_dir,
                 osp.splitext(img['file_name'])[0] + '.png')
    ]
    drawn = mmcv.imread(written[0], channel_order='rgb').astype(float)
    image = mmcv.imread(
        osp.join(toy_data_root, 'train', img['file_name']),
        channel_order='rgb').astype(float)
    h, w = image.shape[:2]
    masks = [_mask(a, h, w) for a in by_image[image_id]]
    coverage = np.sum(masks, axis=0)
    checked = set()
    for ann, mask in zip(by_image[image_id], masks):
        # pixels of this mask alone, away from its box outline
        inner = binary_erosion(mask & (coverage == 1), iterations=2)
        x, y, bw, bh = (int(round(v)) for v in ann['bbox'])
        inner[max(y - 2, 0):y + 3, :] = False
        inner[:, max(x - 2, 0):x + 3] = False
        inner[max(y + bh - 2, 0):y + bh + 3, :] = False
        inner[:, max(x + bw - 2, 0):x + bw + 3] = False
        if inner.sum() < 5:
            continue
        # drawn = (1 - a) * image + a * colour, a = 0.5
        colour = (2 * drawn[inner] - image[inner]).mean(0)
        expected = VALID_COLOR if ann['valid'] else INVALID_COLOR
        np.testing.assert_allclose(colour, expected, atol=12)
        checked.add(ann['valid'])
    assert checked == {True, False}
    with pytest.raises(KeyError, match='999'):
        browse_pseudo_masks.main([
            ann_file,
            osp.join(toy_data_root, 'train'), '--out-dir', out_dir,
            '--image-ids', '999'
        ])


def test_browse_pseudo_masks_refuses_plain_json(toy_data_root, tmp_path):
    ann_file = osp.join(toy_data_root, 'annotations', 'instances_train.json')
    with open(ann_file) as f:
        first = json.load(f)['annotations'][0]
    with pytest.raises(KeyError, match=f"annotation {first['id']} .*valid"):
        browse_pseudo_masks.main([
            ann_file,
            osp.join(toy_data_root, 'train'), '--out-dir',
            str(tmp_path / 'x'), '--image-ids',
            str(first['image_id'])
        ])
