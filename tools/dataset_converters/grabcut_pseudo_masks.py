"""Generate GrabCut pseudo masks from box annotations (COCO json in and out).

The first step of the weakly supervised hybrid networks (Liao et al.): every
box gets a GrabCut mask (OpenCV ``cv2.grabCut``, rectangle initialisation,
``--iters`` iterations) and a validity flag. ``--grabcut-mode local``
(default) runs GrabCut on the box plus ``--context-margin`` and retries a
poor result with a central foreground seed (``--fg-seed``); ``plain`` runs
it once on the whole image (see :func:`mmext.datasets.pseudo_masks.
grabcut_pseudo_mask`)::

    python tools/dataset_converters/grabcut_pseudo_masks.py \\
        data/voc_sbd/annotations/instances_train_aug.json \\
        data/VOCdevkit/VOC2012/JPEGImages \\
        data/voc_sbd/annotations/instances_train_aug_grabcut.json \\
        --workers 8

Output: a copy of the input json (same images, categories, annotation ids
and boxes) whose annotations carry

* ``segmentation``: the pseudo mask as COCO RLE; ``area``: its pixel count;
* ``pseudo_status``: ``'ok'``, ``'too_small'`` (clipped box side below
  ``--min-size``, GrabCut not run), ``'failed'`` (OpenCV raised) or
  ``'empty'`` (GrabCut found no foreground). For every status but ``'ok'``
  the mask is the box's inscribed ellipse;
* ``pseudo_iou``: IoU between the tight box of GrabCut's mask and the
  annotation box (0 when GrabCut produced no mask);
* ``valid``: ``pseudo_status == 'ok' and pseudo_iou >= --iou-thr`` (paper:
  0.5). The ellipse fallbacks are therefore never valid: they go to the
  small-object branch, like the masks GrabCut got wrong;
* ``gt_mask_iou`` (only when the input annotation has a ``segmentation``):
  mask IoU between the pseudo mask and that ground-truth mask, for analysis.

With ``--invalid-mask ellipse`` an ``'ok'`` but invalid GrabCut mask is also
replaced by the inscribed ellipse (default ``grabcut`` keeps it).
Crowd annotations are processed like any other.

Statistics (printed and stored in ``info['pseudo_masks']['stats']``) follow
the paper's Fig. 1 analysis: an instance is *small* when its box area
``w * h < 64 * 64`` (``--small-area``), else *large*; reported are the
invalid share within small and within large instances, the share of small
instances among the invalid ones and the overall invalid rate.

Parallelism and resuming: images are distributed over ``--workers``
processes (``multiprocessing.Pool.imap_unordered``). The main process
appends each finished image to a journal ``<out>.journal.jsonl`` (one json
line, flushed and fsync'ed), so an interrupted run resumes where it stopped
(a half-written last line is discarded). The output is written to a
temporary file and moved into place with ``os.replace``, so it is never
half-written; the journal is removed afterwards unless ``--keep-journal``.
A journal written with different parameters is refused (``--restart``
discards it).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
import warnings
from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pycocotools.mask as mask_utils

try:
    from mmext.datasets.pseudo_masks import (grabcut_pseudo_mask,
                                             inscribed_ellipse_mask)
    from mmext.utils.atomic_io import atomic_write_json
except ImportError:  # run from a checkout without mmext installed
    sys.path.insert(0,
                    osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
    from mmext.datasets.pseudo_masks import (grabcut_pseudo_mask,
                                             inscribed_ellipse_mask)
    from mmext.utils.atomic_io import atomic_write_json

JOURNAL_SUFFIX = '.journal.jsonl'
JOURNAL_MAGIC = 'grabcut_pseudo_masks journal v1'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='GrabCut pseudo masks from COCO box annotations.')
    parser.add_argument('ann_file', help='input COCO json with boxes')
    parser.add_argument('img_dir', help='folder the file_names refer to')
    parser.add_argument('out', help='output COCO json')
    parser.add_argument(
        '--iters', type=int, default=5, help='GrabCut iterations')
    parser.add_argument(
        '--min-size',
        type=int,
        default=8,
        help='boxes with a side below this (pixels) get the ellipse')
    parser.add_argument(
        '--iou-thr',
        type=float,
        default=0.5,
        help='valid when IoU(mask box, box) >= this')
    parser.add_argument(
        '--grabcut-mode',
        choices=['local', 'plain'],
        default='local',
        help='local: GrabCut on the box plus a margin, retried with a '
        'central foreground seed when poor (default); plain: once on the '
        'whole image')
    parser.add_argument(
        '--context-margin',
        type=float,
        default=0.5,
        help='local mode: margin around the box, as a fraction of its side')
    parser.add_argument(
        '--fg-seed',
        type=float,
        default=0.3,
        help='local mode: size of the retry\'s central foreground seed, as '
        'a fraction of the box\'s half sides')
    parser.add_argument(
        '--small-area',
        type=float,
        default=64 * 64,
        help='box area (w*h) below which an instance counts as small in '
        'the statistics')
    parser.add_argument(
        '--invalid-mask',
        choices=['grabcut', 'ellipse'],
        default='grabcut',
        help='mask stored for an ok-but-invalid GrabCut result')
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument(
        '--restart',
        action='store_true',
        help='discard an existing journal instead of resuming')
    parser.add_argument(
        '--keep-journal',
        action='store_true',
        help='keep the journal after the output is written')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--skip-if-current',
        action='store_true',
        help='do nothing when OUT exists, is newer than ANN_FILE and was '
        'written with the same parameters (its info.pseudo_masks.params); '
        'otherwise (re)generate it')
    return parser.parse_args(argv)


# ----------------------------------------------------------------- workers


def _gt_mask(segmentation, height: int, width: int) -> Optional[np.ndarray]:
    """Decode a COCO segmentation (polygons or RLE) to (H, W) uint8."""
    if not segmentation:
        return None
    if isinstance(segmentation, list):  # polygons
        rles = mask_utils.frPyObjects(segmentation, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(segmentation.get('counts'), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.


def _encode(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def process_image(task: dict) -> dict:
    """GrabCut all boxes of one image (runs in a worker process).

    Args:
        task (dict): ``image_id``, ``path``, ``height``, ``width``,
            ``anns`` (list of ``(ann_id, [x, y, w, h], segmentation)``) and
            ``params`` (``iters``, ``min_size``, ``iou_thr``,
            ``invalid_mask``, ``grabcut_mode``, ``context_margin``,
            ``fg_seed``).

    Returns:
        dict: ``image_id`` and ``annotations``, a list of the new fields
        per annotation id.
    """
    params = task['params']
    image = cv2.imread(task['path'], cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'cannot read image {task["path"]}')
    height, width = image.shape[:2]
    if (height, width) != (task['height'], task['width']):
        raise ValueError(
            f'{task["path"]} is {width}x{height} but the annotation file '
            f'says {task["width"]}x{task["height"]} (image id '
            f'{task["image_id"]})')
    results = []
    for ann_id, (x, y, w, h), segmentation in task['anns']:
        box = (x, y, x + w, y + h)
        mask, status, iou, valid = grabcut_pseudo_mask(
            image,
            box,
            mode=params['grabcut_mode'],
            iters=params['iters'],
            min_size=params['min_size'],
            iou_thr=params['iou_thr'],
            context_margin=params['context_margin'],
            fg_seed_frac=params['fg_seed'])
        if (status == 'ok' and not valid
                and params['invalid_mask'] == 'ellipse'):
            mask = inscribed_ellipse_mask(height, width, box)
        rle = _encode(mask)
        result = dict(
            id=ann_id,
            segmentation=rle,
            area=float(mask_utils.area(rle)),
            pseudo_status=status,
            pseudo_iou=float(iou),
            valid=bool(valid))
        gt = _gt_mask(segmentation, height, width)
        if gt is not None:
            result['gt_mask_iou'] = _mask_iou(mask, gt)
        results.append(result)
    return dict(image_id=task['image_id'], annotations=results)


def _init_worker() -> None:
    # One OpenCV thread per process: the pool provides the parallelism.
    cv2.setNumThreads(1)


# ----------------------------------------------------------------- journal


def _params_of(args: argparse.Namespace) -> dict:
    return dict(
        iters=args.iters,
        min_size=args.min_size,
        iou_thr=args.iou_thr,
        invalid_mask=args.invalid_mask,
        grabcut_mode=args.grabcut_mode,
        context_margin=args.context_margin,
        fg_seed=args.fg_seed)


def _is_current(out: str, ann_file: str, params: dict) -> bool:
    """Whether ``out`` was written from ``ann_file`` (not older than it)
    with ``params``; a file of other parameters (e.g. written before a
    default changed) is not current."""
    if not osp.isfile(out) or osp.getmtime(out) < osp.getmtime(ann_file):
        return False
    try:
        with open(out) as f:
            recorded = json.load(f)['info']['pseudo_masks']['params']
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return recorded == params


def read_journal(path: str, params: dict) -> Dict[int, dict]:
    """Finished images of a journal; drops a truncated last line.

    Raises:
        ValueError: If the journal was written with other parameters or a
            line other than the last is corrupt.
    """
    done = {}
    if not osp.exists(path):
        return done
    with open(path, 'rb') as f:
        data = f.read()
    good_end = 0
    lines = data.split(b'\n')
    for lineno, line in enumerate(lines):
        is_last = lineno == len(lines) - 1
        if not line.strip():
            if not is_last:
                good_end += len(line) + 1
            continue
        try:
            record = json.loads(line)
            complete = not is_last  # a line is complete once its \n is there
        except ValueError:
            record, complete = None, False
        if not complete:
            if not is_last:
                raise ValueError(f'{path}: corrupt line {lineno + 1}; delete '
                                 'the journal or rerun with --restart')
            warnings.warn(f'{path}: discarding a half-written last line '
                          '(interrupted run)')
            break
        if lineno == 0:
            if record.get('journal') != JOURNAL_MAGIC:
                raise ValueError(f'{path} is not a grabcut_pseudo_masks '
                                 'journal; delete it or use --restart')
            if record.get('params') != params:
                raise ValueError(
                    f'{path} was written with parameters '
                    f'{record.get("params")}, not {params}; rerun with '
                    '--restart to discard it')
        else:
            done[record['image_id']] = record
        good_end += len(line) + 1
    if good_end < len(data):
        with open(path, 'r+b') as f:
            f.truncate(good_end)
    return done


class Journal:
    """Append-only json-lines journal, durable after every record."""

    def __init__(self, path: str, params: dict) -> None:
        self.path = path
        new = not osp.exists(path) or osp.getsize(path) == 0
        self._file = open(path, 'a')
        if new:
            self.write(dict(journal=JOURNAL_MAGIC, params=params))

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + '\n')
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


# ------------------------------------------------------------------- stats


def pseudo_mask_stats(annotations: Iterable[dict],
                      small_area: float = 64 * 64) -> dict:
    """Valid/invalid statistics by size (paper, Fig. 1 analysis).

    Args:
        annotations (Iterable[dict]): Output annotations (``bbox``,
            ``valid``, ``pseudo_status``, optional ``gt_mask_iou``).
        small_area (float): Instances with box ``w * h < small_area`` are
            small.
    """
    counts = Counter()
    statuses = Counter()
    gt_ious = defaultdict(list)
    for ann in annotations:
        w, h = ann['bbox'][2:4]
        size = 'small' if w * h < small_area else 'large'
        validity = 'valid' if ann['valid'] else 'invalid'
        counts[size, validity] += 1
        statuses[ann['pseudo_status']] += 1
        if 'gt_mask_iou' in ann:
            gt_ious[validity].append(ann['gt_mask_iou'])
            gt_ious['all'].append(ann['gt_mask_iou'])

    def ratio(num: int, den: int) -> Optional[float]:
        return num / den if den else None

    small = counts['small', 'valid'] + counts['small', 'invalid']
    large = counts['large', 'valid'] + counts['large', 'invalid']
    invalid = counts['small', 'invalid'] + counts['large', 'invalid']
    stats = dict(
        num_instances=small + large,
        num_valid=small + large - invalid,
        num_invalid=invalid,
        invalid_ratio=ratio(invalid, small + large),
        num_small=small,
        num_small_invalid=counts['small', 'invalid'],
        invalid_ratio_in_small=ratio(counts['small', 'invalid'], small),
        num_large=large,
        num_large_invalid=counts['large', 'invalid'],
        invalid_ratio_in_large=ratio(counts['large', 'invalid'], large),
        small_share_of_invalid=ratio(counts['small', 'invalid'], invalid),
        small_area=small_area,
        status=dict(sorted(statuses.items())))
    if gt_ious:
        stats['mean_gt_mask_iou'] = {
            k: float(np.mean(v))
            for k, v in sorted(gt_ious.items())
        }
    return stats


def format_stats(stats: dict) -> str:

    def pct(v: Optional[float]) -> str:
        return 'n/a' if v is None else f'{100 * v:.2f}%'

    side = int(round(stats['small_area']**0.5))
    lines = [
        f'instances: {stats["num_instances"]}  valid: {stats["num_valid"]}'
        f'  invalid: {stats["num_invalid"]} '
        f'({pct(stats["invalid_ratio"])})',
        f'small (box area < {side}x{side}): {stats["num_small"]}, invalid '
        f'{stats["num_small_invalid"]} '
        f'({pct(stats["invalid_ratio_in_small"])} of small)',
        f'large: {stats["num_large"]}, invalid '
        f'{stats["num_large_invalid"]} '
        f'({pct(stats["invalid_ratio_in_large"])} of large)',
        f'small share of invalid: {pct(stats["small_share_of_invalid"])}',
        f'GrabCut status: {stats["status"]}',
    ]
    if 'mean_gt_mask_iou' in stats:
        ious = ', '.join(f'{k} {v:.3f}'
                         for k, v in stats['mean_gt_mask_iou'].items())
        lines.append(f'mean mask IoU with GT masks: {ious}')
    return '\n'.join(lines)


# -------------------------------------------------------------------- main


def _load_tasks(coco: dict, ann_file: str, img_dir: str,
                params: dict) -> Tuple[List[dict], Dict[int, dict]]:
    """One task per image that has annotations; checks the input."""
    for key in ('images', 'annotations'):
        if key not in coco:
            raise KeyError(f'{ann_file} has no {key!r}')
    images = {}
    for img in coco['images']:
        for key in ('id', 'file_name', 'height', 'width'):
            if key not in img:
                raise KeyError(f'{ann_file}: image {img.get("id")} has no '
                               f'{key!r}')
        images[img['id']] = img
    anns_of = defaultdict(list)
    for ann in coco['annotations']:
        bbox = ann.get('bbox')
        if bbox is None or len(bbox) != 4:
            raise ValueError(f'{ann_file}: annotation {ann.get("id")} needs '
                             f'a bbox [x, y, w, h], got {bbox!r}')
        if ann.get('image_id') not in images:
            raise KeyError(f'{ann_file}: annotation {ann.get("id")} refers '
                           f'to unknown image {ann.get("image_id")}')
        anns_of[ann['image_id']].append(
            (ann['id'], [float(v) for v in bbox], ann.get('segmentation')))
    tasks, missing = [], []
    for img_id, anns in anns_of.items():
        img = images[img_id]
        path = osp.join(img_dir, img['file_name'])
        if not osp.isfile(path):
            missing.append(path)
        tasks.append(
            dict(
                image_id=img_id,
                path=path,
                height=img['height'],
                width=img['width'],
                anns=anns,
                params=params))
    if missing:
        raise FileNotFoundError(f'{len(missing)} images of {ann_file} are '
                                f'missing, e.g. {missing[:5]}')
    return tasks, images


def _progress(total: int, enabled: bool):
    """A tqdm bar, or a plain printer with the same ``update``/``close``."""
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(total=total, desc='grabcut', unit='img')
        except ImportError:
            pass

    class _Plain:

        def __init__(self):
            self.n, self.start = 0, time.time()
            self.step = max(1, total // 20)

        def update(self, n: int = 1) -> None:
            self.n += n
            if enabled and (self.n % self.step == 0 or self.n == total):
                rate = self.n / max(time.time() - self.start, 1e-9)
                print(
                    f'grabcut: {self.n}/{total} images '
                    f'({rate:.2f} img/s)',
                    flush=True)

        def close(self) -> None:
            pass

    return _Plain()


def _run(tasks: List[dict], workers: int, journal: Journal,
         progress: bool) -> None:
    bar = _progress(len(tasks), progress)
    try:
        if workers <= 1:
            old_threads = cv2.getNumThreads()
            _init_worker()
            try:
                for task in tasks:
                    # Looked up at call time so tests can wrap it.
                    journal.write(process_image(task))
                    bar.update(1)
            finally:
                cv2.setNumThreads(old_threads)
        else:
            from multiprocessing import Pool
            with Pool(workers, initializer=_init_worker) as pool:
                for record in pool.imap_unordered(
                        process_image, tasks, chunksize=1):
                    journal.write(record)
                    bar.update(1)
    finally:
        bar.close()



def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the tool; returns the statistics (plus timing of this run)."""
    args = parse_args(argv)
    if args.workers < 1:
        raise ValueError(f'--workers must be >= 1, got {args.workers}')
    if not osp.isfile(args.ann_file):
        raise FileNotFoundError(f'annotation file not found: {args.ann_file}')
    with open(args.ann_file) as f:
        coco = json.load(f)
    params = _params_of(args)
    if args.skip_if_current and _is_current(args.out, args.ann_file, params):
        print(f'{args.out} is up to date (same input and parameters)')
        return dict(up_to_date=True)
    tasks, images = _load_tasks(coco, args.ann_file, args.img_dir, params)

    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    journal_path = args.out + JOURNAL_SUFFIX
    if args.restart and osp.exists(journal_path):
        os.remove(journal_path)
    done = read_journal(journal_path, params)
    pending = [t for t in tasks if t['image_id'] not in done]
    if done:
        print(f'resuming from {journal_path}: {len(done)} images already '
              f'done, {len(pending)} to process')

    journal = Journal(journal_path, params)
    start = time.time()
    try:
        _run(pending, args.workers, journal, not args.no_progress)
    finally:
        journal.close()
    elapsed = time.time() - start

    done = read_journal(journal_path, params)
    new_fields = {}
    for record in done.values():
        for fields in record['annotations']:
            new_fields[fields['id']] = fields
    annotations = []
    for ann in coco['annotations']:
        if ann['id'] not in new_fields:
            raise RuntimeError(f'annotation {ann["id"]} was not processed; '
                               f'journal {journal_path} is inconsistent')
        annotations.append({**ann, **new_fields[ann['id']]})
    stats = pseudo_mask_stats(annotations, args.small_area)
    out = dict(coco)
    out['annotations'] = annotations
    info = dict(out.get('info') or {})
    info['pseudo_masks'] = dict(
        tool='grabcut_pseudo_masks', params=params, stats=stats)
    out['info'] = info
    atomic_write_json(args.out, out)
    if not args.keep_journal:
        os.remove(journal_path)

    print(f'wrote {args.out}: {len(images)} images, {len(annotations)} '
          'annotations')
    print(format_stats(stats))
    rate = len(pending) / elapsed if elapsed > 0 else float('nan')
    print(f'processed {len(pending)} images in {elapsed:.2f} s '
          f'({rate:.2f} images/s, {args.workers} worker(s))')
    return dict(
        stats,
        images_processed=len(pending),
        images_resumed=len(tasks) - len(pending),
        seconds=elapsed,
        images_per_s=rate)


if __name__ == '__main__':
    main()
