"""Tests of tools/analysis_tools/make_table.py and mmext.utils.run_records."""
import csv
import io
import json
import os
import os.path as osp

import pytest

from tool_loader import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
mt = load_tool('tools/analysis_tools/make_table.py')

from mmext.utils.run_records import (
    build_metrics_record,  # noqa: E402
    load_metrics_records,
    metrics_record_paths,
    read_train_speed,
    write_metrics_record)


def coco_metrics(bbox: float, segm: float) -> dict:
    """All 12 COCO keys; the sub-metrics are offsets of the main AP."""
    out = {}
    for task, ap in (('bbox', bbox), ('segm', segm)):
        for suffix, offset in (('mAP', 0.0), ('mAP_50', 0.2), ('mAP_75', 0.05),
                               ('mAP_s', -0.2), ('mAP_m', 0.02), ('mAP_l',
                                                                  0.1)):
            out[f'coco/{task}_{suffix}'] = round(ap + offset, 4)
    return out


def write_run(root, name, bbox, segm, speed=None, config_dir='configs/x'):
    record = dict(
        config=f'{config_dir}/{name}.py',
        config_name=name,
        checkpoint=f'work_dirs/{name}/epoch_12.pth',
        timestamp='20261121_213000',
        metrics=coco_metrics(bbox, segm))
    if speed:
        record['speed'] = speed
    path = osp.join(root, name, 'metrics.json')
    write_metrics_record(path, record)
    return path


@pytest.fixture
def runs(tmp_path):
    """base 37.86 -> 37.9, k1 39.54 -> 39.5 (+1.6 from the rounded values,
    not +1.7 from the raw ones), k2 below the baseline, k3 never tested."""
    root = str(tmp_path / 'work_dirs')
    write_run(root, 'atmask_base', 0.3786, 0.3512,
              dict(train_s_per_iter=0.2, test_img_per_s=40.0))
    write_run(root, 'atmask_k1', 0.3954, 0.3601,
              dict(train_s_per_iter=0.25, test_img_per_s=30.0))
    write_run(root, 'atmask_k2', 0.3751, 0.3650)  # no speed
    os.makedirs(osp.join(root, 'atmask_k3'))
    return root


def wd(root, *names):
    return [osp.join(root, n) for n in names]


def test_run_records_roundtrip(tmp_path):
    record = build_metrics_record(
        'configs/a/b_r18_fpn_1x_toy.py',
        'w/b/epoch_1.pth', {'coco/bbox_mAP': 0.5},
        test_img_per_s=3.0,
        timestamp='t')
    assert record['config_name'] == 'b_r18_fpn_1x_toy'
    assert record['speed'] == {'test_img_per_s': 3.0}
    paths = metrics_record_paths('w/b', 'w/b/epoch_1.pth')
    assert paths == ['w/b/metrics.json', 'w/b/epoch_1_metrics.json']
    out = str(tmp_path / 'd' / 'metrics.json')
    write_metrics_record(out, record)
    assert os.listdir(tmp_path / 'd') == ['metrics.json']  # no tmp left
    loaded = load_metrics_records([str(tmp_path / 'd')])
    assert len(loaded) == 1
    assert loaded[0]['metrics'] == {'coco/bbox_mAP': 0.5}
    assert loaded[0]['record_path'] == out
    # a glob reaching the same file twice loads it once
    assert len(load_metrics_records([str(tmp_path / '*'), out])) == 1
    with pytest.warns(UserWarning, match='no metrics record matches'):
        assert load_metrics_records(str(tmp_path / 'nothing*')) == []
    with pytest.raises(TypeError, match='must be a dict'):
        write_metrics_record(out, [1])


def test_read_train_speed(tmp_path):
    """Median `time` of the training lines of the newest log that has
    any; validation lines and a later test-only log are ignored."""

    def write(ts, lines):
        d = tmp_path / ts / 'vis_data'
        d.mkdir(parents=True)
        (d /
         'scalars.json').write_text('\n'.join(json.dumps(x)
                                              for x in lines) + '\n')

    write('20260101_000000',
          [dict(lr=0.1, loss=1.0, time=9.0, iter=1, step=1)])
    write('20260102_000000', [
        dict(lr=0.1, loss=1.0, time=t, data_time=0.1, iter=i, epoch=1, step=i)
        for i, t in enumerate([5.0, 0.3, 0.2, 0.4], 1)
    ] + [{
        'coco/bbox_mAP': 0.1,
        'time': 100.0,
        'data_time': 1,
        'step': 1
    }])
    write('20260103_000000', [])  # a test run: no training lines
    assert read_train_speed(str(tmp_path)) == pytest.approx(0.35)
    assert read_train_speed(str(tmp_path / 'nope')) is None


def test_default_columns_values_and_order(runs):
    with pytest.warns(UserWarning, match='atmask_k3'):
        table = mt.make_table(
            work_dirs=wd(runs, 'atmask_k1', 'atmask_base', 'atmask_k3'))
    assert table.header == [
        'config', 'box AP', 'box AP50', 'box AP75', 'box APs', 'box APm',
        'box APl', 'mask AP', 'mask AP50', 'mask AP75', 'mask APs', 'mask APm',
        'mask APl'
    ]
    assert [r.name
            for r in table.rows] == ['atmask_k1', 'atmask_base', 'atmask_k3']
    # percent, one decimal: 0.3954 -> 39.5, 0.3954 + 0.2 -> 59.5
    assert table.cells[0][:3] == ['39.5', '59.5', '44.5']
    assert table.cells[0][6] == '36.0'
    assert table.cells[1][0] == '37.9'
    assert table.cells[2] == [mt.MISSING] * 12
    md = table.to_markdown(title='Ablations')
    lines = md.splitlines()
    assert lines[0] == '### Ablations'
    assert lines[2].startswith('| config | box AP | box AP50 |')
    assert lines[3] == '|:---|' + '|'.join(['---:'] * 12) + '|'
    assert lines[4].startswith('| atmask_k1 | 39.5 | 59.5 | 44.5 |')
    assert lines[6] == '| atmask_k3 | ' + ' | '.join([mt.MISSING] * 12) + \
        ' |'


def test_baseline_deltas_from_rounded_values(runs):
    table = mt.make_table(
        work_dirs=wd(runs, 'atmask_base', 'atmask_k1', 'atmask_k2'),
        metrics=['bbox_mAP', 'mask AP'],
        baseline='atmask_base')
    assert table.header == ['config', 'box AP', 'mask AP']
    assert table.cells == [
        ['37.9', '35.1'],
        ['39.5 (+1.6)', '36.0 (+0.9)'],
        ['37.5 (-0.4)', '36.5 (+1.4)'],
    ]
    assert table.deltas[1] == [pytest.approx(1.6), pytest.approx(0.9)]
    assert 'Differences in parentheses are to `atmask_base`' in \
        table.to_markdown()
    # a unique substring names the baseline too; an unknown one is an error
    table = mt.make_table(
        work_dirs=wd(runs, 'atmask_base', 'atmask_k1'),
        metrics=['bbox_mAP'],
        baseline='base')
    assert table.cells[1] == ['39.5 (+1.6)']
    with pytest.raises(ValueError, match='none of the rows'):
        mt.make_table(work_dirs=wd(runs, 'atmask_base'), baseline='k9')
    with pytest.raises(ValueError, match='several rows'):
        mt.make_table(
            work_dirs=wd(runs, 'atmask_base', 'atmask_k1'), baseline='atmask')


def test_baseline_row_moves_to_the_top(runs):
    table = mt.make_table(
        work_dirs=wd(runs, 'atmask_k1', 'atmask_k2', 'atmask_base'),
        metrics=['bbox_mAP'],
        baseline='atmask_base')
    # the baseline first, the others in the given order, deltas follow them
    assert [r.name for r in table.rows] == [
        'atmask_base', 'atmask_k1', 'atmask_k2'
    ]
    assert table.cells == [['37.9'], ['39.5 (+1.6)'], ['37.5 (-0.4)']]


def test_sort_keeps_baseline_first_and_missing_last(runs):
    with pytest.warns(UserWarning):
        table = mt.make_table(
            work_dirs=[osp.join(runs, 'atmask_*')],
            metrics=['segm'],
            baseline='atmask_k1',
            sort_by='mask AP')
    # glob matches sorted by name: base, k1, k2, k3 (missing)
    assert [r.name for r in table.rows
            ] == ['atmask_k1', 'atmask_k2', 'atmask_base', 'atmask_k3']
    assert [c[0] for c in table.cells
            ] == ['36.0', '36.5 (+0.5)', '35.1 (-0.9)', mt.MISSING]
    table = mt.make_table(
        work_dirs=wd(runs, 'atmask_k2', 'atmask_base', 'atmask_k1'),
        metrics=['segm_mAP'],
        sort_by='segm_mAP',
        ascending=True)
    assert [r.name
            for r in table.rows] == ['atmask_base', 'atmask_k1', 'atmask_k2']
    table = mt.make_table(
        work_dirs=wd(runs, 'atmask_k2', 'atmask_base', 'atmask_k1'),
        metrics=['segm_mAP'],
        sort_by='name')
    assert [r.name
            for r in table.rows] == ['atmask_base', 'atmask_k1', 'atmask_k2']


def test_csv_content(runs, tmp_path):
    out_csv = str(tmp_path / 'out' / 'table.csv')
    out_md = str(tmp_path / 'out' / 'table.md')
    with pytest.warns(UserWarning, match='atmask_k3'):
        table = mt.make_table(
            work_dirs=wd(runs, 'atmask_base', 'atmask_k1', 'atmask_k3'),
            metrics=['bbox_mAP', 'coco/segm_mAP=AP^m'],
            baseline='atmask_base',
            speed=True,
            out_csv=out_csv,
            out_md=out_md)
    with open(out_csv) as f:
        rows = list(csv.reader(f))
    assert rows == [
        [
            'config', 'box AP', 'box AP delta', 'AP^m', 'AP^m delta',
            'train s/iter', 'train s/iter ratio', 'test img/s',
            'test img/s ratio'
        ],
        ['atmask_base', '37.9', '', '35.1', '', '0.2', '', '40', ''],
        [
            'atmask_k1', '39.5', '1.6', '36', '0.9', '0.25', '1.25', '30',
            '0.75'
        ],
        ['atmask_k3', '', '', '', '', '', '', '', ''],
    ]
    with open(out_md) as f:
        assert f.read() == table.to_markdown()
    assert table.cells[1][2:] == ['0.250 (1.25x)', '30.0 (0.75x)']


def test_configs_map_to_work_dirs_and_labels(runs, tmp_path, capsys):
    out_md = str(tmp_path / 't.md')
    with pytest.warns(UserWarning, match='never'):
        table = mt.main([
            '--configs', 'configs/x/atmask_base.py=Baseline',
            'configs/x/atmask_k1.py', 'configs/x/never.py', '--work-dir-root',
            runs, '--metrics', 'mask AP', 'mask AP50', '--baseline',
            'Baseline', '--title', 'Table 2', '--out-md', out_md
        ])
    assert [r.name for r in table.rows] == ['Baseline', 'atmask_k1', 'never']
    printed = capsys.readouterr().out
    assert '| atmask_k1 | 36.0 (+0.9) | 56.0 (+0.9) |' in printed
    assert f'| never | {mt.MISSING} | {mt.MISSING} |' in printed
    assert open(out_md).read().startswith('### Table 2\n')


def test_metric_resolution():
    cols = mt.resolve_metrics([
        'segm_mAP_50', 'mask AP', 'Box APl', 'coco/segm_mAP=AP^m', 'voc',
        'my/key'
    ])
    assert [(c.key, c.name) for c in cols] == [
        ('coco/segm_mAP_50', 'mask AP50'), ('coco/segm_mAP', 'mask AP'),
        ('coco/bbox_mAP_l', 'box APl'), ('voc/mAPr_50', 'mAPr@0.5'),
        ('voc/mAPr_75', 'mAPr@0.75'), ('voc/ABO', 'ABO'), ('my/key', 'my/key')
    ]  # a key given twice keeps its first column
    # suffixes of keys that only appear in the records resolve too
    cols = mt.resolve_metrics(['acc'], available=['cls/acc'])
    assert cols[0].key == 'cls/acc'
    with pytest.raises(ValueError, match='ambiguous'):
        mt.resolve_metrics(['acc'], available=['a/acc', 'b/acc'])


def test_missing_metric_and_percent_values(tmp_path):
    root = str(tmp_path)
    write_metrics_record(
        osp.join(root, 'a', 'metrics.json'),
        dict(
            config_name='a', metrics={
                'voc/ABO': 71.25,
                'coco/bbox_mAP': -1.0
            }))
    with pytest.warns(UserWarning) as record:
        table = mt.make_table(
            work_dirs=[osp.join(root, 'a')],
            metrics=['ABO', 'bbox_mAP', 'segm_mAP'])
    messages = ' '.join(str(w.message) for w in record)
    assert 'taken to be in percent already' in messages
    assert "'coco/segm_mAP' is in no record" in messages
    # ABO unscaled; COCO's -1 ('no ground truth') and absent keys are '—'
    assert table.cells == [['71.2', mt.MISSING, mt.MISSING]]


def test_unreadable_record_is_a_missing_row(tmp_path):
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'metrics.json').write_text('{"metrics": ')
    with pytest.warns(UserWarning, match='not valid JSON'):
        table = mt.make_table(
            work_dirs=[str(tmp_path / 'bad')], metrics=['bbox_mAP'])
    assert table.cells == [[mt.MISSING]]
    with pytest.raises(ValueError, match='no runs given'):
        mt.make_table(work_dirs=[])


def test_checkpoint_records_rows(runs):
    base = osp.join(runs, 'atmask_base')
    rec = mt.read_metrics_record(base)
    rec['metrics']['coco/bbox_mAP'] = 0.2
    write_metrics_record(osp.join(base, 'epoch_6_metrics.json'), rec)
    table = mt.make_table(
        records=[osp.join(base, '*metrics.json')], metrics=['bbox_mAP'])
    assert [(r.name, c) for r, c in zip(table.rows, table.cells)] == [
        ('atmask_base (epoch_6_metrics)', ['20.0']),
        ('atmask_base', ['37.9']),
    ]


def test_table_text_is_stable(runs):
    """The whole Markdown output of a small table, as users see it."""
    table = mt.make_table(
        work_dirs=wd(runs, 'atmask_base', 'atmask_k1'),
        metrics=['bbox_mAP', 'segm_mAP'],
        baseline='atmask_base',
        speed=True,
        title='T')
    assert table.to_markdown() == io.StringIO(
        '### T\n\n'
        '| config | box AP | mask AP | train s/iter | test img/s |\n'
        '|:---|---:|---:|---:|---:|\n'
        '| atmask_base | 37.9 | 35.1 | 0.200 | 40.0 |\n'
        '| atmask_k1 | 39.5 (+1.6) | 36.0 (+0.9) | 0.250 (1.25x) | '
        '30.0 (0.75x) |\n\n'
        'Differences in parentheses are to `atmask_base`.\n').getvalue()


def test_find_row_prefers_prefix_and_cli_errors_cleanly(tmp_path):
    rows = [
        mt.Row('atmask-rcnn_r18_toy', None),
        mt.Row('mask-rcnn_r18_toy', None)
    ]
    assert mt.find_row(rows, 'mask-rcnn') == 1
    assert mt.find_row(rows, 'configs/x/atmask-rcnn_r18_toy.py') == 0
    with pytest.raises(ValueError, match='several rows'):
        mt.find_row(rows, 'rcnn')
    write_run(str(tmp_path), 'a', 0.3, 0.2)
    with pytest.raises(SystemExit, match="make_table: baseline 'zz'"):
        mt.main(['--work-dirs', str(tmp_path / 'a'), '--baseline', 'zz'])


def test_seed_rows_mean_std_and_paired_deltas(tmp_path):
    """``<run>/seed<k>/metrics.json`` rows: mean±std, deltas paired by seed
    with their standard error, '*' beyond two standard errors."""
    root = str(tmp_path)
    # box AP: the seed shifts both rows alike; the method is +1.0 on seed0
    # and +2.0 on seed1 and seed2: paired mean 5/3 = 1.67, std
    # sqrt(((-2/3)^2 + 2 (1/3)^2) / 2) = 0.577, se 0.333 -> marked.
    # mask AP: differences +1, -1, +3: mean 1.0, std 2.0, se 1.155 -> 1.0 is
    # not beyond 2.31, no mark.
    base = {0: (0.300, 0.200), 1: (0.320, 0.220), 2: (0.340, 0.200)}
    meth = {0: (0.310, 0.210), 1: (0.340, 0.210), 2: (0.360, 0.230)}
    for name, values in (('base', base), ('meth', meth)):
        for seed, (bbox, segm) in values.items():
            write_run(osp.join(root, name), f'seed{seed}', bbox, segm)
    # a seed only the method has does not enter the paired delta
    write_run(osp.join(root, 'meth'), 'seed3', 0.9, 0.9)
    table = mt.make_table(
        work_dirs=[osp.join(root, 'base'), osp.join(root, 'meth')],
        metrics=['bbox_mAP', 'segm_mAP'],
        baseline='base')
    assert table.rows[0].seeds.keys() == {'seed0', 'seed1', 'seed2'}
    # base box AP: mean 32.0, std 2.0; mask AP mean 20.67, std 1.15
    assert table.cells[0] == ['32.0±2.0', '20.7±1.2']
    # meth box AP over its four seeds: (31 + 34 + 36 + 90) / 4 = 47.75,
    # deviations -16.75, -13.75, -11.75, 42.25: std sqrt(2392.75 / 3) = 28.2;
    # mask AP (21 + 21 + 23 + 90) / 4 = 38.75, deviations -17.75, -17.75,
    # -15.75, 51.25: std sqrt(3504.75 / 3) = 34.2
    assert table.cells[1][0] == '47.8±28.2 (+1.7±0.3*)'
    assert table.cells[1][1] == '38.8±34.2 (+1.0±1.2)'
    assert table.deltas[1] == [1.7, 1.0]
    assert table.delta_ses[1] == [0.3, 1.2]
    md = table.to_markdown()
    assert 'paired by seed' in md and 'two standard errors' in md
    # rows with fewer seeds than the others say so
    assert '| base (3 seeds) | 32.0±2.0 |' in md
    assert '| meth | 47.8±28.2 (+1.7±0.3*) |' in md
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert rows[1]['box AP seeds'] == '4'
    assert float(rows[1]['box AP delta se']) == 0.3


def test_single_seed_rows_show_no_spread(tmp_path):
    root = str(tmp_path)
    write_run(osp.join(root, 'base'), 'seed0', 0.30, 0.20)
    write_run(osp.join(root, 'meth'), 'seed0', 0.33, 0.19)
    table = mt.make_table(
        work_dirs=[osp.join(root, 'base'), osp.join(root, 'meth')],
        metrics=['bbox_mAP', 'segm_mAP'],
        baseline='base')
    assert table.cells == [['30.0', '20.0'], ['33.0 (+3.0)', '19.0 (-1.0)']]
    assert 'paired by seed' not in table.to_markdown()
