"""A deterministic toy instance segmentation dataset in COCO format.

The toy set exists so that every method of mmext can be trained, tested and
benchmarked on a CPU in minutes, while still containing what the four papers
care about:

* several shape classes (``disk``, ``square``, ``triangle``, ``ring``) whose
  colour and texture are random, so the class is given by shape only; the ring
  has a hole, so masks are stored as RLE (polygons cannot express holes);
* huddled instances: with probability ``cluster_prob`` an object is placed
  next to, and partly occluding, an earlier one, often of another class;
* small (< 32x32), medium and large (> 96x96) objects in COCO's area ranges;
* textured, noisy backgrounds with low-frequency blobs.

Every annotation carries ``huddled``: True when its box overlaps the box of
another instance of the image at IoU > :data:`HUDDLED_BOX_IOU` (the crowded
instances MR R-CNN's paper targets; the toy benchmark reports mask AP on
them).

:data:`GENERATOR_VERSION` changes whenever the same arguments would give
different files, so that cached data and the toy benchmark's shared start
(both fingerprinted with it) are rebuilt.

Occlusion is resolved in drawing order: an instance's mask is what remains
visible after all later instances are drawn. Instances that end up mostly
hidden are dropped so that every annotation is a learnable target.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_util

from mmext.utils.atomic_io import atomic_write_json

TOY_CLASSES = ('disk', 'square', 'triangle', 'ring')
TOY_PALETTE = [(220, 20, 60), (0, 128, 255), (50, 205, 50), (255, 165, 0)]

#: Bumped whenever the same arguments would give different files.
#: 2: object sides 14-28 / 34-80 / 100-140 px with weights 0.25/0.5/0.25
#: (were 8-26 / 28-72 / 90-150 px with 0.4/0.42/0.18: 40% of the objects
#: were 8-26 px, and a 10 px triangle cannot be told from a 10 px disk at
#: stride 4, which capped every model's AP); the ``huddled`` flag.
GENERATOR_VERSION = 2

#: An instance is huddled when its box overlaps another one's at this IoU.
HUDDLED_BOX_IOU = 0.3

# Object side length ranges (pixels) and their sampling weights. With
# 128x128 images they give COCO-small, -medium and -large instances.
_SIZE_BINS = ((14, 28), (34, 80), (100, 140))
_SIZE_WEIGHTS = (0.25, 0.5, 0.25)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random colour field plus blobs and pixel noise, (H, W, 3)."""
    low = rng.uniform(40, 215, size=(4, 4, 3)).astype(np.float32)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(2, 6)):
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        radius = int(rng.integers(size // 10, size // 3))
        blob = np.zeros((size, size), np.float32)
        cv2.circle(blob, center, radius, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), radius / 2)
        img += blob[..., None] * rng.uniform(-40, 40, 3).astype(np.float32)
    return img


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random object fill: a base colour with stripes or speckle."""
    color = rng.uniform(0, 255, 3).astype(np.float32)
    fill = np.broadcast_to(color, (size, size, 3)).copy()
    kind = rng.integers(3)
    if kind == 0:  # stripes of random orientation and period
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(3, 9)
        yy, xx = np.mgrid[:size, :size].astype(np.float32)
        wave = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi /
                      period)
        fill += wave[..., None] * rng.uniform(15, 45)
    elif kind == 1:  # speckle
        fill += rng.normal(0, rng.uniform(10, 30), (size, size, 1))
    return fill


def _shape_mask(rng: np.random.Generator, label: int, size: int,
                center: Tuple[int, int], side: int) -> np.ndarray:
    """Binary (size, size) mask of one shape of class ``label``."""
    mask = np.zeros((size, size), np.uint8)
    cx, cy = center
    r = side / 2
    angle = rng.uniform(0, 2 * np.pi)
    if label == 0:  # disk (slightly elliptic)
        axes = (max(int(r), 1), max(int(r * rng.uniform(0.75, 1.0)), 1))
        cv2.ellipse(mask, (cx, cy), axes, float(np.degrees(angle)), 0, 360, 1,
                    -1)
    elif label == 1:  # rotated square
        rect = ((float(cx), float(cy)), (side * 0.8, side * 0.8),
                float(np.degrees(angle)))
        cv2.fillPoly(mask, [cv2.boxPoints(rect).astype(np.int32)], 1)
    elif label == 2:  # triangle
        pts = [(cx + r * np.cos(angle + k * 2 * np.pi / 3),
                cy + r * np.sin(angle + k * 2 * np.pi / 3)) for k in range(3)]
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    else:  # ring: disk with a hole
        outer = max(int(r), 2)
        cv2.circle(mask, (cx, cy), outer, 1, -1)
        cv2.circle(mask, (cx, cy), max(int(outer * 0.5), 1), 0, -1)
    return mask


def _sample_side(rng: np.random.Generator) -> int:
    low, high = _SIZE_BINS[rng.choice(len(_SIZE_BINS), p=_SIZE_WEIGHTS)]
    return int(rng.integers(low, high + 1))


def render_toy_image(
        rng: np.random.Generator,
        size: int = 128,
        max_objects: int = 6,
        cluster_prob: float = 0.5) -> Tuple[np.ndarray, List[Dict]]:
    """Render one image and its visible instance masks.

    Returns:
        tuple: the BGR image (H, W, 3) uint8 and a list of instances, each
        ``dict(label=int, mask=np.ndarray (H, W) uint8)``.
    """
    img = _background(rng, size)
    placed: List[Tuple[int, np.ndarray, Tuple[int, int], int]] = []
    for _ in range(int(rng.integers(2, max_objects + 1))):
        label = int(rng.integers(len(TOY_CLASSES)))
        side = _sample_side(rng)
        if placed and rng.random() < cluster_prob:
            # huddle next to a previous object: centres about one radius apart
            _, _, (px, py), pside = placed[int(rng.integers(len(placed)))]
            dist = (pside + side) / 2 * rng.uniform(0.45, 0.8)
            theta = rng.uniform(0, 2 * np.pi)
            cx, cy = px + dist * np.cos(theta), py + dist * np.sin(theta)
        else:
            cx, cy = rng.uniform(side / 3, size - side / 3, 2)
        center = (int(np.clip(cx, 0, size - 1)), int(np.clip(cy, 0, size - 1)))
        shape = _shape_mask(rng, label, size, center, side)
        if shape.sum() < 16:
            continue
        img[shape > 0] = _texture(rng, size)[shape > 0]
        placed.append((label, shape, center, side))

    instances = []
    occluder = np.zeros((size, size), bool)
    for label, shape, _, _ in reversed(placed):
        visible = (shape > 0) & ~occluder
        occluder |= shape > 0
        full_area = int(shape.sum())
        if visible.sum() >= max(12, 0.3 * full_area):
            instances.append(dict(label=label, mask=visible.astype(np.uint8)))
    instances.reverse()

    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), instances


def _coco_annotation(ann_id: int, image_id: int, label: int,
                     mask: np.ndarray) -> Dict:
    rle = mask_util.encode(np.asfortranarray(mask))
    x, y, w, h = (float(v) for v in mask_util.toBbox(rle))
    rle['counts'] = rle['counts'].decode('ascii')
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=label + 1,
        segmentation=rle,
        area=float(mask_util.area(rle)),
        bbox=[x, y, w, h],
        iscrowd=0)


def mark_huddled(annotations: List[Dict],
                 iou_thr: float = HUDDLED_BOX_IOU) -> None:
    """Set ``ann['huddled']`` for the annotations of one image, in place.

    An instance is huddled when its (visible) box overlaps the box of
    another instance at IoU > ``iou_thr``.
    """
    boxes = [a['bbox'] for a in annotations]
    if len(boxes) < 2:
        for ann in annotations:
            ann['huddled'] = False
        return
    ious = mask_util.iou(boxes, boxes, [0] * len(boxes))
    np.fill_diagonal(ious, 0)
    for ann, row in zip(annotations, ious):
        ann['huddled'] = bool((row > iou_thr).any())


def generate_toy_split(out_dir: str,
                       split: str,
                       num_images: int,
                       seed: int,
                       size: int = 128,
                       max_objects: int = 6) -> Dict:
    """Write the images of one split and return its COCO dict."""
    rng = np.random.default_rng(seed)
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        img, instances = render_toy_image(rng, size, max_objects)
        file_name = f'{split}_{image_id:05d}.png'
        if not cv2.imwrite(osp.join(img_dir, file_name), img):
            raise OSError(f'could not write {osp.join(img_dir, file_name)}')
        images.append(
            dict(id=image_id, file_name=file_name, height=size, width=size))
        image_anns = [
            _coco_annotation(
                len(annotations) + k + 1, image_id, inst['label'],
                inst['mask']) for k, inst in enumerate(instances)
        ]
        mark_huddled(image_anns)
        annotations.extend(image_anns)
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(TOY_CLASSES)
    ]
    return dict(
        info=dict(
            description=f'mmext toy instance set ({split}, seed {seed})'),
        images=images,
        annotations=annotations,
        categories=categories)


def generate_toy_dataset(out_dir: str,
                         num_train: int = 1200,
                         num_val: int = 300,
                         seed: int = 0,
                         size: int = 128,
                         max_objects: int = 6) -> Dict[str, str]:
    """Write the toy dataset into ``out_dir``.

    Layout: ``{out_dir}/{train,val}/*.png`` and
    ``{out_dir}/annotations/instances_{train,val}.json``. The same arguments
    always give byte-identical files.

    Returns:
        dict: split name -> annotation file path.
    """
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    ann_files = {}
    for offset, (split, num) in enumerate((('train', num_train),
                                           ('val', num_val))):
        coco = generate_toy_split(out_dir, split, num, seed * 1000 + offset,
                                  size, max_objects)
        ann_file = osp.join(ann_dir, f'instances_{split}.json')
        atomic_write_json(ann_file, coco)
        ann_files[split] = ann_file
    return ann_files


def toy_dataset_summary(ann_file: str,
                        small: Optional[float] = 32**2,
                        large: Optional[float] = 96**2) -> Dict[str, int]:
    """Count images, instances and COCO size groups of a toy split."""
    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    areas = np.array([a['area'] for a in coco['annotations']])
    return dict(
        images=len(coco['images']),
        instances=len(areas),
        small=int((areas < small).sum()),
        medium=int(((areas >= small) & (areas < large)).sum()),
        large=int((areas >= large).sum()),
        huddled=sum(bool(a.get('huddled')) for a in coco['annotations']))
