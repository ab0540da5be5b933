"""Where a model's time goes: module scopes in a ``torch.profiler`` trace.

``torch.profiler`` reports operators (``aten::convolution_backward``...), not
which part of a detector ran them. :func:`annotate_modules` opens a
``record_function`` scope around the ``forward`` of every submodule down to a
depth, and around the head methods that do their work outside ``forward``
(``loss_and_target``, ``predict_by_feat``...), so the trace also carries
``module::roi_head.mask_head`` style events with their inclusive CPU time.
:func:`profile_steps` runs a step under the profiler and returns per-scope and
per-operator times; :func:`extra_time_table` compares a model with a
baseline. Used by ``tools/analysis_tools/benchmark_model.py --profile``.

Backward passes run in autograd's engine, outside any forward scope: they
appear as operators (``aten::convolution_backward``, ``SaRoIAlign``'s
``...Backward``), not under the module that created them.
"""
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Tuple

import torch
import torch.nn as nn
from torch.autograd.profiler import record_function

#: methods that do a head's work outside ``forward``: a head's whole
#: training/inference pass (``loss``, ``predict``), targets, losses,
#: post-processing and mask pasting
SCOPED_METHODS = ('loss', 'predict', 'loss_and_predict', 'loss_and_target',
                  'loss_by_feat', 'get_targets', 'predict_by_feat')

MODULE_PREFIX = 'module::'
METHOD_PREFIX = 'method::'


@contextmanager
def annotate_modules(model: nn.Module, depth: int = 2) -> Iterator[None]:
    """Scope the forward (and :data:`SCOPED_METHODS`) of every submodule.

    Args:
        model (nn.Module): the model; its submodules named ``a.b`` have depth
            2.
        depth (int): deepest submodule scoped. Defaults to 2 (e.g.
            ``roi_head.mask_head``).

    Yields:
        None: the scopes are removed (hooks and method wrappers) on exit.
    """
    handles = []
    wrapped: List[Tuple[nn.Module, str]] = []
    for name, module in model.named_modules():
        if not name or name.count('.') + 1 > depth:
            continue
        scopes: List[record_function] = []

        def enter(_module, _inputs, _scopes=scopes, _name=name):
            scope = record_function(MODULE_PREFIX + _name)
            scope.__enter__()
            _scopes.append(scope)

        def leave(_module, _inputs, _outputs, _scopes=scopes):
            _scopes.pop().__exit__(None, None, None)

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
        for method in SCOPED_METHODS:
            bound = getattr(module, method, None)
            if callable(bound) and method not in module.__dict__:
                setattr(module, method,
                        _scoped(bound, f'{METHOD_PREFIX}{name}.{method}'))
                wrapped.append((module, method))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for module, method in wrapped:
            delattr(module, method)  # the class's method shows through again


def _scoped(fn: Callable, scope_name: str) -> Callable:

    def scoped(*args, **kwargs):
        with record_function(scope_name):
            return fn(*args, **kwargs)

    return scoped


def profile_steps(step: Callable[[], None], iters: int,
                  model: nn.Module, depth: int = 2
                  ) -> Tuple[Dict[str, float], Dict[str, float], float]:
    """Run ``step`` ``iters`` times under the profiler, modules scoped.

    Args:
        step (Callable[[], None]): one training step or one inference.
        iters (int): profiled repetitions (after the caller's warm-up).
        model (nn.Module): the model ``step`` runs, to scope.
        depth (int): see :func:`annotate_modules`.

    Returns:
        tuple: ``scopes`` (scope name -> inclusive CPU ms per iteration),
        ``ops`` (operator name -> self CPU ms per iteration) and the wall
        ms per iteration.
    """
    with annotate_modules(model, depth), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(iters):
            step()
        wall = (time.perf_counter() - start) * 1e3 / iters
    scopes: Dict[str, float] = defaultdict(float)
    ops: Dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith((MODULE_PREFIX, METHOD_PREFIX)):
            scopes[event.key] += event.cpu_time_total / 1e3 / iters
        elif event.self_cpu_time_total > 0:
            ops[event.key] += event.self_cpu_time_total / 1e3 / iters
    return dict(scopes), dict(ops), wall


def extra_time_table(base: Dict[str, float],
                     other: Dict[str, float],
                     top: int = 10,
                     what: str = 'scope') -> str:
    """Markdown table of the ``top`` entries by time beyond the baseline.

    Args:
        base (dict[str, float]): baseline name -> ms per iteration.
        other (dict[str, float]): the model's name -> ms per iteration.
        top (int): rows shown (largest extra time first).
        what (str): header of the name column.

    Returns:
        str: the table; entries absent from one side count as 0 ms there.
    """
    names = set(base) | set(other)
    rows = sorted(((other.get(n, 0.) - base.get(n, 0.), n) for n in names),
                  reverse=True)[:top]
    lines = [f'| {what} | baseline ms | this ms | extra ms |',
             '|---|---:|---:|---:|']
    for extra, name in rows:
        lines.append(f'| `{name}` | {base.get(name, 0.):.1f} | '
                     f'{other.get(name, 0.):.1f} | {extra:+.1f} |')
    return '\n'.join(lines)
