"""Lazy loading of mmext's compiled ops (``mmext._ext``).

``import mmext`` must work without the compiled extension (configs, data
tools and docs do not need it), so ops import it at their first call through
:func:`load_ext`, which turns a missing or stale build into an ImportError
that says how to build it.
"""
import importlib
from types import ModuleType
from typing import Optional, Sequence

_BUILD_HINT = (
    'Build it from the repository root with '
    '`pip install --no-build-isolation -e .` (or '
    '`python setup.py build_ext --inplace`), against the installed torch.')

_ext: Optional[ModuleType] = None


def load_ext(funcs: Sequence[str] = ()) -> ModuleType:
    """Import ``mmext._ext`` and check that it provides ``funcs``.

    Args:
        funcs (Sequence[str]): Names the caller needs from the extension.

    Returns:
        ModuleType: The ``mmext._ext`` module.

    Raises:
        ImportError: If the extension is not built, does not load (e.g. built
            against another torch) or lacks one of ``funcs`` (stale build).
    """
    global _ext
    if _ext is None:
        try:
            _ext = importlib.import_module('mmext._ext')
        except ImportError as e:
            raise ImportError(
                f'mmext compiled ops (mmext._ext) are not available: {e}. '
                f'{_BUILD_HINT}') from e
    missing = [f for f in funcs if not hasattr(_ext, f)]
    if missing:
        raise ImportError(
            f'mmext._ext lacks {missing}: the build is stale. {_BUILD_HINT}')
    return _ext
