"""tools/test.py evaluates a checkpoint and writes the metrics record."""
import json
import os
import os.path as osp
import subprocess
import sys

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
    result = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), TOY_CONFIG, ckpt,
        '--work-dir', work_dir, '--cfg-options', *_data_options(toy_data_root)
    ],
                            cwd=REPO_ROOT,
                            env=_env(),
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    for path in (osp.join(work_dir, 'metrics.json'),
                 osp.join(work_dir, 'iter_2_metrics.json')):
        with open(path) as f:
            record = json.load(f)
        assert record['config_name'] == 'mask-rcnn_r18_fpn_1x_toy'
        assert record['checkpoint'] == ckpt
        for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/segm_mAP_50',
                    'coco/segm_mAP_s', 'coco/segm_mAP_l'):
            assert 0.0 <= record['metrics'][key] <= 1.0
        assert record['speed']['test_img_per_s'] > 0
        assert record['speed']['train_s_per_iter'] > 0


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
