"""ATMask R-CNN's probability map ``P``, threshold map ``T`` and final mask.

Used by ``tools/analysis_tools/show_threshold_maps.py`` (one PNG per
instance) and by the benchmark gallery (one row of panels).
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from torch import Tensor


def has_threshold_branch(model: torch.nn.Module) -> bool:
    """Whether ``model.roi_head`` predicts ATMask's threshold maps."""
    roi_head = getattr(model, 'roi_head', None)
    return bool(getattr(roi_head, 'with_threshold_branch', False))


@torch.no_grad()
def threshold_maps(
    model: torch.nn.Module, data: dict
) -> Tuple[List[DetDataSample], List[Tuple[Optional[Tensor],
                                           Optional[Tensor]]]]:
    """Detections of an ATMask R-CNN with their ``P`` and ``T`` maps.

    The detector runs once (``model.predict``); the mask head is then run on
    the detected boxes through the RoI head's ``_mask_forward`` and the mask
    head's ``threshold_map``, the same calls its own prediction makes.

    Args:
        model: A detector whose ``roi_head.with_threshold_branch`` is true
            (:func:`has_threshold_branch`), in eval mode.
        data: A collated batch as the test dataloader gives it (``inputs``,
            ``data_samples``).

    Returns:
        tuple: The detection results (masks and boxes at network input
        resolution, ``rescale=False``) and, per image, ``P`` and ``T`` of
        the predicted class, each of shape (n, 28, 28) in the RoI frame
        (``(None, None)`` for an image without detections).
    """
    data = model.data_preprocessor(data, False)
    feats = model.extract_feat(data['inputs'])
    results = model.predict(
        data['inputs'], data['data_samples'], rescale=False)
    instances = [r.pred_instances for r in results]
    rois = bbox2roi([inst.bboxes for inst in instances])
    if rois.shape[0] == 0:
        return results, [(None, None)] * len(instances)
    head = model.roi_head.mask_head
    out = model.roi_head._mask_forward(feats, rois)
    labels = torch.cat([inst.labels for inst in instances])
    inds = torch.arange(labels.numel(), device=labels.device)
    if head.class_agnostic:
        labels = torch.zeros_like(labels)
    prob = out['mask_preds'][inds, labels].sigmoid()
    thr = head.threshold_map(out['mask_preds'], out['threshold_preds'])[inds,
                                                                        labels]
    split = [len(inst) for inst in instances]
    maps = [(p if len(p) else None, t if len(t) else None)
            for p, t in zip(prob.split(split), thr.split(split))]
    return results, maps


def paste_roi_map(value_map: np.ndarray, box: Sequence[float], img_h: int,
                  img_w: int) -> np.ndarray:
    """Paste a (h, w) RoI map into the image frame (mmdet's
    ``_do_paste_mask``, as the mask head pastes its masks).

    Returns:
        np.ndarray: (img_h, img_w) float map, 0 outside the box.
    """
    pasted, _ = _do_paste_mask(
        torch.from_numpy(np.ascontiguousarray(value_map))[None, None].float(),
        torch.tensor([list(box)], dtype=torch.float32),
        img_h,
        img_w,
        skip_empty=False)
    return pasted[0].numpy()


def draw_threshold_panels(axes: Sequence,
                          image: np.ndarray,
                          box: Sequence[float],
                          prob: np.ndarray,
                          thr: np.ndarray,
                          final_mask: np.ndarray,
                          colorbar: bool = True) -> None:
    """Draw one instance into five matplotlib axes.

    Panels: the image around the box, ``P``, ``T`` (drawn over the box in
    image coordinates, aligned with the crops), the mask a fixed threshold
    gives (``P >= 0.5`` pasted like the final mask, Mask R-CNN's rule) and
    the final mask (``P >= T``, as the detector outputs it).

    Args:
        axes: Five matplotlib axes.
        image: (H, W, 3) RGB image the box refers to.
        box: ``(x0, y0, x1, y1)`` in ``image``'s frame.
        prob: (h, w) probability map in the RoI frame.
        thr: (h, w) threshold map in the RoI frame.
        final_mask: (H, W) bool final mask.
        colorbar: Add colour bars to the ``P`` and ``T`` panels.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    pad = 2
    xa, ya = max(int(np.floor(x0)) - pad, 0), max(int(np.floor(y0)) - pad, 0)
    xb, yb = min(int(np.ceil(x1)) + pad, w), min(int(np.ceil(y1)) + pad, h)
    crop = image[ya:yb, xa:xb]
    mask_crop = final_mask[ya:yb, xa:xb]
    fixed_crop = (paste_roi_map(prob, box, h, w) >= 0.5)[ya:yb, xa:xb]
    extent = (xa, xb, yb, ya)
    box_xy = ([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])

    axes[0].imshow(crop, extent=extent)
    axes[0].plot(*box_xy, color='yellow', lw=1)
    axes[0].set_title('image + box')
    for ax, value_map, name in ((axes[1], prob, 'probability P'),
                                (axes[2], thr, 'threshold T')):
        ax.set_facecolor('0.85')
        im = ax.imshow(
            value_map,
            vmin=0,
            vmax=1,
            cmap='viridis',
            extent=(x0, x1, y1, y0),
            interpolation='nearest')
        ax.set_xlim(xa, xb)
        ax.set_ylim(yb, ya)
        ax.set_title(name)
        if colorbar:
            ax.figure.colorbar(im, ax=ax, fraction=0.046)
    for ax, mask, name in ((axes[3], fixed_crop, 'P >= 0.5 (fixed)'),
                           (axes[4], mask_crop, 'final: P >= T')):
        ax.imshow(crop, extent=extent)
        overlay = np.zeros(mask.shape + (4, ), dtype=np.float32)
        overlay[mask] = (1., 0.1, 0.1, 0.55)
        ax.imshow(overlay, extent=extent)
        ax.plot(*box_xy, color='yellow', lw=1)
        ax.set_title(f'{name}\n{int(mask.sum())} px')
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def save_instance_figure(path: str, image: np.ndarray, box: Sequence[float],
                         prob: np.ndarray, thr: np.ndarray,
                         final_mask: np.ndarray, title: str) -> None:
    """One PNG with :func:`draw_threshold_panels` in a row."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 5, figsize=(15, 3.4))
    draw_threshold_panels(axes, image, box, prob, thr, final_mask)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
