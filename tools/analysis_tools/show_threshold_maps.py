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

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmext  # noqa: E402,F401
from mmext.apis import load_checkpoint_strict  # noqa: E402
from mmext.utils.config_check import load_cli_config  # noqa: E402
from mmext.visualization import (
    has_threshold_branch,  # noqa: E402
    save_instance_figure,
    threshold_maps)


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
    # weights_only=True with mmext's allow-list; a checkpoint of another
    # model is an error naming the keys
    load_checkpoint_strict(model, checkpoint)
    model.to(device).eval()
    if not has_threshold_branch(model):
        raise ValueError(f'{cfg.filename}: model.roi_head has no adaptive '
                         'threshold branch (AdaptiveThresholdRoIHead with an '
                         'AdaptiveThresholdMaskHead)')
    return model


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
