"""deductions.py by hand: rule per case, points only when confirmed, the cap per township."""

import pandas as pd

from chouyang.config.rules import load_preset
from chouyang.survey.deductions import apply_cap, assign_points, rule_for, township_deductions

RULES = load_preset("per-type-cap15")  # 一、二孩 2, 多孩 3, 上环 1, 结扎 2, 资格 2, 妇女 0; cap 15


def _case(kind, parity="", procedure_type="", confirmed=1, township="T1"):
    return {"township_code": township, "unit_code": "U1", "kind": kind, "ref": "", "parity": parity,
            "procedure_type": procedure_type, "witnesses": "3", "verified": "是", "confirmed": confirmed}


def test_rule_for_each_kind():
    assert rule_for(_case("birth_missed", "2")) == "birth_parity_1_2"
    assert rule_for(_case("birth_false", "3")) == "birth_false"          # 虚报 has its own rule (issue 10)
    assert rule_for(_case("birth_wrong", "")) == "birth_parity_1_2"       # no parity known: counted as 1
    assert rule_for(_case("procedure_false", procedure_type="上环")) == "iud_false_or_wrong"
    assert rule_for(_case("procedure_wrong", procedure_type="补救措施")) == "remedial_wrong"
    assert rule_for(_case("procedure_false", procedure_type="补救措施")) == "remedial_false"
    assert rule_for(dict(_case("benefit_error"), result="资格不符")) == "eligibility_error"
    assert rule_for(dict(_case("benefit_error"), result="发放不符")) == "payment_error"
    assert rule_for(_case("woman_missing")) == "woman_missing"
    # a benefit case without its 核实结果 (a cases.csv written before results were kept): 资格确认误差,
    # the one benefit error the seed charges for every programme
    assert rule_for(_case("benefit_error")) == "eligibility_error"


def test_points_only_for_confirmed_cases():
    cases = pd.DataFrame([_case("birth_missed", "1"), _case("birth_wrong", "3"), _case("birth_false", "3"),
                          _case("procedure_false", procedure_type="结扎", confirmed=0),
                          _case("woman_false")])
    out = assign_points(cases, RULES)
    assert list(out.rule) == ["birth_parity_1_2", "birth_parity_3plus", "birth_false",
                              "sterilisation_false_or_wrong", "woman_false"]
    # 虚报 0 in 第1篇; the pending 结扎 case carries its rule but 0 points
    assert list(out.points) == [2.0, 3.0, 0.0, 0.0, 0.0]


def test_benefit_points_per_programme():
    # "“三项制度”资格确认和资金发放误差、“孕前优生健康检查”资格确认误差每例扣2分":
    # 孕前优生 is charged for 资格确认 only, 三项制度 (奖励扶助 …) for both
    rows = [dict(_case("benefit_error"), result=r, programme=p)
            for r, p in (("资格不符", "奖励扶助"), ("发放不符", "奖励扶助"), ("资格不符", "孕前优生健康检查"),
                         ("发放不符", "孕前优生健康检查"))]
    out = assign_points(pd.DataFrame(rows), RULES)
    assert list(out.rule) == ["eligibility_error", "payment_error", "eligibility_error", "payment_error"]
    assert list(out.points) == [2.0, 2.0, 2.0, 0.0]


def test_cap_per_township():
    # T1: 8 confirmed 一孩 cases = 16 points, capped at 15; T2: one 多孩 case = 3; T3: clean
    cases = assign_points(pd.DataFrame([_case("birth_missed", "1")] * 8 + [_case("birth_missed", "3",
                                                                                  township="T2")]), RULES)
    table = township_deductions(cases, ["T1", "T2", "T3"], RULES).set_index("township_code")
    assert table.deduction_raw.to_dict() == {"T1": 16.0, "T2": 3.0, "T3": 0.0}
    assert table.deduction.to_dict() == {"T1": 15.0, "T2": 3.0, "T3": 0.0}
    assert apply_cap(16.0, 15.0) == 15.0 and apply_cap(3.0, 15.0) == 3.0


def test_no_cases_gives_zero_for_every_township():
    empty = assign_points(pd.DataFrame([_case("birth_missed")]).iloc[0:0], RULES)
    assert township_deductions(empty, ["T1"], RULES).deduction.tolist() == [0.0]
