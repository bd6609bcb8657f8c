"""estimate.py by hand: per-point counts, rate combinations, exact intervals and the linearised ratio SE.

(Korn-Graubard, the design's fpc and the jackknife are tested with their own hand-computed values
in the tests of issue 14's estimator points.)
"""

import math

import numpy as np
import pandas as pd
import pytest

from chouyang.checklist import UnitChecklist
from chouyang.estimate import (
    COUNT_COLUMNS,
    RATES,
    clopper_pearson,
    clopper_pearson_arrays,
    combine,
    rate,
    taylor_ratio,
    unit_counts,
)


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
