"""Checkpoints are untrusted: allow-listed loading and atomic writing."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.logging import MessageHub
from mmengine.model import BaseModel

from mmext.utils import safe_load_checkpoint


class _Payload:
    """Unpickling this creates ``marker``: the classic pickle exploit
    (``os.system`` and friends), with a harmless, observable effect."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def _evil_checkpoint(tmp_path, marker_name='pwned'):
    """A checkpoint whose loading would create ``tmp_path/marker_name``."""
    marker = tmp_path / marker_name
    path = tmp_path / f'evil_{marker_name}.pth'
    torch.save({
        'state_dict': {
            'fc.weight': torch.ones(2, 2)
        },
        'meta': _Payload(marker)
    }, str(path))
    return str(path), marker


def test_payload_runs_when_unpickled_unsafely(tmp_path):
    """Control: the payload is real, a ``weights_only=False`` load runs it."""
    path, marker = _evil_checkpoint(tmp_path, 'control')
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_checkpoint_with_pickled_callable_is_refused(tmp_path):
    path, marker = _evil_checkpoint(tmp_path)
    with pytest.raises(pickle.UnpicklingError, match='open'):
        safe_load_checkpoint(path)
    # plain torch.load is refused too: weights_only is never turned off
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not marker.exists()


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.fc(inputs)


@pytest.mark.parametrize('resume', [False, True])
def test_runner_load_from_and_resume_refuse_the_payload(tmp_path, resume):
    """mmengine's own paths, as ``tools/train.py`` / ``tools/test.py`` use
    them: ``load_from`` (and ``--resume`` with it) never unpickle the
    payload."""
    from mmengine.runner import Runner
    path, marker = _evil_checkpoint(tmp_path)
    runner = Runner(
        model=_TinyModel(),
        work_dir=str(tmp_path / 'work'),
        load_from=path,
        resume=resume,
        experiment_name=f'evil_ckpt_{resume}_{os.getpid()}')
    with pytest.raises(pickle.UnpicklingError):
        runner.load_or_resume()
    assert not marker.exists()
    if resume:
        return
    # an honest checkpoint of the same model loads through the same path
    good = str(tmp_path / 'good.pth')
    torch.save(
        {
            'state_dict': {
                'fc.weight': torch.full((2, 2), 3.),
                'fc.bias': torch.zeros(2)
            },
            'meta': dict(epoch=0, iter=0, seed=np.int64(0))
        }, good)
    runner._load_from = good
    runner.load_or_resume()
    assert torch.equal(runner.model.fc.weight, torch.full((2, 2), 3.))


def test_mmengine_checkpoint_contents_are_allowed(tmp_path):
    hub = MessageHub.get_instance('test_checkpoint_allow_list')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('epoch_marker', np.int64(3))
    ckpt = dict(
        meta=dict(epoch=1, iter=2, seed=np.int64(0), hook_msgs={}),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict(),
        extra=np.arange(4, dtype=np.float32))
    path = str(tmp_path / 'ok.pth')
    torch.save(ckpt, path)
    loaded = safe_load_checkpoint(path)
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 1.0
    np.testing.assert_array_equal(loaded['extra'], np.arange(4))
    assert loaded['meta']['seed'] == 0


class _GetattrPayload:
    """Reaches ``getattr`` through an allowed class: must be refused too."""

    def __reduce__(self):
        return (getattr, (np.ndarray, '__reduce__'))


def test_getattr_is_restricted_to_history_buffer(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save({'meta': _GetattrPayload()}, path)
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        safe_load_checkpoint(path)


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_load_checkpoint(str(tmp_path / 'nope.pth'))


def test_atomic_backend_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    backend = get_file_backend(
        str(target), backend_args=dict(backend='local_atomic'))
    backend.put(b'first', str(target))
    assert target.read_bytes() == b'first'

    def broken_fsync(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'second-but-interrupted', str(target))
    # the previous content survives and no temp file is left behind
    assert target.read_bytes() == b'first'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']
    monkeypatch.undo()
    backend.put_text('epoch_1.pth', str(tmp_path / 'last_checkpoint'))
    assert (tmp_path / 'last_checkpoint').read_text() == 'epoch_1.pth'
