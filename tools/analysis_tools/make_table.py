"""Gather metrics records of several runs into a paper-style table.

Every tested run has a metrics record (``<work_dir>/metrics.json``, written
by ``tools/test.py``; see :mod:`mmext.utils.run_records`). This tool lays
them out as one row per run and one column per metric, in Markdown and CSV::

    python tools/analysis_tools/make_table.py \\
        --configs configs/atmask/atmask-rcnn_r18_fpn_1x_toy.py \\
                  configs/atmask/atmask-rcnn_r18_fpn_k1_1x_toy.py \\
        --metrics segm bbox_mAP --baseline atmask-rcnn_r18_fpn_1x_toy \\
        --speed --title 'Table 3: ATMask ablations' \\
        --out-md table.md --out-csv table.csv

    python tools/analysis_tools/make_table.py --work-dirs 'work_dirs/atmask*'

Choices where the papers leave room:

* Values are shown in percent with one decimal (``--precision``), like the
  papers' tables. Evaluators return fractions; a column holding a value above
  1 is taken to be in percent already and shown unscaled (with a warning).
* ``--baseline NAME`` adds the difference to that row, ``39.5 (+1.7)``. The
  difference is taken between the *rounded* numbers, so it always matches
  what the reader subtracts by hand. The baseline row is moved to the top,
  the other rows keep their order (or follow ``--sort-by``).
* ``--speed`` adds training s/iter and test img/s; with a baseline they get
  the ratio to it, ``0.235 (1.12x)``.
* A run without a record is a row of '—' and a warning, never an error, so
  a table can be built while a sweep is still going.
* CSV cells hold plain numbers (no '—', no parentheses): a metric column,
  then ``<name> delta`` / ``<name> ratio`` when a baseline is given; missing
  values are empty cells.
* Seeds: a work dir without a ``metrics.json`` of its own but with
  ``seed<k>/metrics.json`` records (``tools/sweep.py --seeds N``) is one row
  whose cells show ``mean±std`` over the seeds; its difference to the
  baseline is paired by seed (the mean of the per-seed differences over the
  seeds both rows have, ``±`` its standard error) and marked ``*`` when the
  mean exceeds two standard errors (:mod:`mmext.utils.seed_stats`). CSV
  cells then add ``<name> std``, ``<name> delta se`` and ``<name> seeds``.
* ``--configs a.py=Label`` (or ``--work-dirs DIR=Label``) sets a row's
  display name; otherwise it is the config name (``--configs``, ``--records``)
  or the work dir's name (``--work-dirs``, so that two work dirs of one
  config stay apart).
"""
import argparse
import csv
import glob
import io
import math
import os.path as osp
import sys
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# mmengine/mmcv import pkg_resources; its deprecation notice is noise here
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from mmext.utils.atomic_io import atomic_write_text  # noqa: E402
from mmext.utils.run_records import (
    METRICS_FILENAME,  # noqa: E402
    read_metrics_record)
from mmext.utils.seed_stats import mean_std, paired_delta  # noqa: E402

MISSING = '\u2014'  # em dash, as in papers

_COCO_SUFFIXES = [('mAP', 'AP'), ('mAP_50', 'AP50'), ('mAP_75', 'AP75'),
                  ('mAP_s', 'APs'), ('mAP_m', 'APm'), ('mAP_l', 'APl')]
#: metric key -> column name shown in the table
METRIC_NAMES: Dict[str, str] = {
    **{
        f'coco/bbox_{s}': f'box {n}'
        for s, n in _COCO_SUFFIXES
    },
    **{
        f'coco/segm_{s}': f'mask {n}'
        for s, n in _COCO_SUFFIXES
    },
    'coco/boundary_mAP': 'boundary AP',
    'coco/boundary_mAP_50': 'boundary AP50',
    'coco/boundary_mAP_75': 'boundary AP75',
    'coco/huddled_segm_mAP': 'huddled mask AP',
    'coco/huddled_segm_mAP_50': 'huddled mask AP50',
    'coco/huddled_segm_mAP_75': 'huddled mask AP75',
    'voc/mAPr_50': 'mAPr@0.5',
    'voc/mAPr_75': 'mAPr@0.75',
    'voc/ABO': 'ABO',
}
METRIC_GROUPS: Dict[str, List[str]] = {
    'bbox': [f'coco/bbox_{s}' for s, _ in _COCO_SUFFIXES],
    'segm': [f'coco/segm_{s}' for s, _ in _COCO_SUFFIXES],
    'voc': ['voc/mAPr_50', 'voc/mAPr_75', 'voc/ABO'],
}
METRIC_GROUPS['coco'] = METRIC_GROUPS['bbox'] + METRIC_GROUPS['segm']
DEFAULT_METRICS: List[str] = list(METRIC_GROUPS['coco'])

#: speed key in ``record['speed']`` -> (column name, decimals)
SPEED_COLUMNS: Dict[str, Tuple[str, int]] = {
    'train_s_per_iter': ('train s/iter', 3),
    'test_img_per_s': ('test img/s', 1),
}


@dataclass
class Column:
    """One table column: a metric key or a speed key and its shown name."""
    key: str
    name: str
    kind: str = 'metric'  # 'metric' | 'speed'


def _record_value(record: dict, column: Column) -> Optional[float]:
    if column.kind == 'speed':
        value = (record.get('speed') or {}).get(column.key)
    else:
        value = record.get('metrics', {}).get(column.key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if math.isnan(value) or value < 0:  # COCO reports -1 for 'no GT'
        return None
    return float(value)


@dataclass
class Row:
    """One table row: a run and its record (None when the run has none).

    A row of several seeds keeps every seed's record in ``seeds`` (seed name
    -> record) and ``record`` is the first of them.
    """
    name: str
    record: Optional[dict]
    source: str = ''
    seeds: Dict[str, dict] = field(default_factory=dict)

    @property
    def missing(self) -> bool:
        return self.record is None

    def values(self, column: Column) -> Dict[str, float]:
        """Seed name -> value (``{'': value}`` for a single record)."""
        records = self.seeds or ({'': self.record} if self.record else {})
        out = {}
        for seed, record in records.items():
            value = _record_value(record, column)
            if value is not None:
                out[seed] = value
        return out

    def value(self, column: Column) -> Optional[float]:
        """The value, or its mean over the seeds that have it."""
        values = self.values(column)
        return mean_std(list(values.values()))[0] if values else None


@dataclass
class Table:
    """A built table: display cells and the numbers behind them."""
    columns: List[Column]
    rows: List[Row]
    cells: List[List[str]]  # shown text, one list per row
    numbers: List[List[Optional[float]]]  # shown (scaled, rounded) values
    deltas: List[List[Optional[float]]]  # difference/ratio to the baseline
    baseline: Optional[str] = None
    # over seeds (None for single-seed cells): std, standard error of the
    # paired difference, number of seeds
    stds: List[List[Optional[float]]] = field(default_factory=list)
    delta_ses: List[List[Optional[float]]] = field(default_factory=list)
    counts: List[List[int]] = field(default_factory=list)
    share: bool = False
    title: Optional[str] = None
    warnings: List[str] = field(default_factory=list)

    @property
    def header(self) -> List[str]:
        return ['config'] + [c.name for c in self.columns]

    def to_markdown(self, title: Optional[str] = None) -> str:
        """GitHub pipe table; numbers right-aligned, names left-aligned."""
        title = title if title is not None else self.title

        def esc(text: str) -> str:
            return text.replace('|', '\\|')

        lines = []
        if title:
            lines += [f'### {title}', '']
        lines.append('| ' + ' | '.join(esc(h) for h in self.header) + ' |')
        lines.append('|' + '|'.join([':---'] + ['---:'] * len(self.columns)) +
                     '|')
        most = max((len(row.seeds) for row in self.rows), default=0)
        for row, cells in zip(self.rows, self.cells):
            name = row.name
            if most > 1 and len(row.seeds) != most:  # e.g. a sweep under way
                name += f' ({len(row.seeds)} seed' + \
                    ('s)' if len(row.seeds) != 1 else ')')
            lines.append('| ' + ' | '.join([esc(name)] + cells) + ' |')
        notes = []
        if self.share:
            notes.append('Percentages in parentheses are shares of '
                         f'`{self.baseline}`.')
        elif any(d is not None for row in self.deltas for d in row):
            notes.append('Differences in parentheses are to '
                         f'`{self.baseline}`.')
        if self.multi_seed:
            notes.append('Cells are mean±std over seeds.')
            if self.baseline and not self.share:
                notes.append('Differences are paired by seed, ± their '
                             'standard error, * where the mean difference '
                             'exceeds two standard errors.')
        if notes:
            lines += ['', ' '.join(notes)]
        return '\n'.join(lines) + '\n'

    @property
    def multi_seed(self) -> bool:
        return any(n > 1 for row in self.counts for n in row)

    def to_csv(self) -> str:
        """Plain numbers; ``<name> delta``/``<name> ratio`` beside each
        column when a baseline is set; empty cells for missing values."""
        seeds = self.multi_seed
        header = ['config']
        for column in self.columns:
            header.append(column.name)
            if seeds:
                header += [column.name + ' std', column.name + ' seeds']
            if self.baseline:
                header.append(column.name + (
                    ' ratio' if column.kind == 'speed' else ' delta'))
                if seeds:
                    header.append(column.name + ' delta se')
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator='\n')
        writer.writerow(header)

        def plain(x: Optional[float]) -> str:
            return '' if x is None else _plain(x)

        for i, row in enumerate(self.rows):
            out = [row.name]
            for j in range(len(self.columns)):
                out.append(plain(self.numbers[i][j]))
                if seeds:
                    out += [plain(self.stds[i][j]), str(self.counts[i][j])]
                if self.baseline:
                    out.append(plain(self.deltas[i][j]))
                    if seeds:
                        out.append(plain(self.delta_ses[i][j]))
            writer.writerow(out)
        return buf.getvalue()


def _plain(x: float) -> str:
    return f'{x:.10g}'


# --------------------------------------------------------------------------
# columns
# --------------------------------------------------------------------------
def resolve_metric(token: str, available: Iterable[str] = ()) -> List[Column]:
    """Turn one ``--metrics`` entry into columns.

    Accepted: a group (``bbox``, ``segm``, ``coco``, ``voc``), a full key
    (``coco/segm_mAP``), a shown name (``mask AP``, case-insensitive), a key
    without its prefix (``segm_mAP_50``, ``ABO``), or any of these followed
    by ``=Column name``. Unknown keys are kept as they are (their cells show
    '—' and a warning tells so).
    """
    name = None
    if '=' in token:
        token, name = token.split('=', 1)
        token, name = token.strip(), name.strip()
    if token.lower() in METRIC_GROUPS and name is None:
        return [
            Column(k, METRIC_NAMES[k]) for k in METRIC_GROUPS[token.lower()]
        ]
    known = list(METRIC_NAMES) + [
        k for k in available if k not in METRIC_NAMES
    ]
    key = None
    if token in known or '/' in token:
        key = token
    else:
        by_name = {v.lower(): k for k, v in METRIC_NAMES.items()}
        if token.lower() in by_name:
            key = by_name[token.lower()]
        else:
            suffix_matches = [k for k in known if k.endswith('/' + token)]
            if len(suffix_matches) > 1:
                raise ValueError(
                    f'metric {token!r} is ambiguous: {suffix_matches}; give '
                    'the full key')
            key = suffix_matches[0] if suffix_matches else token
    return [Column(key, name or METRIC_NAMES.get(key, key))]


def resolve_metrics(
    tokens: Optional[Sequence[str]], available: Iterable[str] = ()
) -> List[Column]:
    """Columns for a ``--metrics`` list (default :data:`DEFAULT_METRICS`)."""
    available = list(available)
    columns: List[Column] = []
    for token in (tokens or DEFAULT_METRICS):
        for column in resolve_metric(token, available):
            if column.key not in [c.key for c in columns]:
                columns.append(column)
    return columns


# --------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------
def _split_label(entry: str) -> Tuple[str, Optional[str]]:
    if '=' in entry:
        path, label = entry.split('=', 1)
        return path, label
    return entry, None


def _seed_dirs(work_dir: str) -> List[str]:
    """``seed<k>`` subdirectories of a work dir, by k."""
    dirs = [
        d for d in glob.glob(osp.join(work_dir, 'seed*'))
        if osp.isdir(d) and osp.basename(d)[4:].isdigit()
    ]
    return sorted(dirs, key=lambda d: int(osp.basename(d)[4:]))


def _load_row(name: str, path: str, warn: List[str]) -> Row:
    seed_dirs = [] if osp.isfile(path) else _seed_dirs(osp.dirname(path))
    if seed_dirs:
        seeds = {}
        for seed_dir in seed_dirs:
            row = _load_row(f'{name} ({osp.basename(seed_dir)})',
                            osp.join(seed_dir, METRICS_FILENAME), warn)
            if row.record is not None:
                seeds[osp.basename(seed_dir)] = row.record
        if seeds:
            return Row(name, next(iter(seeds.values())), path, seeds)
    try:
        record = read_metrics_record(path)
    except FileNotFoundError:
        msg = f'no metrics for {name!r}: {path} not found (not run or ' \
              'not tested yet)'
        warn.append(msg)
        warnings.warn(msg)
        return Row(name, None, path)
    except ValueError as e:
        msg = f'unreadable metrics for {name!r}: {e}'
        warn.append(msg)
        warnings.warn(msg)
        return Row(name, None, path)
    return Row(name, record, path)


def collect_rows(configs: Sequence[str] = (),
                 work_dirs: Sequence[str] = (),
                 records: Sequence[str] = (),
                 work_dir_root: str = 'work_dirs',
                 warn: Optional[List[str]] = None) -> List[Row]:
    """Rows for configs, work dirs and record files, in the given order.

    Args:
        configs: Config files (``path[=label]`` or globs); each maps to
            ``<work_dir_root>/<config_name>/metrics.json``.
        work_dirs: Work dirs (``path[=label]`` or globs, matches sorted by
            name); each row reads ``<dir>/metrics.json``.
        records: Record files (globs allowed), e.g. the per-checkpoint
            ``epoch_12_metrics.json`` copies.
        work_dir_root: Where ``configs`` map to. Defaults to 'work_dirs'.
        warn: A list that collects the warnings issued.
    """
    warn = [] if warn is None else warn
    rows: List[Row] = []

    def expand(entry: str, kind: str) -> List[Tuple[str, Optional[str]]]:
        path, label = _split_label(entry)
        if glob.has_magic(path):
            matches = sorted(glob.glob(path))
            if kind == 'work_dir':  # not tools/sweep.py's _superseded/
                matches = [
                    m for m in matches if osp.isdir(m)
                    and osp.basename(osp.normpath(m)) != '_superseded'
                ]
            if not matches:
                msg = f'{kind} pattern {path!r} matches nothing'
                warn.append(msg)
                warnings.warn(msg)
            return [(m, None) for m in matches]
        return [(path, label)]

    for entry in configs:
        for cfg, label in expand(entry, 'config'):
            name = osp.splitext(osp.basename(cfg))[0]
            rows.append(
                _load_row(label or name,
                          osp.join(work_dir_root, name, METRICS_FILENAME),
                          warn))
    for entry in work_dirs:
        for wd, label in expand(entry, 'work_dir'):
            name = label or osp.basename(osp.normpath(wd))
            rows.append(_load_row(name, osp.join(wd, METRICS_FILENAME), warn))
    for entry in records:
        for path, label in expand(entry, 'record'):
            row = _load_row(
                label or osp.splitext(osp.basename(path))[0], path, warn)
            if label is None and row.record is not None:
                stem = osp.splitext(osp.basename(path))[0]
                row.name = (
                    row.record['config_name'] if stem == 'metrics' else
                    f"{row.record['config_name']} ({stem})")
            rows.append(row)
    return rows


def find_row(rows: Sequence[Row], name: str) -> int:
    """Index of the row called ``name``: exact name, config file stem or
    work dir name, else a unique prefix, else a unique substring.

    Raises:
        ValueError: no row or several rows match.
    """
    candidates = [name, osp.splitext(osp.basename(osp.normpath(name)))[0]]
    for candidate in candidates:
        exact = [i for i, r in enumerate(rows) if r.name == candidate]
        if len(exact) == 1:
            return exact[0]
    prefix = [i for i, r in enumerate(rows) if r.name.startswith(name)]
    if len(prefix) == 1:
        return prefix[0]
    partial = [i for i, r in enumerate(rows) if name in r.name]
    if len(partial) == 1:
        return partial[0]
    names = [r.name for r in rows]
    if not partial:
        raise ValueError(f'baseline {name!r} is none of the rows: {names}')
    raise ValueError(f'baseline {name!r} matches several rows: '
                     f'{[names[i] for i in partial]}')


# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------
def _fmt(x: float, precision: int) -> str:
    return f'{x:.{precision}f}'


def build_table(rows: Sequence[Row],
                metrics: Optional[Sequence[str]] = None,
                baseline: Optional[str] = None,
                speed: bool = False,
                share: bool = False,
                sort_by: Optional[str] = None,
                ascending: Optional[bool] = None,
                precision: int = 1,
                percent: bool = True,
                title: Optional[str] = None,
                warn: Optional[List[str]] = None) -> Table:
    """Lay out rows as a table.

    Args:
        rows: From :func:`collect_rows` (or hand-made :class:`Row`).
        metrics: ``--metrics`` entries, see :func:`resolve_metric`.
            Defaults to box and mask AP, AP50, AP75, APs, APm, APl.
        baseline: Row name to show differences/ratios against.
        speed: Add training s/iter and test img/s columns.
        share: Show each metric as a percentage of the baseline's (e.g. of
            a fully supervised upper bound) instead of the difference.
        sort_by: ``name`` or a metric entry; rows keep their order if None.
            Missing values go last. The baseline row always comes first.
        ascending: Sort direction; default descending for metrics (best
            first), ascending for names.
        precision: Decimals of metric values. Defaults to 1.
        percent: Show fractions as percent. Defaults to True.
        title: Markdown heading.
        warn: A list that collects the warnings issued.
    """
    warn = [] if warn is None else warn
    rows = list(rows)
    available = sorted(
        {k
         for r in rows if r.record for k in r.record.get('metrics', {})})
    columns = resolve_metrics(metrics, available)
    if speed:
        columns += [
            Column(k, n, 'speed') for k, (n, _) in SPEED_COLUMNS.items()
        ]

    present = [r for r in rows if not r.missing]
    for column in columns:
        if column.kind == 'metric' and present and all(
                r.value(column) is None for r in present):
            msg = f'metric {column.key!r} is in no record ' \
                  f'(available: {available})'
            warn.append(msg)
            warnings.warn(msg)

    # scale: fractions -> percent, unless a column is in percent already
    scales = []
    for column in columns:
        scale = 1.0
        if column.kind == 'metric' and percent:
            values = [r.value(column) for r in present]
            if any(v is not None and v > 1.0 for v in values):
                msg = f'{column.key!r} has values above 1, taken to be in ' \
                      'percent already and shown unscaled'
                warn.append(msg)
                warnings.warn(msg)
            else:
                scale = 100.0
        scales.append(scale)

    def shown(row: Row, j: int) -> Optional[float]:
        value = row.value(columns[j])
        if value is None:
            return None
        decimals = (
            precision if columns[j].kind == 'metric' else
            SPEED_COLUMNS[columns[j].key][1])
        return round(value * scales[j], decimals)

    base_idx = find_row(rows, baseline) if baseline else None
    if base_idx is not None and rows[base_idx].missing:
        msg = f'baseline {rows[base_idx].name!r} has no metrics; no ' \
              'differences shown'
        warn.append(msg)
        warnings.warn(msg)

    if sort_by:
        if sort_by == 'name':
            key_col = None
            asc = True if ascending is None else ascending
        else:
            key_cols = resolve_metric(sort_by, available)
            if len(key_cols) != 1:
                raise ValueError(f'--sort-by {sort_by!r} must name one '
                                 'metric or "name"')
            key_col = key_cols[0]
            asc = False if ascending is None else ascending

        def sort_key(row: Row):
            if key_col is None:
                return (0, row.name)
            value = row.value(key_col)
            if value is None:
                return (1, 0.0)
            return (0, value if asc else -value)

        head = [rows[base_idx]] if base_idx is not None else []
        rest = [r for i, r in enumerate(rows) if i != base_idx]
        if key_col is None and not asc:
            rest = sorted(rest, key=lambda r: r.name, reverse=True)
        else:
            rest = sorted(rest, key=sort_key)  # stable; missing last
        rows = head + rest
        if base_idx is not None:
            base_idx = 0
    elif base_idx is not None and base_idx != 0:
        # the paper convention: the baseline is the first row (a work-dir
        # glob lists the runs alphabetically)
        rows = [rows[base_idx]] + rows[:base_idx] + rows[base_idx + 1:]
        base_idx = 0

    cells, numbers, deltas, stds, delta_ses, counts = [], [], [], [], [], []
    for row in rows:
        row_cells, row_numbers, row_deltas = [], [], []
        row_stds, row_ses, row_counts = [], [], []
        for j, column in enumerate(columns):
            value = shown(row, j)
            base_row = rows[base_idx] if base_idx is not None else None
            base = shown(base_row, j) if base_row is not None else None
            decimals = (
                precision
                if column.kind == 'metric' else SPEED_COLUMNS[column.key][1])
            per_seed = row.values(column)
            row_counts.append(len(per_seed))
            row_stds.append(None)
            row_ses.append(None)
            if value is None:
                row_cells.append(MISSING)
                row_numbers.append(None)
                row_deltas.append(None)
                continue
            text = _fmt(value, decimals)
            if len(per_seed) > 1:
                std = mean_std(list(per_seed.values()))[1] * scales[j]
                row_stds[-1] = round(std, decimals)
                text += f'±{std:.{decimals}f}'
            delta = None
            if base is not None and row is not base_row:
                if column.kind == 'metric' and share:
                    if base > 0:  # e.g. the share of an upper bound
                        delta = round(100 * value / base)
                        text += f' ({delta:.0f}%)'
                elif column.kind == 'metric' and (row.seeds or
                                                  base_row.seeds):
                    # paired by seed, on the unrounded values
                    paired = paired_delta(per_seed, base_row.values(column))
                    if paired is not None:
                        delta = round(paired.mean * scales[j], decimals) + 0.0
                        text += f' ({delta:+.{decimals}f}'
                        if paired.se is not None:
                            se = paired.se * scales[j]
                            row_ses[-1] = round(se, decimals)
                            text += f'±{se:.{decimals}f}'
                        text += '*)' if paired.significant else ')'
                elif column.kind == 'metric':
                    delta = round(value - base, decimals)
                    if delta == 0:
                        delta = 0.0  # no '-0.0'
                    text += f' ({delta:+.{decimals}f})'
                elif base > 0:
                    delta = round(value / base, 2)
                    text += f' ({delta:.2f}x)'
            row_cells.append(text)
            row_numbers.append(value)
            row_deltas.append(delta)
        cells.append(row_cells)
        numbers.append(row_numbers)
        deltas.append(row_deltas)
        stds.append(row_stds)
        delta_ses.append(row_ses)
        counts.append(row_counts)
    return Table(
        columns=columns,
        rows=rows,
        cells=cells,
        numbers=numbers,
        deltas=deltas,
        stds=stds,
        delta_ses=delta_ses,
        counts=counts,
        share=share,
        baseline=rows[base_idx].name if base_idx is not None else None,
        title=title,
        warnings=warn)


def make_table(configs: Sequence[str] = (),
               work_dirs: Sequence[str] = (),
               records: Sequence[str] = (),
               work_dir_root: str = 'work_dirs',
               out_md: Optional[str] = None,
               out_csv: Optional[str] = None,
               **table_kwargs) -> Table:
    """Collect rows, build the table and write the requested files.

    ``table_kwargs`` go to :func:`build_table`. Files are written atomically
    (temporary file + rename).
    """
    warn: List[str] = []
    rows = collect_rows(configs, work_dirs, records, work_dir_root, warn)
    if not rows:
        raise ValueError('no runs given: pass --configs, --work-dirs or '
                         '--records')
    table = build_table(rows, warn=warn, **table_kwargs)
    if out_md:
        atomic_write_text(out_md, table.to_markdown())
    if out_csv:
        atomic_write_text(out_csv, table.to_csv())
    return table


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build a paper-style table (Markdown/CSV) from the '
        'metrics.json records of several runs.')
    src = parser.add_argument_group('runs (rows, in this order)')
    src.add_argument(
        '--configs',
        nargs='+',
        default=[],
        help='config files (globs allowed, PATH=Label to rename a row); '
        'each reads <work-dir-root>/<config name>/metrics.json')
    src.add_argument(
        '--work-dirs',
        nargs='+',
        default=[],
        help="work dirs or globs, e.g. 'work_dirs/atmask*' (quote it); "
        'each reads <dir>/metrics.json')
    src.add_argument(
        '--records',
        nargs='+',
        default=[],
        help='metrics record files, e.g. work_dirs/x/epoch_*_metrics.json')
    src.add_argument('--work-dir-root', default='work_dirs')
    parser.add_argument(
        '--metrics',
        nargs='+',
        help='columns: groups bbox/segm/coco/voc, keys (coco/segm_mAP), '
        "names ('mask AP') or short keys (segm_mAP_50), each optionally "
        "KEY='Column name'. Default: bbox and segm AP, AP50, AP75, APs, "
        'APm, APl')
    parser.add_argument(
        '--baseline', help='row name to show differences against')
    parser.add_argument(
        '--speed',
        action='store_true',
        help='add train s/iter and test img/s (ratios to the baseline)')
    parser.add_argument(
        '--share',
        action='store_true',
        help='with --baseline: show metrics as a percentage of the '
        "baseline's (e.g. of an upper bound) instead of differences")
    parser.add_argument(
        '--sort-by', help="'name' or a metric; default: the given order")
    order = parser.add_mutually_exclusive_group()
    order.add_argument(
        '--ascending', dest='ascending', action='store_true', default=None)
    order.add_argument('--descending', dest='ascending', action='store_false')
    parser.add_argument('--precision', type=int, default=1)
    parser.add_argument(
        '--no-percent',
        action='store_true',
        help='show values as stored (fractions) instead of percent')
    parser.add_argument('--title')
    parser.add_argument('--out-md', help='write the Markdown table here')
    parser.add_argument('--out-csv', help='write the CSV table here')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Table:
    args = parse_args(argv)
    if not (args.configs or args.work_dirs or args.records):
        raise SystemExit('make_table: pass --configs, --work-dirs or '
                         '--records')
    try:
        table = _main_table(args)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f'make_table: {e}')
    print(table.to_markdown())
    for path in (args.out_md, args.out_csv):
        if path:
            print(f'written: {path}')
    return table


def _main_table(args: argparse.Namespace) -> Table:
    return make_table(
        configs=args.configs,
        work_dirs=args.work_dirs,
        records=args.records,
        work_dir_root=args.work_dir_root,
        out_md=args.out_md,
        out_csv=args.out_csv,
        metrics=args.metrics,
        baseline=args.baseline,
        speed=args.speed,
        share=args.share,
        sort_by=args.sort_by,
        ascending=args.ascending,
        precision=args.precision,
        percent=not args.no_percent,
        title=args.title)


if __name__ == '__main__':
    # one line per warning on the command line, no source echo
    warnings.formatwarning = (
        lambda message, *args, **kwargs: f'warning: {message}\n')
    main()
