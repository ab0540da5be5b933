"""Box-supervised pseudo masks: GrabCut, inscribed ellipses and validity.

Building blocks of the weakly supervised hybrid networks (Liao et al.,
"Weakly supervised instance segmentation using hybrid networks"):

* :func:`grabcut_box_mask` turns one box into a mask with OpenCV's
  ``cv2.grabCut`` (rectangle initialisation). It is used offline by
  ``tools/dataset_converters/grabcut_pseudo_masks.py`` to build the training
  pseudo masks, and at test time by the small-object branch on its detected
  boxes.
* :func:`mask_box_iou` and :func:`is_valid_pseudo_mask` implement the paper's
  quality check: a generated mask is *valid* when the IoU between its tight
  bounding box and the box it was generated from is >= 0.5.
* :func:`inscribed_ellipse_mask` is the fallback the paper uses for poor
  GrabCut results.
* :func:`grabcut_pseudo_mask` chooses how GrabCut is run on a box
  (``mode``). ``'plain'`` is the paper's setting as far as it goes: one
  rectangle-initialised GrabCut on the whole image. ``'local'`` (the default;
  the paper does not say how GrabCut is run) fixes what fails on real
  photos of cluttered scenes, where one colour model for the whole image's
  background also explains the object and GrabCut returns nothing or a
  sliver: GrabCut runs on a crop of the box plus a margin
  (``context_margin`` times the box side on each side), so the background
  model sees only the object's surroundings, and when that result is poor
  (no foreground, or invalid by the paper's criterion) it is run once more
  with a central ellipse of the box (``fg_seed_frac`` of its half sides)
  fixed as foreground. Only then do callers fall back to the ellipse.

Conventions (the paper does not fix them; these are mmdet's):

* Boxes are ``(x1, y1, x2, y2)`` floats in pixel-edge coordinates: pixel
  ``(row i, col j)`` covers ``[j, j + 1) x [i, i + 1)``, so a box of width
  ``w`` starting at ``x`` is ``(x, y, x + w, y + h)`` (COCO's ``[x, y, w, h]``
  converts by adding). The tight box of a mask whose foreground spans columns
  ``j0..j1`` is ``[j0, j1 + 1)``.
* GrabCut sees the box rounded outwards to whole pixels and clipped to the
  image. Pixels outside it are fixed background (``GC_BGD``), pixels inside
  probable foreground (``GC_PR_FGD``) - exactly what
  ``cv2.GC_INIT_WITH_RECT`` does, but written as a mask initialisation so
  that a box covering (almost) the whole image still has background samples:
  then the one-pixel ring just inside the box becomes probable background
  (``GC_PR_BGD``). Without this, OpenCV raises for boxes that touch all four
  image borders.
* OpenCV's GrabCut initialises its colour models with k-means seeded from
  OpenCV's global RNG. :func:`grabcut_box_mask` reseeds it
  (``cv2.setRNGSeed``) before every call, so a mask depends only on the
  image and the box - not on call order or on the number of worker
  processes.
"""
import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

#: Status values returned by :func:`grabcut_box_mask`.
GRABCUT_STATUSES = ('ok', 'too_small', 'failed', 'empty')
#: How :func:`grabcut_pseudo_mask` runs GrabCut on a box.
GRABCUT_MODES = ('local', 'plain')

# GrabCut fits 5-component GMMs by k-means, which needs at least that many
# samples per model; keep a margin so the fit is not degenerate.
_MIN_BG_SAMPLES = 32


def _as_box(box: Sequence[float]) -> Tuple[float, float, float, float]:
    """Check and convert a box to a tuple of four floats."""
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    if values.size != 4 or not np.all(np.isfinite(values)):
        raise ValueError(
            f'box must be 4 finite numbers (x1, y1, x2, y2), got {box!r}')
    x1, y1, x2, y2 = (float(v) for v in values)
    return x1, y1, x2, y2


def clip_box(box: Sequence[float], height: int,
             width: int) -> Tuple[float, float, float, float]:
    """Clip a box ``(x1, y1, x2, y2)`` to ``[0, width] x [0, height]``.

    A box lying completely outside the image becomes degenerate (zero width
    or height) rather than being inverted.
    """
    x1, y1, x2, y2 = _as_box(box)
    x1 = min(max(x1, 0.), float(width))
    x2 = min(max(x2, x1), float(width))
    y1 = min(max(y1, 0.), float(height))
    y2 = min(max(y2, y1), float(height))
    return x1, y1, x2, y2


def inscribed_ellipse_mask(height: int, width: int,
                           box: Sequence[float]) -> np.ndarray:
    """Binary mask of the ellipse inscribed in a box.

    A pixel is inside when its centre ``(j + 0.5, i + 0.5)`` lies in the
    axis-aligned ellipse touching the four box edges (the box is clipped to
    the image first). A non-degenerate box narrower than one pixel still gets
    the pixel containing its centre, so the mask is never empty for a box
    that overlaps the image.

    Args:
        height (int): Image height H.
        width (int): Image width W.
        box (Sequence[float]): ``(x1, y1, x2, y2)``.

    Returns:
        np.ndarray: uint8 mask of shape (H, W) with values in {0, 1}.
    """
    height, width = int(height), int(width)
    mask = np.zeros((height, width), dtype=np.uint8)
    x1, y1, x2, y2 = clip_box(box, height, width)
    if x2 <= x1 or y2 <= y1:
        return mask
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    ax, ay = (x2 - x1) / 2, (y2 - y1) / 2
    # Only the pixels of the box's bounding window can be inside.
    j0, j1 = int(math.floor(x1)), min(int(math.ceil(x2)), width)
    i0, i1 = int(math.floor(y1)), min(int(math.ceil(y2)), height)
    cols = np.arange(j0, j1, dtype=np.float64) + 0.5
    rows = np.arange(i0, i1, dtype=np.float64) + 0.5
    inside = (((cols[None, :] - cx) / ax)**2 +
              ((rows[:, None] - cy) / ay)**2) <= 1.0
    mask[i0:i1, j0:j1] = inside
    if not inside.any():
        mask[min(int(cy), height - 1), min(int(cx), width - 1)] = 1
    return mask


def mask_to_box(mask: np.ndarray) -> Tuple[float, float, float, float]:
    """Tight box ``(x1, y1, x2, y2)`` of a binary mask (pixel-edge convention).

    Raises:
        ValueError: If the mask is empty.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'mask must be 2-D (H, W), got shape {mask.shape}')
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError('mask is empty, it has no bounding box')
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1),
            float(rows[-1] + 1))


def box_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU of two ``(x1, y1, x2, y2)`` boxes (0 when the union is empty)."""
    ax1, ay1, ax2, ay2 = _as_box(box_a)
    bx1, by1, bx2, by2 = _as_box(box_b)
    iw = max(0., min(ax2, bx2) - max(ax1, bx1))
    ih = max(0., min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (
        max(0., ax2 - ax1) * max(0., ay2 - ay1) +
        max(0., bx2 - bx1) * max(0., by2 - by1) - inter)
    return float(inter / union) if union > 0 else 0.


def mask_box_iou(mask: np.ndarray, box: Sequence[float]) -> float:
    """IoU between the tight bounding box of ``mask`` and ``box``.

    This is the paper's quality estimate of a generated mask, which needs
    no ground-truth mask. The box is used as given (not clipped), so a box
    reaching beyond the image is compared with its full extent.

    Args:
        mask (np.ndarray): Binary mask of shape (H, W).
        box (Sequence[float]): ``(x1, y1, x2, y2)``.

    Returns:
        float: IoU in [0, 1]; 0 for an empty mask.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'mask must be 2-D (H, W), got shape {mask.shape}')
    if not mask.any():
        return 0.
    return box_iou(mask_to_box(mask), box)


def is_valid_pseudo_mask(mask: np.ndarray,
                         box: Sequence[float],
                         iou_thr: float = 0.5) -> Tuple[bool, float]:
    """Whether a generated mask is valid for its box (paper, Sec. 1).

    Args:
        mask (np.ndarray): Binary mask of shape (H, W).
        box (Sequence[float]): The box the mask was generated from,
            ``(x1, y1, x2, y2)``.
        iou_thr (float): The mask is valid when ``mask_box_iou >= iou_thr``.
            Defaults to 0.5 (the paper's value).

    Returns:
        Tuple[bool, float]: The validity flag and the IoU.
    """
    iou = mask_box_iou(mask, box)
    return bool(iou >= iou_thr), iou


def _to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Return a contiguous (H, W, 3) uint8 image, as ``cv2.grabCut`` wants."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f'image must be uint8, got dtype {image.dtype}')
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must have shape (H, W, 3), got {image.shape}')
    return np.ascontiguousarray(image)


def grabcut_box_mask(image: np.ndarray,
                     box: Sequence[float],
                     iters: int = 5,
                     min_size: int = 8,
                     context_margin: Optional[float] = None,
                     fg_seed_frac: float = 0.) -> Tuple[np.ndarray, str]:
    """Segment the object in ``box`` with GrabCut (rectangle initialisation).

    Args:
        image (np.ndarray): uint8 BGR image of shape (H, W, 3) (grey (H, W)
            and BGRA images are converted).
        box (Sequence[float]): ``(x1, y1, x2, y2)``; clipped to the image
            first, so boxes touching or crossing the border are fine.
        iters (int): GrabCut iterations. Defaults to 5.
        min_size (int): Boxes whose clipped width or height is below this
            many pixels are not given to GrabCut (too few pixels to fit its
            colour models). Defaults to 8.
        context_margin (float, optional): None (default): GrabCut sees the
            whole image, every pixel outside the box is background. A value
            ``m >= 0``: it sees only the box grown by ``m`` times the box's
            width (height) on the left and right (top and bottom), clipped
            to the image, so its background model is local. The mask is
            returned at full image size either way.
        fg_seed_frac (float): When > 0, the pixels whose centres lie in the
            ellipse centred in the box with semi-axes ``fg_seed_frac`` times
            half the box's width and height are fixed foreground
            (``GC_FGD``), a seed for objects that GrabCut would otherwise
            lose to the background model. Defaults to 0 (rectangle only).

    Returns:
        Tuple[np.ndarray, str]: uint8 mask (H, W) with values {0, 1} and a
        status:

        * ``'ok'``: the mask is GrabCut's foreground (definite and probable).
        * ``'too_small'``: the clipped box is smaller than ``min_size``.
        * ``'failed'``: OpenCV raised an error.
        * ``'empty'``: GrabCut labelled nothing as foreground.

        For every status but ``'ok'`` the mask is the box's inscribed ellipse
        (:func:`inscribed_ellipse_mask`). An ``'ok'`` mask may still be
        invalid in the paper's sense: check it with
        :func:`is_valid_pseudo_mask`.
    """
    image = _to_bgr_uint8(image)
    height, width = image.shape[:2]
    cx1, cy1, cx2, cy2 = clip_box(box, height, width)

    def fallback(status: str) -> Tuple[np.ndarray, str]:
        return inscribed_ellipse_mask(height, width, box), status

    if cx2 - cx1 < min_size or cy2 - cy1 < min_size:
        return fallback('too_small')
    if context_margin is not None and context_margin < 0:
        raise ValueError(
            f'context_margin must be None or >= 0, got {context_margin}')
    if not 0 <= fg_seed_frac < 1:
        raise ValueError(f'fg_seed_frac must be in [0, 1), got {fg_seed_frac}')
    # The window GrabCut sees: the whole image, or the box plus a margin.
    wx0, wy0, wx1, wy1 = 0, 0, width, height
    if context_margin is not None:
        mx = context_margin * (cx2 - cx1)
        my = context_margin * (cy2 - cy1)
        wx0 = max(int(math.floor(cx1 - mx)), 0)
        wy0 = max(int(math.floor(cy1 - my)), 0)
        wx1 = min(int(math.ceil(cx2 + mx)), width)
        wy1 = min(int(math.ceil(cy2 + my)), height)
    win_h, win_w = wy1 - wy0, wx1 - wx0
    # Round outwards to whole pixels, as cv2's rect init covers whole pixels;
    # coordinates from here on are relative to the window.
    x0, y0 = int(math.floor(cx1)) - wx0, int(math.floor(cy1)) - wy0
    x1, y1 = int(math.ceil(cx2)) - wx0, int(math.ceil(cy2)) - wy0

    gc_mask = np.full((win_h, win_w), cv2.GC_BGD, dtype=np.uint8)
    gc_mask[y0:y1, x0:x1] = cv2.GC_PR_FGD
    num_bg = win_h * win_w - (y1 - y0) * (x1 - x0)
    if num_bg < _MIN_BG_SAMPLES:
        # The box covers (nearly) the whole image: take the ring just inside
        # the box as probable background so the background model has samples.
        gc_mask[y0, x0:x1] = cv2.GC_PR_BGD
        gc_mask[y1 - 1, x0:x1] = cv2.GC_PR_BGD
        gc_mask[y0:y1, x0] = cv2.GC_PR_BGD
        gc_mask[y0:y1, x1 - 1] = cv2.GC_PR_BGD
    if fg_seed_frac > 0:
        seed = inscribed_ellipse_mask(
            win_h, win_w, _scaled_box(
                (cx1 - wx0, cy1 - wy0, cx2 - wx0, cy2 - wy0), fg_seed_frac))
        gc_mask[seed > 0] = cv2.GC_FGD

    bgd_model = np.zeros((1, 65), dtype=np.float64)
    fgd_model = np.zeros((1, 65), dtype=np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(
            np.ascontiguousarray(image[wy0:wy1, wx0:wx1]), gc_mask, None,
            bgd_model, fgd_model, int(iters), cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return fallback('failed')
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[wy0:wy1, wx0:wx1] = ((gc_mask == cv2.GC_FGD) |
                              (gc_mask == cv2.GC_PR_FGD))
    if not mask.any():
        return fallback('empty')
    return mask, 'ok'


def _scaled_box(box: Sequence[float],
                scale: float) -> Tuple[float, float, float, float]:
    """``box`` scaled about its centre by ``scale``."""
    x1, y1, x2, y2 = _as_box(box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    hw, hh = scale * (x2 - x1) / 2, scale * (y2 - y1) / 2
    return cx - hw, cy - hh, cx + hw, cy + hh


def grabcut_pseudo_mask(image: np.ndarray,
                        box: Sequence[float],
                        mode: str = 'local',
                        iters: int = 5,
                        min_size: int = 8,
                        iou_thr: float = 0.5,
                        context_margin: float = 0.5,
                        fg_seed_frac: float = 0.3
                        ) -> Tuple[np.ndarray, str, float, bool]:
    """GrabCut mask of a box by ``mode``, with the paper's validity check.

    * ``'plain'``: :func:`grabcut_box_mask` on the whole image, once.
    * ``'local'`` (default): :func:`grabcut_box_mask` on the box plus
      ``context_margin``; if that gives no mask or an invalid one, again
      with the central foreground seed ``fg_seed_frac``. The first valid
      result is returned; when neither is valid, the one whose mask box fits
      the box better (the first on ties).

    Args:
        image (np.ndarray): uint8 BGR image (H, W, 3).
        box (Sequence[float]): ``(x1, y1, x2, y2)``.
        mode (str): ``'local'`` or ``'plain'``.
        iters (int): GrabCut iterations per run. Defaults to 5.
        min_size (int): See :func:`grabcut_box_mask`. Defaults to 8.
        iou_thr (float): Validity threshold of :func:`is_valid_pseudo_mask`
            (paper: 0.5), which also decides the retry.
        context_margin (float): Margin of the local crop, as a fraction of
            the box side on each side. Defaults to 0.5 (a crop twice the
            box's size).
        fg_seed_frac (float): Size of the retry's foreground seed, a fraction
            of the box's half sides. Defaults to 0.3.

    Returns:
        Tuple[np.ndarray, str, float, bool]: The mask (H, W) uint8 (the
        inscribed ellipse when the status is not ``'ok'``), the GrabCut
        status, the IoU of the mask's tight box with ``box`` (0 when GrabCut
        gave no mask) and the validity flag.
    """
    if mode not in GRABCUT_MODES:
        raise ValueError(
            f'GrabCut mode must be one of {GRABCUT_MODES}, got {mode!r}')

    def attempt(**kwargs) -> Tuple[np.ndarray, str, float, bool]:
        mask, status = grabcut_box_mask(
            image, box, iters=iters, min_size=min_size, **kwargs)
        if status != 'ok':
            return mask, status, 0., False
        valid, iou = is_valid_pseudo_mask(mask, box, iou_thr)
        return mask, status, iou, valid

    if mode == 'plain':
        return attempt()
    first = attempt(context_margin=context_margin)
    if first[3] or first[1] == 'too_small':
        return first
    second = attempt(context_margin=context_margin, fg_seed_frac=fg_seed_frac)
    if second[3] or (second[1] == 'ok' and
                     (first[1] != 'ok' or second[2] > first[2])):
        return second
    return first


def pseudo_mask_for_box(image: np.ndarray,
                        box: Sequence[float],
                        iters: int = 5,
                        min_size: int = 8,
                        iou_thr: float = 0.5,
                        mode: str = 'local',
                        context_margin: float = 0.5,
                        fg_seed_frac: float = 0.3
                        ) -> Tuple[np.ndarray, str, float, bool]:
    """GrabCut mask of a box, replaced by the inscribed ellipse when poor.

    This is the small-object branch's test-time segmentation in the paper
    (Sec. 2.2: "For these segmentation results with poor quality, we replace
    them with ellipses"); "poor" means invalid by :func:`is_valid_pseudo_mask`
    or any GrabCut status other than ``'ok'``. GrabCut runs as
    :func:`grabcut_pseudo_mask` does with ``mode``, ``context_margin`` and
    ``fg_seed_frac`` (``'local'``: crop, then a seeded retry, before the
    ellipse; ``'plain'``: the whole image, once).

    Returns:
        Tuple[np.ndarray, str, float, bool]: The mask (H, W) uint8, the
        GrabCut status, the IoU of GrabCut's mask box with ``box`` (0 when
        GrabCut gave no mask) and whether GrabCut's mask was kept.
    """
    mask, status, iou, valid = grabcut_pseudo_mask(
        image, box, mode=mode, iters=iters, min_size=min_size,
        iou_thr=iou_thr, context_margin=context_margin,
        fg_seed_frac=fg_seed_frac)
    if status != 'ok':
        return mask, status, 0., False
    if not valid:
        mask = inscribed_ellipse_mask(mask.shape[0], mask.shape[1], box)
    return mask, status, iou, valid
