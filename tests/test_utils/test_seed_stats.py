"""Mean ± std over seeds and deltas paired by seed (mmext.utils.seed_stats)."""
import math

import pytest

from mmext.utils.seed_stats import PairedDelta, mean_std, paired_delta


def test_mean_std_hand_computed():
    # mean 2, squared deviations 1 + 0 + 1 = 2, / (n - 1) = 1 -> std 1
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    # one value: no spread
    assert mean_std([0.25]) == (0.25, None)
    mean, std = mean_std([0.3, 0.5])
    assert mean == pytest.approx(0.4)
    assert std == pytest.approx(math.sqrt(0.02))  # (0.01 + 0.01) / 1
    with pytest.raises(ValueError, match='no values'):
        mean_std([])


def test_paired_delta_removes_the_shared_seed_effect():
    # The seed moves both rows alike (+-10); the method is +1 on every
    # seed. Paired, the difference is exactly 1 with zero spread.
    base = {'seed0': 20.0, 'seed1': 30.0, 'seed2': 40.0}
    row = {'seed0': 21.0, 'seed1': 31.0, 'seed2': 41.0}
    d = paired_delta(row, base)
    assert (d.mean, d.se, d.n) == (1.0, 0.0, 3)
    assert d.significant
    # Unpaired, the difference of means (1) is far inside the rows' spread
    # (std 10 each): pairing is what makes it visible.
    assert mean_std(list(row.values()))[1] == pytest.approx(10.0)


def test_paired_delta_standard_error_and_mark():
    base = {'s0': 10.0, 's1': 10.0, 's2': 10.0}
    # differences 1, 2, 3: mean 2, std 1, se 1/sqrt(3) = 0.577; 2 > 1.155
    d = paired_delta({'s0': 11.0, 's1': 12.0, 's2': 13.0}, base)
    assert d.mean == pytest.approx(2.0)
    assert d.se == pytest.approx(1 / math.sqrt(3))
    assert d.significant
    # differences -1, 0, 2: mean 1/3, std sqrt(7/3) = 1.528, se 0.882;
    # 0.333 < 1.764 -> not marked
    d = paired_delta({'s0': 9.0, 's1': 10.0, 's2': 12.0}, base)
    assert d.mean == pytest.approx(1 / 3)
    assert d.se == pytest.approx(math.sqrt(7 / 3) / math.sqrt(3))
    assert not d.significant
    # between one and two standard errors: differences 0, 1, 3 -> mean 4/3,
    # std sqrt(7/3) = 1.528, se 0.882; 1.333 is 1.5 se -> not marked
    d = paired_delta({'s0': 10.0, 's1': 11.0, 's2': 13.0}, base)
    assert d.mean == pytest.approx(4 / 3)
    assert d.se == pytest.approx(math.sqrt(7 / 3) / math.sqrt(3))
    assert not d.significant
    # exactly at the border: differences 0 and 2 -> mean 1, std sqrt(2),
    # se 1; 1 > 2 is false
    d = paired_delta({'s0': 10.0, 's1': 12.0}, {'s0': 10.0, 's1': 10.0})
    assert (d.mean, d.se) == (1.0, 1.0)
    assert not d.significant


def test_paired_delta_uses_common_seeds_only():
    base = {'s0': 1.0, 's1': 2.0}
    d = paired_delta({'s1': 5.0, 's2': 100.0}, base)
    assert (d.mean, d.se, d.n) == (3.0, None, 1)
    assert not d.significant  # one seed: no standard error, no mark
    assert paired_delta({'s9': 1.0}, base) is None
    assert not PairedDelta(0.0, 0.0, 3).significant  # zero is never marked
