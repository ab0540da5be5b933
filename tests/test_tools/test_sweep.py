"""Tests of tools/sweep.py: planning from work-dir state, commands, progress
lines, and a whole sweep driven by fake train/test scripts."""
import json
import os
import os.path as osp
import sys
import textwrap
import time

import pytest

from tool_loader import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sweep = load_tool('tools/sweep.py')

from mmext.utils.run_records import write_metrics_record  # noqa: E402

EPOCH_CFG = "train_cfg = dict(type='EpochBasedTrainLoop', max_epochs={})\n"


def touch(path, mtime=None, text='x'):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_metrics(work_dir, ckpt_name='epoch_2.pth', mtime=None):
    path = osp.join(work_dir, 'metrics.json')
    write_metrics_record(
        path,
        dict(
            config_name=osp.basename(work_dir),
            checkpoint=osp.join(work_dir, ckpt_name),
            metrics={'coco/bbox_mAP': 0.5}))
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def write_last_checkpoint(work_dir, ckpt_name):
    ckpt = touch(osp.join(work_dir, ckpt_name))
    touch(osp.join(work_dir, 'last_checkpoint'), text=ckpt)


# --------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------
@pytest.mark.parametrize('state,action,reason', [
    ('empty', 'train', 'new run'),
    ('logs_only', 'train', 'no checkpoint yet'),
    ('interrupted', 'resume', 'interrupted at epoch_1.pth'),
    ('stale_last_checkpoint', 'train', 'no checkpoint yet'),
    ('trained', 'test', 'trained, not tested'),
    ('tested', 'skip', 'trained and tested'),
    ('metrics_older', 'test', 'metrics.json older than the checkpoint'),
    ('metrics_other_ckpt', 'test',
     'metrics.json is for epoch_1.pth, not epoch_2.pth'),
    ('metrics_no_ckpts', 'skip', 'metrics.json present, no checkpoints'),
    ('metrics_from_partial_run', 'resume', 'interrupted at epoch_1.pth'),
])
def test_plan_run(tmp_path, state, action, reason):
    wd = str(tmp_path / 'work_dirs' / 'cfg')
    now = time.time()
    if state == 'logs_only':
        touch(osp.join(wd, '20260101_000000', '20260101_000000.log'))
    elif state == 'interrupted':
        write_last_checkpoint(wd, 'epoch_1.pth')
    elif state == 'stale_last_checkpoint':  # names a deleted checkpoint
        touch(osp.join(wd, 'last_checkpoint'), text=osp.join(wd, 'gone.pth'))
    elif state == 'trained':
        write_last_checkpoint(wd, 'epoch_2.pth')
    elif state == 'tested':
        touch(osp.join(wd, 'epoch_2.pth'), mtime=now - 100)
        write_metrics(wd, mtime=now - 50)
    elif state == 'metrics_older':
        touch(osp.join(wd, 'epoch_2.pth'), mtime=now - 50)
        write_metrics(wd, mtime=now - 100)
    elif state == 'metrics_other_ckpt':
        touch(osp.join(wd, 'epoch_2.pth'), mtime=now - 100)
        write_metrics(wd, ckpt_name='epoch_1.pth', mtime=now - 50)
    elif state == 'metrics_no_ckpts':
        write_metrics(wd)
    elif state == 'metrics_from_partial_run':
        write_metrics(wd, ckpt_name='epoch_1.pth')
        write_last_checkpoint(wd, 'epoch_1.pth')
    plan = sweep.plan_run('configs/cfg.py', wd, 'epoch_2.pth')
    assert (plan.action, plan.reason) == (action, reason)
    assert plan.name == 'cfg'
    if action in ('test', 'skip') and state != 'metrics_no_ckpts':
        assert plan.checkpoint == osp.join(wd, 'epoch_2.pth')
    forced = sweep.plan_run('configs/cfg.py', wd, 'epoch_2.pth', force=True)
    assert (forced.action, forced.supersede) == ('train', True)


def test_plan_run_unknown_final_name_uses_sweep_status(tmp_path):
    wd = str(tmp_path / 'cfg')
    write_last_checkpoint(wd, 'iter_7.pth')
    assert sweep.plan_run('cfg.py', wd, None).action == 'resume'
    sweep._update_status(wd, trained_checkpoint=osp.join(wd, 'iter_7.pth'))
    plan = sweep.plan_run('cfg.py', wd, None)
    assert (plan.action, plan.checkpoint) == ('test',
                                              osp.join(wd, 'iter_7.pth'))


def test_final_checkpoint_name(tmp_path):
    epoch = touch(str(tmp_path / 'e.py'), text=EPOCH_CFG.format(12))
    assert sweep.final_checkpoint_name(epoch) == 'epoch_12.pth'
    assert sweep.final_checkpoint_name(
        epoch, ['train_cfg.max_epochs=1']) == 'epoch_1.pth'
    it = touch(
        str(tmp_path / 'i.py'),
        text="train_cfg = dict(type='IterBasedTrainLoop', "
        'max_iters=900)\n')
    assert sweep.final_checkpoint_name(it) == 'iter_900.pth'
    by_iter_ckpt = touch(
        str(tmp_path / 'c.py'),
        text=EPOCH_CFG.format(3) +
        "default_hooks = dict(checkpoint=dict(type='CheckpointHook', "
        'by_epoch=False))\n')
    assert sweep.final_checkpoint_name(by_iter_ckpt) is None
    broken = touch(str(tmp_path / 'b.py'), text='train_cfg = dict(\n')
    assert sweep.final_checkpoint_name(broken) is None


def test_expand_configs(tmp_path):
    for name in ('b_toy.py', 'a_toy.py', 'c_coco.py'):
        touch(str(tmp_path / name), text=EPOCH_CFG.format(1))
    lst = touch(
        str(tmp_path / 'list.txt'),
        text=f'# ablations\n{tmp_path}/c_coco.py  # last\n\n'
        f'{tmp_path}/a_toy.py\n')
    configs = sweep.expand_configs([str(tmp_path / '*_toy.py')], lst)
    assert [osp.basename(c)
            for c in configs] == ['a_toy.py', 'b_toy.py', 'c_coco.py']
    with pytest.raises(FileNotFoundError, match='no config matches'):
        sweep.expand_configs([str(tmp_path / '*_x.py')])
    with pytest.raises(FileNotFoundError, match='config not found'):
        sweep.expand_configs([str(tmp_path / 'nope.py')])


def test_commands_per_launcher():
    plan = sweep.RunPlan('configs/a/x.py', 'work_dirs/x', 'resume', '')
    opts = ['train_cfg.max_epochs=1']
    b = sweep.CommandBuilder(python='py', cfg_options=opts)
    tools = sweep.TOOLS_DIR
    assert b.train(
        plan, resume=True) == [
            'py', f'{tools}/train.py', 'configs/a/x.py', '--work-dir',
            'work_dirs/x', '--resume', '--cfg-options', *opts
        ]
    assert b.test(plan, 'work_dirs/x/epoch_1.pth') == [
        'py', f'{tools}/test.py', 'configs/a/x.py', 'work_dirs/x/epoch_1.pth',
        '--work-dir', 'work_dirs/x', '--cfg-options', *opts
    ]
    b = sweep.CommandBuilder(launcher='pytorch', gpus=4)
    assert b.train(
        plan, resume=False) == [
            'bash', f'{tools}/dist_train.sh', 'configs/a/x.py', '4',
            '--work-dir', 'work_dirs/x'
        ]
    assert b.test(plan, 'c.pth')[:5] == [
        'bash', f'{tools}/dist_test.sh', 'configs/a/x.py', 'c.pth', '4'
    ]
    b = sweep.CommandBuilder(launcher='slurm', gpus=16, partition='p1')
    assert b.train(
        plan, resume=False) == [
            'bash', f'{tools}/slurm_train.sh', 'p1', 'sweep-x',
            'configs/a/x.py', 'work_dirs/x'
        ]
    assert b.child_env()['GPUS'] == '16'
    with pytest.raises(ValueError, match='needs --partition'):
        sweep.CommandBuilder(launcher='slurm')
    b = sweep.CommandBuilder(
        train_template='{python} t.py {config} --out "{work_dir}"',
        python='py')
    assert b.train(
        plan, resume=True) == [
            'py', 't.py', 'configs/a/x.py', '--out', 'work_dirs/x', '--resume'
        ]


def test_summarize_log_line():
    s = sweep.summarize_log_line
    assert s('11/21 21:30:00 - mmengine - INFO - Epoch(train)  [3][10/50]  '
             'base_lr: 2.0000e-02 lr: 2.0000e-02  eta: 0:01:23  time: 0.2100'
             '  data_time: 0.0100  loss: 2.3456  loss_rpn_cls: 0.6000') == \
        'Epoch(train) [3][10/50] eta 0:01:23 loss 2.3456'
    assert s('... - INFO - Iter(train) [  50/600]  lr: 1.0000e-02  eta: '
             '0:05:00  time: 0.5000  data_time: 0.0100  loss: 1.0000') == \
        'Iter(train) [50/600] eta 0:05:00 loss 1.0000'
    assert s('... - INFO - Epoch(val) [2][5/5]    coco/bbox_mAP: 0.1230  '
             'coco/bbox_mAP_50: 0.3000  coco/segm_mAP: 0.1000  '
             'data_time: 0.0010  time: 0.0500') == \
        'Epoch(val) [2][5/5] coco/bbox_mAP 0.1230 coco/segm_mAP 0.1000'
    assert s('... - INFO - Epoch(test) [ 10/500]    eta: 0:00:10  time: '
             '0.0200  data_time: 0.0010') == \
        'Epoch(test) [10/500] eta 0:00:10'
    assert s('... - INFO - Saving checkpoint at 2 epochs') == \
        'saving checkpoint at 2 epochs'
    assert s('loading annotations into memory...') is None


# --------------------------------------------------------------------------
# a whole sweep with fake train/test commands
# --------------------------------------------------------------------------
FAKE_TRAIN = textwrap.dedent('''\
    """Fake tools/train.py: epoch checkpoints, mmengine-like log lines."""
    import argparse, json, os, sys
    p = argparse.ArgumentParser()
    p.add_argument('config'); p.add_argument('--work-dir')
    p.add_argument('--resume', nargs='?', const='auto')
    p.add_argument('--cfg-options', nargs='+', default=[])
    a = p.parse_args()
    ns = {}
    exec(open(a.config).read(), ns)
    max_epochs = ns['train_cfg']['max_epochs']
    for opt in a.cfg_options:
        if opt.startswith('train_cfg.max_epochs='):
            max_epochs = int(opt.split('=')[1])
    os.makedirs(a.work_dir, exist_ok=True)
    with open(os.path.join(a.work_dir, 'calls.txt'), 'a') as f:
        f.write(' '.join(['train'] + sys.argv[2:]) + '\\n')
    if ns.get('real_ckpt'):  # a shared start: a loadable checkpoint
        import torch
        ckpt = os.path.join(a.work_dir, 'epoch_1.pth')
        torch.save(dict(meta=dict(epoch=1), state_dict=dict(
            w=torch.full((2,), 3.0)), optimizer=dict()), ckpt)
        open(os.path.join(a.work_dir, 'last_checkpoint'), 'w').write(ckpt)
        sys.exit(0)
    if ns.get('broken'):
        print('Traceback (most recent call last):')
        print('KeyError: broken config')
        sys.exit(1)
    start = 1
    if a.resume:
        last = open(os.path.join(a.work_dir, 'last_checkpoint')).read()
        start = int(last.rsplit('_', 1)[1].split('.')[0]) + 1
    for epoch in range(start, max_epochs + 1):
        print(f'x - mmengine - INFO - Epoch(train) [{epoch}][2/2]  lr: '
              f'1.0000e-02  eta: 0:00:0{max_epochs - epoch}  time: 0.1000  '
              f'data_time: 0.0100  loss: {1.0 / epoch:.4f}', flush=True)
        ckpt = os.path.join(a.work_dir, f'epoch_{epoch}.pth')
        open(ckpt, 'w').write('ckpt')
        open(os.path.join(a.work_dir, 'last_checkpoint'), 'w').write(ckpt)
        if ns.get('crash_after_epoch') == epoch and not a.resume:
            print('RuntimeError: simulated crash', flush=True)
            sys.exit(3)
''')

FAKE_TEST = textwrap.dedent('''\
    """Fake tools/test.py: writes metrics.json like the real one."""
    import argparse, json, os, sys, time
    p = argparse.ArgumentParser()
    p.add_argument('config'); p.add_argument('checkpoint')
    p.add_argument('--work-dir'); p.add_argument('--cfg-options', nargs='+')
    a = p.parse_args()
    ns = {}
    exec(open(a.config).read(), ns)
    with open(os.path.join(a.work_dir, 'calls.txt'), 'a') as f:
        f.write(' '.join(['test'] + sys.argv[2:]) + '\\n')
    print('x - mmengine - INFO - Epoch(test) [4/4]    coco/bbox_mAP: '
          f"{ns['ap']:.4f}  coco/segm_mAP: {ns['ap'] - 0.01:.4f}")
    record = dict(config=a.config,
                  config_name=os.path.splitext(os.path.basename(a.config))[0],
                  checkpoint=a.checkpoint,
                  metrics={'coco/bbox_mAP': ns['ap'],
                           'coco/segm_mAP': ns['ap'] - 0.01})
    json.dump(record, open(os.path.join(a.work_dir, 'metrics.json'), 'w'))
''')


@pytest.fixture
def family(tmp_path):
    """Four toy configs: a baseline, one that crashes after epoch 1 on its
    first try, one that never trains, one good variant."""
    cfg_dir = tmp_path / 'configs'
    cfg_dir.mkdir()
    configs = {
        'abl_base_toy': 'ap = 0.30\n',
        'abl_crash_toy': 'ap = 0.32\ncrash_after_epoch = 1\n',
        'abl_broken_toy': 'ap = 0.0\nbroken = True\n',
        'abl_k1_toy': 'ap = 0.35\n',
    }
    for name, body in configs.items():
        (cfg_dir / f'{name}.py').write_text(EPOCH_CFG.format(2) + body)
    (tmp_path / 'fake_train.py').write_text(FAKE_TRAIN)
    (tmp_path / 'fake_test.py').write_text(FAKE_TEST)
    return tmp_path


def sweep_argv(root, *extra):
    return [
        str(root / 'configs' / 'abl_*_toy.py'), '--work-dir-root',
        str(root / 'work_dirs'), '--train-cmd',
        f'{{python}} {root}/fake_train.py {{config}} --work-dir {{work_dir}}',
        '--test-cmd',
        f'{{python}} {root}/fake_test.py {{config}} {{checkpoint}} '
        '--work-dir {work_dir}', '--metrics', 'bbox_mAP', 'segm_mAP',
        '--baseline', 'abl_base_toy', *extra
    ]


def calls(root, name):
    path = root / 'work_dirs' / name / 'calls.txt'
    return path.read_text().splitlines() if path.exists() else []


def test_sweep_end_to_end(family, capsys):
    root = family
    out_csv = str(root / 'table.csv')
    with pytest.warns(UserWarning):  # rows without metrics
        rc = sweep.main(sweep_argv(root, '--out-csv', out_csv))
    out = capsys.readouterr().out
    assert rc == 1  # two runs failed
    # progress: header per run, compact child lines with a run prefix
    assert '[1/4] abl_base_toy: train (new run)' in out
    assert '  [1/4 abl_base_toy] Epoch(train) [2][2/2] eta 0:00:00 loss ' \
        '0.5000' in out
    assert '  [1/4 abl_base_toy] Epoch(test) [4/4] coco/bbox_mAP 0.3000' in out
    assert '[2/4] abl_broken_toy: train' in out
    assert '  [2/4 abl_broken_toy] | KeyError: broken config' in out
    assert 'FAILED: training exited with 1' in out
    assert '[3/4] abl_crash_toy: train' in out
    assert 'FAILED: training exited with 3' in out
    assert '[4/4] abl_k1_toy: train' in out  # the sweep went on
    assert '| abl_base_toy | 30.0 | 29.0 |' in out
    assert '| abl_k1_toy | 35.0 (+5.0) | 34.0 (+5.0) |' in out
    assert '| abl_crash_toy | \u2014 | \u2014 |' in out
    status = json.load(
        open(root / 'work_dirs' / 'abl_crash_toy' / 'sweep_status.json'))
    assert status['stage'] == 'train_failed'
    assert open(out_csv).read().splitlines()[2] == \
        'abl_broken_toy,,,,'
    assert calls(root, 'abl_k1_toy') == [
        f'train --work-dir {root}/work_dirs/abl_k1_toy',
        f'test {root}/work_dirs/abl_k1_toy/epoch_2.pth --work-dir '
        f'{root}/work_dirs/abl_k1_toy'
    ]

    # again: finished runs are skipped, the crashed one resumes
    with pytest.warns(UserWarning):
        rc = sweep.main(sweep_argv(root))
    out = capsys.readouterr().out
    assert rc == 1  # the broken config still fails
    assert '[1/4] abl_base_toy: skip (trained and tested)' in out
    assert '[3/4] abl_crash_toy: resume (interrupted at epoch_1.pth)' in out
    assert '[4/4] abl_k1_toy: skip' in out
    assert len(calls(root, 'abl_k1_toy')) == 2  # not run again
    crash_calls = calls(root, 'abl_crash_toy')
    assert crash_calls[1] == \
        f'train --work-dir {root}/work_dirs/abl_crash_toy --resume'
    assert crash_calls[2].startswith('test ')
    assert '| abl_crash_toy | 32.0 (+2.0) | 31.0 (+2.0) |' in out
    # a summary of each sweep is kept
    summaries = [
        f for f in os.listdir(root / 'work_dirs') if f.startswith('sweep_')
    ]
    assert len(summaries) >= 1

    # a metrics file that went missing is regenerated without training
    os.remove(root / 'work_dirs' / 'abl_k1_toy' / 'metrics.json')
    with pytest.warns(UserWarning):
        sweep.main(sweep_argv(root, '--fail-fast'))
    out = capsys.readouterr().out
    assert '[4/4] abl_k1_toy: test (trained, not tested)' not in out  # stop
    assert 'stopping (--fail-fast)' in out
    assert '[2/4] abl_broken_toy: train' in out
    assert len(calls(root, 'abl_k1_toy')) == 2  # --fail-fast never got there
    # without --fail-fast the sweep reaches it: tested again, not retrained
    with pytest.warns(UserWarning):
        sweep.main(sweep_argv(root))
    out = capsys.readouterr().out
    assert '[4/4] abl_k1_toy: test (trained, not tested)' in out
    k1_calls = calls(root, 'abl_k1_toy')
    assert len(k1_calls) == 3 and k1_calls[2] == k1_calls[1]  # one more test
    assert k1_calls[2].startswith('test ')
    assert (root / 'work_dirs' / 'abl_k1_toy' / 'metrics.json').is_file()
    assert '| abl_k1_toy | 35.0 (+5.0) | 34.0 (+5.0) |' in out


def test_sweep_force_options_and_dry_run(family, capsys):
    root = family
    base = [
        str(root / 'configs' / 'abl_k1_toy.py'),
        str(root / 'configs' / 'abl_base_toy.py')
    ]
    argv = sweep_argv(root, '--cfg-options', 'train_cfg.max_epochs=1')
    argv[0:1] = base
    assert sweep.main(argv) == 0
    wd = root / 'work_dirs' / 'abl_k1_toy'
    assert sorted(p for p in os.listdir(wd) if p.endswith('.pth')) == \
        ['epoch_1.pth']
    assert calls(
        root, 'abl_k1_toy')[0].endswith('--cfg-options train_cfg.max_epochs=1')
    capsys.readouterr()

    # dry run: the plan and the commands, nothing executed
    assert sweep.main(argv + ['--dry-run']) == 0
    out = capsys.readouterr().out
    assert '[1/2] abl_k1_toy: skip (trained and tested)' in out
    assert len(calls(root, 'abl_k1_toy')) == 2
    assert sweep.main(argv + ['--dry-run', '--force']) == 0
    out = capsys.readouterr().out
    assert '[1/2] abl_k1_toy: train (--force)' in out
    assert f'fake_train.py {root}/configs/abl_k1_toy.py' in out
    assert len(calls(root, 'abl_k1_toy')) == 2

    # --force keeps the old work dir under _superseded/
    assert sweep.main(argv + ['--force']) == 0
    superseded = os.listdir(root / 'work_dirs' / '_superseded')
    assert sorted(s.rsplit('-', 1)[0]
                  for s in superseded) == ['abl_base_toy', 'abl_k1_toy']
    assert len(calls(root, 'abl_k1_toy')) == 2  # fresh work dir


START_CFG = textwrap.dedent('''\
    train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    train_dataloader = dict(dataset=dict(data_root='{root}/data/',
                                         ann_file='train.json'))
    ap = 0.2
    real_ckpt = True
    ''')


def test_sweep_seeds_and_shared_start(family, capsys):
    """--start trains the start once, every run of every seed fine-tunes
    from it; a changed train set rebuilds the start and retrains the runs."""
    import torch
    root = family
    (root / 'data').mkdir()
    (root / 'data' / 'train.json').write_text('{"images": [1]}')
    start_cfg = root / 'start_toy.py'
    start_cfg.write_text(START_CFG.format(root=root))
    # the baseline loads a checkpoint (the start replaces it); the k1
    # variant takes parts of the start itself (load_from = None)
    with open(root / 'configs' / 'abl_base_toy.py', 'a') as f:
        f.write("load_from = 'work_dirs/_start/start_toy/start.pth'\n")
    with open(root / 'configs' / 'abl_k1_toy.py', 'a') as f:
        f.write('load_from = None\n')
    argv = sweep_argv(root, '--seeds', '2', '--start', str(start_cfg))
    argv[0] = str(root / 'configs' / 'abl_[bk][a1]*_toy.py')
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    start_dir = root / 'work_dirs' / '_start' / 'start_toy'
    start_ckpt = start_dir / 'start.pth'
    assert '[start] start_toy: train (new run)' in out
    # weights and meta only, loadable with weights_only=True
    loaded = torch.load(start_ckpt, weights_only=True)
    assert set(loaded) == {'meta', 'state_dict'}
    assert torch.equal(loaded['state_dict']['w'], torch.full((2, ), 3.0))
    fingerprint = json.load(open(start_dir / 'start.json'))['fingerprint']
    assert loaded['meta']['start_fingerprint'] == fingerprint
    # seed after seed, each config once per seed, into <name>/seed<k>
    order = [
        line.split(']', 1)[1].split(':')[0].strip()
        for line in out.splitlines() if line.startswith('[') and '/4]' in line
    ]
    assert order == [
        'abl_base_toy seed0', 'abl_k1_toy seed0', 'abl_base_toy seed1',
        'abl_k1_toy seed1'
    ]
    assert 'eta after the first run' in out and 'eta ~0:00:' in out
    assert calls(root, 'abl_base_toy/seed1')[0].endswith(
        f'--cfg-options randomness.seed=1 load_from={start_ckpt}')
    assert calls(root, 'abl_k1_toy/seed1')[0].endswith(
        '--cfg-options randomness.seed=1')
    assert json.load(
        open(root / 'work_dirs' / 'abl_k1_toy' / 'seed1' /
             'sweep_status.json'))['start_fingerprint'] == fingerprint
    # the table aggregates the seeds (the fake runs' AP is seed-free)
    assert '| abl_k1_toy | 35.0±0.0 (+5.0±0.0*) |' in out

    # same command: the start is cached, every run skipped
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    assert '[start] start_toy: up to date' in out
    assert out.count(': skip (trained and tested)') == 4
    assert len(calls(root, 'abl_k1_toy/seed1')) == 2

    # the generator changed the train set: new start, runs retrained
    (root / 'data' / 'train.json').write_text('{"images": [1, 2]}')
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    assert '[start] start_toy: train (its config or train data changed)' \
        in out
    assert out.count(': train (trained from another start)') == 4
    assert json.load(open(start_dir / 'start.json'))['fingerprint'] != \
        fingerprint
    superseded = os.listdir(root / 'work_dirs' / '_superseded')
    assert any(s.startswith('_start-start_toy-') for s in superseded)
    assert any(s.startswith('abl_k1_toy-seed1-') for s in superseded)

    # a start without its data is a clear error, not a crash
    os.remove(root / 'data' / 'train.json')
    assert sweep.main(argv) == 1
    assert 'train.json, which does not exist' in capsys.readouterr().err
