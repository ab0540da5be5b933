"""One picture of what each method of the benchmark does differently.

:func:`make_gallery` writes a single PNG with three parts:

1. **Predictions side by side:** a few val images (rows) with the ground
   truth and each method's predictions (columns), drawn by mmdet's
   ``DetLocalVisualizer``. By default the images with the most huddled and
   small objects are picked (:func:`pick_gallery_images`), where the methods
   differ most.
2. **ATMask R-CNN's adaptive threshold** for one instance of the first
   gallery image: probability map ``P``, threshold map ``T``, ``P >= 0.5``
   and the final mask ``P >= T``
   (:func:`mmext.visualization.draw_threshold_panels`). The instance is the
   most confident detection that overlaps a huddled ground-truth object
   (box IoU >= 0.5), else the most confident detection.
3. **The hybrid networks' pseudo masks** of one training image, valid and
   invalid apart (:func:`mmext.visualization.draw_pseudo_masks`); by default
   the image with the most pseudo masks among those with both kinds.

Models run through :class:`mmext.apis.MMExtDetInferencer` (safe, strict
checkpoint loading), one at a time.
"""
import json
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import mmcv
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData

from .pseudo_masks import (draw_pseudo_masks, pseudo_mask_counts,
                           segmentation_to_mask)
from .threshold_maps import (draw_threshold_panels, has_threshold_branch,
                             threshold_maps)

#: an object is small, as COCO's APs counts it, below this mask area
SMALL_AREA = 32 * 32


@dataclass
class GalleryMethod:
    """One column of the gallery: a name, its config and checkpoint."""
    name: str
    config: str
    checkpoint: Optional[str]


def _load_json(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    with open(path) as f:
        return json.load(f)


def _anns_by_image(coco: dict) -> Dict[int, List[dict]]:
    out: Dict[int, List[dict]] = {}
    for ann in coco.get('annotations', []):
        out.setdefault(ann['image_id'], []).append(ann)
    return out


def pick_gallery_images(coco: dict, num: int = 3) -> List[int]:
    """Ids of the ``num`` images with the most huddled and small objects.

    Score per image: ``2 * huddled + small`` (``huddled`` flag of the toy
    annotations; *small*: area below 32x32 px, COCO's APs range); ties go to
    the lower id, so the pick is stable.
    """
    scores = {img['id']: 0 for img in coco['images']}
    for ann in coco.get('annotations', []):
        if ann['image_id'] not in scores:
            continue
        scores[ann['image_id']] += 2 * bool(ann.get('huddled')) + \
            int(ann.get('area', SMALL_AREA) < SMALL_AREA)
    return sorted(scores, key=lambda i: (-scores[i], i))[:num]


def pick_pseudo_mask_image(coco: dict) -> int:
    """Id of a training image with both valid and invalid pseudo masks.

    Among those, the most invalid masks, then the most masks, then the
    lowest id (any image with masks if none has both kinds).
    """
    anns = _anns_by_image(coco)
    if not anns:
        raise ValueError('the pseudo-mask json has no annotations')

    def key(image_id):
        valid, invalid = pseudo_mask_counts(anns[image_id])
        return (-(valid > 0 and invalid > 0), -invalid, -(valid + invalid),
                image_id)

    return sorted(anns, key=key)[0]


def gt_data_sample(anns: Sequence[dict], height: int, width: int,
                   cat_id_to_label: Dict[int, int]) -> DetDataSample:
    """A ``DetDataSample`` whose ``gt_instances`` hold the annotations.

    ``bboxes`` (n, 4) xyxy, ``labels`` (n,), ``masks`` (n, H, W) bool.
    """
    inst = InstanceData()
    boxes = [[
        a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
        a['bbox'][1] + a['bbox'][3]
    ] for a in anns]
    inst.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.labels = torch.tensor(
        [cat_id_to_label[a['category_id']] for a in anns], dtype=torch.long)
    inst.masks = np.stack(
        [segmentation_to_mask(a['segmentation'], height, width)
         for a in anns]) if anns else np.zeros((0, height, width), dtype=bool)
    sample = DetDataSample(metainfo=dict(ori_shape=(height, width)))
    sample.gt_instances = inst
    return sample


def _draw(visualizer: DetLocalVisualizer, image: np.ndarray,
          sample: DetDataSample, gt: bool, score_thr: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*is out of bounds')
        visualizer.add_datasample(
            'gallery',
            image,
            sample,
            draw_gt=gt,
            draw_pred=not gt,
            show=False,
            pred_score_thr=score_thr)
    return visualizer.get_image()


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes, (n, 4) x (m, 4) -> (n, m)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-6)


def _threshold_instance(inferencer, img_path: str,
                        gt_anns: Sequence[dict]) -> Optional[dict]:
    """``P``, ``T`` and final mask of one detection (see module doc)."""
    _, data = next(iter(inferencer.preprocess([img_path], batch_size=1)))
    results, maps = threshold_maps(inferencer.model, data)
    inst = results[0].pred_instances
    prob_maps, thr_maps = maps[0]
    if prob_maps is None:
        return None
    boxes = inst.bboxes.cpu().numpy()
    scores = inst.scores.cpu().numpy()
    order = np.argsort(-scores, kind='stable')
    chosen = int(order[0])
    huddled = np.array([[
        a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
        a['bbox'][1] + a['bbox'][3]
    ] for a in gt_anns if a.get('huddled')],
                       dtype=np.float32).reshape(-1, 4)
    if len(huddled):
        # boxes are in the network input frame: back to the image frame
        scale = np.array(results[0].metainfo.get('scale_factor', (1, 1)))
        ious = _box_iou(boxes / np.tile(scale, 2), huddled).max(1)
        for i in order:
            if ious[i] >= 0.5:
                chosen = int(i)
                break
    # the network input image (after the test pipeline), RGB
    img_h, img_w = results[0].metainfo['img_shape'][:2]
    image = data['inputs'][0].permute(1, 2, 0).numpy()[:img_h, :img_w, ::-1]
    label = int(inst.labels[chosen])
    classes = inferencer.model.dataset_meta.get('classes', ())
    return dict(
        image=np.ascontiguousarray(image),
        box=boxes[chosen].tolist(),
        prob=prob_maps[chosen].cpu().numpy(),
        thr=thr_maps[chosen].cpu().numpy(),
        final_mask=inst.masks[chosen, :img_h, :img_w].cpu().numpy(),
        name=classes[label] if label < len(classes) else str(label),
        score=float(scores[chosen]))


def make_gallery(methods: Sequence[GalleryMethod],
                 val_ann_file: str,
                 val_img_dir: str,
                 out: str,
                 pseudo_ann_file: Optional[str] = None,
                 pseudo_img_dir: Optional[str] = None,
                 image_ids: Optional[Sequence[int]] = None,
                 num_images: int = 3,
                 pseudo_image_id: Optional[int] = None,
                 threshold_method: Optional[str] = None,
                 score_thr: float = 0.3,
                 device: str = 'cpu',
                 panel_px: int = 128,
                 dpi: int = 100,
                 max_colors: int = 256) -> dict:
    """Write the gallery PNG (see the module docstring); returns what it
    shows.

    Args:
        methods: The columns, in order. A method whose checkpoint is None or
            missing is skipped with a warning naming it.
        val_ann_file / val_img_dir: COCO json (with ``huddled`` flags for
            the default pick) and image folder of the val images.
        out: PNG path.
        pseudo_ann_file / pseudo_img_dir: The pseudo-mask json and its
            images; without them part 3 is left out.
        image_ids: Val image ids; default :func:`pick_gallery_images`.
        num_images: How many val images when ``image_ids`` is None.
        pseudo_image_id: Training image of part 3; default
            :func:`pick_pseudo_mask_image`.
        threshold_method: Name of the method whose threshold maps are shown;
            default the first with an adaptive threshold branch (part 2 is
            left out when there is none).
        score_thr: Score threshold of the drawn predictions.
        device: Inference device.
        panel_px: Size of one image panel in the PNG, in pixels.
        dpi: Figure resolution.
        max_colors: Save the PNG with a palette of at most this many
            colours (a third of the size of the RGB file: the gallery is
            committed to the repository); 0 keeps full RGB.

    Returns:
        dict: ``image_ids``, ``methods`` (names drawn), ``skipped``,
        ``threshold`` (method, image id, class, score of the instance, or
        None), ``pseudo_image_id`` (or None), ``out``.

    Raises:
        ValueError: no method can be drawn, or an asked image id is not in
            the json.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from mmext.apis import MMExtDetInferencer

    val = _load_json(val_ann_file)
    images = {img['id']: img for img in val['images']}
    if image_ids is None:
        image_ids = pick_gallery_images(val, num_images)
    unknown = [i for i in image_ids if i not in images]
    if unknown:
        raise ValueError(f'image id(s) {unknown} not in {val_ann_file}')
    val_anns = _anns_by_image(val)
    paths = [osp.join(val_img_dir, images[i]['file_name']) for i in image_ids]
    rgb = [mmcv.imread(p, channel_order='rgb') for p in paths]

    usable, skipped = [], []
    for m in methods:
        if m.checkpoint is None or not osp.isfile(m.checkpoint):
            warnings.warn(f'gallery: skipping {m.name}: no checkpoint '
                          f'({m.checkpoint})')
            skipped.append(m.name)
        else:
            usable.append(m)
    if not usable:
        raise ValueError('gallery: no method with a checkpoint to draw')

    visualizer = DetLocalVisualizer.get_instance('mmext_gallery')
    visualizer.alpha = 0.5  # masks see-through: the image stays readable
    predictions: Dict[str, List[DetDataSample]] = {}
    dataset_meta = None
    threshold = None
    for m in usable:
        inferencer = MMExtDetInferencer(
            m.config, weights=m.checkpoint, device=device)
        dataset_meta = dataset_meta or inferencer.model.dataset_meta
        predictions[m.name] = inferencer(
            paths,
            return_datasamples=True,
            no_save_pred=True,
            no_save_vis=True)['predictions']
        wants_threshold = (
            threshold is None
            and (threshold_method is None or threshold_method == m.name)
            and has_threshold_branch(inferencer.model))
        if wants_threshold:
            found = _threshold_instance(inferencer, paths[0],
                                        val_anns.get(image_ids[0], []))
            if found is not None:
                threshold = dict(found, method=m.name, image_id=image_ids[0])
        del inferencer
    visualizer.dataset_meta = dataset_meta
    classes = list(dataset_meta['classes'])
    cat_id_to_label = {
        c['id']: classes.index(c['name']) if c['name'] in classes else k
        for k, c in enumerate(val['categories'])
    }

    ncols = 1 + len(usable)
    has_bottom = threshold is not None or pseudo_ann_file is not None
    panel_in = panel_px / dpi
    top_h = panel_in * len(image_ids) + 0.45
    bottom_h = panel_in * 1.25 + 0.5 if has_bottom else 0
    fig = plt.figure(
        figsize=(max(panel_in * ncols, panel_in * 7.5), top_h + bottom_h),
        dpi=dpi)
    if has_bottom:
        top, bottom = fig.subfigures(
            2, 1, height_ratios=[top_h, bottom_h], hspace=0.02)
    else:
        top, bottom = fig, None
    axes = top.subplots(len(image_ids), ncols, squeeze=False)
    for r, image_id in enumerate(image_ids):
        img = images[image_id]
        gt = gt_data_sample(
            val_anns.get(image_id, []), img['height'], img['width'],
            cat_id_to_label)
        panels = [_draw(visualizer, rgb[r], gt, True, score_thr)]
        panels += [
            _draw(visualizer, rgb[r], predictions[m.name][r], False, score_thr)
            for m in usable
        ]
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                title = 'ground truth' if c == 0 else usable[c - 1].name
                ax.set_title(title, fontsize=7)
        axes[r, 0].set_ylabel(img['file_name'], fontsize=6)
    top.suptitle(
        f'predictions (score >= {score_thr}) on val images with huddled '
        'and small objects',
        fontsize=8,
        y=0.995)
    top.subplots_adjust(
        left=0.02,
        right=0.995,
        top=1 - 0.42 / top_h,
        bottom=0.0,
        wspace=0.03,
        hspace=0.03)

    pseudo_id = None
    if bottom is not None:
        n_thr = 5 if threshold is not None else 0
        n_pseudo = 1 if pseudo_ann_file is not None else 0
        sub = bottom.subplots(1, n_thr + n_pseudo + 1, squeeze=False)[0]
        sub[-1].set_visible(False)  # spacer keeps panels square-ish
        if threshold is not None:
            draw_threshold_panels(
                sub[:5],
                threshold['image'],
                threshold['box'],
                threshold['prob'],
                threshold['thr'],
                threshold['final_mask'],
                colorbar=False)
            for ax in sub[:5]:
                ax.title.set_fontsize(7)
            sub[0].set_title(
                f"{threshold['method']}: {threshold['name']} "
                f"{threshold['score']:.2f}\nimage + box",
                fontsize=7)
        if pseudo_ann_file is not None:
            pseudo = _load_json(pseudo_ann_file)
            pseudo_id = pseudo_image_id if pseudo_image_id is not None \
                else pick_pseudo_mask_image(pseudo)
            pimg = {i['id']: i for i in pseudo['images']}.get(pseudo_id)
            if pimg is None:
                raise ValueError(
                    f'image id {pseudo_id} not in {pseudo_ann_file}')
            panns = _anns_by_image(pseudo).get(pseudo_id, [])
            pimage = mmcv.imread(
                osp.join(pseudo_img_dir or '', pimg['file_name']),
                channel_order='rgb')
            ax = sub[n_thr]
            ax.imshow(draw_pseudo_masks(pimage, panns, show_labels=False))
            valid, invalid = pseudo_mask_counts(panns)
            ax.set_title(
                f'GrabCut pseudo masks ({pimg["file_name"]})\n'
                f'{valid} valid (green), {invalid} invalid (red)',
                fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        bottom.subplots_adjust(
            left=0.02, right=0.995, top=0.78, bottom=0.02, wspace=0.08)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    if max_colors:
        _quantize_png(out, max_colors)
    return dict(
        image_ids=list(image_ids),
        methods=[m.name for m in usable],
        skipped=skipped,
        threshold=None if threshold is None else {
            k: threshold[k]
            for k in ('method', 'image_id', 'name', 'score', 'box')
        },
        pseudo_image_id=pseudo_id,
        out=out)


def _quantize_png(path: str, max_colors: int) -> None:
    """Rewrite an RGB(A) PNG as a palette PNG of ``max_colors`` colours."""
    from PIL import Image
    with Image.open(path) as im:
        rgb = im.convert('RGB')
    rgb.quantize(
        colors=max_colors,
        method=Image.Quantize.FASTOCTREE,
        dither=Image.Dither.NONE).save(
            path, optimize=True)


__all__: List[str] = [
    'GalleryMethod', 'SMALL_AREA', 'pick_gallery_images',
    'pick_pseudo_mask_image', 'gt_data_sample', 'make_gallery'
]
