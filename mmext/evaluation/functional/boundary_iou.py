"""Boundary IoU (Cheng et al., "Boundary IoU: Improving Object-Centric Image
Segmentation Evaluation", CVPR 2021).

Boundary IoU compares only the pixels near the contours of two masks:

    BoundaryIoU(G, P) = |(G_d & G) & (P_d & P)| / |(G_d & G) | (P_d & P)|

where ``G_d`` is the set of pixels within distance ``d`` of G's contour, so
``G_d & G`` is the inner boundary band of G: the mask pixels within ``d`` of
a pixel outside the mask. ``d`` is a fraction of the image diagonal,
``d = max(1, round(dilation_ratio * sqrt(H^2 + W^2)))`` (paper: 2%).

Conventions, those of the authors' reference implementation
(``boundary-iou-api``), so that numbers are comparable with published ones:

* **Distance** is the chessboard (Chebyshev) distance: the band is the mask
  minus its erosion by a ``(2d+1) x (2d+1)`` square (the reference erodes
  ``d`` times with a 3x3 square, which is the same set).
* **Image border**: the image is padded with one row/column of background
  before eroding, so a mask cut by the image border has a boundary band
  along the border too (the border is a contour of the visible object).
* **Holes** have contours: pixels around a hole are boundary pixels.
* **Empty union**: two empty masks have Boundary IoU 0, as pycocotools'
  ``maskUtils.iou`` gives for empty masks (and hence as Boundary AP sees
  them).
"""
import math
from typing import Tuple

import cv2
import numpy as np


def boundary_dilation(height: int,
                      width: int,
                      dilation_ratio: float = 0.02) -> int:
    """Width ``d`` in pixels of the boundary band of an image.

    Args:
        height (int): Image height H.
        width (int): Image width W.
        dilation_ratio (float): ``d`` as a fraction of the image diagonal.
            Defaults to 0.02 (the paper's value).

    Returns:
        int: ``max(1, round(dilation_ratio * sqrt(H^2 + W^2)))``; Python's
        ``round`` (half to even), as the reference implementation uses.
    """
    if dilation_ratio <= 0:
        raise ValueError(f'dilation_ratio must be > 0, got {dilation_ratio}')
    return max(1, int(round(dilation_ratio * math.hypot(height, width))))


def mask_to_boundary(mask: np.ndarray, dilation: int) -> np.ndarray:
    """Inner boundary band of a binary mask.

    The band is the set of mask pixels whose chessboard distance to the
    nearest pixel outside the mask is at most ``dilation``, where the pixels
    just outside the image count as outside the mask: ``mask - erode(mask)``
    with a ``(2 * dilation + 1)`` square structuring element on the image
    padded with one pixel of background.

    Args:
        mask (np.ndarray): Binary mask (H, W), any dtype (non-zero is
            foreground).
        dilation (int): Band width ``d`` in pixels, >= 1 (see
            :func:`boundary_dilation`).

    Returns:
        np.ndarray: uint8 (H, W), 1 on the boundary band, 0 elsewhere.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'mask must be (H, W), got shape {mask.shape}')
    if int(dilation) != dilation or dilation < 1:
        raise ValueError(f'dilation must be an integer >= 1, got {dilation}')
    dilation = int(dilation)
    mask = np.ascontiguousarray(mask != 0, dtype=np.uint8)
    height, width = mask.shape
    if mask.size == 0:
        return mask
    # The one-pixel background frame makes the image border a contour;
    # beyond the frame cv2's default erosion border is neutral (+inf), so
    # only the frame decides.
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    kernel = np.ones((2 * dilation + 1, 2 * dilation + 1), dtype=np.uint8)
    eroded = cv2.erode(padded, kernel)[1:height + 1, 1:width + 1]
    return mask - eroded


def _check_pair(gt: np.ndarray,
                dt: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    gt, dt = np.asarray(gt), np.asarray(dt)
    if gt.ndim != 2 or gt.shape != dt.shape:
        raise ValueError('gt and dt must be (H, W) masks of the same shape, '
                         f'got {gt.shape} and {dt.shape}')
    return gt, dt


def boundary_iou(gt: np.ndarray,
                 dt: np.ndarray,
                 dilation_ratio: float = 0.02) -> float:
    """Boundary IoU between two binary masks of one image.

    Both boundary bands use the same width
    ``d = boundary_dilation(H, W, dilation_ratio)``.

    Args:
        gt (np.ndarray): Ground-truth binary mask (H, W).
        dt (np.ndarray): Predicted binary mask (H, W).
        dilation_ratio (float): Band width as a fraction of the image
            diagonal. Defaults to 0.02.

    Returns:
        float: ``|B(gt) & B(dt)| / |B(gt) | B(dt)|`` in [0, 1]; 0 when both
        bands are empty (both masks empty).
    """
    gt, dt = _check_pair(gt, dt)
    dilation = boundary_dilation(gt.shape[0], gt.shape[1], dilation_ratio)
    gt_band = mask_to_boundary(gt, dilation).astype(bool)
    dt_band = mask_to_boundary(dt, dilation).astype(bool)
    union = np.count_nonzero(gt_band | dt_band)
    if union == 0:
        return 0.
    return np.count_nonzero(gt_band & dt_band) / union
