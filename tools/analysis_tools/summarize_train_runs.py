"""Summarise short training runs from their mmengine scalar logs.

Reads ``<work_dir>/<timestamp>/vis_data/scalars.json`` (the newest run) of
every work dir given and prints a Markdown table: iterations reached, the
first and last logged loss, whether every logged loss is finite, the peak
GPU memory mmengine logged and the validation mask AP, if any. Exits 1 if a
run has no log, stopped before ``--iters`` or logged a non-finite loss.
``tools/misc/gpu_check.sh`` uses it for its fp32 / AMP training runs.

Example::

    python tools/analysis_tools/summarize_train_runs.py work_dirs/* --iters 20
"""
import argparse
import glob
import json
import math
import os.path as osp
import sys
from typing import Dict, List, Optional


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument(
        '--iters', type=int, required=True,
        help='iterations every run must reach')
    parser.add_argument('--out', help='also write the table here')
    return parser.parse_args()


def newest_scalars(work_dir: str) -> Optional[str]:
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    return max(logs, key=osp.getmtime) if logs else None


def summarize(work_dir: str, iters: int) -> Dict:
    row = dict(run=osp.basename(osp.normpath(work_dir)), ok=False)
    path = newest_scalars(work_dir)
    if path is None:
        row['problem'] = 'no scalars.json (the run did not start training)'
        return row
    losses: List[float] = []
    last_iter = 0
    memory = 0.0
    val: Dict[str, float] = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if 'loss' in record:
                losses.append(float(record['loss']))
                last_iter = max(last_iter, int(record.get('iter', 0)))
                memory = max(memory, float(record.get('memory', 0)))
            else:
                val.update({
                    k: v
                    for k, v in record.items() if isinstance(v, (int, float))
                })
    finite = all(math.isfinite(v) for v in losses)
    row.update(
        iters=last_iter,
        first_loss=losses[0] if losses else float('nan'),
        last_loss=losses[-1] if losses else float('nan'),
        finite=finite,
        memory_mb=memory,
        segm_map=val.get('coco/segm_mAP'))
    problems = []
    if not losses:
        problems.append('no training loss logged')
    if last_iter < iters:
        problems.append(f'stopped at iteration {last_iter} < {iters}')
    if not finite:
        problems.append('non-finite loss')
    row['ok'] = not problems
    if problems:
        row['problem'] = '; '.join(problems)
    return row


def main() -> int:
    args = parse_args()
    rows = [summarize(d, args.iters) for d in sorted(args.work_dirs)]
    lines = [
        '| run | status | iters | loss first -> last | memory (MB) | '
        'val segm mAP |', '|---|---|---:|---|---:|---:|'
    ]
    for r in rows:
        status = 'ok' if r['ok'] else f'FAIL: {r.get("problem", "")}'
        if 'iters' not in r:
            lines.append(f'| {r["run"]} | {status} | | | | |')
            continue
        segm = '' if r['segm_map'] is None else f'{r["segm_map"]:.3f}'
        lines.append(
            f'| {r["run"]} | {status} | {r["iters"]} | '
            f'{r["first_loss"]:.3f} -> {r["last_loss"]:.3f} | '
            f'{r["memory_mb"]:.0f} | {segm} |')
    table = '\n'.join(lines)
    print(table)
    failed = sum(not r['ok'] for r in rows)
    print(f'{len(rows) - failed}/{len(rows)} runs ok')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(table + '\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
