"""benchmark_model.py end to end: a baseline on mmcv's RoIAlign against the
same config on its own RoI layers, written as a markdown table."""
import os
import os.path as osp
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_BASELINE = 'configs/mask_rcnn/mask-rcnn_r18_fpn_1x_toy.py'


def test_baseline_roi_layer_and_table_file(tmp_path):
    out_md = tmp_path / 'speed.md'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([
        sys.executable, 'tools/analysis_tools/benchmark_model.py',
        '--baseline', TOY_BASELINE, TOY_BASELINE, '--baseline-roi-layer',
        'RoIAlign', '--img-shape', '64', '96', '--batch-size', '1',
        '--iters', '1', '--warmup', '0', '--threads', '1', '--out-md',
        str(out_md), '--profile', '--profile-iters', '1', '--profile-top',
        '200'
    ],
                            cwd=REPO_ROOT,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = out_md.read_text()
    assert 'synthetic 64x96 inputs' in text
    rows = [line for line in text.splitlines()
            if line.startswith('| mask-rcnn')]
    # the baseline with mmcv's RoIAlign, then the config as configured
    # (mmext's RoIAlign), its ratio against the first
    assert rows[0].startswith(
        '| mask-rcnn_r18_fpn_1x_toy [RoIAlign] (baseline)')
    assert rows[1].startswith('| mask-rcnn_r18_fpn_1x_toy ')
    assert '[' not in rows[1].split('|')[1]
    assert len(rows) == 2
    assert rows[0] in result.stdout  # printed as well
    # --profile: per model, training step and inference, by scope and by
    # operator, beyond the baseline
    for title in ('training step', 'inference'):
        assert f'#### mask-rcnn_r18_fpn_1x_toy, {title}: ' in text
    assert '| `module::backbone` |' in text
    assert '| `method::roi_head.mask_head.loss_and_target` |' in text
    assert '| operator (self) | baseline ms | this ms | extra ms |' in text
