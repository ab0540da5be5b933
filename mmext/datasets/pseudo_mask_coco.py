"""COCO dataset of box-supervised pseudo masks with their validity flags.

``tools/dataset_converters/grabcut_pseudo_masks.py`` writes a COCO json
whose annotations carry a GrabCut pseudo mask (RLE ``segmentation``), a
``valid`` flag (IoU between the mask's tight box and the annotated box
>= 0.5, the paper's criterion) and the ``pseudo_iou``. mmdet's
``CocoDataset`` drops those keys; :class:`PseudoMaskCocoDataset` keeps the
flag as ``instance['pseudo_valid']`` and can restrict the instances to one
subset.

Two ways to train on subsets:

* **one model, one subset** - ``pseudo_mask_subset='valid'`` (or
  ``'invalid'``) trains only on those instances. The others become ignore
  regions (``unselected='ignore'``, the default: ``ignore_flag=1``, so
  mmdet packs them into ``ignored_instances``; they are neither objects nor
  background, provided the model's assigners ignore them, e.g.
  :class:`~mmext.models.task_modules.IgnoreRegionMaxIoUAssigner`), or are
  removed from the image (``unselected='drop'``: background).
* **both branches of** :class:`~mmext.models.detectors.HybridWeakDetector`
  **from one dataloader** - keep ``pseudo_mask_subset='all'`` and load the
  flag with ``LoadPseudoMaskAnnotations`` / pack it with
  ``PackPseudoMaskInputs``; the detector then splits each image's instances
  between its branches (``train_cfg.large_branch_instances`` /
  ``small_branch_instances``).
"""
from typing import List, Union

from mmdet.registry import DATASETS

from .coco import ValidatedCocoDataset

PSEUDO_MASK_SUBSETS = ('all', 'valid', 'invalid')


@DATASETS.register_module()
class PseudoMaskCocoDataset(ValidatedCocoDataset):
    """``ValidatedCocoDataset`` that keeps the pseudo masks' ``valid`` flag.

    Every non-crowd annotation must have a boolean ``valid`` key (a
    ``KeyError`` names the annotation id and the file otherwise). Crowd /
    ignored annotations without the key get ``pseudo_valid=False``; they are
    ignore regions anyway.

    Args:
        pseudo_mask_subset (str): Which instances to train on: ``'all'``
            (default), ``'valid'`` or ``'invalid'``. Ignored (crowd)
            instances are always kept, whatever their flag.
        unselected (str): What becomes of the instances outside
            ``pseudo_mask_subset``: ``'ignore'`` (default: kept with
            ``ignore_flag=1``, i.e. ignore regions) or ``'drop'`` (removed:
            background).
        **kwargs: See :class:`mmext.datasets.ValidatedCocoDataset`.

    With ``filter_cfg=dict(filter_empty_gt=True)`` (training) an image left
    without any non-ignored instance after the subset selection is dropped.
    """

    def __init__(self,
                 *args,
                 pseudo_mask_subset: str = 'all',
                 unselected: str = 'ignore',
                 **kwargs) -> None:
        if pseudo_mask_subset not in PSEUDO_MASK_SUBSETS:
            raise ValueError(
                f'PseudoMaskCocoDataset: pseudo_mask_subset must be one of '
                f'{PSEUDO_MASK_SUBSETS}, got {pseudo_mask_subset!r}')
        if unselected not in ('ignore', 'drop'):
            raise ValueError(
                "PseudoMaskCocoDataset: unselected must be 'ignore' or "
                f"'drop', got {unselected!r}")
        self.pseudo_mask_subset = pseudo_mask_subset
        self.unselected = unselected
        super().__init__(*args, **kwargs)

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        """Parse one image, adding ``pseudo_valid`` to every instance.

        mmdet's parser may drop annotations (degenerate boxes, unknown
        categories), so each annotation is parsed on its own to know which
        instance it became.
        """
        img_info = raw_data_info['raw_img_info']
        data_info = super().parse_data_info(
            dict(raw_img_info=img_info, raw_ann_info=[]))
        instances = []
        for ann in raw_data_info['raw_ann_info']:
            parsed = super().parse_data_info(
                dict(raw_img_info=img_info, raw_ann_info=[ann]))['instances']
            for instance in parsed:  # none if the annotation was skipped
                instance['pseudo_valid'] = self._valid_flag(ann, img_info)
                if self._keep(instance):
                    instances.append(instance)
                elif self.unselected == 'ignore':
                    instance['ignore_flag'] = 1
                    instances.append(instance)
        data_info['instances'] = instances
        return data_info

    def _valid_flag(self, ann: dict, img_info: dict) -> bool:
        if 'valid' not in ann:
            if ann.get('iscrowd', 0) or ann.get('ignore', False):
                return False
            raise KeyError(
                f'annotation id {ann.get("id")} of image '
                f'{img_info.get("file_name")!r} in {self.ann_file} has no '
                '"valid" flag: PseudoMaskCocoDataset reads the output of '
                'tools/dataset_converters/grabcut_pseudo_masks.py')
        valid = ann['valid']
        if not isinstance(valid, (bool, int)) or valid not in (0, 1):
            raise ValueError(
                f'annotation id {ann.get("id")} in {self.ann_file}: "valid" '
                f'must be a boolean, got {valid!r}')
        return bool(valid)

    def _keep(self, instance: dict) -> bool:
        if self.pseudo_mask_subset == 'all' or instance['ignore_flag']:
            return True
        return instance['pseudo_valid'] == (
            self.pseudo_mask_subset == 'valid')

    def filter_data(self) -> List[dict]:
        """mmdet's filter, plus dropping images whose subset is empty."""
        data_list = super().filter_data()
        if (self.test_mode or self.filter_cfg is None
                or not self.filter_cfg.get('filter_empty_gt', False)
                or self.pseudo_mask_subset == 'all'):
            return data_list
        return [
            info for info in data_list
            if any(not inst['ignore_flag'] for inst in info['instances'])
        ]
