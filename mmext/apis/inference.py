"""Inference on user images with mmdet's ``DetInferencer``, made safe.

:class:`MMExtDetInferencer` is mmdet's ``DetInferencer`` with three changes:

* **Checkpoints are untrusted input.** mmengine's ``BaseInferencer`` loads
  weights with ``torch.load`` through its ``CheckpointLoader``, whose pickle
  settings depend on the torch version. Here the checkpoint goes through
  :func:`mmext.utils.safe_load_checkpoint` (``weights_only=True`` with
  mmext's explicit allow-list) and nothing else.
* **A checkpoint must fit the config.** ``DetInferencer`` loads with
  ``strict=False`` and only logs missing keys, so a checkpoint of another
  model silently leaves random layers and draws garbage. Here missing,
  unexpected and shape-mismatched keys raise
  :class:`CheckpointMismatchError` listing them (``strict=False`` to
  allow a partial load, then they are warned).
* **Outputs a user can open:** one overlay PNG per image
  (``<out_dir>/vis/<stem>.png``, drawn by the config's
  ``DetLocalVisualizer``) and all predictions in one COCO-style json
  (``<out_dir>/predictions.json``, see :func:`predictions_to_coco`).
  Inputs may be a file, a folder, a glob or a list of those; every image
  is read once up front so an unreadable one is named before inference.

Without weights the model keeps its constructor initialisation (a warning
says so) and the class names come from the config's test dataset instead of
mmdet's COCO fallback.
"""
import glob
import os
import os.path as osp
import re
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
import torch
import torch.nn as nn
from mmdet.apis import DetInferencer
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType
from mmengine.config import Config, ConfigDict
from mmengine.fileio import get as get_bytes

import mmext  # noqa: F401  (registers mmext's modules and safe globals)
from mmext.utils.checkpoint import safe_load_checkpoint
from mmext.utils.run_records import atomic_write_json

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


class CheckpointMismatchError(ValueError):
    """A checkpoint's ``state_dict`` does not fit the model of the config.

    Attributes:
        missing (list[str]): Model keys the checkpoint lacks.
        unexpected (list[str]): Checkpoint keys the model lacks.
        shape_mismatch (list[tuple]): ``(key, checkpoint shape, model
            shape)``.
    """

    def __init__(self, checkpoint: str, missing: List[str],
                 unexpected: List[str],
                 shape_mismatch: List[Tuple[str, tuple, tuple]]) -> None:
        self.checkpoint = checkpoint
        self.missing = missing
        self.unexpected = unexpected
        self.shape_mismatch = shape_mismatch
        super().__init__(
            describe_state_dict_mismatch(checkpoint, missing, unexpected,
                                         shape_mismatch))


def _key_list(keys: Sequence[str], limit: int = 20) -> str:
    shown = ', '.join(keys[:limit])
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return shown + more


def describe_state_dict_mismatch(
        checkpoint: str, missing: Sequence[str], unexpected: Sequence[str],
        shape_mismatch: Sequence[Tuple[str, tuple, tuple]]) -> str:
    """One readable message naming every kind of mismatch."""
    lines = [f'checkpoint {checkpoint} does not fit the model of the config:']
    if missing:
        lines.append(f'  missing keys ({len(missing)}): {_key_list(missing)}')
    if unexpected:
        lines.append(f'  unexpected keys ({len(unexpected)}): '
                     f'{_key_list(unexpected)}')
    if shape_mismatch:
        shown = ', '.join(f'{k} (checkpoint {tuple(a)} vs model {tuple(b)})'
                          for k, a, b in shape_mismatch[:20])
        lines.append(f'  shape mismatches ({len(shape_mismatch)}): {shown}')
    return '\n'.join(lines)


def checkpoint_state_dict(checkpoint: dict) -> 'OrderedDict[str, Any]':
    """The weights of a loaded checkpoint, keys as the model names them.

    Takes ``checkpoint['state_dict']`` when present (mmengine checkpoints)
    and strips the ``module.`` prefix of wrapped models, as mmengine's
    ``_load_checkpoint_to_model`` does.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    return OrderedDict(
        (re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())


def state_dict_mismatch(
    model: nn.Module, state_dict: Dict[str, torch.Tensor]
) -> Tuple[List[str], List[str], List[Tuple[str, tuple, tuple]]]:
    """Compare a ``state_dict`` with a model's.

    Returns:
        tuple: ``(missing, unexpected, shape_mismatch)``: model keys absent
        from ``state_dict``, ``state_dict`` keys absent from the model and
        ``(key, checkpoint shape, model shape)`` of keys in both whose
        shapes differ; each sorted.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shape_mismatch = []
    for key in sorted(set(own) & set(state_dict)):
        theirs = state_dict[key]
        if not hasattr(theirs, 'shape'):
            continue
        if tuple(theirs.shape) != tuple(own[key].shape):
            shape_mismatch.append(
                (key, tuple(theirs.shape), tuple(own[key].shape)))
    return missing, unexpected, shape_mismatch


def check_checkpoint_fits(model: nn.Module,
                          checkpoint: dict,
                          filename: Optional[str] = None,
                          strict: bool = True) -> None:
    """Raise (or warn) when a loaded checkpoint does not fit ``model``.

    Raises:
        CheckpointMismatchError: with ``strict``, listing the missing,
            unexpected and shape-mismatched keys.
    """
    missing, unexpected, shapes = state_dict_mismatch(
        model, checkpoint_state_dict(checkpoint))
    if not (missing or unexpected or shapes):
        return
    if strict:
        raise CheckpointMismatchError(filename, missing, unexpected, shapes)
    warnings.warn(
        describe_state_dict_mismatch(filename, missing, unexpected, shapes) +
        '\n  (strict=False: loading the keys that fit)')


def load_checkpoint_strict(model: nn.Module,
                           filename: str,
                           strict: bool = True) -> dict:
    """Load a checkpoint into ``model`` safely and check that it fits.

    ``weights_only=True`` with mmext's allow-list
    (:func:`mmext.utils.safe_load_checkpoint`), then
    :func:`check_checkpoint_fits`, then mmengine's loading (``module.``
    prefixes stripped).

    Returns:
        dict: The loaded checkpoint.
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    checkpoint = safe_load_checkpoint(filename, map_location='cpu')
    check_checkpoint_fits(model, checkpoint, filename, strict)
    _load_checkpoint_to_model(model, checkpoint)
    return checkpoint


def expand_image_inputs(inputs: Union[str, Sequence[str]]) -> List[str]:
    """Image paths from files, folders and globs (kept in the given order).

    A folder gives its images (by extension, sorted, not recursive); a glob
    gives its sorted matches.

    Raises:
        FileNotFoundError: an entry is neither an existing file, a folder
            nor a glob with matches (the entry is named).
    """
    entries = [inputs] if isinstance(inputs, str) else list(inputs)
    paths: List[str] = []
    for entry in entries:
        if osp.isdir(entry):
            found = sorted(
                osp.join(entry, name) for name in os.listdir(entry)
                if name.lower().endswith(IMG_EXTENSIONS))
            if not found:
                raise FileNotFoundError(
                    f'no image ({", ".join(IMG_EXTENSIONS)})'
                    f' in folder {entry}')
        elif glob.has_magic(entry):
            found = sorted(p for p in glob.glob(entry) if osp.isfile(p))
            if not found:
                raise FileNotFoundError(f'no file matches {entry!r}')
        elif osp.isfile(entry):
            found = [entry]
        else:
            raise FileNotFoundError(f'image not found: {entry}')
        paths += found
    return paths


def check_image_readable(path: str) -> Tuple[int, int]:
    """Decode ``path`` once; returns its ``(height, width)``.

    Raises:
        ValueError: naming the file when it cannot be decoded as an image.
    """
    try:
        img = mmcv.imfrombytes(get_bytes(path))
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f'cannot read image {path}: {e}') from e
    if img is None:
        raise ValueError(f'cannot read image {path}: not a decodable image')
    return img.shape[:2]


def predictions_to_coco(samples: Sequence[DetDataSample],
                        classes: Sequence[str],
                        file_names: Optional[Sequence[str]] = None) -> dict:
    """Predictions as a COCO-style dataset json with scores.

    The layout is a COCO instances file (``images``, ``categories``,
    ``annotations``) so that pycocotools, mmdet's datasets and viewers read
    it directly; each annotation also carries ``score``. Category ids are
    ``label + 1`` in the order of ``classes`` (the model's
    ``dataset_meta``), image ids ``1..N`` in input order, boxes
    ``[x, y, w, h]`` and masks (when predicted) COCO RLE at image
    resolution. Every prediction is kept, whatever its score.

    Args:
        samples: One ``DetDataSample`` per image with ``pred_instances``
            (``bboxes`` (n, 4) xyxy, ``scores`` (n,), ``labels`` (n,),
            optional ``masks`` (n, H, W)).
        classes: Class names, indexed by label.
        file_names: Image names; default the samples' ``img_path``.
    """
    images, annotations = [], []
    for i, sample in enumerate(samples):
        image_id = i + 1
        if file_names is not None:
            file_name = file_names[i]
        else:
            file_name = sample.metainfo.get('img_path', f'{i:08d}.jpg')
        h, w = sample.metainfo['ori_shape'][:2]
        images.append(
            dict(id=image_id, file_name=file_name, height=h, width=w))
        inst = sample.pred_instances
        bboxes = inst.bboxes.detach().cpu().numpy()
        scores = inst.scores.detach().cpu().numpy()
        labels = inst.labels.detach().cpu().numpy()
        masks = inst.get('masks')
        if masks is not None:
            masks = masks.detach().cpu().numpy().astype(np.uint8)
        for j in range(len(scores)):
            x0, y0, x1, y1 = (float(v) for v in bboxes[j])
            ann = dict(
                id=len(annotations) + 1,
                image_id=image_id,
                category_id=int(labels[j]) + 1,
                bbox=[x0, y0, x1 - x0, y1 - y0],
                score=float(scores[j]),
                iscrowd=0)
            if masks is not None:
                rle = mask_utils.encode(np.asfortranarray(masks[j]))
                rle['counts'] = rle['counts'].decode()
                ann['segmentation'] = rle
                ann['area'] = float(mask_utils.area(rle))
            else:
                ann['area'] = (x1 - x0) * (y1 - y0)
            annotations.append(ann)
    categories = [
        dict(id=k + 1, name=str(name)) for k, name in enumerate(classes)
    ]
    return dict(images=images, annotations=annotations, categories=categories)


class MMExtDetInferencer(DetInferencer):
    """``DetInferencer`` with safe, strict checkpoint loading (see module doc).

    Args:
        model (str | Config | dict): An mmext or mmdet config (path or
            loaded); mmext is imported, so its modules resolve in the
            ``mmdet`` scope.
        weights (str, optional): Checkpoint path. None keeps the
            constructor's initialisation (with a warning).
        device (str, optional): ``cpu``, ``cuda``, ``cuda:1`` ...
        strict (bool): Raise :class:`CheckpointMismatchError` when the
            checkpoint does not fit the model; with False the mismatch is
            warned and the fitting weights are loaded. Defaults to True.
        palette (str): As in ``DetInferencer``.
        show_progress (bool): As in ``DetInferencer``.
    """

    def __init__(self,
                 model: Union[str, Config, ConfigDict, dict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 strict: bool = True,
                 palette: str = 'none',
                 show_progress: bool = False) -> None:
        self.strict = strict
        self.weights = weights
        if isinstance(model, str) and not osp.isfile(model):
            # DetInferencer would look the name up in model-zoo metafiles
            raise FileNotFoundError(f'config file not found: {model}')
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'checkpoint file not found: {weights}')
        super().__init__(
            model=model,
            weights=weights,
            device=device,
            scope='mmdet',
            palette=palette,
            show_progress=show_progress)
        self._vis_names: set = set()

    # ------------------------------------------------------------ loading
    def _init_model(self,
                    cfg: ConfigType,
                    weights: Optional[str],
                    device: str = 'cpu') -> nn.Module:
        """``BaseInferencer._init_model`` with mmext's safe loader.

        The config must be given (mmengine would otherwise rebuild it from
        a string inside the checkpoint, i.e. run code from it).
        """
        from mmdet.registry import MODELS
        if not cfg:
            raise ValueError('MMExtDetInferencer needs a config; it does not '
                             'read configs stored in checkpoints')
        checkpoint = None
        if weights is not None:
            checkpoint = safe_load_checkpoint(weights, map_location='cpu')
        if cfg.model.get('pretrained') is not None:
            del cfg.model.pretrained
        model = MODELS.build(cfg.model)
        model.cfg = cfg
        self._load_weights_to_model(model, checkpoint, cfg)
        model.to(device)
        model.eval()
        return model

    def _load_weights_to_model(self, model: nn.Module,
                               checkpoint: Optional[dict],
                               cfg: Optional[ConfigType]) -> None:
        """Check the fit, load the weights and set ``model.dataset_meta``.

        ``DetInferencer``'s rules, except that the class names and palette
        of the config are read without building its test dataset (mmext's
        datasets check that their data root exists; inference on your own
        images must not need the training data on disk), and that a
        checkpoint without class names gets the config's instead of COCO's.
        Priority: ``palette`` argument, config, checkpoint, ``'random'``;
        class names: checkpoint, config.
        """
        from mmengine.runner.checkpoint import _load_checkpoint_to_model
        config_meta = _config_metainfo(cfg)
        dataset_meta = {}
        if checkpoint is None:
            warnings.warn('no checkpoint given: predictions come from the '
                          "model's initial weights")
        else:
            check_checkpoint_fits(model, checkpoint, self.weights, self.strict)
            _load_checkpoint_to_model(model, checkpoint)
            meta = checkpoint.get('meta', {})
            if 'dataset_meta' in meta:  # mmdet 3.x
                dataset_meta = {
                    k.lower(): v
                    for k, v in meta['dataset_meta'].items()
                }
            elif 'CLASSES' in meta:  # mmdet 2.x
                dataset_meta = {'classes': meta['CLASSES']}
        if 'classes' not in dataset_meta:
            dataset_meta['classes'] = config_meta['classes']
        if self.palette != 'none':
            dataset_meta['palette'] = self.palette
        elif config_meta.get('palette') is not None:
            dataset_meta['palette'] = config_meta['palette']
        dataset_meta.setdefault('palette', 'random')
        model.dataset_meta = dataset_meta

    # ------------------------------------------------------------ inputs
    def _get_transform_idx(self, pipeline_cfg: ConfigType,
                           name: Union[str, Tuple[str, type]]) -> int:
        """Index of a transform in the pipeline; subclasses of
        ``LoadImageFromFile`` (mmext's ``ValidatedLoadImageFromFile`` in the
        toy configs) count as the loader that ``DetInferencer`` replaces with
        its ``InferencerLoader`` (images are checked before inference)."""
        idx = super()._get_transform_idx(pipeline_cfg, name)
        if idx != -1 or 'LoadImageFromFile' not in name:
            return idx
        from mmcv.transforms import LoadImageFromFile
        from mmdet.registry import TRANSFORMS
        for i, transform in enumerate(pipeline_cfg):
            cls = transform['type']
            if isinstance(cls, str):
                cls = TRANSFORMS.get(cls)
            if isinstance(cls, type) and issubclass(cls, LoadImageFromFile):
                return i
        return -1

    def _inputs_to_list(self, inputs) -> list:
        """Files, folders and globs to image paths; arrays pass through.

        Every path is decoded once here so that an unreadable image is named
        before any inference runs.
        """
        if isinstance(inputs, np.ndarray):
            return [inputs]
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        out = []
        for item in items:
            if isinstance(item, np.ndarray):
                out.append(item)
                continue
            for path in expand_image_inputs(item):
                check_image_readable(path)
                out.append(path)
        return out

    # ------------------------------------------------------------ outputs
    def visualize(self,
                  inputs: list,
                  preds: List[DetDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: int = 0,
                  draw_pred: bool = True,
                  pred_score_thr: float = 0.3,
                  no_save_vis: bool = False,
                  img_out_dir: str = '',
                  **kwargs) -> Optional[List[np.ndarray]]:
        """mmdet's drawing; the overlays are saved as ``vis/<stem>.png``."""
        save = not no_save_vis and img_out_dir != ''
        if not (save or show or return_vis):
            return None
        images = super().visualize(
            inputs,
            preds,
            return_vis=True,
            show=show,
            wait_time=wait_time,
            draw_pred=draw_pred,
            pred_score_thr=pred_score_thr,
            no_save_vis=True)
        if save:
            used = self._vis_names
            for item, image in zip(inputs, images):
                stem = (
                    osp.splitext(osp.basename(item))[0] if isinstance(
                        item, str) else f'{len(used):08d}')
                name, n = stem, 1
                while name in used:  # same stem from two folders
                    name, n = f'{stem}_{n}', n + 1
                used.add(name)
                mmcv.imwrite(image[..., ::-1],
                             osp.join(img_out_dir, 'vis', f'{name}.png'))
        return images if return_vis else None

    def __call__(self,
                 inputs,
                 out_dir: str = '',
                 no_save_pred: bool = False,
                 return_datasamples: bool = False,
                 **kwargs) -> dict:
        """``DetInferencer.__call__``; predictions go to one COCO json.

        mmdet would write one json per image in its own layout; here every
        image's predictions are gathered and written once to
        ``<out_dir>/predictions.json`` (:func:`predictions_to_coco`), whose
        path is returned under ``predictions_json``. Other arguments are
        ``DetInferencer``'s (``batch_size``, ``show``, ``pred_score_thr``,
        ``no_save_vis`` ...).
        """
        self._vis_names = set()
        result = super().__call__(
            inputs,
            out_dir=out_dir,
            no_save_pred=True,
            return_datasamples=True,
            **kwargs)
        samples = result['predictions']
        if not no_save_pred and out_dir != '':
            path = osp.join(out_dir, 'predictions.json')
            atomic_write_json(
                path,
                predictions_to_coco(samples,
                                    self.model.dataset_meta['classes']))
            result['predictions_json'] = path
        if not return_datasamples:
            result['predictions'] = [self.pred2dict(s) for s in samples]
        return result


def _config_metainfo(cfg: ConfigType) -> dict:
    """Class names and palette of the config's test dataset.

    The dataset's ``metainfo`` argument over its class's ``METAINFO``, read
    from the config and the registry without building the dataset.

    Raises:
        KeyError: naming the dataset type when neither gives class names.
    """
    dataset_cfg = cfg.test_dataloader.dataset
    while 'dataset' in dataset_cfg and 'type' in dataset_cfg.dataset:
        dataset_cfg = dataset_cfg.dataset  # dataset wrappers
    dataset_cls = DATASETS.get(dataset_cfg['type'])
    metainfo = dict(getattr(dataset_cls, 'METAINFO', None) or {})
    metainfo.update(dataset_cfg.get('metainfo') or {})
    if 'classes' not in metainfo:
        raise KeyError(f"test_dataloader.dataset ({dataset_cfg['type']}) has "
                       'no class names (metainfo.classes)')
    return {k: v for k, v in metainfo.items() if k in ('classes', 'palette')}
