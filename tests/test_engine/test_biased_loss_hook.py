"""BiasedLossHook: MaskPlus' biased training (mask loss x1.5, then x1).

The hook runs inside a real mmengine ``Runner`` on a tiny model whose loss
is scaled by ``roi_head.mask_head.loss_mask.loss_weight``; a recording hook
with lower priority reads, before every iteration, the loss weight and the
factor logged in the message hub.
"""
import os.path as osp
import uuid
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmdet.models.losses import CrossEntropyLoss
from mmext.engine.hooks import BiasedLossHook

LOG_KEY = 'train/mask_alpha'


class TinyMaskModel(BaseModel):
    """Just enough of a detector: ``roi_head.mask_head.loss_mask``."""

    def __init__(self, num_stages: int = 1, base_weight: float = 1.0):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.roi_head = nn.Module()
        heads = [nn.Module() for _ in range(num_stages)]
        for head in heads:
            head.loss_mask = CrossEntropyLoss(
                use_mask=True, loss_weight=base_weight)
        self.roi_head.mask_head = heads[0] if num_stages == 1 else \
            nn.ModuleList(heads)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(
            torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            weight = self.roi_head.mask_head.loss_mask.loss_weight
            return dict(loss_mask=out.pow(2).mean() * weight)
        return out


class RecordHook(Hook):
    """Records (iter, epoch, loss_weight, logged factor) per iteration."""

    priority = 'LOW'  # after BiasedLossHook (NORMAL)

    def __init__(self):
        self.records = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        self.records.append(
            (runner.iter, runner.epoch,
             model.roi_head.mask_head.loss_mask.loss_weight,
             float(runner.message_hub.get_scalar(LOG_KEY).current())))


def _runner(work_dir,
            hooks,
            train_cfg,
            ckpt_interval=100,
            resume_from=None,
            base_weight=1.0):
    dataset = [dict(inputs=torch.rand(2)) for _ in range(2)]
    return Runner(
        model=TinyMaskModel(base_weight=base_weight),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=train_cfg,
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook',
                interval=ckpt_interval,
                by_epoch=train_cfg['type'] == 'EpochBasedTrainLoop')),
        custom_hooks=hooks,
        load_from=resume_from,
        resume=resume_from is not None,
        default_scope='mmengine',
        experiment_name=f'biased_loss_hook_{uuid.uuid4().hex}')


def test_switches_at_iteration(tmp_path):
    record = RecordHook()
    runner = _runner(
        tmp_path / 'iter', [BiasedLossHook(alpha=1.5, end=3), record],
        dict(type='IterBasedTrainLoop', max_iters=6, val_interval=100),
        base_weight=2.0)
    runner.train()
    assert [r[0] for r in record.records] == list(range(6))
    assert [r[3] for r in record.records] == [1.5] * 3 + [1.0] * 3
    # the configured weight (2.0) is scaled, not replaced
    assert [r[2] for r in record.records] == [3.0] * 3 + [2.0] * 3
    # the configured weight is back after training
    assert runner.model.roi_head.mask_head.loss_mask.loss_weight == 2.0


def test_switches_at_epoch(tmp_path):
    record = RecordHook()
    runner = _runner(
        tmp_path / 'epoch',
        [BiasedLossHook(alpha=1.5, end=1, by_epoch=True), record],
        dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=100))
    runner.train()
    assert [r[1] for r in record.records] == [0, 0, 1, 1, 2, 2]
    assert [r[3] for r in record.records] == [1.5, 1.5, 1.0, 1.0, 1.0, 1.0]
    assert [r[2] for r in record.records] == [1.5, 1.5, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    'ckpt_iter,expected',
    [
        (4, [1.0, 1.0]),  # resumed after the switch: stays at 1.0
        (2, [1.5, 1.0, 1.0, 1.0]),  # resumed before it: switches at iter 3
    ])
def test_resume_derives_weight_from_iteration(tmp_path, ckpt_iter, expected):
    first = _runner(
        tmp_path / 'first', [BiasedLossHook(alpha=1.5, end=3)],
        dict(type='IterBasedTrainLoop', max_iters=ckpt_iter, val_interval=100),
        ckpt_interval=ckpt_iter)
    first.train()
    ckpt = osp.join(str(tmp_path / 'first'), f'iter_{ckpt_iter}.pth')
    assert osp.isfile(ckpt)

    # a new process: fresh model (configured weight), fresh hook
    record = RecordHook()
    second = _runner(
        tmp_path / 'second', [BiasedLossHook(alpha=1.5, end=3), record],
        dict(type='IterBasedTrainLoop', max_iters=6, val_interval=100),
        resume_from=ckpt)
    second.train()
    assert [r[0] for r in record.records] == list(range(ckpt_iter, 6))
    assert [r[3] for r in record.records] == expected
    assert [r[2] for r in record.records] == expected


def _fake_runner(model, iteration=0, epoch=0):
    return SimpleNamespace(
        model=model,
        iter=iteration,
        epoch=epoch,
        message_hub=MessageHub.get_instance('test_biased_loss_hook'))


def test_scales_every_cascade_stage():
    model = TinyMaskModel(num_stages=3)
    hook = BiasedLossHook(alpha=1.5, end=10)
    hook.before_train_iter(_fake_runner(model, iteration=9), 0)
    assert [h.loss_mask.loss_weight
            for h in model.roi_head.mask_head] == [1.5] * 3
    hook.before_train_iter(_fake_runner(model, iteration=10), 0)
    assert [h.loss_mask.loss_weight
            for h in model.roi_head.mask_head] == [1.0] * 3


def test_repeated_calls_do_not_compound():
    model = TinyMaskModel()
    hook = BiasedLossHook(alpha=1.5, end=10)
    for _ in range(3):
        hook.before_train_iter(_fake_runner(model, iteration=0), 0)
    assert model.roi_head.mask_head.loss_mask.loss_weight == 1.5


def test_unwraps_distributed_model(tmp_path):
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel

    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        model = TinyMaskModel()
        wrapped = MMDistributedDataParallel(module=model)
        hook = BiasedLossHook(alpha=1.5, end=10)
        hook.before_train_iter(_fake_runner(wrapped, iteration=0), 0)
        assert model.roi_head.mask_head.loss_mask.loss_weight == 1.5
        hook.before_train_iter(_fake_runner(wrapped, iteration=10), 0)
        assert model.roi_head.mask_head.loss_mask.loss_weight == 1.0
    finally:
        dist.destroy_process_group()


def test_bad_arguments():
    with pytest.raises(ValueError, match='alpha'):
        BiasedLossHook(alpha=0, end=1)
    with pytest.raises(ValueError, match='end'):
        BiasedLossHook(end=-1)
    hook = BiasedLossHook(end=1, head_path='roi_head.semantic_head')
    with pytest.raises(ValueError, match='roi_head.semantic_head'):
        hook.before_train_iter(_fake_runner(TinyMaskModel()), 0)
    hook = BiasedLossHook(end=1, loss_name='loss_dice')
    with pytest.raises(ValueError, match='loss_dice'):
        hook.before_train_iter(_fake_runner(TinyMaskModel()), 0)


@pytest.mark.parametrize('max_iters', [6, 10])
def test_default_end_is_half_the_schedule(tmp_path, max_iters):
    """Without ``end`` the switch follows the schedule's length."""
    record = RecordHook()
    hook = BiasedLossHook(alpha=1.5)
    runner = _runner(
        tmp_path / f'half{max_iters}', [hook, record],
        dict(type='IterBasedTrainLoop', max_iters=max_iters,
             val_interval=100))
    runner.train()
    half = max_iters // 2
    assert hook.end == half
    assert [r[3] for r in record.records] == [1.5] * half + [1.0] * (
        max_iters - half)


def test_default_end_by_epoch(tmp_path):
    record = RecordHook()
    runner = _runner(
        tmp_path / 'half_epochs',
        [BiasedLossHook(alpha=1.5, by_epoch=True), record],
        dict(type='EpochBasedTrainLoop', max_epochs=4, val_interval=100))
    runner.train()
    # 2 iterations per epoch: epochs 0-1 biased, 2-3 not
    assert [r[3] for r in record.records] == [1.5] * 4 + [1.0] * 4
