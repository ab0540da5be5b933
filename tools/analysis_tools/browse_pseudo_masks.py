"""Look at GrabCut pseudo masks before a long weakly supervised training.

Draws every pseudo mask of the chosen images over its image: valid masks in
green, invalid ones in red (the small-object branch of the hybrid networks
trains on those), each with its box and the IoU between the mask's tight box
and the annotated box (``pseudo_iou``; the status is added when GrabCut did
not produce the mask and the inscribed ellipse stands in). One PNG per image
goes to ``--out-dir``::

    python tools/analysis_tools/browse_pseudo_masks.py \\
        data/toy/annotations/instances_train_pseudo.json data/toy/train \\
        --out-dir work_dirs/pseudo_masks --num-images 20 --scale 3

``--only-invalid`` keeps images with at least one invalid mask,
``--image-ids`` picks images, ``--show`` also opens each picture.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmcv  # noqa: E402

from mmext.visualization.pseudo_masks import (  # noqa: E402
    draw_pseudo_masks, pseudo_mask_counts)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw GrabCut pseudo masks (valid green, invalid red, '
        'with their box IoU) over their images')
    parser.add_argument(
        'ann_file',
        help='pseudo-mask json (tools/dataset_converters/'
        'grabcut_pseudo_masks.py output)')
    parser.add_argument('img_dir', help='folder of the images')
    parser.add_argument('--out-dir', required=True, help='PNG folder')
    parser.add_argument(
        '--num-images',
        type=int,
        default=20,
        help='at most this many images, in json order (default 20)')
    parser.add_argument(
        '--image-ids', type=int, nargs='+', help='only these image ids')
    parser.add_argument(
        '--only-invalid',
        action='store_true',
        help='only images with at least one invalid pseudo mask')
    parser.add_argument(
        '--scale',
        type=int,
        default=1,
        help='upscale the pictures (nearest) by this integer factor')
    parser.add_argument(
        '--no-labels', action='store_true', help='no IoU texts')
    parser.add_argument(
        '--show', action='store_true', help='also show each picture')
    return parser.parse_args(argv)


def browse_pseudo_masks(ann_file: str,
                        img_dir: str,
                        out_dir: str,
                        num_images: int = 20,
                        image_ids: Optional[Sequence[int]] = None,
                        only_invalid: bool = False,
                        scale: int = 1,
                        show_labels: bool = True,
                        show: bool = False) -> List[str]:
    """Write one PNG per selected image; returns their paths.

    Raises:
        FileNotFoundError: the json or an image is missing (named).
        KeyError: the json has no pseudo-mask fields, or an asked image id
            is not in it.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    with open(ann_file) as f:
        coco = json.load(f)
    anns_by_image = {}
    for ann in coco.get('annotations', []):
        anns_by_image.setdefault(ann['image_id'], []).append(ann)
    images = coco.get('images', [])
    if image_ids:
        known = {img['id'] for img in images}
        unknown = [i for i in image_ids if i not in known]
        if unknown:
            raise KeyError(f'image id(s) {unknown} not in {ann_file}')
        wanted = set(image_ids)
        images = [img for img in images if img['id'] in wanted]
    if only_invalid:
        images = [
            img for img in images
            if pseudo_mask_counts(anns_by_image.get(img['id'], []))[1]
        ]
    images = images[:num_images]

    os.makedirs(out_dir, exist_ok=True)
    written, total_valid, total_invalid = [], 0, 0
    for img in images:
        path = osp.join(img_dir, img['file_name'])
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'image {path} (id {img["id"]} of {ann_file}) not found')
        image = mmcv.imread(path, channel_order='rgb')
        anns = anns_by_image.get(img['id'], [])
        picture = draw_pseudo_masks(
            image, anns, scale=scale, show_labels=show_labels)
        valid, invalid = pseudo_mask_counts(anns)
        total_valid += valid
        total_invalid += invalid
        out = osp.join(
            out_dir,
            osp.splitext(osp.basename(img['file_name']))[0] + '.png')
        mmcv.imwrite(picture[..., ::-1], out)
        written.append(out)
        if show:
            mmcv.imshow(
                picture[..., ::-1], f'{img["file_name"]}: {valid} valid, '
                f'{invalid} invalid')
    print(f'{len(written)} image(s), {total_valid} valid and {total_invalid} '
          f'invalid pseudo masks (valid green, invalid red) -> {out_dir}')
    return written


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_args(argv)
    return browse_pseudo_masks(args.ann_file, args.img_dir, args.out_dir,
                               args.num_images, args.image_ids,
                               args.only_invalid, args.scale,
                               not args.no_labels, args.show)


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, KeyError) as e:
        raise SystemExit(f'error: {e}')
