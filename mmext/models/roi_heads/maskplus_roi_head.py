"""RoI heads that feed MaskPlus' contextual fusion (MaskPlus Sec. 3.1).

Contextual fusion pools *one full-image RoI per image* with the mask RoI
extractor, runs it through the mask head's context conv stack once per image,
and adds the result to the RoI features of every RoI of that image. The
mask head (:class:`~mmext.models.mask_heads.MaskPlusMaskHead`) owns the conv
stack; the RoI heads here own the pooling and the per-RoI indexing:

* :class:`MaskPlusRoIHead` - :class:`StandardRoIHead` (MaskPlus).
* :class:`MaskPlusCascadeRoIHead` - :class:`CascadeRoIHead` (MaskPlus+):
  every stage's mask head gets its own context from its own conv stack.

The full-image RoI is the valid image area ``[0, 0, w, h]`` of
``img_shape`` (after resizing, before padding), not the padded batch
tensor, so a batched image gets the same context as the same image tested
alone. mmdet's ``_mask_forward`` sees only features and RoIs, so
:meth:`loss`, :meth:`predict_mask` and :meth:`forward` record the image
shapes of the current batch for the duration of the call.

With contextual fusion off (or a mask head without it) both heads behave
exactly like their mmdet parents.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, InstanceList
from .state_dict_init import copy_missing_prefixes


class MaskPlusContextMixin:
    """Full-image context for mask heads with contextual fusion."""

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


def _with_context(mask_head: nn.Module) -> bool:
    return getattr(mask_head, 'with_context', False)


@MODELS.register_module()
class MaskPlusRoIHead(MaskPlusContextMixin, StandardRoIHead):
    """:class:`StandardRoIHead` that passes the full-image context to a
    :class:`MaskPlusMaskHead` (MaskPlus).

    Contextual fusion needs a separate ``mask_roi_extractor`` (as in every
    mmdet Mask R-CNN config): with a shared extractor mmdet's mask branch
    reuses the box features without RoIs, so the image of each RoI is lost.
    """

    def init_mask_head(self, mask_roi_extractor: ConfigType,
                       mask_head: ConfigType) -> None:
        super().init_mask_head(mask_roi_extractor, mask_head)
        if self.share_roi_extractor and _with_context(self.mask_head):
            raise ValueError(
                'MaskPlusRoIHead: contextual fusion (mask_head.context_cfg) '
                'needs roi_head.mask_roi_extractor to be set')

    def _mask_forward(self,
                      x: Tuple[Tensor],
                      rois: Optional[Tensor] = None,
                      pos_inds: Optional[Tensor] = None,
                      bbox_feats: Optional[Tensor] = None) -> dict:
        """Mask head forward with the full-image context of each RoI.

        Args:
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): RoIs (K, 5), ``[batch_ind, x1, y1, x2, y2]``.
            pos_inds, bbox_feats: Shared-extractor path of the parent; not
                used with contextual fusion.

        Returns:
            dict: ``mask_preds`` and ``mask_feats`` (K, C, S, S), the RoI
            features before the context is added.
        """
        if not _with_context(self.mask_head):
            return super()._mask_forward(x, rois, pos_inds, bbox_feats)
        mask_feats = self.mask_roi_extractor(
            x[:self.mask_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            mask_feats = self.shared_head(mask_feats)
        context = self._full_image_context(x, rois, self.mask_roi_extractor,
                                           self.mask_head)
        mask_preds = self.mask_head(mask_feats, context)
        return dict(mask_preds=mask_preds, mask_feats=mask_feats)


@MODELS.register_module()
class MaskPlusCascadeRoIHead(MaskPlusContextMixin, CascadeRoIHead):
    """:class:`CascadeRoIHead` whose per-stage MaskPlus mask heads get the
    full-image context (MaskPlus+, Sec. 4.9: MaskPlus on a cascade Mask
    R-CNN). Each stage's mask head computes its own context with its own
    conv stack from the same pooled full-image RoI.

    Args:
        *args: :class:`CascadeRoIHead`'s arguments.
        init_stages_from_single_stage (bool): When a state dict of a
            single-stage model (a Mask R-CNN: ``bbox_head.*``,
            ``mask_head.*``) is loaded, copy its box and mask heads into
            every stage, as a cascade fine-tuned from a trained Mask R-CNN
            starts (the toy benchmark's protocol). Layers whose shapes differ
            (the class-agnostic regression layer, layers only MaskPlus has)
            keep their own initialisation. A cascade checkpoint loads as
            usual. Defaults to False.
        **kwargs: :class:`CascadeRoIHead`'s keyword arguments.
    """

    def __init__(self,
                 *args,
                 init_stages_from_single_stage: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_stages_from_single_stage = init_stages_from_single_stage

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Expand a single-stage model's heads into every stage (see
        ``init_stages_from_single_stage``)."""
        if self.init_stages_from_single_stage:
            mapping = [(prefix + f'{head}.', prefix + f'{head}.{stage}.')
                       for head in ('bbox_head', 'mask_head')
                       for stage in range(self.num_stages)]
            # the single-stage keys are now loaded as the stages' copies;
            # left in place they would be reported as unexpected
            for key in copy_missing_prefixes(state_dict, mapping,
                                             type(self).__name__):
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _mask_forward(self, stage: int, x: Tuple[Tensor],
                      rois: Tensor) -> dict:
        """Stage ``stage`` mask head forward with the full-image context.

        Args:
            stage (int): Cascade stage.
            x (tuple[Tensor]): Multi-level features.
            rois (Tensor): RoIs (K, 5), ``[batch_ind, x1, y1, x2, y2]``.

        Returns:
            dict: ``mask_preds``.
        """
        mask_head = self.mask_head[stage]
        if not _with_context(mask_head):
            return super()._mask_forward(stage, x, rois)
        mask_roi_extractor = self.mask_roi_extractor[stage]
        mask_feats = mask_roi_extractor(x[:mask_roi_extractor.num_inputs],
                                        rois)
        context = self._full_image_context(x, rois, mask_roi_extractor,
                                           mask_head)
        return dict(mask_preds=mask_head(mask_feats, context))
