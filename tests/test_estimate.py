"""estimate.py by hand: the Korn-Graubard interval, the design's fpc per stratum, certainty strata, the
jackknife, per-point counts, rate combinations, exact intervals and the linearised ratio SE."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chouyang.survey import estimate as est
from chouyang.survey.check_rows import UnitChecklist
from chouyang.survey.estimate import (
    COUNT_COLUMNS,
    RATES,
    clopper_pearson,
    clopper_pearson_arrays,
    combine,
    korn_graubard,
    rate,
    taylor_ratio,
    unit_counts,
)


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



def _checklist(unit, births=0, women=0, procedures=(), benefits=None):
    sections = {"births_check": pd.DataFrame({"ref": [f"B{i}" for i in range(births)]}),
                "women_check": pd.DataFrame({"ref": [f"W{i}" for i in range(women)]}),
                "procedures_check": pd.DataFrame({"ref": [f"S{i}" for i in range(len(procedures))],
                                                  "unit_code": [unit] * len(procedures), "type": list(procedures)},
                                                 columns=["ref", "unit_code", "type"])}
    if benefits is not None:
        sections["benefits_check"] = pd.DataFrame({"ref": [f"Z{i}" for i in range(benefits)]})
    return UnitChecklist(unit, sections)


def _cases(*rows):
    return pd.DataFrame([{"unit_code": u, "kind": k, "procedure_type": p, "confirmed": c} for u, k, p, c in rows],
                        columns=["unit_code", "kind", "procedure_type", "confirmed"])


def test_unit_counts_by_hand():
    checklists = {"U1": _checklist("U1", births=2, women=3, procedures=["上环", "结扎"]),
                  "U2": _checklist("U2", births=1, women=1, procedures=["补救措施", "取环"], benefits=2),
                  "U3": _checklist("U3")}
    cases = _cases(("U1", "birth_false", "", 1), ("U1", "birth_wrong", "", 1), ("U1", "birth_missed", "", 1),
                   ("U1", "birth_missed", "", 0),                      # pending: counts nowhere
                   ("U1", "woman_false", "", 1), ("U1", "procedure_false", "上环", 1),
                   ("U1", "procedure_wrong", "结扎", 1),
                   ("U2", "woman_missing", "", 1), ("U2", "benefit_error", "", 1),
                   ("U2", "procedure_false", "补救措施", 0),              # pending
                   ("U2", "procedure_wrong", "取环", 1))
    table = unit_counts(checklists, cases)
    assert list(table.columns) == ["unit_code"] + COUNT_COLUMNS
    got = table.set_index("unit_code").to_dict("index")
    zero = dict.fromkeys(COUNT_COLUMNS, 0)
    assert got["U1"] == dict(zero, B_reg=2, B_false=1, B_wrong=1, B_miss=1, W_reg=3, W_false=1,
                             P_reg_iud=1, P_false_iud=1, P_reg_steril=1, P_wrong_steril=1,
                             records_checked=7,   # 2 births + 3 women + 0 benefits + 2 procedures
                             found_missing=1,     # the confirmed missed birth
                             all_cases=6)         # every confirmed case of U1
    assert got["U2"] == dict(zero, B_reg=1, W_reg=1, W_miss=1, Z_reg=2, Z_err=1, P_reg_remedial=1,
                             P_reg_removal=1, P_wrong_removal=1, records_checked=6, found_missing=1, all_cases=3)
    assert got["U3"] == zero
    assert table.unit_code.tolist() == ["U1", "U2", "U3"]  # the checklists' order


def test_combine_and_rate_definitions():
    counts = pd.DataFrame({"B_reg": [10, 4], "B_false": [1, 0], "B_miss": [2, 1], "B_wrong": [0, 3]})
    num, den, label = RATES["birth_omission_rate"]
    assert label == "出生漏报率"
    assert combine(counts, num).tolist() == [2.0, 1.0]
    assert combine(counts, den).tolist() == [11.0, 5.0]  # B_reg - B_false + B_miss
    num, den, _ = RATES["birth_error_rate"]
    assert combine(counts, num).tolist() == [3.0, 4.0] and combine(counts, den).tolist() == [12.0, 5.0]
    assert rate(1, 4) == 0.25 and math.isnan(rate(1, 0)) and rate(0, 3) == 0.0


def test_clopper_pearson_by_hand():
    # x = 0: upper = 1 - (alpha/2)^(1/n); x = n: lower = (alpha/2)^(1/n); alpha = 0.05, n = 10
    assert clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** 0.1))       # 0.30850
    assert clopper_pearson(10, 10) == (pytest.approx(0.025 ** 0.1), 1.0)          # 0.69150
    assert clopper_pearson(0, 10, level=0.9)[1] == pytest.approx(1 - 0.05 ** 0.1)  # 0.25887
    # x = 5 of 10: symmetric, the Beta(5, 6) 2.5 % and Beta(6, 5) 97.5 % points
    low, high = clopper_pearson(5, 10)
    assert (low, high) == (pytest.approx(0.187086, abs=1e-6), pytest.approx(0.812914, abs=1e-6))
    assert all(math.isnan(v) for v in clopper_pearson(0, 0))


def test_clopper_pearson_arrays_match_the_scalar_version():
    x, n = [0, 1, 5, 10, 0, 3], [10, 10, 10, 10, 0, 7]
    low, high = clopper_pearson_arrays(x, n)
    for i in range(4):
        assert (low[i], high[i]) == pytest.approx(clopper_pearson(x[i], n[i]), abs=1e-12)
    assert np.isnan(low[4]) and np.isnan(high[4])
    assert (low[5], high[5]) == pytest.approx(clopper_pearson(3, 7), abs=1e-12)
    low90, high90 = clopper_pearson_arrays([0], [10], level=0.9)
    assert low90[0] == 0.0 and high90[0] == pytest.approx(1 - 0.05 ** 0.1)


def test_taylor_ratio_by_hand():
    # stratum A (fpc 0.5): PSU a1 (y 1, x 10, w 2), a2 (y 3, x 10, w 2); stratum B (fpc 1): b1 (0, 5, 4),
    # b2 (2, 5, 4); stratum C: one PSU c1 (2, 5, 4), which adds to r but not to the variance.
    # Y = 2 + 6 + 0 + 8 + 8 = 24, X = 20 + 20 + 20 + 20 + 20 = 100, r = 0.24;
    # z = w (y - r x) / X: a -0.028, 0.012; b -0.048, 0.032; c 0.032
    # var = 0.5 * 2/1 * (0.02^2 + 0.02^2) + 1 * 2/1 * (0.04^2 + 0.04^2) = 0.0008 + 0.0064 = 0.0072
    y, x, w = [1, 3, 0, 2, 2], [10, 10, 5, 5, 5], [2, 2, 4, 4, 4]
    stratum, psu, fpc = ["A", "A", "B", "B", "C"], ["a1", "a2", "b1", "b2", "c1"], [0.5, 0.5, 1, 1, 1]
    r, se = taylor_ratio(y, x, w, stratum, psu, fpc)
    assert r == pytest.approx(0.24) and se == pytest.approx(math.sqrt(0.0072))
    # a PSU's rows are summed first: a1 as two rows of half the counts gives the same answer
    r2, se2 = taylor_ratio([0.5, 0.5] + y[1:], [5, 5] + x[1:], [2] + w, ["A"] + stratum, ["a1"] + psu, [0.5] + fpc)
    assert (r2, se2) == (pytest.approx(r), pytest.approx(se))
    # the same PSU name in two strata is two PSUs
    r3, se3 = taylor_ratio(y, x, w, stratum, ["p1", "p2", "p1", "p2", "p1"], fpc)
    assert (r3, se3) == (pytest.approx(r), pytest.approx(se))
    assert all(math.isnan(v) for v in taylor_ratio([1], [0], [1], ["A"], ["a"], [1]))


def test_one_point_township_joins_the_neighbour_before_it_else_after_it():
    rows = [("A", "a1", 10, 2), ("A", "a2", 10, 2), ("B", "b1", 4, 2), ("B", "b2", 4, 2), ("D", "d1", 5, 1)]
    # first in frame order: D has no township before it, so it joins the one after it (A, not B)
    assert est.make_design(_primary(rows), ["D", "A", "B"], "srs").collapsed == (("乡D", "乡A"),)
    # second: it joins the one before it (A), not the one after it (B)
    assert est.make_design(_primary(rows), ["A", "D", "B"], "srs").collapsed == (("乡D", "乡A"),)
    # two townships, one of them a single point: still collapsed
    assert est.make_design(_primary(rows[:2] + rows[4:]), ["A", "D"], "srs").collapsed == (("乡D", "乡A"),)
    # a county of one one-point township has nothing to join
    lone = est.make_design(_primary(rows[4:]), ["D"], "srs")
    assert lone.collapsed == () and lone.df == 0


def test_jackknife_of_a_three_point_stratum_after_a_certainty_stratum():
    # C (taken whole) comes first and yields nothing; A drew 3 of 6 villages (weight 2, fpc 1 - 3/6 = 0.5)
    design = est.make_design(_primary([("C", "c1", 1, 1), ("A", "a1", 6, 3), ("A", "a2", 6, 3), ("A", "a3", 6, 3)]),
                             ["C", "A"], "srs")
    replicates = list(est.jackknife_replicates(design))
    # coefficient (1 - f)(n - 1)/n = 0.5 x 2/3 = 1/3; the kept points weigh 2 x 3/2 = 3, the dropped one 0
    assert [c for c, _ in replicates] == pytest.approx([1 / 3] * 3)
    assert [w.tolist() for _, w in replicates] == [[1.0, 0.0, 3.0, 3.0], [1.0, 3.0, 0.0, 3.0],
                                                   [1.0, 3.0, 3.0, 0.0]]


def test_korn_graubard_edges_of_df_and_n():
    # df 0 (no degrees of freedom): no t-ratio; n* = min(0.2 x 0.8 / 0.05^2 = 64, 50) = 50 -> CP(10 of 50)
    assert korn_graubard(0.2, 0.05, 50, df=0) == pytest.approx(clopper_pearson(10, 50))
    # df 1: n* = 50 x (t_{0.975,49} / t_{0.975,1})^2 = 50 x (2.009575 / 12.706205)^2 = 1.250682
    assert stats.t.ppf(0.975, 49) == pytest.approx(2.009575, abs=1e-6)
    assert stats.t.ppf(0.975, 1) == pytest.approx(12.706205, abs=1e-6)
    n1 = 50 * (2.009575 / 12.706205) ** 2
    assert n1 == pytest.approx(1.250682, abs=1e-6)
    assert korn_graubard(0.2, 0.05, 50, df=1) == pytest.approx(clopper_pearson(0.2 * n1, n1), abs=1e-6)
    # one record, SE 0: n* = n = 1 and no t-ratio (t with 0 df does not exist) -> CP(1 of 1) = [0.025, 1]
    assert korn_graubard(1.0, 0.0, 1, df=3) == pytest.approx((0.025, 1.0))
    # two records: n* = 0.25 / 0.5^2 = 1, times (t_{0.975,1} / t_{0.975,3})^2 = (12.706205 / 3.182446)^2 = 15.940
    n2 = (12.706205 / 3.182446) ** 2
    assert n2 == pytest.approx(15.9405, abs=1e-3)
    assert korn_graubard(0.5, 0.5, 2, df=3) == pytest.approx(clopper_pearson(0.5 * n2, n2), abs=1e-6)
    assert all(math.isnan(v) for v in korn_graubard(0.5, 0.1, 0, df=3) + korn_graubard(float("nan"), 0.1, 9, 3))
