"""A COCO dataset that reports bad input instead of failing obscurely."""
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log


@DATASETS.register_module()
class ValidatedCocoDataset(CocoDataset):
    """``CocoDataset`` with input validation.

    mmdet's ``CocoDataset`` silently drops degenerate boxes, fails with a bare
    ``KeyError``/pycocotools assertion on malformed annotations, and only
    notices a missing image when the dataloader reaches it (possibly hours
    into a run). This subclass checks at load time:

    * a missing ``data_root`` or annotation file raises ``FileNotFoundError``
      naming the path (and how to create the toy set);
    * a missing image file raises ``FileNotFoundError`` naming the image and
      the annotation file (``check_image_files=True``, the default);
    * an annotation without a 4-number ``bbox`` raises ``ValueError`` naming
      the annotation id and the file;
    * degenerate annotations (box with width/height < 1 or non-positive area,
      empty or < 3-point polygons, RLE without ``counts``/``size``) are
      skipped with a warning that names the annotation id, the image file and
      the annotation file. Polygons with too few points are dropped from an
      otherwise valid annotation.

    Args:
        check_image_files (bool): stat every image at load time. Defaults to
            True; turn off for huge remote datasets.
        max_warnings (int): how many skipped annotations are listed one by
            one before only a summary is printed. Defaults to 20.
        **kwargs: see ``mmdet.datasets.CocoDataset``.
    """

    def __init__(self,
                 *args,
                 check_image_files: bool = True,
                 max_warnings: int = 20,
                 **kwargs) -> None:
        self.check_image_files = check_image_files
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
        data_list = super().load_data_list()
        if self._num_skipped:
            print_log(
                f'{self.ann_file}: skipped {self._num_skipped} degenerate '
                'annotation(s)',
                logger='current',
                level=30)
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
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
        bbox = ann.get('bbox')
        if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
                or not all(isinstance(v, (int, float)) for v in bbox)):
            raise ValueError(
                f'annotation id {ann.get("id")} of image '
                f'{img_info["file_name"]!r} in {self.ann_file} has no valid '
                f'"bbox" [x, y, w, h]: got {bbox!r}')
        if ann.get('iscrowd', 0) or ann.get('ignore', False):
            return ann, None  # ignored regions are not trained on anyway
        _, _, w, h = bbox
        if w < 1 or h < 1:
            return ann, f'degenerate box {bbox}'
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
