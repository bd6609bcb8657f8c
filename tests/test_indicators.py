"""indicators.py by hand: what confirmed cases change in a sample point, ratio correction, rates."""

import datetime as dt
import math

import pandas as pd

from chouyang.checklist import UnitChecklist
from chouyang.indicators import corrected_totals, indicator_rates, township_register, unit_ingredients
from chouyang.inputs import Register
from chouyang.rules import load_preset

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
