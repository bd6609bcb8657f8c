"""estimate.py by hand: the Korn-Graubard interval, the design's fpc per stratum, certainty strata, the jackknife."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chouyang import estimate as est
from chouyang.estimate import korn_graubard


def test_korn_graubard_by_hand():
    # p = 0.02, SE = 0.01 from n = 500 records, df = 28 (55 points - 27 strata):
    # 1. effective n: p(1 - p) / SE^2 = 0.0196 / 0.0001 = 196 (below 500: no truncation)
    # 2. t-ratio: t_{0.975, n-1 = 499} = 1.964729, t_{0.975, df = 28} = 2.048407;
    #    (1.964729 / 2.048407)^2 = 0.919968, so n* = 196 x 0.919968 = 180.3138, x* = p n* = 3.606276
    # 3. Clopper-Pearson of x* in n*: Beta^-1(0.025; x*, n* - x* + 1), Beta^-1(0.975; x* + 1, n* - x*)
    assert stats.t.ppf(0.975, 499) == pytest.approx(1.964729, abs=1e-6)
    assert stats.t.ppf(0.975, 28) == pytest.approx(2.048407, abs=1e-6)
    assert stats.beta.ppf(0.025, 3.606276, 177.707535) == pytest.approx(0.0049904, abs=1e-7)
    assert stats.beta.ppf(0.975, 4.606276, 176.707535) == pytest.approx(0.0527207, abs=1e-7)
    low, high = korn_graubard(0.02, 0.01, 500, df=28)
    assert low == pytest.approx(0.0049904, abs=1e-7) and high == pytest.approx(0.0527207, abs=1e-7)
    # what the usual slips would give instead (each differs from the above by more than 1e-5):
    # df 27 -> (0.0049749, 0.0527983); df 29 -> (0.0050049, 0.0526487);
    # normal quantile for t_df -> (0.0054035, 0.0507432); no t-ratio at all -> (0.0053807, 0.0508483)
    assert korn_graubard(0.02, 0.01, 500, df=27)[1] == pytest.approx(0.0527983, abs=1e-7)


def test_korn_graubard_truncation_of_the_design_effect():
    # SE = 0.004: p(1 - p) / SE^2 = 0.0196 / 0.000016 = 1225 effective records from 500 (design effect 0.41)
    # truncated: n* = 500 x 0.919968 = 459.9842, x* = 9.199684 -> (0.0092790, 0.0373780)
    low, high = korn_graubard(0.02, 0.004, 500, df=28)
    assert (low, high) == (pytest.approx(0.0092790, abs=1e-7), pytest.approx(0.0373780, abs=1e-7))
    # untruncated: n* = 1225 x 0.919968 = 1126.9613, x* = 22.539226 -> (0.0126541, 0.0299791)
    low, high = korn_graubard(0.02, 0.004, 500, df=28, truncate=False)
    assert (low, high) == (pytest.approx(0.0126541, abs=1e-7), pytest.approx(0.0299791, abs=1e-7))
    # a design effect above 1 (n* = 196 < 500) is the same either way
    assert korn_graubard(0.02, 0.01, 500, 28, truncate=False) == korn_graubard(0.02, 0.01, 500, 28)


def _primary(rows):
    """Sample points: (township, unit, villages in the township, points drawn there)."""
    return pd.DataFrame([{"township_code": t, "township_name": f"乡{t}", "unit_code": u,
                          "inclusion_prob": n / big_n, "weight": big_n / n} for t, u, big_n, n in rows])


# A: 2 of 10 villages; B: 3 of 4; C: both of its 2 villages (taken whole); D: 1 of 5 (collapsed)
DESIGN_ROWS = [("A", "a1", 10, 2), ("A", "a2", 10, 2), ("B", "b1", 4, 3), ("B", "b2", 4, 3), ("B", "b3", 4, 3),
               ("C", "c1", 2, 2), ("C", "c2", 2, 2), ("D", "d1", 5, 1)]


def test_fpc_per_stratum_is_one_minus_n_over_big_n():
    design = est.make_design(_primary(DESIGN_ROWS), ["A", "B", "C", "D"], "srs")
    fpc = dict(zip(design.units.unit_code, design.units.fpc))
    assert fpc["a1"] == fpc["a2"] == pytest.approx(1 - 2 / 10)  # 0.8
    # D (one point) joins its neighbour in frame order that has sampling error: B, not C (taken whole);
    # the pseudo-stratum drew 3 + 1 of 4 + 5 villages: fpc 1 - 4/9
    assert [fpc[u] for u in ("b1", "b2", "b3", "d1")] == pytest.approx([5 / 9] * 4)
    assert fpc["c1"] == fpc["c2"] == 0.0
    assert design.collapsed == (("乡D", "乡B"),)
    assert design.certain == ("乡C",)
    # df: (2 + 4) points - 2 strata; C's 2 points would add 1 if it were counted
    assert design.df == 4
    assert not design.census
    # with probability proportional to size the fpc is dropped, except for a township taken whole
    pps = est.make_design(_primary(DESIGN_ROWS), ["A", "B", "C", "D"], "pps")
    assert dict(zip(pps.units.unit_code, pps.units.fpc)) == {"a1": 1, "a2": 1, "b1": 1, "b2": 1, "b3": 1,
                                                              "c1": 0, "c2": 0, "d1": 1}


def test_taylor_se_with_fpc_by_hand():
    # one stratum, 2 of 4 villages (weight 2): y = (1, 3), x = (2, 2): r = (2 + 6) / (4 + 4) = 1
    # z_i = w (y - r x) / X = 2 x (-1, 1) / 8 = (-0.25, 0.25); var = (1 - 2/4) x 2/1 x (0.25^2 + 0.25^2) = 0.125
    r, se = est.taylor_ratio([1, 3], [2, 2], [2, 2], ["h", "h"], ["p1", "p2"], [0.5, 0.5])
    assert r == 1.0 and se == pytest.approx(math.sqrt(0.125))
    # without the fpc the variance would double
    assert est.taylor_ratio([1, 3], [2, 2], [2, 2], ["h", "h"], ["p1", "p2"], [1, 1])[1] == pytest.approx(0.5)


def _counts(units, y, x):
    """Per-point counts where birth_omission_rate = B_miss / (B_reg + B_miss) is y / (x + y)."""
    out = pd.DataFrame(0, index=range(len(units)), columns=est.COUNT_COLUMNS)
    out.insert(0, "unit_code", units)
    out["B_miss"], out["B_reg"] = y, x
    return out


def test_certainty_stratum_adds_no_variance_and_no_df():
    sampled = [("A", "a1", 4, 2), ("A", "a2", 4, 2)]
    whole = [("C", "c1", 2, 2), ("C", "c2", 2, 2)]
    alone = est.make_design(_primary(sampled), ["A"], "srs")
    both = est.make_design(_primary(sampled + whole), ["A", "C"], "srs")
    assert (alone.df, both.df) == (1, 1)
    # a1: 1 missed of 1 + 1; a2: 3 of 3 + 1; c1: 0 of 0 + 5; c2: 2 of 2 + 3
    counts = _counts(["a1", "a2", "c1", "c2"], [1, 3, 0, 2], [1, 1, 5, 3])
    r_alone = est.county_rates(counts, alone, "truncated").set_index("metric").loc["birth_omission_rate"]
    r_both = est.county_rates(counts, both, "truncated").set_index("metric").loc["birth_omission_rate"]
    # estimate (2x1 + 2x3 + 0 + 2) / (2x2 + 2x4 + 5 + 5) = 10 / 22
    assert r_both.estimate == pytest.approx(10 / 22)
    # C adds to the totals (X) but not to the variance: with X = 22 instead of 12 only the scale changes.
    # z over A with r = 10/22: w (y - r x) / X for a1 = 2 (1 - 20/22) / 22, a2 = 2 (3 - 40/22) / 22
    z = np.array([2 * (1 - 20 / 22) / 22, 2 * (3 - 40 / 22) / 22])
    assert r_both.se == pytest.approx(math.sqrt(0.5 * 2 * ((z - z.mean()) ** 2).sum()))
    assert "自由度 1" in r_both.method and "必然入样" in r_both.method and "乡C" in r_both.method
    assert r_alone.se > 0
    # the jackknife yields replicates for A only: coefficient (1 - 2/4) x (2 - 1)/2 = 0.25 each
    replicates = list(est.jackknife_replicates(both))
    assert [c for c, _ in replicates] == [0.25, 0.25]
    assert [w.tolist() for _, w in replicates] == [[0.0, 4.0, 1.0, 1.0], [4.0, 0.0, 1.0, 1.0]]


def test_census_design_has_no_sampling_error():
    whole = [("A", "a1", 2, 2), ("A", "a2", 2, 2), ("C", "c1", 1, 1)]
    design = est.make_design(_primary(whole), ["A", "C"], "srs")
    assert design.census and design.df == 0 and design.collapsed == ()  # C (one village) is not collapsed
    assert list(est.jackknife_replicates(design)) == []
    rate = est.county_rates(_counts(["a1", "a2", "c1"], [1, 3, 0], [1, 1, 5]), design, "truncated")
    rate = rate.set_index("metric")
    row = rate.loc["birth_omission_rate"]
    assert row.estimate == pytest.approx(4 / 11) and row.se == 0
    assert row.ci_low == row.ci_high == row.estimate  # not a Clopper-Pearson interval on 11 records
    assert "全查" in row.method


def test_korn_graubard_convention_reaches_the_county_rates():
    # one stratum, 2 of 4 villages (weight 2, fpc 1/2): a1 1 missed of 10, a2 3 of 20 (birth_omission_rate)
    # r = (2x1 + 2x3) / (2x10 + 2x20) = 8/60 = 2/15; z = 2 (y - r x) / 60 = (-1/90, +1/90)
    # var = 1/2 x 2/1 x (2 / 90^2) = 1/4050; p(1 - p)/var = (2/15)(13/15) x 4050 = 468 effective records
    # from 30: a design effect of 0.064, which truncation raises to 1
    design = est.make_design(_primary([("A", "a1", 4, 2), ("A", "a2", 4, 2)]), ["A"], "srs")
    counts = _counts(["a1", "a2"], [1, 3], [9, 17])
    rows = {kg: est.county_rates(counts, design, kg).set_index("metric").loc["birth_omission_rate"]
            for kg in ("truncated", "untruncated")}
    se = math.sqrt(1 / 4050)
    assert rows["truncated"].se == pytest.approx(se)
    assert (rows["truncated"].ci_low, rows["truncated"].ci_high) == pytest.approx(korn_graubard(2 / 15, se, 30, 1))
    untruncated = korn_graubard(2 / 15, se, 30, 1, truncate=False)
    assert (rows["untruncated"].ci_low, rows["untruncated"].ci_high) == pytest.approx(untruncated)
    assert rows["untruncated"].ci_high - rows["untruncated"].ci_low < rows["truncated"].ci_high - rows["truncated"].ci_low
    assert "设计效应截断于 1" in rows["truncated"].method and "设计效应不截断" in rows["untruncated"].method
