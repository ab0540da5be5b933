"""tools/test.py evaluates a checkpoint and writes the metrics record."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest

from test_train_resume import REPO_ROOT, TOY_CONFIG, _env, _train_cmd


def _data_options(data_root):
    return [
        f'test_dataloader.dataset.data_root={data_root}',
        f'test_evaluator.ann_file={data_root}annotations/instances_val.json',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]


def test_test_tool_writes_metrics(toy_data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    subprocess.run(
        _train_cmd(toy_data_root, work_dir, 2),
        cwd=REPO_ROOT,
        env=_env(),
        check=True,
        capture_output=True)
    ckpt = osp.join(work_dir, 'iter_2.pth')
    out_pkl = str(tmp_path / 'results.pkl')
    show_dir = 'painted'
    result = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), TOY_CONFIG, ckpt,
        '--work-dir', work_dir, '--out', out_pkl, '--show-dir', show_dir,
        '--cfg-options', *_data_options(toy_data_root)
    ],
                            cwd=REPO_ROOT,
                            env=_env(),
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    # the metrics mmengine logged for this test run (<timestamp>.json in the
    # run's log dir, the newest one: training left its own)
    logged_runs = sorted(
        d for d in os.listdir(work_dir)
        if osp.isdir(osp.join(work_dir, d)) and osp.isfile(
            osp.join(work_dir, d, f'{d}.json')))
    with open(osp.join(work_dir, logged_runs[-1],
                       f'{logged_runs[-1]}.json')) as f:
        logged = json.load(f)
    metric_keys = [k for k in logged if k.startswith('coco/')]
    assert {'coco/bbox_mAP', 'coco/segm_mAP', 'coco/segm_mAP_50',
            'coco/segm_mAP_s', 'coco/segm_mAP_l'} <= set(metric_keys)
    for path in (osp.join(work_dir, 'metrics.json'),
                 osp.join(work_dir, 'iter_2_metrics.json')):
        with open(path) as f:
            record = json.load(f)
        assert record['config_name'] == 'mask-rcnn_r18_fpn_1x_toy'
        assert record['checkpoint'] == ckpt
        for key in metric_keys:
            assert record['metrics'][key] == pytest.approx(
                logged[key], abs=1e-4), key
        assert record['speed']['test_img_per_s'] > 0
        assert record['speed']['train_s_per_iter'] > 0
    # --out: one result per val image, with masks at the image size
    with open(out_pkl, 'rb') as f:
        dumped = pickle.load(f)
    with open(osp.join(toy_data_root, 'annotations',
                       'instances_val.json')) as f:
        val = json.load(f)
    assert len(dumped) == len(val['images'])
    sizes = {im['id']: (im['height'], im['width']) for im in val['images']}
    for res in dumped:
        pred = res['pred_instances']
        assert {'bboxes', 'scores', 'labels', 'masks'} <= set(pred)
        assert len(pred['masks']) == len(pred['scores'])
        for rle in pred['masks']:  # DumpDetResults stores RLEs
            assert tuple(rle['size']) == sizes[res['img_id']]
    # --show-dir: one painted image per val image, under the run's log dir
    painted = [
        f for root, _, files in os.walk(work_dir)
        if osp.basename(root) == show_dir or show_dir in root.split(os.sep)
        for f in files if f.endswith(('.jpg', '.png'))
    ]
    assert len(painted) == len(val['images'])


def test_test_tool_missing_checkpoint_names_it(tmp_path):
    missing = str(tmp_path / 'nothing_here.pth')
    result = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'test.py'), TOY_CONFIG, missing],
        cwd=REPO_ROOT,
        env=_env(),
        capture_output=True,
        text=True)
    assert result.returncode != 0
    assert 'nothing_here.pth' in result.stderr
    assert not os.path.exists(missing)
