"""Interrupted training resumes where it stopped; dist_train.sh works on CPU.

A toy training run is SIGKILLed right after its first checkpoint, as a
preempted cluster job would be, then resumed with ``--resume``: the
iteration counter, the optimizer state (AdamW moments and step counts) and
the
message hub must continue from the checkpoint, which also shows that
``weights_only=True`` loading accepts mmengine's checkpoints through
mmext's allow-list.
"""
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                      'mask-rcnn_r18_fpn_1x_toy.py')


def _train_cmd(data_root, work_dir, max_iters, extra=()):
    options = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'val_evaluator.ann_file={data_root}annotations/instances_val.json',
        f'test_evaluator.ann_file={data_root}annotations/instances_val.json',
        'train_cfg._delete_=True', 'train_cfg.type=IterBasedTrainLoop',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}', 'param_scheduler=[]',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.by_epoch=False',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.logger.interval=1', 'log_processor.by_epoch=False',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        # from scratch: the toy benchmark's shared start is not built here
        'load_from=None'
    ]
    return [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), TOY_CONFIG, '--work-dir',
        work_dir, *extra, '--cfg-options', *options
    ]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    return env


def test_sigkill_then_resume(toy_data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    # make each iteration slow enough that the kill lands mid-run
    log_path = tmp_path / 'train.log'
    log_file = open(log_path, 'w')
    proc = subprocess.Popen(
        _train_cmd(toy_data_root, work_dir, 200),
        cwd=REPO_ROOT,
        env=_env(),
        stdout=log_file,
        stderr=subprocess.STDOUT)
    first_ckpt = osp.join(work_dir, 'iter_2.pth')
    last_ckpt_file = osp.join(work_dir, 'last_checkpoint')
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if osp.isfile(last_ckpt_file):
                break
            time.sleep(0.2)
        assert proc.poll() is None, ('training ended before it could be '
                                     'killed:\n' + log_path.read_text()[-3000:])
        assert osp.isfile(last_ckpt_file), 'no checkpoint within 300 s'
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log_file.close()
    # no temp files or truncated checkpoints left by the atomic writer
    assert not [f for f in os.listdir(work_dir) if f.endswith('.tmp')]
    with open(last_ckpt_file) as f:
        resumed_from = f.read().strip()
    saved = torch.load(resumed_from, map_location='cpu', weights_only=True)
    saved_iter = saved['meta']['iter']
    assert saved_iter >= 2
    assert osp.isfile(first_ckpt)

    # resume in this process to inspect the runner right after loading
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from tool_loader import load_tool
    train_tool = load_tool('tools/train.py')

    state = {}

    class RecordResume(Hook):

        def before_train(self, runner):
            state['iter'] = runner.iter
            optimizer_state = runner.optim_wrapper.optimizer.state_dict()
            state['optimizer'] = {
                (index, key): value.clone()
                for index, per_param in optimizer_state['state'].items()
                for key, value in per_param.items()
                if isinstance(value, torch.Tensor)
            }
            state['hub_iters'] = runner.message_hub.get_scalar(
                'train/loss').current()

    stop_at = saved_iter + 2
    sys_argv = sys.argv
    try:
        sys.argv = _train_cmd(toy_data_root, work_dir, stop_at,
                              ('--resume', ))[1:]
        cfg = train_tool.build_train_config(train_tool.parse_args())
    finally:
        sys.argv = sys_argv
    runner = Runner.from_cfg(cfg)
    runner.register_hook(RecordResume(), priority='VERY_LOW')
    runner.train()

    assert state['iter'] == saved_iter
    saved_optimizer = {
        (index, key): value
        for index, per_param in saved['optimizer']['state'].items()
        for key, value in per_param.items() if isinstance(value, torch.Tensor)
    }
    # every per-parameter tensor (AdamW: step, exp_avg, exp_avg_sq) resumed
    assert {key for _, key in saved_optimizer} >= {'exp_avg', 'exp_avg_sq'}
    assert state['optimizer'].keys() == saved_optimizer.keys()
    for name, expected in saved_optimizer.items():
        torch.testing.assert_close(state['optimizer'][name], expected)
    assert state['hub_iters'] == pytest.approx(
        saved['message_hub']['log_scalars']['train/loss'].current())
    final = torch.load(
        osp.join(work_dir, f'iter_{stop_at}.pth'),
        map_location='cpu',
        weights_only=True)
    assert final['meta']['iter'] == stop_at


def test_dist_train_sh_on_cpu(toy_data_root, tmp_path):
    """``tools/dist_train.sh CONFIG 2`` trains with two gloo processes."""
    work_dir = str(tmp_path / 'dist')
    cmd = _train_cmd(toy_data_root, work_dir, 2)
    train_args = cmd[3:]  # drop python, train.py, config
    env = _env()
    env['PYTHON'] = sys.executable
    env['PORT'] = str(29500 + os.getpid() % 1000)
    result = subprocess.run(
        ['bash',
         osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), TOY_CONFIG, '2',
         *train_args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ckpt = torch.load(
        osp.join(work_dir, 'iter_2.pth'), map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 2
    logs = [
        osp.join(root, f) for root, _, files in os.walk(work_dir)
        for f in files if f.endswith('.log')
    ]
    text = ''.join(open(p).read() for p in logs)
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text or 'world_size: 2' in text.lower()
    # the config the runner ran with (logged in full) has gloo, not nccl
    env_cfg = re.search(r'env_cfg = dict\((.*?)\n\S', text, re.S)
    assert env_cfg is not None, text[-3000:]
    assert re.search(r"dist_cfg=dict\(\s*backend='gloo'\s*\)",
                     env_cfg.group(1)), env_cfg.group(1)
    assert 'nccl' not in env_cfg.group(1)


def test_missing_start_checkpoint_is_named_with_the_fix(tmp_path):
    """A toy config run before the shared start exists says how to get it."""
    missing = str(tmp_path / 'work_dirs' / '_start' / 'x' / 'start.pth')
    result = subprocess.run([
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), TOY_CONFIG, '--work-dir',
        str(tmp_path / 'w'), '--cfg-options', f'load_from={missing}'
    ],
                            cwd=REPO_ROOT,
                            env=_env(),
                            capture_output=True,
                            text=True)
    assert result.returncode != 0
    assert f'load_from checkpoint of {TOY_CONFIG} not found: {missing}' \
        in result.stderr
    assert 'run_toy_benchmark.sh' in result.stderr
    assert 'load_from=None' in result.stderr
