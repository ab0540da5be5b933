"""Tool scripts are imported without shadowing standard modules."""
import importlib.util
import os
import os.path as osp
import sys
import sysconfig

from tool_loader import REPO_ROOT, load_tool, tool_module_name

TOOLS = ('tools/train.py', 'tools/test.py', 'tools/sweep.py',
         'tools/analysis_tools/make_table.py',
         'tools/analysis_tools/plot_curves.py',
         'tools/analysis_tools/benchmark_model.py',
         'tools/analysis_tools/show_threshold_maps.py')


def test_loading_tools_leaves_sys_path_and_stdlib_alone():
    for rel_path in TOOLS:
        module = load_tool(rel_path)
        assert module.__name__ == tool_module_name(rel_path)
        assert module.__file__ == osp.join(REPO_ROOT, rel_path)
        assert load_tool(rel_path) is module  # loaded once
    # tools/ itself (test.py, train.py) is never on sys.path; a tool may
    # put its own sibling folder there (sweep.py: analysis_tools/), whose
    # scripts must not shadow standard modules either
    on_path = {osp.abspath(p) for p in sys.path if p}
    assert osp.join(REPO_ROOT, 'tools') not in on_path
    for folder in on_path:
        if folder.startswith(osp.join(REPO_ROOT, 'tools')):
            scripts = {
                osp.splitext(f)[0]
                for f in os.listdir(folder) if f.endswith('.py')
            }
            assert not scripts & set(sys.stdlib_module_names), folder
    # ``test`` is the standard library's package, not tools/test.py
    spec = importlib.util.find_spec('test')
    stdlib = sysconfig.get_paths()['stdlib']
    assert spec is not None and spec.origin.startswith(stdlib), spec
    assert 'train' not in sys.modules or not sys.modules['train'].__file__ \
        .startswith(osp.join(REPO_ROOT, 'tools'))
