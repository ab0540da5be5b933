"""Stop (or skip the batch) when the training loss or gradient is not finite.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

from mmdet.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]
ACTIONS = ('raise', 'skip')


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Never step the optimizer on a non-finite loss or gradient.

    mmengine's ``OptimWrapper`` back-propagates and steps whatever the loss
    is, so one NaN/inf loss (or gradient) turns every weight into NaN, and
    training then goes on writing checkpoints of a dead model. mmdet's
    ``CheckInvalidLossHook`` looks at the loss in ``after_train_iter``, i.e.
    after the optimizer step has already spoilt the weights.

    The check has to sit between the forward and the optimizer step, which
    happen together inside ``model.train_step``. At ``before_train`` the
    hook therefore wraps two methods of the runner's optimizer wrapper(s),
    the single place every ``train_step`` (mmengine's ``BaseModel``, its DDP
    wrapper) goes through:

    * ``update_params(loss)``: if the loss is not finite, neither
      ``backward`` nor ``step`` runs, so the weights, the optimizer state and
      any accumulated gradients stay those of the last good iteration. In a
      distributed run the flag is summed over all processes first, so they
      skip together (no process is left waiting in DDP's gradient
      all-reduce).
    * ``step()`` (``OptimWrapper`` only, ``check_grads=True``): a finite loss
      can still give NaN/inf gradients (e.g. ``sqrt`` at 0); then the
      gradients are zeroed and the step is not taken. ``AmpOptimWrapper`` is
      left alone: its ``GradScaler`` already skips steps with inf/NaN
      gradients and lowers the loss scale, which is how mixed precision is
      meant to work.

    In ``after_train_iter`` (priority ``HIGHEST``, before mmengine records the
    losses and before ``CheckpointHook`` writes anything) the hook then, for
    ``action='raise'`` (the default), raises ``FloatingPointError`` naming the
    iteration (1-based, as in the log), the non-finite loss terms and the
    image ids and paths of the batch. For ``action='skip'`` it logs that
    warning instead, removes the non-finite values from the outputs (so the
    logged loss means are not NaN for a whole window) and training goes on:
    the skipped batch simply did not train the model. More than
    ``max_consecutive_skips`` skipped batches in a row raise: the model has
    diverged and skipping would only burn the remaining schedule.

    Last line of defence, ``before_save_checkpoint`` refuses (raises
    ``FloatingPointError`` naming the tensor) to write a checkpoint whose
    ``state_dict`` holds a non-finite value, however it got there, so the
    previous checkpoint is never replaced (nor removed by ``max_keep_ckpts``)
    by a broken one.

    Buffers: the forward pass updates the running statistics of BatchNorm
    layers in training mode (the toy configs train theirs, ``norm_eval=False``)
    before the loss exists, so a NaN image poisons them before any guard can
    act. With ``action='skip'`` the hook therefore copies the model's
    floating-point buffers in ``before_train_iter`` and puts them back when
    it skips the batch (a few hundred KB for a ResNet-50; nothing is copied
    with ``action='raise'``, where the run stops anyway and the last
    checkpoint holds good statistics).

    Cost: one host-device synchronisation per iteration for the loss flag
    (mmengine's logging reads every loss value anyway) and, with
    ``check_grads``, one fused norm over the gradients per optimizer step.

    Args:
        action (str): ``'raise'`` (stop training) or ``'skip'`` (skip the
            batch with a warning). Defaults to ``'raise'``.
        check_grads (bool): also refuse optimizer steps with non-finite
            gradients (plain ``OptimWrapper``). Defaults to True.
        max_consecutive_skips (int): with ``action='skip'``, how many batches
            in a row may be skipped before training stops. Defaults to 10.
        max_listed_images (int): how many images of the batch the message
            lists. Defaults to 16.
    """

    priority = 'HIGHEST'

    def __init__(self,
                 action: str = 'raise',
                 check_grads: bool = True,
                 max_consecutive_skips: int = 10,
                 max_listed_images: int = 16) -> None:
        if action not in ACTIONS:
            raise ValueError(f'NonFiniteLossHook: action must be one of '
                             f'{ACTIONS}, got {action!r}')
        if max_consecutive_skips < 1:
            raise ValueError('NonFiniteLossHook: max_consecutive_skips must '
                             f'be >= 1, got {max_consecutive_skips}')
        self.action = action
        self.check_grads = check_grads
        self.max_consecutive_skips = max_consecutive_skips
        self.max_listed_images = max_listed_images
        self._problem: Optional[str] = None
        self._num_consecutive_skips = 0
        self._guarded: List[OptimWrapper] = []
        self._saved_buffers: List[tuple] = []

    # ------------------------------------------------------------ guards
    def before_train(self, runner) -> None:
        """Wrap ``update_params`` (and ``step``) of the optimizer wrapper(s).
        """
        optim_wrapper = runner.optim_wrapper
        wrappers = (
            list(optim_wrapper.values()) if isinstance(
                optim_wrapper, OptimWrapperDict) else [optim_wrapper])
        for wrapper in wrappers:
            self._guard(wrapper)

    def after_train(self, runner) -> None:
        """Restore the optimizer wrappers' own methods."""
        for wrapper in self._guarded:
            for name in ('update_params', 'step'):
                wrapper.__dict__.pop(name, None)
        self._guarded = []

    def _guard(self, wrapper: OptimWrapper) -> None:
        if wrapper in self._guarded:
            return
        update_params, step = wrapper.update_params, wrapper.step

        def guarded_update_params(loss: torch.Tensor,
                                  step_kwargs: Optional[Dict] = None,
                                  zero_kwargs: Optional[Dict] = None) -> None:
            bad = (~torch.isfinite(loss.detach())).any().float()
            all_reduce(bad)  # every process skips, or none does
            if bad.item() > 0:
                self._problem = 'loss'
                return  # no backward, no step: weights stay the last good
            update_params(loss, step_kwargs, zero_kwargs)

        def guarded_step(**kwargs) -> None:
            if not _grads_finite(wrapper):
                # DDP has already averaged the gradients: every process
                # sees the same and skips together
                self._problem = 'gradient'
                wrapper.zero_grad()
                return
            step(**kwargs)

        wrapper.update_params = guarded_update_params
        if self.check_grads and not isinstance(wrapper, AmpOptimWrapper):
            wrapper.step = guarded_step
        self._guarded.append(wrapper)

    # ------------------------------------------------------------ report
    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        self._problem = None
        if self.action == 'skip':
            self._saved_buffers = [
                (buf, buf.detach().clone())
                for buf in runner.model.buffers()
                if buf.is_floating_point()
            ]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Raise or warn for an iteration whose update was refused."""
        if self._problem is None:
            self._num_consecutive_skips = 0
            return
        message = self._message(runner, data_batch, outputs or {})
        self._problem = None
        if self.action == 'raise':
            raise FloatingPointError(
                f'{message}. Training stopped before the optimizer step: '
                'the weights are those of the previous iteration and no '
                'checkpoint was written from this one. To skip such batches '
                'instead, set '
                "default_hooks.non_finite_loss.action='skip'")
        self._num_consecutive_skips += 1
        if self._num_consecutive_skips > self.max_consecutive_skips:
            raise FloatingPointError(
                f'{message}; {self._num_consecutive_skips} batches in a row '
                'were skipped (max_consecutive_skips='
                f'{self.max_consecutive_skips}): training has diverged')
        runner.logger.warning(f'{message}; batch skipped (no optimizer '
                              'step, BatchNorm statistics restored)')
        with torch.no_grad():
            for buf, saved in self._saved_buffers:
                buf.copy_(saved)
        if outputs is not None:
            for key in [k for k, v in outputs.items() if not _finite(v)]:
                del outputs[key]  # keep NaN out of the logged means

    def _message(self, runner, data_batch: DATA_BATCH, outputs: dict) -> str:
        terms = ', '.join(f'{k}={_as_float(v):g}' for k, v in outputs.items()
                          if 'loss' in k)
        what = ('non-finite loss' if self._problem == 'loss' else
                'non-finite gradient (finite loss)')
        if self._problem == 'loss' and all(
                _finite(v) for v in outputs.values()):
            what += ' on another process'
        return (f'{what} at iteration {runner.iter + 1} ({terms}); images of '
                f'the batch: {self._describe_images(data_batch)}')

    def _describe_images(self, data_batch: DATA_BATCH) -> str:
        samples: Sequence = []
        if isinstance(data_batch, dict):
            samples = data_batch.get('data_samples') or []
        names = []
        for sample in samples:
            meta = getattr(sample, 'metainfo', None)
            if meta is None and isinstance(sample, dict):
                meta = sample
            meta = meta or {}
            names.append(f'id {meta.get("img_id")} '
                         f'({meta.get("img_path", "unknown path")})')
        if not names:
            return 'unknown (no data_samples metainfo)'
        listed = ', '.join(names[:self.max_listed_images])
        more = len(names) - self.max_listed_images
        return listed + (f' and {more} more' if more > 0 else '')

    # ------------------------------------------------------- checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to write a checkpoint holding a non-finite weight."""
        for name, value in (checkpoint.get('state_dict') or {}).items():
            if (isinstance(value, torch.Tensor) and value.is_floating_point()
                    and not bool(torch.isfinite(value).all())):
                meta = checkpoint.get('meta', {})
                raise FloatingPointError(
                    f'refusing to write the checkpoint of iteration '
                    f'{meta.get("iter")} (epoch {meta.get("epoch")}): '
                    f'state_dict tensor {name!r} is not finite; the previous '
                    'checkpoint is kept')


def _finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all())
    try:
        return bool(torch.isfinite(torch.tensor(float(value))))
    except (TypeError, ValueError):
        return True  # not a number: nothing to check


def _as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean())
    return float(value)


def _grads_finite(wrapper: OptimWrapper) -> bool:
    grads = [
        p.grad for group in wrapper.optimizer.param_groups
        for p in group['params'] if p.grad is not None and not p.grad.is_sparse
    ]
    if not grads:
        return True
    norms = torch._foreach_norm(grads)
    device = norms[0].device
    return bool(torch.isfinite(torch.stack([n.to(device)
                                            for n in norms])).all())
