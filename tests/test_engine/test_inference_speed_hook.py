import time

import pytest

from mmext.engine.hooks import InferenceSpeedHook


def _run(hook, num_iters, batch, sleep):
    hook.before_test(None)
    for i in range(num_iters):
        hook.before_test_iter(None, i)
        time.sleep(sleep)
        hook.after_test_iter(None, i, outputs=[object()] * batch)


def test_counts_images_after_warmup():
    hook = InferenceSpeedHook(num_warmup=2)
    _run(hook, 6, batch=4, sleep=0.01)
    assert hook.num_images == 16 and hook.warmup_images == 8
    # 4 images per ~10 ms iteration -> at most 400 img/s
    assert 100 < hook.images_per_second <= 400


def test_short_loop_falls_back_to_warmup():
    hook = InferenceSpeedHook(num_warmup=2)
    _run(hook, 1, batch=3, sleep=0.01)
    assert hook.num_images == 0
    assert hook.images_per_second == pytest.approx(300, rel=0.5)
    hook.before_test(None)  # a new test run starts from scratch
    assert hook.images_per_second is None
