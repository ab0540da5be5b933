"""Benchmark Shape-aware RoIAlign against mmcv RoIAlign and the reference.

Times, on the same inputs and in one run, the forward and the
forward + backward of

* ``SaRoIAlign`` (mmext compiled op), backward to the features only (like
  RoIAlign) and to the features and the masks,
* mmcv ``RoIAlign`` (the op SaRoIAlign extends: the cost floor),
* ``sa_roi_align_reference`` (pure PyTorch),

and prints the median of ``--repeats`` runs after ``--warmup`` runs, with the
ratios SaRoIAlign / mmcv and reference / SaRoIAlign. The runs are
interleaved (each round times every method once), so that a burst of load
from elsewhere on a shared machine slows all methods alike instead of
skewing one ratio. All three run with the
same ``torch.set_num_threads(--threads)`` (default 1: mmcv's CPU kernel is
single-threaded, so 1 thread is the like-for-like comparison).

Example::

    python tools/analysis_tools/benchmark_sa_roi_align.py --device cpu
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List

import torch

# run from a checkout without installing mmext
sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark SaRoIAlign vs mmcv RoIAlign vs the PyTorch '
        'reference')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument(
        '--dtype', choices=['float32', 'float64', 'float16'],
        default='float32')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument(
        '--feat-size', type=int, nargs=2, default=[200, 304],
        metavar=('H', 'W'), help='feature map size (FPN P2 of 800x1216)')
    parser.add_argument('--stride', type=int, default=4)
    parser.add_argument('--num-rois', type=int, default=512)
    parser.add_argument('--output-size', type=int, default=7)
    parser.add_argument('--sampling-ratio', type=int, default=2)
    parser.add_argument('--mask-size', type=int, default=28)
    parser.add_argument(
        '--min-roi', type=float, default=16., help='smallest RoI side (px)')
    parser.add_argument(
        '--max-roi', type=float, default=256., help='largest RoI side (px)')
    parser.add_argument(
        '--no-aligned', action='store_true', help='use aligned=False')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--repeats', type=int, default=7,
        help='rounds; each times every method once')
    parser.add_argument('--skip-reference', action='store_true')
    parser.add_argument(
        '--threads', type=int, default=1,
        help='torch.set_num_threads for every method (CPU)')
    parser.add_argument(
        '--timer', choices=['wall', 'process'], default='wall',
        help='wall: time.perf_counter; process: time.process_time (CPU time '
        'of this process, robust to other load on a shared machine; with '
        '--threads 1 it equals the single-thread run time)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def make_inputs(args: argparse.Namespace) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(args.seed)
    dtype = getattr(torch, args.dtype)
    feat_h, feat_w = args.feat_size
    img_h, img_w = feat_h * args.stride, feat_w * args.stride
    k = args.num_rois
    size = args.min_roi + torch.rand(k, 2, generator=gen) * (
        args.max_roi - args.min_roi)
    centre = torch.rand(k, 2, generator=gen) * torch.tensor([img_w, img_h])
    rois = torch.cat([
        torch.randint(0, args.batch_size, (k, 1), generator=gen).float(),
        centre - size / 2, centre + size / 2
    ], 1)
    feats = torch.randn(args.batch_size, args.channels, feat_h, feat_w,
                        generator=gen)
    masks = torch.rand(k, args.mask_size, args.mask_size, generator=gen)
    grad = torch.randn(k, args.channels, args.output_size, args.output_size,
                       generator=gen)
    return {
        name: t.to(device=args.device, dtype=dtype)
        for name, t in dict(
            feats=feats, rois=rois, masks=masks, grad=grad).items()
    }


def time_once(fn: Callable[[], None], device: str,
              timer: Callable[[], float]) -> float:
    """Time of one call of ``fn`` in milliseconds."""
    if device == 'cuda':
        torch.cuda.synchronize()
    start = timer()
    fn()
    if device == 'cuda':
        torch.cuda.synchronize()
    return (timer() - start) * 1e3


def main() -> None:
    args = parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda but torch.cuda.is_available() is '
                         'False')
    if args.device == 'cuda' and args.timer == 'process':
        raise SystemExit('--timer process measures CPU time: use wall with '
                         '--device cuda')
    timer = time.perf_counter if args.timer == 'wall' else time.process_time
    torch.set_num_threads(args.threads)
    from mmcv.ops import RoIAlign

    from mmext.ops import SaRoIAlign, sa_roi_align_reference

    data = make_inputs(args)
    feats, rois, masks, grad = (data['feats'], data['rois'], data['masks'],
                                data['grad'])
    aligned = not args.no_aligned
    layer_kwargs = dict(
        output_size=args.output_size,
        spatial_scale=1. / args.stride,
        sampling_ratio=args.sampling_ratio,
        aligned=aligned)
    sara = SaRoIAlign(**layer_kwargs)
    mmcv_roi_align = RoIAlign(**layer_kwargs)

    def reference(f, r, m):
        return sa_roi_align_reference(f, r, m, **layer_kwargs)

    feats_g = feats.clone().requires_grad_()
    masks_g = masks.clone().requires_grad_()

    def forward(op, *inputs):
        def run():
            with torch.no_grad():
                op(*inputs)

        return run

    def forward_backward(op, *inputs):
        def run():
            op(*inputs).backward(grad)

        return run

    def clear_grads():
        # outside the timed call: freeing the previous method's gradients
        # (124 MB for the features) is not the next method's cost
        feats_g.grad = None
        masks_g.grad = None

    cases = [
        ('SaRoIAlign', 'forward', forward(sara, feats, rois, masks)),
        ('SaRoIAlign', 'fwd+bwd (feats)',
         forward_backward(sara, feats_g, rois, masks)),
        ('SaRoIAlign', 'fwd+bwd (feats+masks)',
         forward_backward(sara, feats_g, rois, masks_g)),
        ('mmcv RoIAlign', 'forward', forward(mmcv_roi_align, feats, rois)),
        ('mmcv RoIAlign', 'fwd+bwd (feats)',
         forward_backward(mmcv_roi_align, feats_g, rois)),
    ]
    if not args.skip_reference:
        cases += [
            ('reference', 'forward', forward(reference, feats, rois, masks)),
            ('reference', 'fwd+bwd (feats+masks)',
             forward_backward(reference, feats_g, rois, masks_g)),
        ]
        with torch.no_grad():
            diff = (sara(feats, rois, masks) -
                    reference(feats, rois, masks)).abs().max().item()
    for _ in range(args.warmup):
        for _, _, fn in cases:
            clear_grads()
            fn()
    samples: Dict[tuple, List[float]] = {(m, p): [] for m, p, _ in cases}
    for _ in range(args.repeats):
        for method, pass_name, fn in cases:
            clear_grads()
            samples[(method, pass_name)].append(
                time_once(fn, args.device, timer))
    rows = [(m, p, statistics.median(samples[(m, p)])) for m, p, _ in cases]

    times = {(m, p): t for m, p, t in rows}
    device_name = (
        torch.cuda.get_device_name() if args.device == 'cuda' else
        f'cpu, torch.set_num_threads({args.threads})')
    print(f'device: {device_name}; dtype {args.dtype}')
    print(f'features ({args.batch_size}, {args.channels}, '
          f'{args.feat_size[0]}, {args.feat_size[1]}), stride {args.stride}, '
          f'{args.num_rois} RoIs of {args.min_roi:g}-{args.max_roi:g} px, '
          f'masks {args.mask_size}x{args.mask_size}, output '
          f'{args.output_size}x{args.output_size}, sampling_ratio '
          f'{args.sampling_ratio}, aligned={aligned}')
    print(f'{args.timer} time, median of {args.repeats} interleaved rounds '
          f'after {args.warmup} warm-up round(s)')
    print(f'{"method":<16}{"pass":<24}{"ms":>10}')
    for method, pass_name, ms in rows:
        print(f'{method:<16}{pass_name:<24}{ms:>10.2f}')
    print('ratios:')
    for pass_name in ('forward', 'fwd+bwd (feats)'):
        ratio = times[('SaRoIAlign', pass_name)] / times[('mmcv RoIAlign',
                                                          pass_name)]
        print(f'  SaRoIAlign / mmcv RoIAlign, {pass_name}: {ratio:.2f}x')
    ratio = times[('SaRoIAlign', 'fwd+bwd (feats+masks)')] / times[(
        'mmcv RoIAlign', 'fwd+bwd (feats)')]
    print('  SaRoIAlign fwd+bwd (feats+masks) / mmcv RoIAlign fwd+bwd '
          f'(feats): {ratio:.2f}x')
    if not args.skip_reference:
        for pass_name in ('forward', 'fwd+bwd (feats+masks)'):
            ratio = times[('reference', pass_name)] / times[('SaRoIAlign',
                                                             pass_name)]
            print(f'  reference / SaRoIAlign, {pass_name}: {ratio:.1f}x')
        print(f'max |SaRoIAlign - reference| = {diff:.3g}')


if __name__ == '__main__':
    main()
