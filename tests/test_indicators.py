"""indicators.py by hand: what confirmed cases change in a sample point, ratio correction, rates, county totals."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from chouyang.config.rules import load_preset
from chouyang.inputs.readers import Register
from chouyang.survey import estimate as est
from chouyang.survey.check_rows import UnitChecklist
from chouyang.survey.indicators import (
    RATIOS,
    corrected_totals,
    correction_inputs,
    county_corrected,
    indicator_rates,
    township_register,
    unit_ingredients,
)
from chouyang.survey.score import county_indicators

RULES = load_preset("per-type-cap15")  # confirmed = >= 3 witnesses and verified
YES = {"witnesses": "3", "verified": "是"}

CHECKLIST = UnitChecklist("U1", {
    "women_check": pd.DataFrame({"ref": ["W001", "W002"], "marital_status": ["初婚", "初婚"],
                                 "contraception": ["上环", "无"]}),
    "births_check": pd.DataFrame({"ref": ["B001", "B002"], "sex": ["男", "女"], "policy": ["政策内", "政策外"]}),
})
ENTRIES = {"U1": {
    "births_check": [{"ref": "B001", "result": "虚报", **YES},                    # removes a boy, 政策内
                     {"ref": "B002", "result": "错报", "true_sex": "男", **YES}],  # the girl is a boy
    "missed_births": [{"sex": "女", "policy": "政策内", **YES},                    # adds a girl, 政策内
                      {"sex": "男", "policy": "政策外", "witnesses": "1", "verified": "是"}],  # pending: nothing
    "women_check": [{"ref": "W001", "result": "查无此人", **YES},                 # a married 上环 woman less
                    {"ref": "W002", "result": "属实"}],
    "missed_women": [{"marital_status": "再婚", "contraception": "皮埋", **YES},   # a married 皮埋 woman more
                     {"marital_status": "未婚", "contraception": "无", **YES}],    # unmarried: no change
}}


def test_unit_ingredients_by_hand():
    [row] = unit_ingredients({"U1": CHECKLIST}, ENTRIES, RULES).to_dict("records")
    assert row == {"unit_code": "U1",
                   # register: 2 births (1 boy, 1 girl, 1 政策内); 2 married women, 1 long-acting (上环)
                   "reg_births": 2, "reg_comp": 1, "reg_male": 1, "reg_female": 1, "reg_married": 2, "reg_la": 1,
                   # true: 2 - 1 (虚报) + 1 (漏报) births; boys 1 - 1 + 1 (错报 girl->boy); girls 1 - 1 + 1;
                   # 政策内 1 - 1 + 1; married 2 - 1 + 1; long-acting 1 - 1 (上环 gone) + 1 (皮埋)
                   "true_births": 2, "true_comp": 1, "true_male": 1, "true_female": 1, "true_married": 2,
                   "true_la": 1}


def test_nothing_entered_means_true_equals_register():
    [row] = unit_ingredients({"U1": CHECKLIST}, {}, RULES).to_dict("records")
    assert all(row[f"true_{k}"] == row[f"reg_{k}"] for k in ("births", "comp", "male", "female", "married", "la"))


def _ingredients(unit, town, reg_births, true_births):
    ones = {f"{p}_{k}": 1 for p in ("reg", "true") for k in ("comp", "male", "female", "married", "la")}
    return {"unit_code": unit, "township_code": town, "reg_births": reg_births, "true_births": true_births, **ones}


def test_corrected_totals_ratio_and_county_fallback():
    town_reg = pd.DataFrame({"births": [100.0, 50.0], "comp": 10.0, "male": 10.0, "female": 10.0,
                             "married": 10.0, "la": 10.0}, index=pd.Index(["T1", "T2"], name="township_code"))
    ingredients = pd.DataFrame([_ingredients("U1", "T1", 2, 3), _ingredients("U2", "T2", 0, 1)])
    totals, flags = corrected_totals(town_reg, ingredients, pd.Series({"U1": 5.0, "U2": 2.0}))
    # T1: 100 x 3/2 = 150.  T2 has no births in its sample: the county ratio
    # (5*3 + 2*1) / (5*2 + 2*0) = 17/10 applies: 50 x 1.7 = 85, and T2 is flagged.
    assert totals.births.tolist() == [150.0, 85.0]
    assert totals.comp.tolist() == [10.0, 10.0]  # ratio 1 where register and truth agree
    assert flags == {"T2": ["出生数"]}


def test_indicator_rates_by_hand():
    totals = pd.DataFrame({"births": [150.0, 0.0], "comp": [75.0, 0.0], "male": [80.0, 0.0], "female": [70.0, 0.0],
                           "married": [200.0, 0.0], "la": [150.0, 0.0]}, index=["T1", "T2"])
    rates = indicator_rates(totals)
    assert rates.loc["T1", "compliance_rate"] == 0.5                      # 75 / 150
    assert math.isclose(rates.loc["T1", "sex_ratio"], 100 * 80 / 70)     # 114.29 boys per 100 girls
    assert rates.loc["T1", "longacting_rate"] == 0.75                     # 150 / 200
    assert math.isnan(rates.loc["T2", "compliance_rate"])                 # 0 / 0 is no rate


def _two_townships():
    """T1 and T2 each drew 2 of their 4 villages (weight 2); register births of the whole townships 100 and 50."""
    town_reg = pd.DataFrame({"births": [100.0, 50.0], "comp": 10.0, "male": 10.0, "female": 10.0,
                             "married": 10.0, "la": 10.0}, index=pd.Index(["T1", "T2"], name="township_code"))
    # register / true births in the sample: U1 2/3, U2 0/1 (few births), U3 4/4, U4 1/2
    ingredients = pd.DataFrame([_ingredients("U1", "T1", 2, 3), _ingredients("U2", "T1", 0, 1),
                                _ingredients("U3", "T2", 4, 4), _ingredients("U4", "T2", 1, 2)])
    return town_reg, ingredients


def test_combined_and_separate_county_ratio_by_hand():
    town_reg, ingredients = _two_townships()
    ci = correction_inputs(town_reg, ingredients)
    w = np.full(4, 2.0)
    births = list(RATIOS).index("births")
    # separate: T1 100 x (2x3 + 2x1)/(2x2 + 2x0) = 100 x 8/4 = 200; T2 50 x (2x4 + 2x2)/(2x4 + 2x1) = 50 x 12/10 = 60
    assert county_corrected(ci, w, "separate")[births] == pytest.approx(260.0)
    # combined: (100 + 50) x (2x3 + 2x1 + 2x4 + 2x2)/(2x2 + 2x0 + 2x4 + 2x1) = 150 x 20/14 = 214.2857
    assert county_corrected(ci, w, "combined")[births] == pytest.approx(1500 / 7)
    # the other ratios are 1 either way: 10 + 10
    assert county_corrected(ci, w, "combined")[list(RATIOS).index("comp")] == pytest.approx(20.0)
    # the townships' own figures do not depend on the county estimator
    totals, flags = corrected_totals(town_reg, ingredients, pd.Series(2.0, index=["U1", "U2", "U3", "U4"]))
    assert totals.births.tolist() == [200.0, 60.0] and flags == {}
    with pytest.raises(ValueError):
        county_corrected(ci, w, "pooled")


def test_corrected_births_jackknife_by_hand():
    """T1 and T2 each drew 2 of 4 villages (weight 2, fpc 1 - 2/4); the two-township toy above."""
    town_reg, ingredients = _two_townships()
    primary = pd.DataFrame({"township_code": ["T1", "T1", "T2", "T2"], "township_name": ["一", "一", "二", "二"],
                            "unit_code": ["U1", "U2", "U3", "U4"], "inclusion_prob": 0.5, "weight": 2.0})
    design = est.make_design(primary, ["T1", "T2"], "srs")
    # combined, 150 x 20/14 = 1500/7.  Drop one point, double its partner's weight:
    #   drop U1: (4x1 + 2x4 + 2x2)/(4x0 + 2x4 + 2x1) = 16/10 -> 240;  drop U2: 24/18 -> 200
    #   drop U3: (2x3 + 2x1 + 4x2)/(2x2 + 0 + 4x1) = 16/8 -> 300;     drop U4: 24/20 -> 180
    # var = (1 - 2/4) x (2 - 1)/2 x sum (theta_r - 1500/7)^2 = 0.25 x (180^2 + 100^2 + 600^2 + 240^2)/7^2
    #     = 0.25 x 460000/49 = 115000/49; df = 4 points - 2 strata = 2, t_{0.975, 2} = 4.302653
    row = county_indicators(town_reg, ingredients, design, "combined").set_index("metric").loc["corrected_births"]
    assert row.estimate == pytest.approx(1500 / 7)
    assert row.se == pytest.approx(math.sqrt(115000 / 49))  # 48.445; without the fpc it would be 68.51
    assert row.ci_low == pytest.approx(1500 / 7 - 4.302653 * math.sqrt(115000 / 49), abs=1e-4)
    assert "合并比率估计" in row.method and "自由度 2" in row.method
    # separate, 200 + 60 = 260.  drop U1: T1 has no register birth left and takes the county ratio
    #   (4x1 + 2x4 + 2x2)/(0 + 2x4 + 2x1) = 1.6 -> 160 + 60 = 220;  drop U2: 100 x 12/8 + 60 = 210
    #   drop U3: 200 + 50 x 8/4 = 300;  drop U4: 200 + 50 x 16/16 = 250
    # var = 0.25 x (40^2 + 50^2 + 40^2 + 10^2) = 0.25 x 5800 = 1450
    row = county_indicators(town_reg, ingredients, design, "separate").set_index("metric").loc["corrected_births"]
    assert (row.estimate, row.se) == (pytest.approx(260.0), pytest.approx(math.sqrt(1450)))
    assert "分别比率估计" in row.method
def test_township_register_counts_births_on_both_ends_of_the_period():
    start, end = dt.date(2015, 7, 1), dt.date(2016, 6, 30)
    frame = pd.DataFrame({"unit_code": ["U1", "U2", "U3"], "township_code": ["T1", "T1", "T2"]})
    women = pd.DataFrame({"person_id": ["A", "B", "C"], "unit_code": ["U1", "U2", "U3"],
                          "marital_status": ["初婚", "未婚", "再婚"], "contraception": ["上环", "无", "药具"]})
    births = pd.DataFrame({
        "birth_id": ["B1", "B2", "B3", "B4", "B5"], "unit_code": ["U1", "U2", "U1", "U2", "U3"],
        "birth_date": [start, end, dt.date(2015, 6, 30), dt.date(2016, 7, 1), dt.date(2016, 1, 1)],
        "sex": ["男", "女", "男", "女", "女"], "policy": ["政策内", "政策外", "政策内", "政策内", "政策内"]})
    table = township_register(Register(women, births, women.iloc[0:0], None, {}, []), frame, start, end)
    # T1: B1 (first day, boy, 政策内) and B2 (last day, girl, 政策外) count; B3 and B4 are a day outside.
    # T2: B5.  Married: A (初婚, 上环 long-acting) in T1, C (再婚, 药具) in T2; B is unmarried.
    assert table.to_dict("index") == {
        "T1": {"births": 2.0, "comp": 1.0, "male": 1.0, "female": 1.0, "married": 1.0, "la": 1.0},
        "T2": {"births": 1.0, "comp": 1.0, "male": 0.0, "female": 1.0, "married": 1.0, "la": 0.0}}


def test_unit_ingredients_count_only_confirmed_corrections_by_hand():
    # register of one point: births B1 男 政策内, B2 男 政策外, B3 女 政策内;
    # women W1 初婚 上环, W2 再婚 结扎, W3 初婚 无, W4 未婚 上环 (not married: in no count)
    births = pd.DataFrame({"ref": ["B1", "B2", "B3"], "sex": ["男", "男", "女"], "parity": [1, 2, 1],
                           "policy": ["政策内", "政策外", "政策内"]})
    women = pd.DataFrame({"ref": ["W1", "W2", "W3", "W4"], "marital_status": ["初婚", "再婚", "初婚", "未婚"],
                          "contraception": ["上环", "结扎", "无", "上环"]})
    cl = UnitChecklist("U1", {"births_check": births, "women_check": women})
    yes, no = {"witnesses": "3", "verified": "是"}, {"witnesses": "2", "verified": "是"}  # rules: >= 3 and verified
    entries = {"U1": {
        "births_check": [{"ref": "B1", "result": "虚报", **yes},                  # B1 did not happen
                         {"ref": "B2", "result": "错报", "true_sex": "女", **yes},  # B2 is a girl
                         {"ref": "B3", "result": "虚报", **no}],                  # pending: changes nothing
        "women_check": [{"ref": "W1", "result": "查无此人", **yes},              # a married 上环 woman gone
                        {"ref": "W3", "result": "查无此人", **no}],              # pending
        "missed_births": [{"sex": "男", "policy": "政策内", "parity": "1", **yes},
                          {"sex": "女", "policy": "政策外", "parity": "2", **no}],  # pending
        "missed_women": [{"marital_status": "初婚", "contraception": "结扎", **yes},
                         {"marital_status": "未婚", "contraception": "上环", **yes}],  # not married
    }, "U2": {"births_check": [{"ref": "B3", "result": "虚报", **yes}]}}  # another point's entries
    [row] = unit_ingredients({"U1": cl}, entries, RULES).to_dict("records")
    assert {k: row[k] for k in row if k.startswith("reg_")} == {
        "reg_births": 3, "reg_comp": 2, "reg_male": 2, "reg_female": 1, "reg_married": 3, "reg_la": 2}
    # births 3 - B1 + the missed boy = 3; 政策内 2 - B1 + 1 = 2; boys 2 - B1 - B2 + 1 = 1; girls 1 + B2 = 2
    # married 3 - W1 + the missed 初婚 woman = 3; long-acting 2 - W1 (上环) + her 结扎 = 2
    assert {k: row[k] for k in row if k.startswith("true_")} == {
        "true_births": 3, "true_comp": 2, "true_male": 1, "true_female": 2, "true_married": 3, "true_la": 2}
