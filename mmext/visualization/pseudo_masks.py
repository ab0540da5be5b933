"""Draw GrabCut pseudo masks over their image, valid and invalid apart.

The pseudo-mask json (``tools/dataset_converters/grabcut_pseudo_masks.py``)
marks each annotation with ``valid`` (``pseudo_status == 'ok'`` and
``pseudo_iou >= 0.5``: the tight box of the mask covers the annotated box
well), ``pseudo_iou`` and ``pseudo_status`` (``ok``, ``too_small``,
``failed``, ``empty``; the last three carry the box's inscribed ellipse).
The hybrid networks train valid masks in the large-object branch and invalid
ones in the small-object branch, so a user checks both before training.
"""
import warnings
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
from mmengine.visualization import Visualizer

#: RGB colours of valid and invalid pseudo masks
VALID_COLOR: Tuple[int, int, int] = (0, 200, 0)
INVALID_COLOR: Tuple[int, int, int] = (230, 30, 30)


def segmentation_to_mask(segmentation, height: int, width: int) -> np.ndarray:
    """A COCO ``segmentation`` (polygons, RLE or uncompressed RLE) as an
    (height, width) bool mask, like pycocotools' ``annToMask``."""
    if isinstance(segmentation, list):  # polygons
        rles = mask_utils.frPyObjects(segmentation, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(segmentation.get('counts'), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = dict(segmentation)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode()
    return mask_utils.decode(rle).astype(bool)


def pseudo_mask_label(ann: dict) -> str:
    """``IoU 0.83``, with the status when GrabCut did not produce the mask."""
    label = f"IoU {float(ann.get('pseudo_iou', float('nan'))):.2f}"
    status = ann.get('pseudo_status', 'ok')
    if status != 'ok':
        label += f' {status}'
    return label


def draw_pseudo_masks(image: np.ndarray,
                      annotations: Sequence[dict],
                      scale: int = 1,
                      alpha: float = 0.5,
                      show_labels: bool = True,
                      valid_color: Tuple[int, int, int] = VALID_COLOR,
                      invalid_color: Tuple[int, int, int] = INVALID_COLOR,
                      font_size: Optional[int] = None) -> np.ndarray:
    """The image with each pseudo mask, its box and its box IoU.

    Valid masks (``ann['valid']``) are drawn in ``valid_color``, invalid
    ones in ``invalid_color``; the text is :func:`pseudo_mask_label`.
    Drawn with mmengine's ``Visualizer``.

    Args:
        image: (H, W, 3) RGB uint8 image.
        annotations: COCO annotations of the image with ``segmentation``,
            ``bbox`` ([x, y, w, h]) and the pseudo-mask fields.
        scale: Integer upscaling (nearest) before drawing, so that text
            stays readable on small images.
        alpha: Mask opacity.
        show_labels: Draw the IoU texts.
        font_size: Text size; default grows with the image.

    Returns:
        np.ndarray: (H * scale, W * scale, 3) RGB uint8 image.

    Raises:
        KeyError: an annotation lacks ``valid`` (not a pseudo-mask json);
            the message names its id.
    """
    h, w = image.shape[:2]
    canvas = mmcv.imrescale(image, scale, interpolation='nearest') \
        if scale != 1 else image.copy()
    vis = Visualizer.get_instance('mmext_pseudo_masks')
    vis.set_image(canvas)
    if not annotations:
        return vis.get_image()
    masks, boxes, colors, texts = [], [], [], []
    for ann in annotations:
        if 'valid' not in ann:
            raise KeyError(f"annotation {ann.get('id')} of image "
                           f"{ann.get('image_id')} has no 'valid' flag: not "
                           'a pseudo-mask json (see tools/dataset_converters/'
                           'grabcut_pseudo_masks.py)')
        mask = segmentation_to_mask(ann['segmentation'], h, w)
        if scale != 1:
            mask = np.kron(mask, np.ones((scale, scale), dtype=bool))
        masks.append(mask)
        x, y, bw, bh = ann['bbox']
        boxes.append(
            [x * scale, y * scale, (x + bw) * scale, (y + bh) * scale])
        colors.append(valid_color if ann['valid'] else invalid_color)
        texts.append(pseudo_mask_label(ann))
    boxes_arr = np.array(boxes, dtype=np.float32)
    with warnings.catch_warnings():
        # mmengine warns for boxes and mask outlines touching the border
        warnings.filterwarnings('ignore', message='.*is out of bounds')
        vis.draw_binary_masks(np.stack(masks), colors=colors, alphas=alpha)
        vis.draw_bboxes(boxes_arr, edge_colors=colors, line_widths=1)
    if show_labels:
        size = font_size or max(7, int(min(canvas.shape[:2]) / 40))
        vis.draw_texts(
            texts,
            boxes_arr[:, :2],
            font_sizes=size,
            colors='white',
            bboxes=[
                dict(
                    facecolor=np.array(c) / 255.,
                    alpha=0.75,
                    pad=0.5,
                    edgecolor='none') for c in colors
            ])
    return vis.get_image()


def pseudo_mask_counts(annotations: Sequence[dict]) -> Tuple[int, int]:
    """``(valid, invalid)`` counts."""
    valid = sum(bool(a.get('valid')) for a in annotations)
    return valid, len(annotations) - valid


__all__: List[str] = [
    'VALID_COLOR', 'INVALID_COLOR', 'segmentation_to_mask',
    'pseudo_mask_label', 'draw_pseudo_masks', 'pseudo_mask_counts'
]
