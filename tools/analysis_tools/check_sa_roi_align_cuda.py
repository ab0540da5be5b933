"""Check mmext's CUDA build of SaRoIAlign against its CPU kernel.

For a machine with an NVIDIA GPU (``tools/misc/gpu_check.sh`` runs it):

1. ``mmext._ext`` was compiled with its CUDA kernels (``with_cuda()``) and a
   CUDA call runs;
2. on random inputs (RoIs partly or fully outside the map, sub-pixel and
   zero-size RoIs, an image without RoIs, 512 training-size RoIs), the CUDA
   forward, feature gradient and mask gradient equal the CPU kernel's, for
   float32 / float64 over ``aligned`` and sampling ratios 0-3, and for
   float16 (both accumulate in float32, so they differ by float16 rounding
   only);
3. a float16 forward / backward under ``torch.autocast('cuda')`` with
   float32 RoIs and masks runs and stays finite;
4. bad RoIs raise the CPU path's ValueError on CUDA too.

Prints one line per case and writes them as JSON (``--out``). Exits 1 if any
case fails. Example::

    python tools/analysis_tools/check_sa_roi_align_cuda.py --out report.json
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Tuple

import torch

# run from a checkout without installing mmext
sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# CUDA vs CPU: different summation orders (atomics) and FMA contraction
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--device', default='cuda',
        help='device compared with the CPU kernel (cpu: a dry run of this '
        'script on a machine without a GPU)')
    return parser.parse_args()


def random_case(dtype: torch.dtype, seed: int, num_imgs: int = 3,
                channels: int = 16, feat_hw: Tuple[int, int] = (25, 38),
                num_rois: int = 64, mask_hw: Tuple[int, int] = (28, 28),
                out_size: int = 7, stride: int = 4) -> List[torch.Tensor]:
    """(input, rois, masks, grad_output) on the CPU; the last image has no
    RoI, the last five RoIs are outside / sub-pixel / zero-size / huge."""
    gen = torch.Generator().manual_seed(seed)
    img_h, img_w = feat_hw[0] * stride, feat_hw[1] * stride
    k = num_rois - 5
    centre = torch.rand(k, 2, generator=gen) * 1.4 - 0.2
    size = torch.rand(k, 2, generator=gen) * 0.7
    scale = torch.tensor([img_w, img_h], dtype=torch.float32)
    boxes = torch.cat([(centre - size / 2) * scale,
                       (centre + size / 2) * scale], 1)
    special = torch.tensor([
        [img_w + 10., 5., img_w + 30., 25.],
        [-40., -40., -8., -6.],
        [10.3, 12.1, 10.9, 12.4],
        [20., 16., 20., 16.],
        [-30., -20., img_w * 2., img_h * 2.],
    ])
    batch = torch.randint(0, max(num_imgs - 1, 1), (num_rois, 1),
                          generator=gen).float()
    rois = torch.cat([batch, torch.cat([boxes, special])], 1)
    input = torch.randn(num_imgs, channels, *feat_hw, generator=gen)
    masks = torch.rand(num_rois, *mask_hw, generator=gen)
    grad = torch.randn(num_rois, channels, out_size, out_size, generator=gen)
    return [t.to(dtype) for t in (input, rois, masks, grad)]


def run_op(input, rois, masks, grad, device, args):
    """Forward and both gradients of ``sa_roi_align`` on ``device``."""
    from mmext.ops import sa_roi_align
    x = input.to(device).requires_grad_()
    m = masks.to(device).requires_grad_()
    out = sa_roi_align(x, rois.to(device), m, *args)
    gx, gm = torch.autograd.grad(out, (x, m), grad.to(device))
    return [t.detach().cpu() for t in (out, gx, gm)]


def compare(name: str, got: List[torch.Tensor], want: List[torch.Tensor],
            atol: float, rtol: float) -> Dict:
    diffs = {}
    ok = True
    for part, g, w in zip(('output', 'grad_input', 'grad_masks'), got, want):
        err = (g.double() - w.double()).abs()
        bound = atol + rtol * w.double().abs()
        diffs[part] = float(err.max()) if err.numel() else 0.0
        ok = ok and bool(torch.isfinite(g).all()) and bool(
            (err <= bound).all())
    return dict(case=name, ok=ok, max_abs_diff=diffs)


def main() -> int:
    args = parse_args()
    results: List[Dict] = []

    def record(result: Dict) -> None:
        results.append(result)
        diffs = ', '.join(f'{k} {v:.2e}'
                          for k, v in result.get('max_abs_diff', {}).items())
        extra = result.get('note', '')
        print(f'{"ok  " if result["ok"] else "FAIL"} {result["case"]}: '
              f'{diffs} {extra}'.rstrip())

    device = args.device
    if device == 'cuda':
        if not torch.cuda.is_available():
            record(dict(case='torch.cuda.is_available()', ok=False,
                        note='no CUDA device visible to torch'))
            return finish(results, args.out)
        from mmext.ops.ext_loader import load_ext
        ext = load_ext(('with_cuda', ))
        record(dict(case='mmext._ext.with_cuda()', ok=bool(ext.with_cuda()),
                    note=f'({ext.__file__}, {torch.cuda.get_device_name()})'))
        if not ext.with_cuda():
            return finish(results, args.out)

    seed = args.seed
    for dtype in (torch.float32, torch.float64):
        for aligned in (True, False):
            for ratio in range(4):
                case = random_case(dtype, seed)
                seed += 1
                op_args = (7, 0.25, ratio, aligned)
                want = run_op(*case, 'cpu', op_args)
                got = run_op(*case, device, op_args)
                record(compare(
                    f'{str(dtype)[6:]} aligned={aligned} '
                    f'sampling_ratio={ratio}', got, want, TOL[dtype],
                    TOL[dtype]))
    # training-size: 512 RoIs, 256 channels, FPN P2 of an 800 x 1216 image
    case = random_case(torch.float32, seed, num_imgs=2, channels=256,
                       feat_hw=(200, 304), num_rois=512)
    want = run_op(*case, 'cpu', (7, 0.25, 2, True))
    got = run_op(*case, device, (7, 0.25, 2, True))
    record(compare('float32 512 RoIs x 256 channels', got, want, 1e-5, 1e-5))
    # float16: both accumulate in float32 and round once, so they differ by
    # at most about one float16 rounding
    for ratio in (0, 2):
        case = random_case(torch.float16, seed + ratio)
        op_args = (7, 0.25, ratio, True)
        want = run_op(*case, 'cpu', op_args)
        got = run_op(*case, device, op_args)
        record(compare(f'float16 sampling_ratio={ratio}', got, want, 1e-3,
                       2**-10))
    results.append(check_autocast(device))
    print(f'{"ok  " if results[-1]["ok"] else "FAIL"} {results[-1]["case"]}'
          f' {results[-1]["note"]}')
    results.append(check_bad_rois(device))
    print(f'{"ok  " if results[-1]["ok"] else "FAIL"} {results[-1]["case"]}'
          f' {results[-1]["note"]}')
    return finish(results, args.out)


def check_autocast(device: str) -> Dict:
    """float16 conv features, float32 RoIs and masks, under autocast."""
    from mmext.ops import sa_roi_align
    input, rois, masks, _ = random_case(torch.float32, 123)
    conv = torch.nn.Conv2d(input.size(1), input.size(1), 3,
                           padding=1).to(device)
    x = input.to(device).requires_grad_()
    m = masks.to(device).requires_grad_()
    with torch.autocast(device, dtype=torch.float16):
        out = sa_roi_align(conv(x), rois.to(device), m, 7, 0.25, 0)
        loss = out.float().square().mean()
    loss.backward()
    reference = sa_roi_align(conv(x).detach(), rois.to(device), m.detach(),
                             7, 0.25, 0)
    err = float((out.float() - reference).detach().abs().max())
    ok = (out.dtype == torch.float16 and m.grad.dtype == torch.float32
          and bool(torch.isfinite(x.grad).all())
          and bool(torch.isfinite(m.grad).all()) and err < 2e-2)
    return dict(
        case='autocast float16 forward + backward',
        ok=ok,
        note=f'out {out.dtype}, masks.grad {m.grad.dtype}, max |fp16 - fp32| '
        f'{err:.2e}')


def check_bad_rois(device: str) -> Dict:
    """A bad batch index and a NaN raise the CPU path's message on CUDA."""
    from mmext.ops import sa_roi_align
    input, rois, masks, _ = random_case(torch.float32, 7)
    notes = []
    ok = True
    for col, value in ((0, 7.0), (3, float('nan'))):
        bad = rois.clone()
        bad[1, col] = value
        messages = []
        for dev in ('cpu', device):
            try:
                sa_roi_align(input.to(dev), bad.to(dev), masks.to(dev), 7,
                             0.25)
                messages.append(None)
            except ValueError as e:
                messages.append(str(e))
        ok = ok and messages[0] is not None and messages[0] == messages[1]
        notes.append(repr(messages[1]))
    return dict(case=f'bad RoIs rejected on {device} as on cpu', ok=ok,
                note='; '.join(notes))


def finish(results: List[Dict], out: str) -> int:
    failed = [r['case'] for r in results if not r['ok']]
    print(f'{len(results) - len(failed)}/{len(results)} checks passed')
    if out:
        with open(out, 'w', encoding='utf-8') as f:
            json.dump(dict(results=results, failed=failed), f, indent=1)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
