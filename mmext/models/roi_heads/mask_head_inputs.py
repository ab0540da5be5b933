"""The RoI-head side of the mask-head protocol: extra inputs of a mask head.

A mask head of the protocol (:mod:`mmext.models.mask_heads.feature_reuse`)
names the inputs it needs beyond its RoI features
(``extra_mask_inputs``); an RoI head that mixes in
:class:`MaskHeadInputsMixin` prepares them for any of its mask heads:

* ``threshold_x`` (ATMask's threshold branch): RoI features ``R_t`` pooled
  by ``threshold_roi_extractor`` from P2 only (``threshold_roi_source='P2'``)
  or P2-P5 (``'all'``), after the mask head's own channel reduction
  (:class:`ThresholdFeaturesMixin`);
* ``context`` (MaskPlus' contextual fusion): the full-image RoI of each RoI's
  image through the mask head's context stack
  (:class:`FullImageContextMixin`, which needs the image shapes recorded
  by its ``_record_img_shapes`` in ``loss``/``predict``/``forward``).

Both use only the mask head's public methods
(``reduce_threshold_features``, ``forward_context``).
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import InstanceList, OptConfigType
from ..mask_heads.feature_reuse import extra_mask_inputs

THRESHOLD_ROI_SOURCES = ('P2', 'all')


class ThresholdFeaturesMixin:
    """Threshold RoI features ``R_t`` for ATMask mask heads.

    ``threshold_roi_source``: ``'P2'`` gives only the finest level ``x[0]``
    to the extractor, so ``SingleRoIExtractor`` pools every RoI from P2 (its
    single-level path); ``'all'`` uses the extractor's levels with FPN level
    mapping, like the probability branch.
    """

    # (no class-level module attributes: nn.Module registers submodules in
    # _modules, which a class attribute of the same name would shadow)

    def _init_threshold_roi_extractor(
            self, threshold_roi_extractor: OptConfigType,
            threshold_roi_source: str,
            mask_heads: Sequence[Tuple[str, nn.Module]]) -> None:
        """Build ``threshold_roi_extractor`` if a mask head needs it.

        Args:
            threshold_roi_extractor (dict, optional): Its config.
            threshold_roi_source (str): ``'P2'`` or ``'all'``.
            mask_heads (list[tuple[str, nn.Module]]): The RoI head's mask
                heads with their config keys (for the error messages).
        """
        if threshold_roi_source not in THRESHOLD_ROI_SOURCES:
            raise ValueError(
                f'roi_head.threshold_roi_source must be one of '
                f'{THRESHOLD_ROI_SOURCES}, got {threshold_roi_source!r}')
        self.threshold_roi_source = threshold_roi_source
        self.threshold_roi_extractor = None
        needing = [(key, head) for key, head in mask_heads
                   if 'threshold_x' in extra_mask_inputs(head)]
        if not needing:
            return
        if threshold_roi_extractor is None:
            raise ValueError(
                'roi_head.threshold_roi_extractor is required: '
                f'{needing[0][0]}.with_threshold_branch is True')
        self.threshold_roi_extractor = MODELS.build(threshold_roi_extractor)
        got = self.threshold_roi_extractor.out_channels
        for key, head in needing:
            expected = head.threshold_roi_channels
            if got != expected:
                raise ValueError(
                    f'roi_head.threshold_roi_extractor.out_channels ({got}) '
                    f'must equal the channels {key} reads ({expected} = '
                    'threshold_channels if smaller than '
                    'threshold_in_channels, else threshold_in_channels)')

    def _threshold_roi_forward(self,
                               x: Tuple[Tensor],
                               rois: Tensor,
                               mask_head: Optional[nn.Module] = None
                               ) -> Tensor:
        """Threshold RoI features ``R_t`` of ``mask_head``.

        Args:
            x (tuple[Tensor]): Multi-level features, finest first.
            rois (Tensor): RoIs (n, 5), ``[batch_ind, x1, y1, x2, y2]``.
            mask_head (nn.Module, optional): The ATMask head whose channel
                reduction applies. Defaults to ``self.mask_head``.

        Returns:
            Tensor: (n, C, S, S) features, S the extractor's output size.
        """
        if mask_head is None:
            mask_head = self.mask_head
        if self.threshold_roi_source == 'P2':
            feats = x[:1]
        else:
            feats = x[:self.threshold_roi_extractor.num_inputs]
        feats = mask_head.reduce_threshold_features(feats)
        return self.threshold_roi_extractor(tuple(feats), rois)


class FullImageContextMixin:
    """Full-image context for mask heads with contextual fusion (MaskPlus
    Sec. 3.1); see :mod:`mmext.models.roi_heads.maskplus_roi_head`."""

    _context_img_shapes: Optional[List[Tuple[int, int]]] = None

    @contextmanager
    def _record_img_shapes(self,
                           batch_img_metas: Sequence[dict]) -> Iterator[None]:
        """Make the batch's ``img_shape`` (h, w) available in the block."""
        previous = self._context_img_shapes
        self._context_img_shapes = [
            tuple(meta['img_shape'][:2]) for meta in batch_img_metas
        ]
        try:
            yield
        finally:
            self._context_img_shapes = previous

    # The entry points that reach _mask_forward, wrapped so that it knows
    # the image shapes of the batch (shared by the standard and the cascade
    # head; super() is the mmdet RoI head the mixin is combined with).
    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        with self._record_img_shapes([s.metainfo for s in batch_data_samples]):
            return super().loss(x, rpn_results_list, batch_data_samples)

    def predict_mask(self,
                     x: Tuple[Tensor],
                     batch_img_metas: List[dict],
                     results_list: InstanceList,
                     rescale: bool = False) -> InstanceList:
        with self._record_img_shapes(batch_img_metas):
            return super().predict_mask(x, batch_img_metas, results_list,
                                        rescale)

    def forward(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList = None) -> tuple:
        if batch_data_samples is None:
            return super().forward(x, rpn_results_list, batch_data_samples)
        with self._record_img_shapes([s.metainfo for s in batch_data_samples]):
            return super().forward(x, rpn_results_list, batch_data_samples)

    def _full_image_context(self, x: Tuple[Tensor], rois: Tensor,
                            mask_roi_extractor: nn.Module,
                            mask_head: nn.Module) -> Tensor:
        """Context features of the image of each RoI.

        Args:
            x (tuple[Tensor]): Multi-level features, each (N_img, C, H, W).
            rois (Tensor): RoIs (K, 5), ``[batch_ind, x1, y1, x2, y2]``.
            mask_roi_extractor (nn.Module): The mask RoI extractor; the same
                RoIAlign layers pool the full-image RoI.
            mask_head (nn.Module): A mask head with contextual fusion.

        Returns:
            Tensor: Context of each RoI's image, shape (K, C, S, S).
        """
        if self._context_img_shapes is None:
            raise RuntimeError(
                f'{type(self).__name__}: contextual fusion needs the image '
                'shapes; call loss(), predict() or forward() with the data '
                'samples instead of _mask_forward() directly')
        full_rois = rois.new_tensor(
            [[i, 0., 0., w, h]
             for i, (h, w) in enumerate(self._context_img_shapes)])
        feats = x[:mask_roi_extractor.num_inputs]
        level = mask_head.context_level
        if level is None:
            # the extractor's own scale rule picks the level, as for any RoI
            pooled = mask_roi_extractor(feats, full_rois)
        else:
            if not -len(feats) <= level < len(feats):
                raise ValueError(
                    f'mask_head.context_cfg.level={level} is out of range for '
                    f'a mask RoI extractor with {len(feats)} levels')
            pooled = mask_roi_extractor.roi_layers[level](feats[level],
                                                          full_rois)
        context = mask_head.forward_context(pooled)
        return context[rois[:, 0].long()]


class MaskHeadInputsMixin(ThresholdFeaturesMixin, FullImageContextMixin):
    """Prepare the extra inputs of any protocol mask head."""

    def _mask_head_inputs(self, mask_head: nn.Module, x: Tuple[Tensor],
                          rois: Tensor,
                          mask_roi_extractor: nn.Module) -> Dict[str, Tensor]:
        """Keyword inputs of ``mask_head`` for ``rois``.

        Args:
            mask_head (nn.Module): A protocol mask head.
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): RoIs (K, 5).
            mask_roi_extractor (nn.Module): The extractor of its RoI
                features (the full-image context is pooled by it).

        Returns:
            dict[str, Tensor]: e.g. ``threshold_x`` (K, C_t, S_t, S_t),
            ``context`` (K, C, S, S).
        """
        inputs = {}
        for name in extra_mask_inputs(mask_head):
            if name == 'threshold_x':
                if getattr(self, 'threshold_roi_extractor', None) is None:
                    raise RuntimeError(
                        f'{type(self).__name__} has no '
                        'threshold_roi_extractor for its ATMask mask head')
                inputs[name] = self._threshold_roi_forward(x, rois, mask_head)
            elif name == 'context':
                inputs[name] = self._full_image_context(
                    x, rois, mask_roi_extractor, mask_head)
            else:
                raise ValueError(
                    f'{type(self).__name__} cannot prepare the mask head '
                    f'input {name!r} of {type(mask_head).__name__}')
        return inputs
