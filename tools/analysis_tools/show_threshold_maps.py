"""Show what the adaptive threshold of ATMask R-CNN does, instance by instance.

For the first ``--num-images`` images of the config's test set, the detector
runs once; for every detection above ``--score-thr`` (at most
``--max-per-image``) one PNG is written to ``--out-dir`` with, side by side:
the image around the box, the probability map ``P``, the threshold map ``T``
(both 28x28 in the RoI frame), the mask a fixed threshold gives (``P >= 0.5``,
Mask R-CNN) and the final mask (``P >= T``, decided at image resolution, as
the detector outputs it). This is the idea of the paper's Fig. 4 with the
learned threshold added. Example (toy set)::

    python tools/analysis_tools/show_threshold_maps.py \\
        configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py \\
        work_dirs/atmask-rcnn_r18_fpn_1x_toy/epoch_12.pth \\
        --out-dir work_dirs/threshold_maps --num-images 4
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
import torch

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402

import mmext  # noqa: E402,F401
from mmext.utils.config_check import load_cli_config  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Save probability map, threshold map and masks of '
        'ATMask R-CNN detections as PNGs')
    parser.add_argument('config', help='ATMask R-CNN config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', required=True, help='PNG directory')
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--max-per-image', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy')
    return parser.parse_args()


def build_model(cfg: Config, checkpoint: str, device: str):
    from mmdet.registry import MODELS
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu')
    model.to(device).eval()
    roi_head = model.roi_head
    if not getattr(roi_head, 'with_threshold_branch', False):
        raise ValueError(f'{cfg.filename}: model.roi_head has no adaptive '
                         'threshold branch (AdaptiveThresholdRoIHead with an '
                         'AdaptiveThresholdMaskHead)')
    return model


@torch.no_grad()
def threshold_maps(model, data: dict):
    """Detections with their ``P`` and ``T`` maps (28x28, predicted class).

    Returns:
        tuple: the detection results (masks at network input resolution,
        boxes in that frame) and, per image, ``P`` and ``T`` of shape
        (n, h, w).
    """
    from mmdet.structures.bbox import bbox2roi
    data = model.data_preprocessor(data, False)
    feats = model.extract_feat(data['inputs'])
    results = model.predict(data['inputs'], data['data_samples'],
                            rescale=False)
    instances = [r.pred_instances for r in results]
    rois = bbox2roi([inst.bboxes for inst in instances])
    maps = []
    if rois.shape[0] > 0:
        head = model.roi_head.mask_head
        out = model.roi_head._mask_forward(feats, rois)
        labels = torch.cat([inst.labels for inst in instances])
        inds = torch.arange(labels.numel(), device=labels.device)
        if head.class_agnostic:
            labels = torch.zeros_like(labels)
        prob = out['mask_preds'][inds, labels].sigmoid()
        thr = head.threshold_map(out['mask_preds'],
                                 out['threshold_preds'])[inds, labels]
        split = [len(inst) for inst in instances]
        maps = list(zip(prob.split(split), thr.split(split)))
    else:
        maps = [(None, None)] * len(instances)
    return results, maps


def save_instance_figure(path: str, image: np.ndarray, box, prob: np.ndarray,
                         thr: np.ndarray, final_mask: np.ndarray,
                         title: str) -> None:
    """One row: image crop, P, T, P >= 0.5, final mask (P >= T)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    pad = 2
    xa, ya = max(int(np.floor(x0)) - pad, 0), max(int(np.floor(y0)) - pad, 0)
    xb, yb = min(int(np.ceil(x1)) + pad, w), min(int(np.ceil(y1)) + pad, h)
    crop = image[ya:yb, xa:xb]
    mask_crop = final_mask[ya:yb, xa:xb]
    # P >= 0.5 pasted the same way as the final mask, for a fair comparison
    fixed = _paste(prob, box, h, w) >= 0.5
    fixed_crop = fixed[ya:yb, xa:xb]
    extent = (xa, xb, yb, ya)
    box_xy = ([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])

    fig, axes = plt.subplots(1, 5, figsize=(15, 3.4))
    axes[0].imshow(crop, extent=extent)
    axes[0].plot(*box_xy, color='yellow', lw=1)
    axes[0].set_title('image + box')
    # P and T cover the box: drawn in image coordinates, aligned with the
    # crops of the other panels
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
        fig.colorbar(im, ax=ax, fraction=0.046)
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
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _paste(prob: np.ndarray, box, img_h: int, img_w: int) -> np.ndarray:
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    pasted, _ = _do_paste_mask(
        torch.from_numpy(prob)[None, None].float(),
        torch.tensor([box], dtype=torch.float32),
        img_h,
        img_w,
        skip_empty=False)
    return pasted[0].numpy()


def main():
    args = parse_args()
    cfg = load_cli_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = build_model(cfg, args.checkpoint, args.device)

    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = dataset.metainfo.get('classes', ())
    os.makedirs(args.out_dir, exist_ok=True)
    written = 0
    for idx in range(min(args.num_images, len(dataset))):
        sample = dataset[idx]
        results, maps = threshold_maps(model, pseudo_collate([sample]))
        inst = results[0].pred_instances
        prob_maps, thr_maps = maps[0]
        # the network input image (after the test pipeline), RGB for display
        image = sample['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
        img_h, img_w = results[0].metainfo['img_shape'][:2]
        image = image[:img_h, :img_w]
        keep = (inst.scores >= args.score_thr).nonzero().flatten()
        keep = keep[:args.max_per_image]
        stem = osp.splitext(osp.basename(results[0].metainfo['img_path']))[0]
        for rank, i in enumerate(keep.tolist()):
            label = int(inst.labels[i])
            name = classes[label] if label < len(classes) else str(label)
            path = osp.join(args.out_dir, f'{stem}_{rank:02d}_{name}.png')
            save_instance_figure(
                path,
                image,
                inst.bboxes[i].tolist(),
                prob_maps[i].cpu().numpy(),
                thr_maps[i].cpu().numpy(),
                inst.masks[i, :img_h, :img_w].cpu().numpy(),
                title=f'{stem}: {name} {float(inst.scores[i]):.2f}')
            written += 1
        print(f'{stem}: {len(keep)} instance(s) above {args.score_thr}')
    print(f'{written} PNG(s) written to {args.out_dir}')


if __name__ == '__main__':
    main()
