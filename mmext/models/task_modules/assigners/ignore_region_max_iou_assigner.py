"""MaxIoUAssigner whose ignore regions also hold in images without gt."""
from typing import Optional

from mmdet.models.task_modules.assigners import AssignResult, MaxIoUAssigner
from mmdet.registry import TASK_UTILS
from mmengine.structures import InstanceData


@TASK_UTILS.register_module()
class IgnoreRegionMaxIoUAssigner(MaxIoUAssigner):
    """:class:`MaxIoUAssigner` that never makes a prior in an ignore region
    a negative.

    mmdet's ``MaxIoUAssigner`` ignores a prior whose IoF (intersection over
    the prior's area, ``ignore_wrt_candidates=True``) with an ignored box is
    above ``ignore_iof_thr`` by setting its overlaps with every gt to -1.
    In an image with no gt box that step has nothing to write into, and the
    assigner then labels *every* prior background, ignore regions included.
    The hybrid networks' branches meet exactly that case: the small-object
    branch sees many images whose only objects belong to the large-object
    branch, and those objects must be ignore regions, not negatives
    (:class:`~mmext.models.detectors.HybridWeakDetector`,
    ``train_cfg.unselected_as_ignored``).

    This subclass runs mmdet's assignment unchanged and then turns every
    *negative* prior (``gt_inds == 0``) whose IoF with an ignored box is above
    ``ignore_iof_thr`` into an ignored one (``gt_inds == -1``). Positives are
    left alone, so with gt boxes present the result equals mmdet's. Samplers
    draw negatives only from ``gt_inds == 0``, and mmdet's anchor heads give
    ignored anchors zero classification weight, so a prior in an ignore
    region contributes no negative classification loss.

    Args:
        ignore_iof_thr (float): IoF above which a prior is ignored; must be
            > 0 (mmdet's default -1 switches ignoring off). Defaults to 0.5.
        **kwargs: See :class:`mmdet.models.task_modules.MaxIoUAssigner`.
    """

    def __init__(self, *args, ignore_iof_thr: float = 0.5, **kwargs) -> None:
        if not ignore_iof_thr > 0:
            raise ValueError(
                'IgnoreRegionMaxIoUAssigner: ignore_iof_thr must be > 0 '
                f'(a negative value switches ignoring off), got '
                f'{ignore_iof_thr}')
        super().__init__(*args, ignore_iof_thr=ignore_iof_thr, **kwargs)

    def assign(self,
               pred_instances: InstanceData,
               gt_instances: InstanceData,
               gt_instances_ignore: Optional[InstanceData] = None,
               **kwargs) -> AssignResult:
        """Assign as mmdet does, then ignore the negatives in ignore regions.

        Args:
            pred_instances (InstanceData): ``priors`` of shape (n, 4).
            gt_instances (InstanceData): ``bboxes`` (k, 4), ``labels`` (k,).
            gt_instances_ignore (InstanceData, optional): ``bboxes`` (m, 4)
                of the ignore regions.

        Returns:
            AssignResult: ``gt_inds`` (n,): -1 ignored, 0 negative, i > 0 the
            (i-1)-th gt.
        """
        result = super().assign(pred_instances, gt_instances,
                                gt_instances_ignore, **kwargs)
        if gt_instances_ignore is None:
            return result
        ignore_bboxes = gt_instances_ignore.bboxes
        priors = pred_instances.priors
        if ignore_bboxes.numel() == 0 or priors.numel() == 0:
            return result
        ignore_bboxes = ignore_bboxes.to(priors.device)
        if self.ignore_wrt_candidates:
            iof = self.iou_calculator(priors, ignore_bboxes, mode='iof')
            max_iof = iof.max(dim=1).values
        else:
            iof = self.iou_calculator(ignore_bboxes, priors, mode='iof')
            max_iof = iof.max(dim=0).values
        in_ignore = (max_iof > self.ignore_iof_thr).to(result.gt_inds.device)
        result.gt_inds[in_ignore & (result.gt_inds == 0)] = -1
        return result
