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
    _write_pseudo_mask_annotations(str(root))
    return str(root) + '/'


@pytest.fixture(autouse=True)
def mmdet_default_scope():
    """Every test starts in mmdet's registry scope.

    Runner-based tests leave their own scope (e.g. 'mmengine') as the current
    ``DefaultScope``; builds by type name in later tests must not depend on
    test order.
    """
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    yield


def _write_pseudo_mask_annotations(root: str) -> None:
    """``instances_train_pseudo.json`` as the GrabCut converter writes it.

    Runner tests of the weakly supervised toy configs read it. Here the real
    masks stand in for the pseudo masks (the converter itself is tested in
    tests/test_datasets/test_pseudo_masks.py); every third instance is
    flagged invalid so both branches get training instances.
    """
    import json
    import os.path as osp
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    for i, ann in enumerate(coco['annotations']):
        ann.update(valid=i % 3 != 0, pseudo_iou=0.9 if i % 3 else 0.3,
                   pseudo_status='ok')
    with open(osp.join(root, 'annotations', 'instances_train_pseudo.json'),
              'w') as f:
        json.dump(coco, f)
