"""Shared fixtures: a tiny toy dataset and config helpers for CPU tests."""
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import mmext  # noqa: E402,F401  (registers modules and safe globals)


@pytest.fixture(scope='session')
def toy_data_root(tmp_path_factory) -> str:
    """A small toy set (12 train / 6 val images), generated once per run.

    Returns the data root with a trailing slash, ready for ``data_root``.
    """
    from mmext.datasets.toy import generate_toy_dataset
    root = tmp_path_factory.mktemp('toy')
    generate_toy_dataset(str(root), num_train=12, num_val=6, seed=0)
    return str(root) + '/'
