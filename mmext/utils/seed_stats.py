"""Statistics over seeds for benchmark tables: mean ± std per row and the
difference to a baseline paired by seed.

Runs of a benchmark that share a seed share everything the seed decides
(data order, augmentation, initialisation of new layers) and start from the
same weights, so the difference of two rows is measured seed by seed and
averaged; its standard error is that of the paired differences. A mean
difference larger than two standard errors is marked as significant (about
a 95% two-sided level for a normal error; with 3 seeds a t-test would ask
for 4.3 standard errors, so the mark says "beyond the seed noise", not
"p < 0.05").
"""
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

#: a mean difference beyond this many standard errors is marked
SIGNIFICANCE_SE = 2.0


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (ddof=1; None for one value).

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError('mean_std: no values')
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    var = math.fsum((v - mean)**2 for v in values) / (n - 1)
    return mean, math.sqrt(var)


@dataclass(frozen=True)
class PairedDelta:
    """Difference of a row to the baseline, paired by seed.

    Attributes:
        mean (float): Mean over the common seeds of ``row[s] - base[s]``.
        se (float | None): Its standard error, ``std(d) / sqrt(n)``; None
            with fewer than two common seeds.
        n (int): Number of common seeds.
    """
    mean: float
    se: Optional[float]
    n: int

    @property
    def significant(self) -> bool:
        """True when ``|mean| > 2 se`` (never with fewer than two seeds).

        A zero standard error (identical differences on every seed) counts
        as significant when the mean is not zero.
        """
        if self.se is None:
            return False
        return abs(self.mean) > SIGNIFICANCE_SE * self.se


def paired_delta(row: Mapping[str, float],
                 base: Mapping[str, float]) -> Optional[PairedDelta]:
    """Paired difference ``row - base`` over the seeds both have.

    Args:
        row (Mapping[str, float]): Seed name -> value of the row.
        base (Mapping[str, float]): Seed name -> value of the baseline.

    Returns:
        PairedDelta | None: None when no seed is common to both.
    """
    common = [s for s in row if s in base]
    if not common:
        return None
    diffs = [row[s] - base[s] for s in common]
    mean, std = mean_std(diffs)
    se = None if std is None else std / math.sqrt(len(diffs))
    return PairedDelta(mean, se, len(diffs))

