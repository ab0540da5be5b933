"""RoI heads that feed MaskPlus' contextual fusion (MaskPlus Sec. 3.1).

Contextual fusion pools *one full-image RoI per image* with the mask RoI
extractor, runs it through the mask head's context conv stack once per image,
and adds the result to the RoI features of every RoI of that image. The
mask head (:class:`~mmext.models.mask_heads.MaskPlusMaskHead`) owns the conv
stack; the RoI heads here own the pooling and the per-RoI indexing:

* :class:`MaskPlusRoIHead` - :class:`StandardRoIHead` (MaskPlus).
* :class:`MaskPlusCascadeRoIHead` - :class:`MMExtCascadeRoIHead` (MaskPlus+):
  every stage's mask head gets its own context from its own conv stack.

The pooling lives in :class:`~.mask_head_inputs.FullImageContextMixin`
(``MaskPlusContextMixin`` here), shared with every RoI head that prepares
the inputs of mmext mask heads (MR R-CNN's, the mmext cascade).

The full-image RoI is the valid image area ``[0, 0, w, h]`` of
``img_shape`` (after resizing, before padding), not the padded batch
tensor, so a batched image gets the same context as the same image tested
alone. mmdet's ``_mask_forward`` sees only features and RoIs, so
:meth:`loss`, :meth:`predict_mask` and :meth:`forward` record the image
shapes of the current batch for the duration of the call.

With contextual fusion off (or a mask head without it) both heads behave
exactly like their mmdet parents.
"""
from typing import Optional, Tuple

from torch import Tensor, nn

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType
from .cascade_roi_head import MMExtCascadeRoIHead
from .mask_head_inputs import FullImageContextMixin


# The full-image context of any mask head with contextual fusion; kept under
# its first name for the MaskPlus heads below.
MaskPlusContextMixin = FullImageContextMixin


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
class MaskPlusCascadeRoIHead(MMExtCascadeRoIHead):
    """:class:`MMExtCascadeRoIHead` under the name of the MaskPlus+ configs
    (MaskPlus+, Sec. 4.9: the MaskPlus mask head in every stage of a cascade
    Mask R-CNN; each stage's head computes its own context with its own conv
    stack from the same pooled full-image RoI)."""
