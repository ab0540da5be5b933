"""Tests of tools/analysis_tools/plot_curves.py on hand-written logs."""
import json
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'analysis_tools'))

import plot_curves as pc  # noqa: E402

pytest.importorskip('matplotlib')


def write_log(work_dir, timestamp, entries):
    d = work_dir / timestamp / 'vis_data'
    d.mkdir(parents=True)
    (d / 'scalars.json').write_text(''.join(
        json.dumps(e) + '\n' for e in entries))


def train_line(it, epoch, loss):
    line = dict(
        lr=0.01,
        data_time=0.01,
        loss=loss,
        loss_mask=loss / 2,
        time=0.2,
        iter=it,
        step=it)
    if epoch is not None:
        line['epoch'] = epoch
    return line


def val_line(step, segm):
    return {
        'coco/bbox_mAP': segm + 0.05,
        'coco/segm_mAP': segm,
        'data_time': 0.01,
        'time': 0.1,
        'step': step
    }


@pytest.fixture
def epoch_run(tmp_path):
    """Epoch-based, 10 iters/epoch, logged every 4 iters (ignore_last drops
    iter 10, 20), validated per epoch with step = epoch; interrupted after
    epoch 2 and resumed in a second timestamp dir that repeats iter 20."""
    wd = tmp_path / 'run_a'
    write_log(
        wd,
        '20260101_000000',
        [
            train_line(4, 1, 2.0),
            train_line(8, 1, 1.8),
            val_line(1, 0.10),
            train_line(14, 2, 1.6),
            train_line(18, 2, 1.5),
            val_line(2, 0.20),
            train_line(24, 3, 9.9),  # superseded by the resumed run
        ])
    write_log(wd, '20260102_000000', [
        train_line(24, 3, 1.4),
        train_line(28, 3, 1.3),
        val_line(3, 0.25),
    ])
    return wd


@pytest.fixture
def iter_run(tmp_path):
    """Iteration-based, validation logged with step = iteration."""
    wd = tmp_path / 'run_b'
    write_log(wd, '20260101_000000', [
        train_line(5, None, 2.2),
        train_line(10, None, 1.9),
        val_line(10, 0.15),
        train_line(15, None, 1.7),
        train_line(20, None, 1.5),
        val_line(20, 0.22)
    ])
    return wd


def test_load_epoch_run(epoch_run):
    curves = pc.load_run_curves(str(epoch_run))
    assert curves.name == 'run_a'
    xs, ys = curves.train['loss']
    assert xs == [4, 8, 14, 18, 24, 28]
    assert ys == [2.0, 1.8, 1.6, 1.5, 1.4, 1.3]  # iter 24 from the resume
    # iters/epoch estimated as max ceil(iter / epoch) = 10
    key, xs, ys, is_val = curves.series('segm_mAP')
    assert (key, is_val) == ('coco/segm_mAP', True)
    assert xs == [10, 20, 30]
    assert ys == [0.10, 0.20, 0.25]
    assert 'time' not in curves.val  # validation timing is not a curve
    assert curves.series('nope') is None


def test_load_iter_run(iter_run):
    curves = pc.load_run_curves(str(iter_run))
    assert curves.val['coco/segm_mAP'] == ([10, 20], [0.15, 0.22])
    # a single scalars.json file works too and is named after its run
    single = pc.load_run_curves(
        str(iter_run / '20260101_000000' / 'vis_data' / 'scalars.json'))
    assert single.name == 'run_b'
    assert single.train['loss'][1] == [2.2, 1.9, 1.7, 1.5]


def test_val_step_zero_goes_to_preceding_iteration(tmp_path):
    """Iteration-based runs with log_metric_by_epoch=True log step 0."""
    write_log(tmp_path / 'r', '20260101_000000', [
        train_line(50, None, 1.0),
        val_line(0, 0.1),
        train_line(100, None, 0.9),
        val_line(0, 0.2)
    ])
    curves = pc.load_run_curves(str(tmp_path / 'r'))
    assert curves.val['coco/segm_mAP'] == ([50, 100], [0.1, 0.2])


def test_moving_average():
    assert pc.moving_average([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]
    assert pc.moving_average([1, 2], 1) == [1, 2]


def test_plot_writes_png(epoch_run, iter_run, tmp_path):
    out = str(tmp_path / 'curves.png')
    with pytest.warns(UserWarning, match="run_b has no 'loss_cls'"):
        fig = pc.plot_curves([
            str(epoch_run),
            str(tmp_path / 'run_b*'),
            str(tmp_path / 'missing')
        ], ['loss', 'segm_mAP', 'loss_cls', 'lr'],
                             out,
                             smooth=2,
                             title='toy')
    assert osp.getsize(out) > 1000
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert len(fig.axes) == 4
    loss_ax, segm_ax, cls_ax, lr_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ['run_a', 'run_b']
    assert segm_ax.get_title() == 'coco/segm_mAP'
    assert list(segm_ax.lines[0].get_xdata()) == [10, 20, 30]
    # smoothed training curve: trailing mean over 2 points
    assert list(loss_ax.lines[1].get_ydata()) == pytest.approx(
        [2.2, 2.05, 1.8, 1.6])
    assert len(cls_ax.lines) == 0
    assert cls_ax.texts[0].get_text() == "no 'loss_cls' in any run"
    assert len(lr_ax.lines) == 2
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_main_and_errors(epoch_run, tmp_path, capsys):
    out = str(tmp_path / 'one.png')
    assert pc.main([
        '--work-dirs',
        str(epoch_run), '--keys', 'loss', '--labels', 'ATMask', '--out', out
    ]) == out
    assert osp.getsize(out) > 1000
    assert 'written' in capsys.readouterr().out
    with pytest.raises(ValueError, match='labels'):
        pc.plot_curves([str(epoch_run)], ['loss'], out, labels=['a', 'b'])
    with pytest.raises(FileNotFoundError, match='no scalar logs'):
        with pytest.warns(UserWarning):
            pc.plot_curves([str(tmp_path / 'none')], ['loss'], out)


def test_test_record_is_a_point_at_the_tested_iteration(tmp_path):
    """--test-records: the work dir's metrics.json (tools/test.py) becomes a
    validation point at the iteration of its checkpoint name."""
    wd = tmp_path / 'finetune'
    write_log(wd, '20260101_000000',
              [train_line(10, None, 2.0),
               train_line(20, None, 1.5)])
    (wd / 'metrics.json').write_text(
        json.dumps(
            dict(
                config='configs/x.py',
                checkpoint='work_dirs/x/seed0/iter_30.pth',
                metrics={
                    'coco/segm_mAP': 0.42,
                    'coco/bbox_mAP': 0.5
                })))
    assert pc.load_run_curves(str(wd)).series('segm_mAP') is None
    curves = pc.load_run_curves(str(wd), test_record=True)
    assert curves.series('segm_mAP') == ('coco/segm_mAP', [30.0], [0.42], True)
    fig = pc.plot_curves([str(wd)], ['loss', 'coco/segm_mAP'],
                         str(tmp_path / 'c.png'),
                         test_records=True)
    # a lone test point sits at the end of the training axis
    assert fig.axes[1].get_xlim() == pytest.approx((0, 30 * 1.04))
