"""A COCO dataset that reports bad input instead of failing obscurely."""
import json
import math
import os.path as osp
from collections import Counter
from typing import List, Optional, Tuple, Union

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log


#: names under which a config selects mmcv's plain image loader
_PLAIN_LOADERS = ('LoadImageFromFile', 'mmdet.LoadImageFromFile',
                  'mmcv.LoadImageFromFile')


def _validated_loader(transform: Union[dict, object]) -> Union[dict, object]:
    """``transform`` with a plain ``LoadImageFromFile`` config replaced.

    Only a config dict whose type is exactly mmcv's loader is replaced (by a
    copy with ``type='ValidatedLoadImageFromFile'``); built transforms,
    callables and other loaders (e.g. ``LoadImageFromNDArray``, subclasses)
    are returned unchanged.
    """
    if isinstance(transform, dict) and transform.get('type') in _PLAIN_LOADERS:
        transform = dict(transform, type='ValidatedLoadImageFromFile')
    return transform


@DATASETS.register_module()
class ValidatedCocoDataset(CocoDataset):
    """``CocoDataset`` with input validation.

    mmdet's ``CocoDataset`` silently drops degenerate boxes, fails with a bare
    ``KeyError``/pycocotools assertion on malformed annotations, and only
    notices a missing image when the dataloader reaches it (possibly hours
    into a run). This subclass checks at load time:

    * a missing ``data_root`` or annotation file raises ``FileNotFoundError``
      naming the path (and how to create the toy set);
    * an annotation file that is not valid JSON raises ``JSONDecodeError``
      naming the file, line and column;
    * a class of ``metainfo['classes']`` that is not a category of the file
      raises ``ValueError`` (mmdet would silently train without it and shift
      the labels of the other classes);
    * a missing image file raises ``FileNotFoundError`` naming the image and
      the annotation file (``check_image_files=True``, the default);
    * an annotation with a malformed field raises ``ValueError`` naming the
      annotation id, the image (file name and id) and the annotation file:
      no 4-number ``bbox``, a NaN/infinite number in the ``bbox`` or in a
      polygon, no numeric ``area``, or a ``category_id`` that is not among
      the file's ``categories``; so does an annotation whose ``image_id`` is
      not among the file's images (pycocotools would never return it). These
      are broken data (a converter bug, typically mapping every annotation of
      a class to a wrong id), not noise to skip: whereas a degenerate box is
      one bad label, a wrong category id usually repeats over a whole class;
    * degenerate annotations (box with width/height < 1, non-positive area
      or entirely outside the image, empty or < 3-point polygons, RLE without
      ``counts``/``size``) are skipped with a warning that names the
      annotation id, the image file and the annotation file. Polygons with
      too few points are dropped from an otherwise valid annotation;
    * annotations of file categories that ``metainfo['classes']`` leaves out
      (training on a subset of classes) are not used, as in mmdet; one
      summary line per load names those categories and counts them.

    * an image that exists but cannot be decoded (truncated, corrupt, not an
      image) raises an ``OSError`` naming the file and image id: a plain
      ``LoadImageFromFile`` of the pipeline is built as
      :class:`~mmext.datasets.transforms.ValidatedLoadImageFromFile` (same
      arguments, same decoding), so a config inheriting mmdet's COCO
      pipelines only has to select this dataset (``validate_image_loading``).

    Args:
        check_image_files (bool): stat every image at load time. Defaults to
            True; turn off for huge remote datasets.
        validate_image_loading (bool): build the pipeline's
            ``LoadImageFromFile`` as ``ValidatedLoadImageFromFile``. Defaults
            to True.
        max_warnings (int): how many skipped annotations are listed one by
            one before only a summary is printed. Defaults to 20.
        **kwargs: see ``mmdet.datasets.CocoDataset``.
    """

    def __init__(self,
                 *args,
                 check_image_files: bool = True,
                 max_warnings: int = 20,
                 validate_image_loading: bool = True,
                 **kwargs) -> None:
        self.check_image_files = check_image_files
        if validate_image_loading and kwargs.get('pipeline'):
            kwargs['pipeline'] = [
                _validated_loader(transform) for transform in kwargs['pipeline']
            ]
        self.max_warnings = max_warnings
        self._num_skipped = 0
        data_root = kwargs.get('data_root')
        if data_root and '://' not in data_root and not osp.isdir(data_root):
            raise FileNotFoundError(
                f'data_root {data_root!r} does not exist. For the toy set run '
                '`python tools/misc/make_toy_dataset.py`; otherwise set '
                '`data_root` in the config.')
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        if '://' not in self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'annotation file {self.ann_file!r} does not exist (check '
                '`ann_file` and `data_root` of the dataset config)')
        self._num_skipped = 0
        self._unused_categories = Counter()
        self._file_checked = False
        try:
            data_list = super().load_data_list()
        except json.JSONDecodeError as err:
            # pycocotools' bare message names neither the file nor the fix
            raise json.JSONDecodeError(
                f'annotation file {self.ann_file!r} is not valid JSON: '
                f'{err.msg}', err.doc, err.pos) from None
        if self._unused_categories:
            unused = ', '.join(f'{name!r} ({num})' for name, num in sorted(
                self._unused_categories.items()))
            print_log(
                f'{self.ann_file}: annotations of categories not in '
                f'metainfo classes are not used: {unused}',
                logger='current',
                level=20)
        if self._num_skipped:
            print_log(
                f'{self.ann_file}: skipped {self._num_skipped} degenerate '
                'annotation(s)',
                logger='current',
                level=30)
        return data_list

    def _check_file(self) -> None:
        """File-level checks: classes exist, annotations have their image.

        pycocotools indexes annotations by ``image_id``, so an annotation
        whose image is not listed would never be seen (nor trained on).
        """
        orphans = [
            ann for ann in self.coco.anns.values()
            if ann.get('image_id') not in self.coco.imgs
        ]
        if orphans:
            listed = ', '.join(f'{ann.get("id")} (image id '
                               f'{ann.get("image_id")!r})'
                               for ann in orphans[:10])
            raise ValueError(
                f'{len(orphans)} annotation(s) of {self.ann_file} refer to '
                f'images that the file does not list, e.g. annotation id '
                f'{listed}')
        names = {cat['name'] for cat in self.coco.cats.values()}
        missing = [c for c in self.metainfo['classes'] if c not in names]
        if missing:
            raise ValueError(
                f'classes {missing} of metainfo["classes"] are not categories '
                f'of {self.ann_file} (its categories: {sorted(names)}); check '
                'the spelling of `metainfo.classes` in the config')

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        if not self._file_checked:
            # on the first image: the file's COCO index (``self.coco``)
            # exists only while mmdet's load_data_list runs
            self._check_file()
            self._file_checked = True
        img_info = raw_data_info['raw_img_info']
        img_path = osp.join(self.data_prefix.get('img', ''),
                            img_info['file_name'])
        if (self.check_image_files and '://' not in img_path
                and not osp.isfile(img_path)):
            raise FileNotFoundError(
                f'image {img_path!r} (image id {img_info["img_id"]}) listed '
                f'in {self.ann_file} does not exist')
        kept = []
        for ann in raw_data_info['raw_ann_info']:
            ann, reason = self._check_annotation(ann, img_info)
            if reason is None:
                kept.append(ann)
            else:
                self._warn_skip(ann, img_path, reason)
        return super().parse_data_info(
            dict(raw_img_info=img_info, raw_ann_info=kept))

    def _check_annotation(self, ann: dict,
                          img_info: dict) -> Tuple[dict, Optional[str]]:
        """Return the (possibly cleaned) annotation and a skip reason."""
        where = (f'annotation id {ann.get("id")} of image '
                 f'{img_info["file_name"]!r} (image id {img_info["img_id"]}) '
                 f'in {self.ann_file}')
        bbox = ann.get('bbox')
        if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
                or not all(isinstance(v, (int, float)) for v in bbox)):
            raise ValueError(
                f'{where} has no valid "bbox" [x, y, w, h]: got {bbox!r}')
        # json reads NaN/Infinity literals; they would pass every comparison
        # below (NaN < 1 is False) and reach the losses
        if not all(math.isfinite(v) for v in bbox):
            raise ValueError(f'{where} has a non-finite "bbox": {bbox!r}')
        area = ann.get('area')
        if not ann.get('ignore', False) and (
                not isinstance(area, (int, float)) or not math.isfinite(area)):
            # mmdet reads it (bare KeyError without it)
            raise ValueError(f'{where} has no valid "area": got {area!r}')
        category_id = ann.get('category_id')
        if category_id not in self.coco.cats:
            raise ValueError(
                f'{where} has category_id {category_id!r}, which is not '
                f'among the file\'s categories {sorted(self.coco.cats)}')
        segm = ann.get('segmentation')
        if isinstance(segm, list):
            for polygon in segm:
                if isinstance(polygon, (list, tuple)) and not all(
                        isinstance(v, (int, float)) and math.isfinite(v)
                        for v in polygon):
                    raise ValueError(
                        f'{where} has a polygon with a non-finite or '
                        f'non-numeric coordinate: {polygon!r:.80}')
        if category_id not in self.cat_ids:
            # a category the config's classes leave out: not used (mmdet)
            self._unused_categories[self.coco.cats[category_id]['name']] += 1
            return ann, None
        if ann.get('iscrowd', 0) or ann.get('ignore', False):
            return ann, None  # ignored regions are not trained on anyway
        x, y, w, h = bbox
        if w < 1 or h < 1:
            return ann, f'degenerate box {bbox}'
        if (min(x + w, img_info['width']) <= max(x, 0)
                or min(y + h, img_info['height']) <= max(y, 0)):
            return ann, (f'box {bbox} lies outside the '
                         f'{img_info["width"]}x{img_info["height"]} image')
        if ann.get('area', w * h) <= 0:
            return ann, f'non-positive area {ann.get("area")}'
        if 'segmentation' not in ann:
            return ann, None
        segm = ann['segmentation']
        if isinstance(segm, list):
            polygons = [
                p for p in segm if isinstance(p, (list, tuple))
                and len(p) >= 6 and len(p) % 2 == 0
            ]
            if not polygons:
                return ann, f'empty or degenerate polygon {segm!r:.60}'
            if len(polygons) != len(segm):
                ann = dict(ann, segmentation=polygons)
        elif isinstance(segm, dict):
            if 'counts' not in segm or 'size' not in segm:
                return ann, 'RLE without "counts"/"size"'
        else:
            return ann, f'unknown segmentation type {type(segm).__name__}'
        return ann, None

    def _warn_skip(self, ann: dict, img_path: str, reason: str) -> None:
        self._num_skipped += 1
        if self._num_skipped <= self.max_warnings:
            print_log(
                f'skipping annotation id {ann.get("id")} of image '
                f'{img_path!r} in {self.ann_file}: {reason}',
                logger='current',
                level=30)
