"""Tests of the GrabCut pseudo-mask functions and the converter tool."""
import importlib.util
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO

from mmext.datasets import pseudo_masks
from mmext.datasets.pseudo_masks import (grabcut_box_mask,
                                         grabcut_pseudo_mask,
                                         inscribed_ellipse_mask,
                                         is_valid_pseudo_mask, mask_box_iou,
                                         pseudo_mask_for_box)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                'grabcut_pseudo_masks.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('grabcut_pseudo_masks_tool',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    # Registered so that worker processes can unpickle its functions.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tool():
    return _load_tool()


def _noise_image(rng, height, width):
    """Dark, noisy background (values 20..80)."""
    return rng.integers(20, 80, size=(height, width, 3), dtype=np.uint8)


def _draw_disk(image, center, radius, color):
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(mask, center, radius, 1, -1)
    image[mask > 0] = color
    return mask


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


# ------------------------------------------------------------- functions


def test_inscribed_ellipse_mask():
    box = (10, 20, 50, 40)  # 40 x 20
    mask = inscribed_ellipse_mask(60, 70, box)
    assert mask.shape == (60, 70) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1}
    # Area of an ellipse with semi-axes 20 and 10, and tight box == box.
    assert abs(mask.sum() - np.pi * 20 * 10) < 0.03 * np.pi * 200
    assert pseudo_masks.mask_to_box(mask) == (10., 20., 50., 40.)
    # Symmetric about the box centre.
    crop = mask[20:40, 10:50]
    np.testing.assert_array_equal(crop, crop[::-1, ::-1])
    # A box sticking out of the image is clipped: the ellipse of the clipped
    # box (0, 0, 30, 20).
    np.testing.assert_array_equal(
        inscribed_ellipse_mask(20, 30, (-10, -5, 30, 20)),
        inscribed_ellipse_mask(20, 30, (0, 0, 30, 20)))
    # Sub-pixel boxes still cover the pixel of their centre.
    tiny = inscribed_ellipse_mask(10, 10, (4.2, 6.1, 4.6, 6.5))
    assert tiny.sum() == 1 and tiny[6, 4] == 1
    # Outside the image: empty.
    assert inscribed_ellipse_mask(10, 10, (20, 20, 30, 30)).sum() == 0


def test_mask_box_iou_and_validity():
    mask = np.zeros((20, 20), np.uint8)
    mask[2:6, 3:9] = 1  # tight box (3, 2, 9, 6), 6 x 4 = 24
    assert mask_box_iou(mask, (3, 2, 9, 6)) == pytest.approx(1.)
    # Box twice as tall: IoU 24 / 48.
    assert mask_box_iou(mask, (3, 2, 9, 10)) == pytest.approx(0.5)
    # Holes inside the mask do not change its bounding box.
    mask[3:5, 4:8] = 0
    assert mask_box_iou(mask, (3, 2, 9, 6)) == pytest.approx(1.)
    # Disjoint box and empty mask.
    assert mask_box_iou(mask, (12, 12, 18, 18)) == 0.
    assert mask_box_iou(np.zeros((5, 5)), (0, 0, 5, 5)) == 0.
    # Validity: IoU >= threshold (0.5 by default), boundary included.
    assert is_valid_pseudo_mask(mask, (3, 2, 9, 10)) == (True, 0.5)
    valid, iou = is_valid_pseudo_mask(mask, (3, 2, 9, 11))
    assert not valid and iou == pytest.approx(24 / 54)
    assert is_valid_pseudo_mask(mask, (3, 2, 9, 11), iou_thr=0.4)[0]
    assert is_valid_pseudo_mask(mask, (3, 2, 9, 6), iou_thr=0.99)[0]


def test_grabcut_easy_shapes_have_high_iou():
    rng = np.random.default_rng(0)
    image = _noise_image(rng, 120, 160)
    disk = _draw_disk(image, (50, 60), 25, (40, 200, 230))
    square = np.zeros((120, 160), np.uint8)
    square[30:90, 100:140] = 1
    image[square > 0] = (230, 60, 200)
    for shape, box in ((disk, (22, 32, 78, 88)), (square, (95, 25, 145, 95))):
        mask, status = grabcut_box_mask(image, box)
        assert status == 'ok'
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
        assert _iou(mask, shape) > 0.9
        valid, iou = is_valid_pseudo_mask(mask, box)
        assert valid and iou > 0.5
        # Nothing outside the (outward-rounded) box.
        assert mask[:, :int(box[0])].sum() == 0
        assert mask[:, int(np.ceil(box[2])):].sum() == 0


def test_grabcut_is_deterministic():
    rng = np.random.default_rng(1)
    image = _noise_image(rng, 80, 80)
    disk = _draw_disk(image, (40, 40), 18, (200, 200, 40))
    first, status = grabcut_box_mask(image, (15, 15, 65, 65), iters=3)
    # GrabCut itself succeeded (no ellipse fallback) and found the disk
    assert status == 'ok'
    assert not np.array_equal(
        first, inscribed_ellipse_mask(80, 80, (15, 15, 65, 65)))
    assert _iou(first, disk) > 0.8
    # Interleave other calls that consume OpenCV's RNG.
    grabcut_box_mask(image, (5, 5, 70, 60), iters=2)
    cv2.randu(np.zeros((10, 10), np.float32), 0, 1)
    second, status = grabcut_box_mask(image, (15, 15, 65, 65), iters=3)
    assert status == 'ok'
    np.testing.assert_array_equal(first, second)


def test_grabcut_too_small_box_gives_ellipse():
    image = _noise_image(np.random.default_rng(2), 64, 64)
    box = (10, 10, 16, 30)  # 6 px wide < min_size 8
    mask, status = grabcut_box_mask(image, box)
    assert status == 'too_small'
    np.testing.assert_array_equal(mask, inscribed_ellipse_mask(64, 64, box))
    # The size is measured after clipping: 20 px wide, 5 px inside.
    mask, status = grabcut_box_mask(image, (10, -15, 30, 5))
    assert status == 'too_small'
    # min_size is configurable.
    assert grabcut_box_mask(image, box, min_size=4)[1] != 'too_small'


def test_grabcut_border_boxes():
    rng = np.random.default_rng(3)
    image = _noise_image(rng, 100, 100)
    # A disk cut by the left/top border, its box exceeding the image.
    disk = _draw_disk(image, (10, 12), 30, (30, 220, 90))
    mask, status = grabcut_box_mask(image, (-20, -18, 40, 42))
    assert status == 'ok'
    assert mask.shape == (100, 100)
    assert _iou(mask, disk) > 0.85

    # A box covering the whole image leaves rect-initialised GrabCut no
    # background samples (OpenCV raises); the ring fallback handles it.
    image = _noise_image(rng, 60, 60)
    disk = _draw_disk(image, (30, 30), 15, (230, 230, 230))
    with pytest.raises(cv2.error):
        cv2.grabCut(image, np.zeros((60, 60), np.uint8), (0, 0, 60, 60),
                    np.zeros((1, 65)), np.zeros((1, 65)), 1,
                    cv2.GC_INIT_WITH_RECT)
    mask, status = grabcut_box_mask(image, (-5, -5, 70, 70))
    assert status == 'ok'
    assert _iou(mask, disk) > 0.8


def test_grabcut_failed_and_empty(monkeypatch):
    image = _noise_image(np.random.default_rng(4), 50, 50)
    box = (10, 10, 40, 30)
    ellipse = inscribed_ellipse_mask(50, 50, box)

    def raising(*args, **kwargs):
        raise cv2.error('boom')

    monkeypatch.setattr(pseudo_masks.cv2, 'grabCut', raising)
    mask, status = grabcut_box_mask(image, box)
    assert status == 'failed'
    np.testing.assert_array_equal(mask, ellipse)

    def all_background(img, mask, *args, **kwargs):
        mask[...] = cv2.GC_BGD

    monkeypatch.setattr(pseudo_masks.cv2, 'grabCut', all_background)
    mask, status = grabcut_box_mask(image, box)
    assert status == 'empty'
    np.testing.assert_array_equal(mask, ellipse)


def test_grabcut_input_checks():
    gray = np.full((40, 40), 30, np.uint8)
    gray[10:30, 10:30] = 220
    mask, status = grabcut_box_mask(gray, (5, 5, 35, 35))
    assert status == 'ok' and mask.shape == (40, 40)
    with pytest.raises(TypeError, match='uint8'):
        grabcut_box_mask(gray.astype(np.float32), (5, 5, 35, 35))
    with pytest.raises(ValueError, match='box'):
        grabcut_box_mask(gray, (5, 5, 35))


def test_pseudo_mask_for_box_replaces_poor_masks(monkeypatch):
    image = _noise_image(np.random.default_rng(5), 60, 60)
    box = (10, 10, 50, 50)

    def tiny_foreground(img, mask, *args, **kwargs):
        mask[...] = cv2.GC_BGD
        mask[20:24, 20:24] = cv2.GC_FGD  # box IoU 16 / 1600

    monkeypatch.setattr(pseudo_masks.cv2, 'grabCut', tiny_foreground)
    mask, status, iou, kept = pseudo_mask_for_box(image, box)
    assert status == 'ok' and not kept
    assert iou == pytest.approx(16 / 1600)
    np.testing.assert_array_equal(mask, inscribed_ellipse_mask(60, 60, box))


def _cluttered_scene(seed=0):
    """A red square object on a grey surround at the right, while most of
    the image (columns 0-149) has the object's colour: a global background
    model explains the object, a local one does not (the failure of plain
    GrabCut on real photos of cluttered scenes)."""
    rng = np.random.default_rng(seed)
    h, w = 120, 200

    def red(n):
        return np.clip(rng.normal((20, 20, 220), 10, (n, 3)), 0,
                       255).astype(np.uint8)

    image = np.clip(rng.normal(120, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    image[:, :150] = red(h * 150).reshape(h, 150, 3)
    obj = np.zeros((h, w), bool)
    obj[45:75, 165:195] = True
    image[obj] = red(int(obj.sum()))
    return image, obj, (160, 40, 199, 80)


def test_local_grabcut_uses_a_local_background_model():
    image, obj, box = _cluttered_scene()
    mask, status, box_iou, valid = grabcut_pseudo_mask(image, box, 'plain')
    assert status == 'empty' and not valid  # the paper's plain GrabCut
    mask, status, box_iou, valid = grabcut_pseudo_mask(image, box)
    assert (status, valid) == ('ok', True)  # default: mode='local'
    assert _iou(mask, obj) > 0.95
    # the crop only changes what GrabCut sees: the mask is image-sized and
    # nothing outside the box is foreground
    assert mask.shape == obj.shape and mask[:, :160].sum() == 0
    # at test time (ellipse when poor): the real mask instead of an ellipse
    final = pseudo_mask_for_box(image, box)[0]
    plain = pseudo_mask_for_box(image, box, mode='plain')[0]
    np.testing.assert_array_equal(
        plain, inscribed_ellipse_mask(*obj.shape, box))
    assert _iou(final, obj) > 0.95 > _iou(plain, obj)
    with pytest.raises(ValueError, match='mode'):
        grabcut_pseudo_mask(image, box, 'global')


def test_local_grabcut_retries_with_a_central_seed(monkeypatch):
    image, obj, box = _cluttered_scene(seed=1)
    # The seed's pixels are fixed foreground: a grey object whose centre has
    # the colour of its red surround loses the centre without the seed.
    rng = np.random.default_rng(2)
    red, grey = np.array((20, 20, 220)), np.array((120, 120, 120))
    holed = rng.normal(0, 8, image.shape) + red
    holed[40:80, 160:199] = grey + rng.normal(0, 8, (40, 39, 3))
    holed[54:66, 174:186] = red + rng.normal(0, 8, (12, 12, 3))
    holed = np.clip(holed, 0, 255).astype(np.uint8)
    cx, cy, hw, hh = 179.5, 60., 0.3 * 39 / 2, 0.3 * 40 / 2
    seed = inscribed_ellipse_mask(*obj.shape,
                                  (cx - hw, cy - hh, cx + hw, cy + hh)) > 0
    mask, status = grabcut_box_mask(holed, box, context_margin=0.5)
    assert seed.sum() > 20 and status == 'ok' and mask[seed].max() == 0
    mask, status = grabcut_box_mask(
        holed, box, context_margin=0.5, fg_seed_frac=0.3)
    assert status == 'ok' and mask[seed].min() == 1

    calls = []
    real = pseudo_masks.grabcut_box_mask

    def first_run_fails(img, bx, **kwargs):
        calls.append(kwargs)
        if kwargs.get('fg_seed_frac', 0) == 0:
            return inscribed_ellipse_mask(*img.shape[:2], bx), 'empty'
        return real(img, bx, **kwargs)

    monkeypatch.setattr(pseudo_masks, 'grabcut_box_mask', first_run_fails)
    mask, status, box_iou, valid = grabcut_pseudo_mask(image, box)
    assert [c.get('fg_seed_frac', 0) for c in calls] == [0, 0.3]
    assert all(c['context_margin'] == 0.5 for c in calls)
    assert (status, valid) == ('ok', True) and _iou(mask, obj) > 0.95
    # a good first result is not retried; plain never is
    calls.clear()
    monkeypatch.setattr(pseudo_masks, 'grabcut_box_mask', real)
    monkeypatch.setattr(
        pseudo_masks, 'grabcut_box_mask',
        lambda img, bx, **kw: calls.append(kw) or real(img, bx, **kw))
    grabcut_pseudo_mask(image, box)
    grabcut_pseudo_mask(image, box, 'plain')
    assert len(calls) == 2 and 'context_margin' not in calls[1]


# ------------------------------------------------------------------ tool


def _make_box_dataset(root, num_images=6, size=96, seed=0):
    """Images with two easy disks/squares, one tiny and one border box."""
    rng = np.random.default_rng(seed)
    img_dir = osp.join(root, 'images')
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    kinds = {}
    for i in range(num_images):
        image = _noise_image(rng, size, size)
        shapes = []
        radius = int(rng.integers(14, 20))
        center = (int(rng.integers(22, 32)), int(rng.integers(22, 60)))
        shapes.append(
            ('easy',
             _draw_disk(image, center, radius,
                        tuple(int(v) for v in rng.integers(150, 255, 3)))))
        sq = np.zeros((size, size), np.uint8)
        x0, y0 = int(rng.integers(52, 56)), int(rng.integers(10, 50))
        sq[y0:y0 + 30, x0:x0 + 26] = 1
        image[sq > 0] = tuple(int(v) for v in rng.integers(150, 255, 3))
        shapes.append(('easy', sq))
        tiny = np.zeros((size, size), np.uint8)
        tiny[size - 8:size - 3, 3:8] = 1  # 5 x 5
        image[tiny > 0] = (250, 250, 250)
        shapes.append(('tiny', tiny))
        edge = _draw_disk(image, (size - 2, size // 2), 10, (240, 40, 40))
        shapes.append(('border', edge))
        file_name = f'{i:04d}.png'
        cv2.imwrite(osp.join(img_dir, file_name), image)
        img_id = 100 + i
        images.append(
            dict(id=img_id, file_name=file_name, height=size, width=size))
        for kind, shape in shapes:
            rle = mask_utils.encode(np.asfortranarray(shape))
            x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
            if kind == 'easy':  # a few pixels of context like a real box
                x, y, w, h = x - 3, y - 3, w + 6, h + 6
            if kind == 'border':  # annotated box crossing the border
                w += 4
            rle['counts'] = rle['counts'].decode()
            ann_id = 1000 + len(annotations)
            kinds[ann_id] = kind
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=img_id,
                    category_id=1,
                    bbox=[x, y, w, h],
                    area=float(shape.sum()),
                    segmentation=rle,
                    iscrowd=0))
    coco = dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=1, name='thing')])
    ann_file = osp.join(root, 'boxes.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return ann_file, img_dir, kinds


def _run_tool(tool, ann_file, img_dir, out, *extra):
    return tool.main(
        [ann_file, img_dir, out, '--no-progress', '--iters', '3', *extra])


def test_tool_output(tool, tmp_path):
    ann_file, img_dir, kinds = _make_box_dataset(str(tmp_path))
    out = str(tmp_path / 'pseudo.json')
    stats = _run_tool(tool, ann_file, img_dir, out)
    assert not osp.exists(out + tool.JOURNAL_SUFFIX)  # removed when done

    src, res = COCO(ann_file), COCO(out)
    assert sorted(res.getImgIds()) == sorted(src.getImgIds())
    assert sorted(res.getAnnIds()) == sorted(src.getAnnIds())
    for ann in res.loadAnns(res.getAnnIds()):
        orig = src.anns[ann['id']]
        assert ann['bbox'] == orig['bbox']
        assert ann['image_id'] == orig['image_id']
        mask = res.annToMask(ann)
        assert ann['area'] == mask.sum()
        x, y, w, h = ann['bbox']
        box = (x, y, x + w, y + h)
        kind = kinds[ann['id']]
        if ann['pseudo_status'] == 'ok':
            assert ann['pseudo_iou'] == pytest.approx(
                mask_box_iou(mask, box), abs=1e-5)
        else:
            assert ann['pseudo_iou'] == 0.
            np.testing.assert_array_equal(mask,
                                          inscribed_ellipse_mask(96, 96, box))
        assert ann['valid'] == (
            ann['pseudo_status'] == 'ok' and ann['pseudo_iou'] >= 0.5)
        if kind == 'easy':
            assert ann['pseudo_status'] == 'ok' and ann['valid']
            assert ann['gt_mask_iou'] > 0.85
        elif kind == 'tiny':
            assert ann['pseudo_status'] == 'too_small' and not ann['valid']
        else:  # border: GrabCut runs on the clipped box
            assert ann['pseudo_status'] == 'ok'
            assert ann['gt_mask_iou'] > 0.6

    # Statistics: all tiny boxes (6) are small and invalid.
    assert stats['num_instances'] == 24
    assert stats['status']['too_small'] == 6
    assert stats['num_small_invalid'] >= 6
    assert stats['num_invalid'] == sum(not a['valid']
                                       for a in res.dataset['annotations'])
    assert stats['small_share_of_invalid'] == pytest.approx(
        stats['num_small_invalid'] / stats['num_invalid'])
    assert res.dataset['info']['pseudo_masks']['params']['iters'] == 3


def test_tool_valid_threshold_and_invalid_mask(tool, tmp_path):
    ann_file, img_dir, _ = _make_box_dataset(str(tmp_path), num_images=2)
    out = str(tmp_path / 'strict.json')
    _run_tool(tool, ann_file, img_dir, out, '--iou-thr', '1.01',
              '--invalid-mask', 'ellipse')
    res = COCO(out)
    for ann in res.dataset['annotations']:
        assert not ann['valid']  # nothing reaches IoU 1.01
        x, y, w, h = ann['bbox']
        np.testing.assert_array_equal(
            res.annToMask(ann),
            inscribed_ellipse_mask(96, 96, (x, y, x + w, y + h)))


def test_tool_skip_if_current(tool, tmp_path):
    """--skip-if-current keeps an output of the same input and parameters
    and regenerates one written with other parameters (e.g. before a
    default changed) or from an older annotation file."""
    ann_file, img_dir, _ = _make_box_dataset(str(tmp_path), num_images=1)
    out = str(tmp_path / 'pseudo.json')
    _run_tool(tool, ann_file, img_dir, out, '--grabcut-mode', 'plain')
    first = osp.getmtime(out)
    assert _run_tool(tool, ann_file, img_dir, out, '--grabcut-mode',
                     'plain', '--skip-if-current') == dict(up_to_date=True)
    assert osp.getmtime(out) == first
    stats = _run_tool(tool, ann_file, img_dir, out, '--skip-if-current')
    assert stats['images_processed'] == 1  # other mode: regenerated
    with open(out) as f:
        params = json.load(f)['info']['pseudo_masks']['params']
    assert params['grabcut_mode'] == 'local'
    os.utime(ann_file, (first + 1e6, first + 1e6))  # newer annotations
    stats = _run_tool(tool, ann_file, img_dir, out, '--skip-if-current')
    assert stats['images_processed'] == 1


def test_tool_resume_after_interruption(tool, tmp_path, monkeypatch):
    ann_file, img_dir, _ = _make_box_dataset(str(tmp_path), num_images=6)
    reference = str(tmp_path / 'reference.json')
    _run_tool(tool, ann_file, img_dir, reference)

    out = str(tmp_path / 'pseudo.json')
    journal = out + tool.JOURNAL_SUFFIX
    original = tool.process_image
    calls = []

    def crash_after_two(task):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(task['image_id'])
        return original(task)

    monkeypatch.setattr(tool, 'process_image', crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        _run_tool(tool, ann_file, img_dir, out)
    assert not osp.exists(out)  # no half-written output
    with open(journal) as f:
        lines = f.read().splitlines()
    assert len(lines) == 3  # header + 2 images
    # A kill in the middle of a write leaves half a line: it is dropped.
    with open(journal, 'a') as f:
        f.write('{"image_id": 105, "annotati')

    redone = []

    def counting(task):
        redone.append(task['image_id'])
        return original(task)

    monkeypatch.setattr(tool, 'process_image', counting)
    with pytest.warns(UserWarning, match='half-written'):
        stats = _run_tool(tool, ann_file, img_dir, out, '--keep-journal')
    assert len(redone) == 4 and not set(redone) & set(calls)
    assert stats['images_processed'] == 4 and stats['images_resumed'] == 2
    with open(out) as f, open(reference) as g:
        assert json.load(f)['annotations'] == json.load(g)['annotations']
    # Everything is in the journal now: a rerun processes nothing.
    redone.clear()
    _run_tool(tool, ann_file, img_dir, out)
    assert redone == []
    assert not osp.exists(journal)

    # A journal written with other parameters is refused.
    _run_tool(tool, ann_file, img_dir, out, '--keep-journal')
    with pytest.raises(ValueError, match='--restart'):
        _run_tool(tool, ann_file, img_dir, out, '--min-size', '4')
    redone.clear()
    _run_tool(tool, ann_file, img_dir, out, '--min-size', '4', '--restart')
    assert len(redone) == 6


def test_tool_resume_after_kill_with_workers(tool, tmp_path, monkeypatch):
    """Kill a 2-worker run (SIGKILL), then resume it in-process."""
    ann_file, img_dir, _ = _make_box_dataset(
        str(tmp_path), num_images=24, size=192, seed=1)
    out = str(tmp_path / 'pseudo.json')
    journal = out + tool.JOURNAL_SUFFIX
    proc = subprocess.Popen([
        sys.executable, TOOL, ann_file, img_dir, out, '--workers', '2',
        '--iters', '3', '--no-progress'
    ],
                            cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if osp.exists(journal):
                with open(journal) as f:
                    if f.read().count('\n') >= 3:  # header + 2 images
                        break
            time.sleep(0.005)
        assert proc.poll() is None, (
            'tool ended before it could be interrupted: ' +
            proc.stderr.read().decode()[-2000:])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert not osp.exists(out)
    with open(journal) as f:
        complete_lines = f.read().split('\n')[1:-1]  # header, unfinished
    done = [json.loads(line)['image_id'] for line in complete_lines]
    assert 2 <= len(done) < 24

    original = tool.process_image
    redone = []

    def counting(task):
        redone.append(task['image_id'])
        return original(task)

    monkeypatch.setattr(tool, 'process_image', counting)
    _run_tool(tool, ann_file, img_dir, out)
    res = COCO(out)
    assert len(res.dataset['annotations']) == 24 * 4
    # No finished image was redone (a record the kill truncated may be).
    assert not set(redone) & set(done)
    assert len(redone) + len(done) >= 24
    # Results do not depend on the number of workers or on resuming.
    fresh = str(tmp_path / 'fresh.json')
    _run_tool(tool, ann_file, img_dir, fresh)
    with open(fresh) as f:
        assert json.load(f)['annotations'] == res.dataset['annotations']


def test_tool_bad_input(tool, tmp_path):
    ann_file, img_dir, _ = _make_box_dataset(str(tmp_path), num_images=1)
    with pytest.raises(FileNotFoundError, match='missing'):
        _run_tool(tool, ann_file, str(tmp_path / 'nowhere'),
                  str(tmp_path / 'o.json'))
    with open(ann_file) as f:
        coco = json.load(f)
    del coco['annotations'][0]['bbox']
    bad = str(tmp_path / 'bad.json')
    with open(bad, 'w') as f:
        json.dump(coco, f)
    with pytest.raises(ValueError, match='annotation 1000'):
        _run_tool(tool, bad, img_dir, str(tmp_path / 'o.json'))
