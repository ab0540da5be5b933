"""Atomic file writes: temporary file in the same directory, fsync, rename.

Readers see the old file or the new one, never a half-written one, and a
writer killed mid-way leaves the old file intact and no temporary file
behind. Standard library only, so light tools can use it.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Any, Union

PathLike = Union[str, 'os.PathLike[str]']


def atomic_write_bytes(path: PathLike, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically; parent dirs are created.

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    dirname = osp.dirname(osp.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def atomic_write_text(path: PathLike,
                      text: str,
                      encoding: str = 'utf-8') -> str:
    """Write ``text`` to ``path`` atomically (no newline translation)."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: PathLike, obj: Any, **dump_kwargs) -> str:
    """``json.dump`` ``obj`` to ``path`` atomically.

    Args:
        dump_kwargs: passed to :func:`json.dumps` (``indent``, ``default``).
    """
    return atomic_write_text(path, json.dumps(obj, **dump_kwargs))
