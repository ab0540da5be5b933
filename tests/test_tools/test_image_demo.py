"""demo/image_demo.py and mmext.apis.MMExtDetInferencer on toy images."""
import json
import os
import os.path as osp
import pickle
import sys

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from _inference_helpers import (ATMASK_TOY, MASK_RCNN_TOY, REPO_ROOT,
                                save_fresh_checkpoint, toy_cfg,
                                train_two_iterations)

sys.path.insert(0, osp.join(REPO_ROOT, 'demo'))

import image_demo  # noqa: E402


@pytest.fixture(scope='module')
def fresh_ckpt(toy_data_root, tmp_path_factory):
    """A freshly initialised toy Mask R-CNN saved as a checkpoint."""
    path = str(tmp_path_factory.mktemp('fresh') / 'fresh.pth')
    save_fresh_checkpoint(toy_cfg(MASK_RCNN_TOY, toy_data_root), path)
    return path


def _val_images(root, n):
    return [osp.join(root, 'val', f'val_{i:05d}.png') for i in range(1, n + 1)]


def _data_root_option(root):
    return ['--cfg-options', f'test_dataloader.dataset.data_root={root}']


def test_demo_fresh_model_writes_overlays_and_coco_json(
        toy_data_root, fresh_ckpt, tmp_path):
    """A file and a glob in; one PNG per image and one COCO json out, whose
    entries are the inferencer's predictions."""
    from mmext.apis import MMExtDetInferencer
    out_dir = str(tmp_path / 'out')
    inputs = [
        _val_images(toy_data_root, 1)[0],
        osp.join(toy_data_root, 'val', 'val_0000[23].png')
    ]
    result = image_demo.main([
        *inputs, MASK_RCNN_TOY, '--weights', fresh_ckpt, '--out-dir', out_dir,
        '--pred-score-thr', '0', *_data_root_option(toy_data_root)
    ])
    images = _val_images(toy_data_root, 3)
    for path in images:
        vis = mmcv.imread(osp.join(out_dir, 'vis', osp.basename(path)))
        original = mmcv.imread(path)
        assert vis.shape == original.shape
        # the detections are drawn over the image (score threshold 0)
        assert (vis != original).any(axis=2).mean() > 0.01

    with open(osp.join(out_dir, 'predictions.json')) as f:
        coco = json.load(f)
    assert [im['file_name'] for im in coco['images']] == images
    assert [c['name'] for c in coco['categories']
            ] == ['disk', 'square', 'triangle', 'ring']
    assert len(coco['annotations']) > 0
    assert len(result['predictions']) == 3

    # the json holds exactly what the inferencer predicts
    inferencer = MMExtDetInferencer(
        toy_cfg(MASK_RCNN_TOY, toy_data_root), weights=fresh_ckpt)
    samples = inferencer(images, return_datasamples=True)['predictions']
    for image_id, sample in enumerate(samples, 1):
        anns = [a for a in coco['annotations'] if a['image_id'] == image_id]
        inst = sample.pred_instances
        assert len(anns) == len(inst)
        boxes = inst.bboxes.numpy()
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
        np.testing.assert_allclose([a['bbox'] for a in anns], xywh, atol=1e-3)
        np.testing.assert_allclose([a['score'] for a in anns],
                                   inst.scores.numpy(),
                                   atol=1e-6)
        assert [a['category_id']
                for a in anns] == (inst.labels.numpy() + 1).tolist()
        for ann, mask in zip(anns, inst.masks.numpy()):
            decoded = mask_utils.decode(ann['segmentation'])
            assert decoded.shape == (128, 128)
            np.testing.assert_array_equal(decoded, mask)
            assert ann['area'] == mask.sum()


def test_demo_short_trained_model(toy_data_root, tmp_path):
    """A real mmengine checkpoint (message hub, optimizer state) loads
    through the safe loader; the model then holds its weights and the
    checkpoint's class names."""
    from mmext.apis import MMExtDetInferencer
    cfg = toy_cfg(MASK_RCNN_TOY, toy_data_root)
    ckpt = train_two_iterations(cfg, str(tmp_path / 'work'))
    out_dir = str(tmp_path / 'out')
    image_demo.main([
        osp.join(toy_data_root, 'val'), MASK_RCNN_TOY, '--weights', ckpt,
        '--out-dir', out_dir, *_data_root_option(toy_data_root)
    ])
    # a folder: every val image of the tiny toy set
    assert sorted(os.listdir(osp.join(
        out_dir, 'vis'))) == [f'val_{i:05d}.png' for i in range(1, 7)]

    inferencer = MMExtDetInferencer(cfg, weights=ckpt)
    state = torch.load(ckpt, weights_only=True)['state_dict']
    for key, value in inferencer.model.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)
    assert tuple(
        inferencer.model.dataset_meta['classes']) == ('disk', 'square',
                                                      'triangle', 'ring')


def test_inferencer_loads_through_safe_loader(toy_data_root, fresh_ckpt,
                                              tmp_path, monkeypatch):
    """DetInferencer's own loading path (mmengine's CheckpointLoader) is not
    used, and a checkpoint carrying a non-allow-listed object is refused."""
    import argparse

    from mmengine.runner.checkpoint import CheckpointLoader

    from mmext.apis import MMExtDetInferencer

    def forbidden(*args, **kwargs):
        raise AssertionError('mmengine CheckpointLoader used')

    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint', forbidden)
    cfg = toy_cfg(MASK_RCNN_TOY, toy_data_root)
    MMExtDetInferencer(cfg, weights=fresh_ckpt)  # loads without it

    evil = torch.load(fresh_ckpt, weights_only=True)
    evil['payload'] = argparse.Namespace(cmd='rm -rf /')
    evil_path = str(tmp_path / 'evil.pth')
    torch.save(evil, evil_path)
    with pytest.raises(pickle.UnpicklingError, match='Namespace'):
        MMExtDetInferencer(cfg, weights=evil_path)


def test_mismatched_checkpoint_names_keys(toy_data_root, fresh_ckpt, tmp_path):
    from mmext.apis import CheckpointMismatchError, MMExtDetInferencer
    ckpt = torch.load(fresh_ckpt, weights_only=True)
    sd = ckpt['state_dict']
    del sd['roi_head.mask_head.conv_logits.bias']
    sd['roi_head.mask_head.extra.weight'] = torch.zeros(1)
    sd['roi_head.bbox_head.fc_cls.weight'] = torch.zeros(7, 3)
    path = str(tmp_path / 'mismatch.pth')
    torch.save(ckpt, path)
    cfg = toy_cfg(MASK_RCNN_TOY, toy_data_root)
    with pytest.raises(CheckpointMismatchError) as info:
        MMExtDetInferencer(cfg, weights=path)
    message = str(info.value)
    assert path in message
    assert 'missing keys (1): roi_head.mask_head.conv_logits.bias' in message
    assert 'unexpected keys (1): roi_head.mask_head.extra.weight' in message
    assert 'roi_head.bbox_head.fc_cls.weight (checkpoint (7, 3) vs model' \
        in message
    assert info.value.missing == ['roi_head.mask_head.conv_logits.bias']

    # a checkpoint of another method: ATMask's extra threshold branch
    atmask_path = str(tmp_path / 'atmask.pth')
    save_fresh_checkpoint(toy_cfg(ATMASK_TOY, toy_data_root), atmask_path)
    with pytest.raises(CheckpointMismatchError, match='unexpected keys'):
        MMExtDetInferencer(cfg, weights=atmask_path)

    # --allow-partial: warned, and the fitting weights are loaded
    with pytest.warns(UserWarning, match='missing keys'):
        inferencer = MMExtDetInferencer(cfg, weights=path, strict=False)
    torch.testing.assert_close(
        inferencer.model.state_dict()['roi_head.mask_head.conv_logits.weight'],
        sd['roi_head.mask_head.conv_logits.weight'])


def test_demo_bad_inputs_are_named(toy_data_root, fresh_ckpt, tmp_path):
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'not a png')
    good = _val_images(toy_data_root, 1)[0]
    common = [MASK_RCNN_TOY, '--out-dir', str(tmp_path / 'o')]
    with pytest.raises(ValueError, match=f'cannot read image {bad}'):
        image_demo.main([
            good,
            str(bad), *common, '--weights', fresh_ckpt,
            *_data_root_option(toy_data_root)
        ])
    # nothing was written before the bad image was found
    assert not (tmp_path / 'o').exists()
    missing = str(tmp_path / 'nothing.pth')
    with pytest.raises(FileNotFoundError, match=missing):
        image_demo.main([good, *common, '--weights', missing])
    with pytest.raises(FileNotFoundError, match='no file matches'):
        image_demo.main([
            str(tmp_path / '*.jpg'), *common, '--weights', fresh_ckpt,
            *_data_root_option(toy_data_root)
        ])


def test_class_names_without_data_on_disk(toy_data_root, fresh_ckpt, tmp_path):
    """Inference needs neither the training data (the config's data root
    may be missing) nor class names in the checkpoint (the config's are
    used, not COCO's)."""
    from mmext.apis import MMExtDetInferencer
    ckpt = torch.load(fresh_ckpt, weights_only=True)
    del ckpt['meta']
    path = str(tmp_path / 'no_meta.pth')
    torch.save(ckpt, path)
    cfg = toy_cfg(MASK_RCNN_TOY, toy_data_root)
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'absent') + '/'
    inferencer = MMExtDetInferencer(cfg, weights=path)
    assert tuple(
        inferencer.model.dataset_meta['classes']) == ('disk', 'square',
                                                      'triangle', 'ring')
    assert inferencer.model.dataset_meta['palette'] == [
        tuple(c) for c in cfg.test_dataloader.dataset.metainfo.palette
    ]
    result = inferencer(_val_images(toy_data_root, 1))
    assert len(result['predictions']) == 1
