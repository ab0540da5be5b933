"""Safe checkpoint loading and atomic checkpoint writing.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, which
refuses anything but tensors and plain containers unless the class is
allow-listed. mmengine 0.10.7 checkpoints also carry its message hub
(``HistoryBuffer`` objects holding numpy arrays) and numpy scalars, so
``--resume`` fails out of the box. Instead of turning ``weights_only`` off —
a checkpoint is untrusted input and unpickling it can run arbitrary code — we
allow-list exactly the classes mmengine stores.

Checkpoints are written atomically by the ``local_atomic`` file backend:
bytes go to a temporary file in the same directory, are flushed to disk and
then renamed over the target, so an interrupted run never leaves a truncated
``epoch_N.pth`` or ``last_checkpoint`` behind.
"""
import os.path as osp
import pickle
from pathlib import Path
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend

from .atomic_io import atomic_write_bytes, atomic_write_text


def _numpy_safe_globals() -> List[Callable]:
    """numpy objects that appear in pickled arrays and scalars."""
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = []
    if hasattr(np, 'dtypes'):  # numpy >= 1.25 pickles dtypes by class
        dtype_classes = [
            getattr(np.dtypes, name) for name in dir(np.dtypes)
            if name.endswith('DType')
        ]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """A ``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    A pickled ``HistoryBuffer`` refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allow-listing the builtin ``getattr``
    would let a checkpoint reach any attribute of any allowed object, so the
    pickle's ``getattr`` is mapped to this function instead.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    # the built-in methods are put into `_statistics_methods` only when the
    # first buffer is created, so they are listed explicitly
    allowed = {
        'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods
    }
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed')


def checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The classes and functions mmext allows in checkpoints.

    Returns:
        list: numpy's array/scalar reconstruction helpers and dtypes,
        mmengine's ``HistoryBuffer`` (message hub state) and the restricted
        ``getattr`` its pickles need (in ``add_safe_globals``' tuple form,
        under the names pickle protocols 2 and 3+ use).
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    return [
        *_numpy_safe_globals(), HistoryBuffer,
        (_history_buffer_getattr, '__builtin__.getattr'),
        (_history_buffer_getattr, 'builtins.getattr')
    ]


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``weights_only`` loads.

    Idempotent; a no-op on torch versions without ``add_safe_globals``.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(checkpoint_safe_globals())


def safe_load_checkpoint(filename: str, map_location='cpu') -> dict:
    """``torch.load`` a checkpoint with ``weights_only=True``.

    Raises:
        FileNotFoundError: if ``filename`` does not exist.
        pickle.UnpicklingError: if the file holds any object outside the
            allow-list (e.g. a pickled callable).
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    register_checkpoint_safe_globals()
    return torch.load(filename, map_location=map_location, weights_only=True)


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose writes are atomic (temp file + rename).

    Use it for checkpoints with
    ``default_hooks.checkpoint.backend_args=dict(backend='local_atomic')``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write_text(filepath, obj, encoding)


register_backend('local_atomic', AtomicLocalBackend, force=True)
