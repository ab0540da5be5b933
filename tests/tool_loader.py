"""Import a script under ``tools/`` without putting its folder on sys.path.

``tools/`` holds ``test.py`` and ``train.py``: with ``tools/`` on
``sys.path`` they would shadow the standard library's ``test`` package (and
any ``train`` module) for the rest of the test session. Each tool is loaded
from its path under a unique module name instead.
"""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tool_module_name(rel_path: str) -> str:
    """``tools/analysis_tools/make_table.py`` -> ``mmext_tools.analysis_tools
    .make_table`` style unique name (dots replaced by underscores)."""
    stem = osp.splitext(rel_path)[0]
    return 'mmext_tool__' + stem.replace('/', '__')


def load_tool(rel_path: str) -> ModuleType:
    """Load ``REPO_ROOT/rel_path`` once per session and return the module.

    Args:
        rel_path (str): e.g. ``'tools/sweep.py'``.
    """
    name = tool_module_name(rel_path)
    if name in sys.modules:
        return sys.modules[name]
    path = osp.join(REPO_ROOT, rel_path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # registered before running it: dataclasses and pickling look it up
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
