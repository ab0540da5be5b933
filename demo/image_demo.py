"""Run a trained mmext (or mmdet) model on your own images.

mmdet's ``demo/image_demo.py`` convention: inputs first, then the config,
the checkpoint with ``--weights``::

    python demo/image_demo.py data/toy/val/val_00001.png \\
        configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py \\
        --weights work_dirs/atmask-rcnn_r18_fpn_1x_toy/seed0/iter_300.pth \\
        --out-dir outputs --device cpu

Inputs may be image files, folders (their images, not recursive) and globs
(quote them: ``'data/toy/val/val_0000*.png'``). Written to ``--out-dir``:

* ``vis/<image stem>.png``: the image with the predicted masks, boxes, class
  names and scores above ``--pred-score-thr`` (mmdet's
  ``DetLocalVisualizer``, the config's ``visualizer``);
* ``predictions.json``: every prediction, COCO-style (``images``,
  ``categories``, ``annotations`` with ``bbox`` [x, y, w, h], RLE
  ``segmentation`` and ``score``), see
  :func:`mmext.apis.predictions_to_coco`.

Inference runs through mmdet's ``DetInferencer``
(:class:`mmext.apis.MMExtDetInferencer`); the checkpoint is loaded with
``weights_only=True`` and mmext's allow-list, and must fit the config
exactly: missing, unexpected or shape-mismatched keys are an error that
lists them (``--allow-partial`` loads what fits and warns instead).
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict instance masks on images and save overlay PNGs '
        'and COCO-style predictions')
    parser.add_argument(
        'inputs', nargs='+', help='image files, folders or (quoted) globs')
    parser.add_argument('model', help='mmext or mmdet config file')
    parser.add_argument(
        '--weights',
        help='checkpoint file; without it the model keeps its initial '
        'weights (a warning says so)')
    parser.add_argument('--out-dir', default='outputs', help='output folder')
    parser.add_argument(
        '--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument(
        '--pred-score-thr',
        type=float,
        default=0.3,
        help='score threshold of the drawn instances (the json keeps all)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--show', action='store_true', help='also show each overlay')
    parser.add_argument(
        '--no-save-vis', action='store_true', help='no overlay PNGs')
    parser.add_argument(
        '--no-save-pred', action='store_true', help='no predictions.json')
    parser.add_argument(
        '--palette',
        default='none',
        choices=['coco', 'voc', 'citys', 'random', 'none'],
        help='box/mask colours; none: the config\'s dataset palette')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='load a checkpoint that does not fit the config (warn instead '
        'of failing; unfitting layers keep their initial weights)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit(f'--device {args.device}: CUDA is not available')

    from mmext.apis import MMExtDetInferencer
    from mmext.utils.config_check import load_cli_config
    cfg = load_cli_config(args.model, args.cfg_options)
    inferencer = MMExtDetInferencer(
        cfg,
        weights=args.weights,
        device=args.device,
        strict=not args.allow_partial,
        palette=args.palette)
    result = inferencer(
        args.inputs,
        batch_size=args.batch_size,
        show=args.show,
        pred_score_thr=args.pred_score_thr,
        no_save_vis=args.no_save_vis,
        no_save_pred=args.no_save_pred,
        out_dir=args.out_dir)
    n = len(result['predictions'])
    if not args.no_save_vis:
        print(f'{n} overlay PNG(s) written to {osp.join(args.out_dir, "vis")}')
    if not args.no_save_pred:
        print(f'predictions written to {result["predictions_json"]}')
    return result


if __name__ == '__main__':
    warnings.formatwarning = (
        lambda message, *args, **kwargs: f'warning: {message}\n')
    try:
        main()
    except (FileNotFoundError, ValueError) as e:
        # bad input (a missing file, an unreadable image, a checkpoint that
        # does not fit): the message names it; no traceback
        raise SystemExit(f'error: {e}')
