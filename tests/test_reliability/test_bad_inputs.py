"""Corpus of broken inputs: each one ends in a named error or a warned skip.

Every case of the README's "Safety nets" section is built here on tiny
generated data and its message is asserted, the cases handled from the start
(missing files, a negative box, a misspelt config key, a pickled callable in
a checkpoint) included, so that none regresses. Dataset cases need no
training; the non-finite loss cases train a two-parameter model for 3
iterations in a real mmengine ``Runner``.
"""
import json
import logging
import math
import os
import os.path as osp
import pickle
import re
import shutil
import uuid
from contextlib import contextmanager

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmdet.structures import DetDataSample
from mmext.datasets import ValidatedCocoDataset
from mmext.engine.hooks import NonFiniteLossHook
from mmext.utils import load_cli_config, safe_load_checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                      'mask-rcnn_r18_fpn_1x_toy.py')
CLASSES = ('disk', 'square', 'triangle', 'ring')
VAL_JSON = 'instances_val.json'


# ------------------------------------------------------------------ helpers
@pytest.fixture
def toy_copy(toy_data_root, tmp_path):
    """A private copy of the session's toy set, free to break."""
    root = tmp_path / 'toy'
    shutil.copytree(toy_data_root, root)
    return str(root) + '/'


def _dataset(data_root, classes=CLASSES, pipeline=(), **kw):
    return ValidatedCocoDataset(
        data_root=data_root,
        ann_file=kw.pop('ann_file', f'annotations/{VAL_JSON}'),
        data_prefix=dict(img='val/'),
        metainfo=dict(classes=classes),
        pipeline=list(pipeline),
        test_mode=True,
        **kw)


def _edit(root, fn):
    """Apply ``fn`` to the val annotations; returns the edited annotation."""
    path = osp.join(root, 'annotations', VAL_JSON)
    with open(path) as f:
        coco = json.load(f)
    ann = coco['annotations'][0]
    ann['id'] = 9001
    fn(coco, ann)
    with open(path, 'w') as f:
        json.dump(coco, f)  # allow_nan: writes the NaN/Infinity literals
    return ann


@contextmanager
def _log_records(level=logging.WARNING):
    records = []
    handler = logging.Handler(level=level)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _text(records):
    return '\n'.join(r.getMessage() for r in records)


def _instances(ds):
    return sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds)))


# ---------------------------------------------------- annotation files
def test_missing_annotation_file(toy_data_root):
    with pytest.raises(FileNotFoundError, match=r'instances_nope\.json'):
        _dataset(toy_data_root, ann_file='annotations/instances_nope.json')


def test_annotation_file_not_json(toy_copy):
    path = osp.join(toy_copy, 'annotations', VAL_JSON)
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:  # a truncated download: cut mid-file
        f.write('{\n  "images": [\n' + text[len(text) // 2:])
    with pytest.raises(
            json.JSONDecodeError,
            match=r"annotation file '.*instances_val\.json' is not valid "
            r'JSON: .*line 3 column \d+'):
        _dataset(toy_copy)


def test_misspelt_class_in_config(toy_data_root):
    with pytest.raises(
            ValueError,
            match=r"classes \['sqare'\] of metainfo\[\"classes\"\] are not "
            r'categories of .*instances_val\.json'):
        _dataset(toy_data_root, classes=('disk', 'sqare'))


# ---------------------------------------------------------- annotations
def test_unknown_category_id(toy_copy):
    ann = _edit(toy_copy, lambda coco, ann: ann.update(category_id=99))
    with pytest.raises(
            ValueError,
            match=rf"annotation id 9001 of image '.*' \(image id "
            rf"{ann['image_id']}\) in .*instances_val\.json has "
            r'category_id 99, which is not among the file'):
        _dataset(toy_copy)


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_non_finite_bbox(toy_copy, value):

    def corrupt(coco, ann):
        ann['bbox'][2] = value

    ann = _edit(toy_copy, corrupt)
    with pytest.raises(
            ValueError,
            match=rf"annotation id 9001 of image '.*' \(image id "
            rf"{ann['image_id']}\) in .*instances_val\.json has a "
            r'non-finite "bbox"'):
        _dataset(toy_copy)


def test_non_finite_polygon(toy_copy):

    def corrupt(coco, ann):
        ann['segmentation'] = [[10, 10, 20, 10, math.nan, 20]]

    ann = _edit(toy_copy, corrupt)
    with pytest.raises(
            ValueError,
            match=rf"annotation id 9001 of image '.*' \(image id "
            rf"{ann['image_id']}\) .* polygon with a non-finite"):
        _dataset(toy_copy)


def test_annotation_without_bbox(toy_copy):
    _edit(toy_copy, lambda coco, ann: ann.pop('bbox'))
    with pytest.raises(ValueError, match='annotation id 9001 .*no valid'):
        _dataset(toy_copy)


def test_annotation_without_area(toy_copy):
    ann = _edit(toy_copy, lambda coco, ann: ann.pop('area'))
    with pytest.raises(
            ValueError,
            match=rf"annotation id 9001 of image '.*' \(image id "
            rf"{ann['image_id']}\) .* has no valid \"area\": got None"):
        _dataset(toy_copy)


def test_annotation_of_unlisted_image(toy_copy):
    _edit(toy_copy, lambda coco, ann: ann.update(image_id=777))
    with pytest.raises(
            ValueError,
            match=r'1 annotation\(s\) of .*instances_val\.json refer to '
            r'images that the file does not list, e\.g\. annotation id 9001 '
            r'\(image id 777\)'):
        _dataset(toy_copy)


@pytest.mark.parametrize(
    'bbox, reason',
    [([40, 40, -10, 20], r'degenerate box \[40, 40, -10, 20\]'),
     ([500, 500, 20, 20], r'box \[500, 500, 20, 20\] lies outside')])
def test_negative_or_outside_box_is_skipped_with_warning(
        toy_data_root, toy_copy, bbox, reason):
    num_valid = _instances(_dataset(toy_data_root))
    _edit(toy_copy, lambda coco, ann: ann.update(bbox=bbox))
    with _log_records() as records:
        ds = _dataset(toy_copy)
    text = _text(records)
    assert re.search(
        r"skipping annotation id 9001 of image '.*val_\d+\.png' in "
        rf'.*instances_val\.json: {reason}', text), text
    assert 'skipped 1 degenerate annotation' in text
    assert _instances(ds) == num_valid - 1


def test_categories_left_out_by_classes_are_counted(toy_data_root):
    with _log_records(logging.INFO) as records:
        ds = _dataset(toy_data_root, classes=('disk', 'square'))
    text = _text(records)
    assert re.search(
        r'instances_val\.json: annotations of categories not in metainfo '
        r"classes are not used: 'ring' \(\d+\), 'triangle' \(\d+\)", text)
    labels = {
        i['bbox_label']
        for k in range(len(ds)) for i in ds.get_data_info(k)['instances']
    }
    assert labels <= {0, 1}


# ------------------------------------------------------------- images
def test_missing_image_file(toy_copy):
    os.remove(osp.join(toy_copy, 'val', 'val_00002.png'))
    with pytest.raises(
            FileNotFoundError,
            match=r"val_00002\.png' \(image id \d+\) listed in "
            r'.*instances_val\.json does not exist'):
        _dataset(toy_copy)


def _config_test_pipeline():
    """The toy configs' own test pipeline (from the config, not rebuilt)."""
    cfg = Config.fromfile(TOY_CONFIG)
    assert cfg.test_pipeline[0].type == 'ValidatedLoadImageFromFile'
    assert cfg.train_pipeline[0].type == 'ValidatedLoadImageFromFile'
    return cfg.test_pipeline


@pytest.mark.parametrize('keep', [0.5, 0.0])
def test_truncated_image(toy_copy, keep):
    path = osp.join(toy_copy, 'val', 'val_00002.png')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])  # keep=0: an empty file
    ds = _dataset(toy_copy, pipeline=_config_test_pipeline())
    index = next(i for i in range(len(ds))
                 if ds.get_data_info(i)['img_path'] == path)
    ds[(index + 1) % len(ds)]  # the others still load
    with pytest.raises(
            OSError,
            match=r"image '.*val_00002\.png' \(image id \d+\) cannot be "
            r'decoded: the file is truncated, corrupt or not an image'):
        ds[index]


def test_truncated_image_through_mmdets_plain_loader(toy_copy):
    # COCO configs keep mmdet's pipelines (plain LoadImageFromFile): the
    # dataset builds that loader as the validating one
    path = osp.join(toy_copy, 'val', 'val_00002.png')
    with open(path, 'r+b') as f:
        f.truncate(100)
    pipeline = [dict(type='LoadImageFromFile', backend_args=None)]
    ds = _dataset(toy_copy, pipeline=pipeline)
    assert type(ds.pipeline.transforms[0]).__name__ == \
        'ValidatedLoadImageFromFile'
    assert pipeline[0]['type'] == 'LoadImageFromFile'  # the config untouched
    index = next(i for i in range(len(ds))
                 if ds.get_data_info(i)['img_path'] == path)
    with pytest.raises(
            OSError,
            match=r"image '.*val_00002\.png' \(image id \d+\) cannot be "
            r'decoded'):
        ds[index]
    # opting out gives mmcv's own, unnamed error
    ds = _dataset(toy_copy, pipeline=pipeline, validate_image_loading=False)
    with pytest.raises(AssertionError, match='failed to load image'):
        ds[index]


def test_image_info_file_without_annotations_loads(toy_copy):
    # COCO test-dev's image_info_test-dev2017.json has images and categories
    # only; the COCO test-dev configs use the validating dataset on it
    path = osp.join(toy_copy, 'annotations', VAL_JSON)
    with open(path) as f:
        coco = json.load(f)
    del coco['annotations']
    with open(osp.join(toy_copy, 'annotations', 'image_info.json'), 'w') as f:
        json.dump(coco, f)
    ds = _dataset(toy_copy, ann_file='annotations/image_info.json')
    assert len(ds) == len(coco['images'])
    assert all(not ds.get_data_info(i)['instances'] for i in range(len(ds)))


@pytest.mark.parametrize('size', [100, 0])
def test_truncated_image_with_ignore_empty_warns(toy_copy, size):
    # 100 bytes: decoded to None (mmcv asserts); 0: cv2.error, which mmcv
    # itself turns into None with ignore_empty=True
    path = osp.join(toy_copy, 'val', 'val_00002.png')
    with open(path, 'r+b') as f:
        f.truncate(size)
    load = Compose([dict(type='ValidatedLoadImageFromFile',
                         ignore_empty=True)])
    with _log_records() as records:
        assert load(dict(img_path=path, img_id=2)) is None
    assert re.search(
        r"skipping image '.*val_00002\.png' \(image id 2\): it cannot be "
        r'read or decoded', _text(records))


# ------------------------------------------------------ config and files
def test_misspelt_config_key_names_the_suggestion(tmp_path):
    config = tmp_path / 'typo.py'
    config.write_text(f'_base_ = {TOY_CONFIG!r}\n'
                      'trian_cfg = dict(max_iters=1)\n')
    with pytest.raises(
            KeyError,
            match=r"unknown config key 'trian_cfg' in .*typo\.py.*"
            r"'train_cfg'"):
        load_cli_config(str(config))


class _Payload:
    """Unpickling this would run ``os.system``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_checkpoint_with_pickled_callable_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _Payload(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        safe_load_checkpoint(path)
    assert not marker.exists()  # nothing was executed


# --------------------------------------------------- non-finite training
class TinyModel(BaseModel):
    """``loss = (w.BN(x) + b)^2`` that can be made NaN, or its gradient NaN.

    ``nan_loss_at``: 1-based training iterations whose input is NaN (a
    corrupt image: the loss and the BatchNorm running statistics become
    NaN); ``nan_grad_at``: iterations whose loss is finite but whose gradient
    is NaN (``0 * sqrt(u)`` at ``u = 0``: 0 forward, 0 * inf = NaN backward).
    """

    def __init__(self, nan_loss_at=(), nan_grad_at=()):
        super().__init__()
        self.norm = nn.BatchNorm1d(2)
        self.linear = nn.Linear(2, 1)
        self.nan_loss_at, self.nan_grad_at = nan_loss_at, nan_grad_at
        self.num_calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)
        if mode == 'loss':
            self.num_calls += 1
            if self.num_calls in self.nan_loss_at:
                x = x * math.nan
        out = self.linear(self.norm(x))
        if mode != 'loss':
            return out
        loss = out.pow(2).mean()
        if self.num_calls in self.nan_grad_at:
            w = self.linear.weight.sum()
            loss = loss + 0 * torch.sqrt(w - w.detach())
        return dict(loss_tiny=loss)


class WeightsRecorder(Hook):
    """Copies weights and BN statistics after every iteration (after the
    guard hook)."""

    priority = 'LOWEST'

    def __init__(self):
        self.weights, self.running_means = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.weights.append(runner.model.linear.weight.detach().clone())
        self.running_means.append(runner.model.norm.running_mean.clone())


def _train_runner(work_dir, model, guard, max_iters=3):
    dataset = [
        dict(
            inputs=torch.tensor([0.5 + i, 1.0 - i]),
            data_samples=DetDataSample(
                metainfo=dict(img_id=100 + i, img_path=f'img_{100 + i}.png')))
        for i in range(6)
    ]
    recorder = WeightsRecorder()
    runner = Runner(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(
            type='IterBasedTrainLoop', max_iters=max_iters, val_interval=99),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(
                type='CheckpointHook',
                by_epoch=False,
                interval=1,
                max_keep_ckpts=1,
                backend_args=dict(backend='local_atomic')),
            non_finite_loss=guard),
        custom_hooks=[recorder],
        default_scope='mmdet',
        experiment_name=f'non_finite_{uuid.uuid4().hex}')
    return runner, recorder


def _assert_finite_checkpoint(path, weight):
    ckpt = safe_load_checkpoint(path)
    for name, value in ckpt['state_dict'].items():
        assert torch.isfinite(value).all(), name
    torch.testing.assert_close(ckpt['state_dict']['linear.weight'], weight)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    runner, recorder = _train_runner(
        tmp_path, TinyModel(nan_loss_at=(3, )), NonFiniteLossHook())
    with pytest.raises(
            FloatingPointError,
            match=r'non-finite loss at iteration 3 \(loss=nan, '
            r'loss_tiny=nan\); images of the batch: id 104 \(img_104\.png\), '
            r'id 105 \(img_105\.png\)\. Training stopped'):
        runner.train()
    ckpts = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert ckpts == ['iter_2.pth']  # written at 2, not replaced at 3
    weights = runner.model.linear.weight.detach()
    assert torch.isfinite(weights).all()
    # no step was taken at iteration 3: the weights are those of iteration 2
    torch.testing.assert_close(weights, recorder.weights[1])
    _assert_finite_checkpoint(str(tmp_path / 'iter_2.pth'), weights)


def test_non_finite_loss_skip_option_warns_and_continues(tmp_path):
    runner, recorder = _train_runner(
        tmp_path, TinyModel(nan_loss_at=(2, )),
        dict(type='NonFiniteLossHook', action='skip'))
    with _log_records() as records:
        runner.train()
    assert re.search(
        r'non-finite loss at iteration 2 \(loss=nan, loss_tiny=nan\); '
        r'images of the batch: id 102 \(img_102\.png\), id 103 '
        r'\(img_103\.png\); batch skipped', _text(records))
    assert len(recorder.weights) == 3
    # the skipped batch changed neither the weights nor the BN statistics
    torch.testing.assert_close(recorder.weights[1], recorder.weights[0])
    torch.testing.assert_close(recorder.running_means[1],
                               recorder.running_means[0])
    assert not torch.equal(recorder.weights[2], recorder.weights[1])
    assert torch.isfinite(recorder.running_means[2]).all()
    _assert_finite_checkpoint(str(tmp_path / 'iter_3.pth'),
                              recorder.weights[2])
    # the NaN loss did not reach the logged history
    history = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(history) == 2 and all(map(math.isfinite, history))


def test_too_many_skips_in_a_row_stop(tmp_path):
    runner, recorder = _train_runner(
        tmp_path, TinyModel(nan_loss_at=(2, 3)),
        dict(type='NonFiniteLossHook', action='skip',
             max_consecutive_skips=1))
    with pytest.raises(
            FloatingPointError,
            match=r'iteration 3 .*2 batches in a row were skipped'):
        runner.train()
    # iteration 2 was skipped (weights of iteration 1, checkpointed); 3 not
    assert sorted(f for f in os.listdir(tmp_path)
                  if f.endswith('.pth')) == ['iter_2.pth']
    _assert_finite_checkpoint(str(tmp_path / 'iter_2.pth'),
                              recorder.weights[0])


def test_non_finite_gradient_is_never_stepped(tmp_path):
    runner, recorder = _train_runner(
        tmp_path, TinyModel(nan_grad_at=(2, )), NonFiniteLossHook())
    with pytest.raises(
            FloatingPointError,
            match=r'non-finite gradient \(finite loss\) at iteration 2 '
            r'\(loss=[0-9.e-]+, loss_tiny=[0-9.e-]+\); images of the batch: '
            r'id 102'):
        runner.train()
    assert torch.isfinite(runner.model.linear.weight).all()
    torch.testing.assert_close(runner.model.linear.weight.detach(),
                               recorder.weights[0])
    _assert_finite_checkpoint(str(tmp_path / 'iter_1.pth'),
                              recorder.weights[0])


def test_checkpoint_with_non_finite_weights_is_not_written(tmp_path):
    runner, _ = _train_runner(tmp_path, TinyModel(), NonFiniteLossHook())
    runner.train()  # a good run, iter_3.pth written
    with torch.no_grad():
        runner.model.linear.bias.fill_(math.inf)
    with pytest.raises(
            FloatingPointError,
            match=r"refusing to write the checkpoint .*'linear\.bias' is "
            'not finite'):
        runner.save_checkpoint(str(tmp_path), 'iter_4.pth')
    assert not osp.exists(tmp_path / 'iter_4.pth')
    assert osp.exists(tmp_path / 'iter_3.pth')


def test_toy_runtime_enables_the_guard():
    cfg = Config.fromfile(TOY_CONFIG)
    assert cfg.default_hooks.non_finite_loss == dict(
        type='NonFiniteLossHook', action='raise')
