"""Biased training of MaskPlus (Sec. 3.5, 4.8)."""
from typing import List, Optional, Sequence, Union

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmdet.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class BiasedLossHook(Hook):
    """Scale the mask loss by ``alpha`` early in training, then by 1.

    MaskPlus trains with ``L = L_cls + L_box + alpha * L_mask``, ``alpha =
    1.5`` "in the first half stages" and ``alpha = 1`` afterwards, so that
    the mask branch converges faster and disturbs the detector less.

    The hook multiplies ``loss_weight`` of the mask loss module
    (``<head_path>.<loss_name>``, by default
    ``model.roi_head.mask_head.loss_mask``; every stage of a cascade's
    ``ModuleList`` of mask heads) by ``alpha`` while the current iteration
    (``by_epoch=False``) or epoch (``by_epoch=True``) is below ``end``, and
    by 1 from then on. The factor is recomputed from ``runner.iter`` /
    ``runner.epoch`` before every training iteration, never from the hook's
    own history, so a resumed run gets the right weight. Auxiliary losses a
    head computes with the same loss module (MaskPlus' QMT branches) are
    scaled too. The factor is logged as ``log_key`` through the message hub.

    Args:
        end (int, optional): First iteration/epoch (0-based) trained with
            factor 1. None (default) takes the paper's "first half" of the
            runner's schedule: ``runner.max_iters // 2`` (``max_epochs // 2``
            with ``by_epoch=True``), read when training starts, so changing
            the schedule's length alone keeps the switch in the middle.
        alpha (float): Early mask loss multiplier. Defaults to 1.5.
        by_epoch (bool): Whether ``end`` counts epochs. Defaults to False.
        head_path (str): Dotted path of the mask head(s) in the model.
            Defaults to ``'roi_head.mask_head'``.
        loss_name (str): Attribute of the loss module in the mask head.
            Defaults to ``'loss_mask'``.
        log_key (str): Message hub key of the logged factor. Defaults to
            ``'train/mask_alpha'`` (without "loss" in it, mmengine's
            ``LogProcessor`` logs the current value, not a window mean).
    """

    def __init__(self,
                 end: Optional[int] = None,
                 alpha: float = 1.5,
                 by_epoch: bool = False,
                 head_path: str = 'roi_head.mask_head',
                 loss_name: str = 'loss_mask',
                 log_key: str = 'train/mask_alpha') -> None:
        if alpha <= 0:
            raise ValueError(f'BiasedLossHook: alpha must be > 0, got {alpha}')
        if end is not None and end < 0:
            raise ValueError(f'BiasedLossHook: end must be >= 0, got {end}')
        self.alpha = float(alpha)
        self.end = None if end is None else int(end)
        self.by_epoch = by_epoch
        self.head_path = head_path
        self.loss_name = loss_name
        self.log_key = log_key
        # configured loss_weight of each loss module, keyed by the module
        self._base_weights: dict = {}

    def factor_at(self, progress: int) -> float:
        """Mask loss multiplier at iteration/epoch ``progress``."""
        if self.end is None:
            raise RuntimeError(
                'BiasedLossHook: end is not known before training starts '
                '(end=None takes half of the runner\'s schedule)')
        return self.alpha if progress < self.end else 1.0

    def _resolve_end(self, runner) -> None:
        """``end=None``: half of the runner's iterations (epochs)."""
        if self.end is not None:
            return
        total = runner.max_epochs if self.by_epoch else runner.max_iters
        if not total:
            raise ValueError(
                'BiasedLossHook: end=None needs the runner\'s '
                f'{"max_epochs" if self.by_epoch else "max_iters"}; set end')
        self.end = int(total) // 2

    def _loss_modules(self, runner) -> List[nn.Module]:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        heads = model
        for name in self.head_path.split('.'):
            if not hasattr(heads, name):
                raise ValueError(
                    f'BiasedLossHook: {type(model).__name__} has no '
                    f'"{self.head_path}" (set head_path of the hook)')
            heads = getattr(heads, name)
        if not isinstance(heads, (nn.ModuleList, Sequence)):
            heads = [heads]
        losses = []
        for head in heads:
            loss = getattr(head, self.loss_name, None)
            if loss is None or not hasattr(loss, 'loss_weight'):
                raise ValueError(
                    f'BiasedLossHook: {type(head).__name__} at '
                    f'"{self.head_path}" has no "{self.loss_name}" with a '
                    'loss_weight (set loss_name of the hook)')
            losses.append(loss)
        return losses

    def _apply(self, runner) -> None:
        progress = runner.epoch if self.by_epoch else runner.iter
        factor = self.factor_at(progress)
        for loss in self._loss_modules(runner):
            base = self._base_weights.setdefault(loss, loss.loss_weight)
            loss.loss_weight = base * factor
        runner.message_hub.update_scalar(self.log_key, factor)

    def before_train(self, runner) -> None:
        self._resolve_end(runner)
        self._apply(runner)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        self._apply(runner)

    def after_train(self, runner) -> None:
        """Put the configured loss weights back."""
        for loss in self._loss_modules(runner):
            if loss in self._base_weights:
                loss.loss_weight = self._base_weights[loss]
