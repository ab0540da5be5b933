"""Convert PASCAL VOC 2012 + SBD instance masks to COCO-format json.

Writes the two splits used by weakly supervised instance segmentation on
PASCAL VOC (Khoreva et al. 2017, Zhou et al. 2018, Liao et al.):

* ``train_aug`` (10,582 images with the official files): SBD ``train`` +
  SBD ``val`` + VOC ``train``, minus VOC ``val``;
* ``val`` (1,449 images): VOC 2012 segmentation ``val``.

The split is computed from the split files present, so it is reproducible
from the original archives::

    python tools/dataset_converters/voc_sbd_to_coco.py \\
        --voc-root data/VOCdevkit/VOC2012 \\
        --sbd-root data/benchmark_RELEASE/dataset \\
        --out-dir data/voc_sbd/annotations
    ln -s $(realpath data/VOCdevkit/VOC2012/JPEGImages) data/voc_sbd/

(the layout ``configs/weakly/*_voc-sbd.py`` expect: ``data/voc_sbd/``
with ``annotations/`` and ``JPEGImages/``).

Inputs:

* ``--voc-root``: ``ImageSets/Segmentation/{train,val}.txt``,
  ``SegmentationObject/<name>.png`` (instance index per pixel) and
  ``SegmentationClass/<name>.png`` (class index per pixel). Both PNGs are
  palette-indexed; index 0 is background and 255 is *void* (object
  boundaries and ambiguous regions). A ``VOC2012`` sub-folder is entered
  automatically.
* ``--sbd-root``: ``train.txt``, ``val.txt``, ``inst/<name>.mat``
  (``GTinst.Segmentation``: instance index per pixel, ``GTinst.Categories``:
  class of each instance) and ``cls/<name>.mat`` (``GTcls.Segmentation``:
  class index per pixel). A ``dataset`` sub-folder is entered automatically.

Outputs in ``--out-dir``: ``instances_train_aug.json``,
``instances_val.json`` and the image lists ``train_aug.txt``, ``val.txt``.

Format choices:

* Categories have ids 1..20 in the standard VOC order (``aeroplane`` ..
  ``tvmonitor``, the order of ``mmdet.evaluation.voc_classes()``).
* One annotation per instance: ``segmentation`` is an uncompressed-string
  COCO RLE (``{'size': [h, w], 'counts': str}``), ``bbox`` the tight
  ``[x, y, w, h]`` of the mask, ``area`` its pixel count, ``iscrowd`` 0.
  Void pixels are never part of an instance mask.
* Void pixels are recorded per image: each image entry of an image
  annotated by VOC carries ``void_rle``, the RLE of its void (255) pixels
  (possibly empty). ``VOCInstanceMetric`` removes these pixels from both
  masks before computing an IoU. SBD has no void label, so SBD-annotated
  images have no ``void_rle``. Extra keys are ignored by pycocotools and by
  mmdet's ``CocoDataset``.
* Image ids are the VOC names as integers (``2008_000123`` -> 2008000123),
  so ids agree across splits and tools; ``file_name`` is ``<name>.jpg``,
  relative to ``VOC2012/JPEGImages`` (which holds every SBD image too).
* A ``train_aug`` image in both VOC ``train`` and SBD is annotated from VOC
  by default (finer masks, void marked); ``--prefer sbd`` takes SBD's.
* The class of a VOC instance is the most frequent non-background,
  non-void ``SegmentationClass`` index over its pixels; an SBD instance's
  class is ``GTinst.Categories`` (``GTcls.Segmentation`` gives it when
  ``Categories`` is missing or does not match the instances).
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
import warnings
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_utils

try:
    from mmext.utils.atomic_io import atomic_write_json
except ImportError:  # run from a checkout without mmext installed
    sys.path.insert(0,
                    osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
    from mmext.utils.atomic_io import atomic_write_json

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')
VOID_INDEX = 255
_VOC_NAME = re.compile(r'^(\d{4})_(\d{6})$')


def voc_palette(num: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map, (num, 3) uint8 RGB (index 255 = void)."""
    palette = np.zeros((num, 3), dtype=np.uint8)
    for index in range(num):
        r = g = b = 0
        c = index
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[index] = (r, g, b)
    return palette


def read_indexed_png(path: str) -> np.ndarray:
    """Read a palette-indexed VOC PNG as its (H, W) uint8 index map.

    PIL returns the indices of a palette ('P') image directly. Without PIL,
    OpenCV expands the palette to colours, which are mapped back through the
    VOC colour map.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation PNG not found: {path}')
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - PIL comes with matplotlib
        Image = None
    if Image is not None:
        with Image.open(path) as img:
            if img.mode in ('P', 'L'):
                return np.array(img, dtype=np.uint8)
            rgb = np.array(img.convert('RGB'))
    else:  # pragma: no cover
        import cv2
        arr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ValueError(f'cannot decode PNG: {path}')
        if arr.ndim == 2:
            return arr.astype(np.uint8)
        rgb = arr[:, :, 2::-1]
    # Colour image: map each colour back to its palette index.
    palette = voc_palette().astype(np.int64)
    codes = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    lut = {int(code): index for index, code in enumerate(codes)}
    rgb = rgb.astype(np.int64)
    pixel_codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    uniq, inverse = np.unique(pixel_codes, return_inverse=True)
    unknown = [int(u) for u in uniq if int(u) not in lut]
    if unknown:
        raise ValueError(f'{path}: colours not in the VOC palette: '
                         f'{["#%06x" % u for u in unknown[:5]]}')
    indices = np.array([lut[int(u)] for u in uniq], dtype=np.uint8)
    return indices[inverse].reshape(pixel_codes.shape)


def _mat_field(struct, name: str):
    """A field of a MATLAB struct as loaded by ``scipy.io.loadmat``."""
    if hasattr(struct, '_fieldnames'):  # struct_as_record=False
        return getattr(struct, name)  # AttributeError when absent
    return struct[name]  # numpy record (ValueError when absent)


def read_sbd_mat(path: str, struct_name: str) -> Dict[str, np.ndarray]:
    """Read ``GTinst``/``GTcls`` from an SBD .mat file.

    Returns:
        dict: ``segmentation`` (H, W) int array and, when present,
        ``categories`` (N,) int array.
    """
    from scipy.io import loadmat
    if not osp.isfile(path):
        raise FileNotFoundError(f'SBD annotation not found: {path}')
    mat = loadmat(path, squeeze_me=True, struct_as_record=False)
    if struct_name not in mat:
        raise KeyError(f'{path}: no struct {struct_name!r} (found '
                       f'{sorted(k for k in mat if not k.startswith("__"))})')
    struct = mat[struct_name]
    try:
        seg = np.asarray(_mat_field(struct, 'Segmentation'))
    except (AttributeError, KeyError, ValueError) as e:
        raise KeyError(
            f'{path}: {struct_name} has no field Segmentation') from e
    if seg.ndim != 2:
        raise ValueError(f'{path}: {struct_name}.Segmentation must be 2-D, '
                         f'got shape {seg.shape}')
    out = dict(segmentation=seg.astype(np.int64))
    try:
        cats = _mat_field(struct, 'Categories')
    except (AttributeError, KeyError, ValueError):
        cats = None
    if cats is not None:
        out['categories'] = np.atleast_1d(np.asarray(cats)).reshape(-1).astype(
            np.int64)
    return out


def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE of a binary mask with a json-serialisable ``counts``."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def instances_to_annotations(inst_map: np.ndarray, class_of: Dict[int, int],
                             source: str) -> List[dict]:
    """Annotations (without ids) of the instances in an index map.

    Args:
        inst_map (np.ndarray): (H, W) instance index per pixel; 0 is
            background and 255 void.
        class_of (dict): Instance index -> VOC class index 1..20.
        source (str): File name used in warnings.
    """
    anns = []
    for inst_id in np.unique(inst_map):
        inst_id = int(inst_id)
        if inst_id in (0, VOID_INDEX):
            continue
        label = class_of.get(inst_id)
        if label is None or not 1 <= label <= len(VOC_CLASSES):
            warnings.warn(f'{source}: instance {inst_id} has no valid class '
                          f'({label}); skipped')
            continue
        mask = inst_map == inst_id
        rle = encode_rle(mask)
        anns.append(
            dict(
                category_id=int(label),
                segmentation=rle,
                area=float(mask_utils.area(rle)),
                bbox=[float(v) for v in mask_utils.toBbox(rle)],
                iscrowd=0))
    return anns


def convert_voc_image(voc_root: str, name: str) -> Tuple[dict, List[dict]]:
    """Image entry (without id) and annotations of one VOC image."""
    obj_path = osp.join(voc_root, 'SegmentationObject', f'{name}.png')
    cls_path = osp.join(voc_root, 'SegmentationClass', f'{name}.png')
    inst_map = read_indexed_png(obj_path)
    cls_map = read_indexed_png(cls_path)
    if inst_map.shape != cls_map.shape:
        raise ValueError(f'{obj_path} has shape {inst_map.shape} but '
                         f'{cls_path} has {cls_map.shape}')
    class_of = {}
    for inst_id in np.unique(inst_map):
        inst_id = int(inst_id)
        if inst_id in (0, VOID_INDEX):
            continue
        labels = cls_map[inst_map == inst_id]
        labels = labels[(labels > 0) & (labels != VOID_INDEX)]
        if labels.size:
            class_of[inst_id] = int(np.bincount(labels).argmax())
    anns = instances_to_annotations(inst_map, class_of, obj_path)
    void = (inst_map == VOID_INDEX) | (cls_map == VOID_INDEX)
    height, width = inst_map.shape
    image = dict(
        file_name=f'{name}.jpg',
        height=int(height),
        width=int(width),
        void_rle=encode_rle(void),
        source='voc')
    return image, anns


def convert_sbd_image(sbd_root: str, name: str) -> Tuple[dict, List[dict]]:
    """Image entry (without id) and annotations of one SBD image."""
    inst_path = osp.join(sbd_root, 'inst', f'{name}.mat')
    cls_path = osp.join(sbd_root, 'cls', f'{name}.mat')
    inst = read_sbd_mat(inst_path, 'GTinst')
    inst_map = inst['segmentation']
    inst_ids = [
        int(i) for i in np.unique(inst_map) if i not in (0, VOID_INDEX)
    ]
    cats = inst.get('categories')
    if cats is not None and all(1 <= i <= len(cats) for i in inst_ids):
        class_of = {i: int(cats[i - 1]) for i in inst_ids}
    else:
        # Categories missing or inconsistent: take classes from GTcls.
        cls_map = read_sbd_mat(cls_path, 'GTcls')['segmentation']
        if cls_map.shape != inst_map.shape:
            raise ValueError(f'{inst_path} has shape {inst_map.shape} but '
                             f'{cls_path} has {cls_map.shape}')
        class_of = {}
        for i in inst_ids:
            labels = cls_map[inst_map == i]
            labels = labels[(labels > 0) & (labels != VOID_INDEX)]
            if labels.size:
                class_of[i] = int(np.bincount(labels).argmax())
    anns = instances_to_annotations(inst_map, class_of, inst_path)
    height, width = inst_map.shape
    image = dict(
        file_name=f'{name}.jpg',
        height=int(height),
        width=int(width),
        source='sbd')
    void = inst_map == VOID_INDEX
    if void.any():
        image['void_rle'] = encode_rle(void)
    return image, anns


def read_split(path: str) -> List[str]:
    """Image names of a split file (one per line)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path) as f:
        return [line.strip().split()[0] for line in f if line.strip()]


def _resolve_root(root: str, marker: str, sub: str, what: str) -> str:
    """``root`` or ``root/sub`` - whichever contains ``marker``."""
    if osp.exists(osp.join(root, marker)):
        return root
    if osp.exists(osp.join(root, sub, marker)):
        return osp.join(root, sub)
    raise FileNotFoundError(
        f'{what}: {osp.join(root, marker)} not found (nor under {sub}/)')


def compute_splits(voc_root: str,
                   sbd_root: str) -> Tuple[List[str], List[str], set]:
    """``train_aug`` and ``val`` names, and the VOC ``train`` names."""
    seg_sets = osp.join(voc_root, 'ImageSets', 'Segmentation')
    voc_train = read_split(osp.join(seg_sets, 'train.txt'))
    voc_val = read_split(osp.join(seg_sets, 'val.txt'))
    sbd_train = read_split(osp.join(sbd_root, 'train.txt'))
    sbd_val = read_split(osp.join(sbd_root, 'val.txt'))
    val_set = set(voc_val)
    train_aug = sorted((set(sbd_train) | set(sbd_val) | set(voc_train)) -
                       val_set)
    return train_aug, sorted(val_set), set(voc_train)


def image_id_map(names: Sequence[str]) -> Dict[str, int]:
    """Integer image ids: the VOC name's digits, or 1.. when not VOC names."""
    if all(_VOC_NAME.match(n) for n in names):
        return {n: int(n.replace('_', '')) for n in names}
    return {n: i + 1 for i, n in enumerate(sorted(names))}


def _convert_one(task: Tuple[str, str, str]) -> Tuple[dict, List[dict]]:
    source, root, name = task
    if source == 'voc':
        return convert_voc_image(root, name)
    return convert_sbd_image(root, name)


def _progress(iterable, total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, total=total, desc=desc)


def build_coco(tasks: List[Tuple[str, str, str]],
               ids: Dict[str, int],
               workers: int = 1,
               desc: str = '') -> dict:
    """COCO dict of the images described by ``(source, root, name)`` tasks."""
    images, annotations = [], []
    if workers > 1:
        pool = Pool(workers)
        results = pool.imap(_convert_one, tasks, chunksize=8)
    else:
        pool, results = None, map(_convert_one, tasks)
    try:
        for (_, _, name), (image,
                           anns) in zip(tasks,
                                        _progress(results, len(tasks), desc)):
            image = dict(id=ids[name], **image)
            images.append(image)
            for ann in anns:
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=image['id'], **ann))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    categories = [
        dict(id=i + 1, name=name, supercategory='none')
        for i, name in enumerate(VOC_CLASSES)
    ]
    info = dict(
        description='PASCAL VOC 2012 + SBD instances (mmext voc_sbd_to_coco)',
        void=('image["void_rle"]: RLE of void (255) pixels of VOC-annotated '
              'images; ignored by VOCInstanceMetric'))
    return dict(
        info=info,
        images=images,
        annotations=annotations,
        categories=categories)


def _check_files_exist(tasks: List[Tuple[str, str, str]]) -> None:
    missing = []
    for source, root, name in tasks:
        if source == 'voc':
            paths = [
                osp.join(root, 'SegmentationObject', f'{name}.png'),
                osp.join(root, 'SegmentationClass', f'{name}.png')
            ]
        else:
            paths = [osp.join(root, 'inst', f'{name}.mat')]
        missing += [p for p in paths if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} annotation files are missing, e.g. '
            f'{missing[:5]}')


def convert(
    voc_root: str,
    sbd_root: str,
    out_dir: str,
    prefer: str = 'voc',
    workers: int = 1,
    splits: Sequence[str] = ('train_aug', 'val')
) -> Dict[str, dict]:
    """Convert and write the splits; returns ``{split: coco_dict}``."""
    if prefer not in ('voc', 'sbd'):
        raise ValueError(f"prefer must be 'voc' or 'sbd', got {prefer!r}")
    voc_root = _resolve_root(voc_root, 'ImageSets', 'VOC2012', '--voc-root')
    sbd_root = _resolve_root(sbd_root, 'train.txt', 'dataset', '--sbd-root')
    train_aug, val, voc_train = compute_splits(voc_root, sbd_root)
    names = {'train_aug': train_aug, 'val': val}
    ids = image_id_map(sorted(set(train_aug) | set(val)))

    def tasks_of(split: str) -> List[Tuple[str, str, str]]:
        if split == 'val':
            return [('voc', voc_root, n) for n in val]
        tasks = []
        for n in train_aug:
            in_sbd = osp.isfile(osp.join(sbd_root, 'inst', f'{n}.mat'))
            use_voc = n in voc_train and (prefer == 'voc' or not in_sbd)
            tasks.append(('voc', voc_root, n) if use_voc else ('sbd', sbd_root,
                                                               n))
        return tasks

    os.makedirs(out_dir, exist_ok=True)
    outputs = {}
    for split in splits:
        if split not in names:
            raise KeyError(f'unknown split {split!r}; use train_aug or val')
        tasks = tasks_of(split)
        _check_files_exist(tasks)
        coco = build_coco(tasks, ids, workers=workers, desc=split)
        atomic_write_json(osp.join(out_dir, f'instances_{split}.json'), coco)
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
            f.write(''.join(f'{n}\n' for n in names[split]))
        print(f'{split}: {len(coco["images"])} images, '
              f'{len(coco["annotations"])} instances -> '
              f'{osp.join(out_dir, f"instances_{split}.json")}')
        outputs[split] = coco
    return outputs


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert PASCAL VOC 2012 + SBD instance masks to COCO '
        'json (train_aug / val splits).')
    parser.add_argument(
        '--voc-root', required=True, help='VOCdevkit/VOC2012 folder')
    parser.add_argument(
        '--sbd-root',
        required=True,
        help='SBD folder with train.txt, val.txt, inst/, cls/ '
        '(benchmark_RELEASE/dataset)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--prefer',
        choices=['voc', 'sbd'],
        default='voc',
        help='annotation source for train_aug images in both VOC train and '
        'SBD')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['train_aug', 'val'],
        choices=['train_aug', 'val'])
    parser.add_argument('--workers', type=int, default=1)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    return convert(
        args.voc_root,
        args.sbd_root,
        args.out_dir,
        prefer=args.prefer,
        workers=args.workers,
        splits=args.splits)


if __name__ == '__main__':
    main()
