"""Measure inference throughput during ``runner.test()``."""
import time
from typing import Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook


@HOOKS.register_module()
class InferenceSpeedHook(Hook):
    """Record images per second of the test loop.

    When the loop is too short to have iterations after the warm-up, the
    warm-up iterations are counted after all, so a figure is always given.

    The clock runs from ``before_test_iter`` to ``after_test_iter`` (model
    forward, post-processing and ``evaluator.process``) only, so
    data loading between iterations and the final metric computation are not
    counted; the first ``num_warmup`` iterations are skipped (lazy init,
    allocator warm-up).

    Args:
        num_warmup (int): iterations to ignore. Defaults to 2.
    """

    priority = 'VERY_LOW'

    def __init__(self, num_warmup: int = 2) -> None:
        self.num_warmup = num_warmup
        self.reset()

    def reset(self) -> None:
        self.elapsed = 0.0
        self.num_images = 0
        self.warmup_elapsed = 0.0
        self.warmup_images = 0
        self._iters = 0
        self._start: Optional[float] = None

    def before_test(self, runner) -> None:
        self.reset()

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        if self._start is None:
            return
        self._iters += 1
        elapsed = time.perf_counter() - self._start
        num_images = len(outputs) if outputs is not None else 0
        if self._iters <= self.num_warmup:
            self.warmup_elapsed += elapsed
            self.warmup_images += num_images
        else:
            self.elapsed += elapsed
            self.num_images += num_images

    @property
    def images_per_second(self) -> Optional[float]:
        if self.num_images > 0 and self.elapsed > 0:
            return self.num_images / self.elapsed
        if self.warmup_images > 0 and self.warmup_elapsed > 0:
            return self.warmup_images / self.warmup_elapsed
        return None
