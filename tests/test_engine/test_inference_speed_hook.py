"""InferenceSpeedHook inside mmengine's Runner, on a fake clock.

The model's ``test_step`` advances a fake ``perf_counter`` by a fixed time
per image, so the expected throughput is exact and nothing depends on how
fast (or loaded) the machine is.
"""
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

import mmext.engine.hooks.inference_speed_hook as speed_module
from mmext.engine.hooks import InferenceSpeedHook

SECONDS_PER_IMAGE = 0.25


class FakeClock:

    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now


class _Model(BaseModel):
    """``test_step`` costs SECONDS_PER_IMAGE per image on the fake clock;
    data loading and metric code cost nothing."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.fc = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return inputs

    def test_step(self, data):
        self.clock.now += SECONDS_PER_IMAGE * len(data)
        return list(data)


class _CountMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(count=len(results))


@pytest.fixture
def clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(speed_module, 'time', clock)
    return clock


def _test_with_runner(tmp_path, clock, num_images, batch_size, num_warmup):
    loader = DataLoader(
        list(range(num_images)),
        batch_size=batch_size,
        collate_fn=lambda batch: batch)
    runner = Runner(
        model=_Model(clock),
        work_dir=str(tmp_path),
        test_dataloader=loader,
        test_cfg=dict(type='TestLoop'),
        test_evaluator=_CountMetric(),
        default_hooks=dict(logger=None, checkpoint=None, timer=None),
        experiment_name=f'speed_{num_images}_{batch_size}_{num_warmup}')
    hook = InferenceSpeedHook(num_warmup=num_warmup)
    runner.register_hook(hook, priority='VERY_LOW')
    metrics = runner.test()
    assert metrics['count'] == num_images
    return hook


def test_counts_images_after_warmup_in_a_runner(tmp_path, clock):
    # 6 batches of 4; the first 2 are warm-up
    hook = _test_with_runner(tmp_path, clock, 24, 4, num_warmup=2)
    assert hook.warmup_images == 8 and hook.num_images == 16
    assert hook.elapsed == pytest.approx(16 * SECONDS_PER_IMAGE)
    assert hook.images_per_second == pytest.approx(1 / SECONDS_PER_IMAGE)


def test_a_slow_warmup_is_not_counted(tmp_path, clock, monkeypatch):
    """The first iteration is 10x slower (lazy init): skipped by warm-up."""
    original = _Model.test_step
    calls = []

    def slow_first(self, data):
        calls.append(1)
        if len(calls) == 1:
            self.clock.now += 9 * SECONDS_PER_IMAGE * len(data)
        return original(self, data)

    monkeypatch.setattr(_Model, 'test_step', slow_first)
    hook = _test_with_runner(tmp_path, clock, 12, 3, num_warmup=1)
    assert hook.images_per_second == pytest.approx(1 / SECONDS_PER_IMAGE)


def test_short_loop_falls_back_to_warmup(tmp_path, clock):
    # one batch of 3, shorter than the warm-up: the warm-up is counted
    hook = _test_with_runner(tmp_path, clock, 3, 3, num_warmup=2)
    assert hook.num_images == 0 and hook.warmup_images == 3
    assert hook.images_per_second == pytest.approx(1 / SECONDS_PER_IMAGE)
    hook.before_test(None)  # a new test run starts from scratch
    assert hook.images_per_second is None
