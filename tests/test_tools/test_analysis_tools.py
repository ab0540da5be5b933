"""show_threshold_maps.py, benchmark_model.py and dist_test.sh end to end.

They share one untrained toy checkpoint per model (saved once per module):
the tools' plumbing, not the weights, is under test.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdet.registry import MODELS
from tool_loader import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ATMASK_TOY = osp.join(REPO_ROOT, 'configs', 'atmask',
                      'atmask-rcnn_r18_fpn_1x_toy.py')
MASK_RCNN_TOY = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                         'mask-rcnn_r18_fpn_1x_toy.py')


def _save_untrained(config, path):
    cfg = Config.fromfile(config)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpts')
    return dict(
        atmask=_save_untrained(ATMASK_TOY, str(root / 'atmask.pth')),
        mask_rcnn=_save_untrained(MASK_RCNN_TOY, str(root / 'mask_rcnn.pth')))


def _data_options(data_root):
    return [
        f'test_dataloader.dataset.data_root={data_root}',
        f'test_evaluator.ann_file={data_root}annotations/instances_val.json',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'load_from=None',
    ]


def test_show_threshold_maps(toy_data_root, checkpoints, tmp_path,
                             monkeypatch, capsys):
    tool = load_tool('tools/analysis_tools/show_threshold_maps.py')
    out_dir = tmp_path / 'maps'
    monkeypatch.setattr(sys, 'argv', [
        'show_threshold_maps.py', ATMASK_TOY, checkpoints['atmask'],
        '--out-dir',
        str(out_dir), '--num-images', '2', '--score-thr', '0',
        '--max-per-image', '2', '--cfg-options', *_data_options(toy_data_root),
        'model.test_cfg.rcnn.score_thr=0.0'
    ])
    tool.main()
    pngs = sorted(os.listdir(out_dir))
    assert len(pngs) == 4  # 2 images x 2 instances
    assert '4 PNG(s) written' in capsys.readouterr().out
    import matplotlib.image as mpimg
    figure = mpimg.imread(str(out_dir / pngs[0]))
    assert figure.shape[1] > 3 * figure.shape[0]  # five panels in a row

    # a model without the threshold branch is refused, naming the config
    monkeypatch.setattr(sys, 'argv', [
        'show_threshold_maps.py', MASK_RCNN_TOY, checkpoints['mask_rcnn'],
        '--out-dir',
        str(tmp_path / 'none'), '--cfg-options',
        *_data_options(toy_data_root)
    ])
    with pytest.raises(ValueError, match='adaptive threshold'):
        tool.main()


def test_benchmark_model_table(checkpoints, monkeypatch, capsys):
    tool = load_tool('tools/analysis_tools/benchmark_model.py')
    monkeypatch.setattr(sys, 'argv', [
        'benchmark_model.py', ATMASK_TOY, '--baseline', MASK_RCNN_TOY,
        '--checkpoints', checkpoints['atmask'], '--baseline-checkpoint',
        checkpoints['mask_rcnn'], '--iters', '1', '--warmup', '0',
        '--batch-size', '1', '--img-size', '64', '--cfg-options',
        'load_from=None'
    ])
    tool.main()
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [
        [c.strip() for c in line.strip('|').split('|')]
        for line in lines if line.startswith('| ') and 'config' not in line
    ]
    assert [r[0] for r in rows] == [
        'mask-rcnn_r18_fpn_1x_toy (baseline)', 'atmask-rcnn_r18_fpn_1x_toy'
    ]
    base, atmask = rows
    assert base[3] == '1.000x' and base[6] == '1.000x'
    for row in rows:
        assert float(row[1]) > 0 and float(row[4]) > 0
        assert row[9] != '-'  # detections were counted
    # ATMask adds the threshold branch: more parameters in both phases
    params = [[float(r[k].rstrip('M')) for k in (7, 8)] for r in rows]
    assert params[1][0] > params[0][0] and params[1][1] > params[0][1]


BOXINST_TOY = osp.join(REPO_ROOT, 'configs', 'peers', 'boxinst_r18_fpn_1x_toy.py')


def test_benchmark_model_publishes_the_iteration(monkeypatch, capsys):
    """BoxInst's mask head reads the Runner's iteration from the MessageHub
    (pairwise-loss warm-up); benchmark_model publishes it as the Runner
    does, so the box-supervised peer can be timed."""
    pytest.importorskip('skimage', reason='BoxInst needs scikit-image')
    tool = load_tool('tools/analysis_tools/benchmark_model.py')
    monkeypatch.setattr(sys, 'argv', [
        'benchmark_model.py', BOXINST_TOY, '--baseline', MASK_RCNN_TOY,
        '--iters', '1', '--warmup', '1', '--batch-size', '1', '--img-size',
        '64', '--cfg-options', 'load_from=None'
    ])
    tool.main()
    rows = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('| boxinst_r18_fpn_1x_toy ')
    ]
    assert len(rows) == 1
    train_s_per_iter = float(rows[0].strip('|').split('|')[1])
    assert train_s_per_iter > 0


def test_dist_test_sh_on_cpu(toy_data_root, checkpoints, tmp_path):
    """``tools/dist_test.sh CONFIG CKPT 2``: two gloo processes evaluate the
    val set together and rank 0 writes the metrics record."""
    work_dir = str(tmp_path / 'dist_test')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    env['PORT'] = str(30500 + os.getpid() % 1000)
    result = subprocess.run([
        'bash',
        osp.join(REPO_ROOT, 'tools', 'dist_test.sh'), MASK_RCNN_TOY,
        checkpoints['mask_rcnn'], '2', '--work-dir', work_dir,
        '--cfg-options', *_data_options(toy_data_root)
    ],
                            cwd=REPO_ROOT,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    with open(osp.join(work_dir, 'metrics.json')) as f:
        record = json.load(f)
    assert record['checkpoint'] == checkpoints['mask_rcnn']
    assert 'coco/segm_mAP' in record['metrics']
    logs = [
        osp.join(root, f) for root, _, files in os.walk(work_dir)
        for f in files if f.endswith('.log')
    ]
    text = ''.join(open(p).read() for p in logs)
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text or 'world_size: 2' in text.lower()
    assert np.isfinite(record['metrics']['coco/segm_mAP'])
