"""cases.py by hand: which entered rows are error cases, their kinds, parities and confirmation."""

from types import SimpleNamespace

import pandas as pd

from chouyang.config.rules import load_preset
from chouyang.survey.cases import CASE_COLUMNS, cases_frame, is_confirmed, unit_cases
from chouyang.survey.check_rows import UnitChecklist

RULES = load_preset("per-type-cap15")  # min_witnesses = 3, require_verified = true

CHECKLIST = UnitChecklist("U1", {
    "women_check": pd.DataFrame({"ref": ["W001", "W002"], "marital_status": ["初婚", "未婚"],
                                 "contraception": ["上环", "无"]}),
    "births_check": pd.DataFrame({"ref": ["B001", "B002"], "parity": [1, 3], "sex": ["男", "女"],
                                  "policy": ["政策内", "政策外"]}),
    "procedures_check": pd.DataFrame({"ref": ["S001"], "type": ["结扎"]}),
})
ENTRIES = {
    "women_check": [{"ref": "W001", "result": "查无此人", "witnesses": "3", "verified": "是"},
                    {"ref": "W002", "result": "迁出"}],                      # 迁出 is no error
    "births_check": [{"ref": "B001", "result": "属实"},
                     {"ref": "B002", "result": "错报", "true_parity": "", "witnesses": "5", "verified": "否"}],
    "procedures_check": [{"ref": "S001", "result": "虚报", "witnesses": "2", "verified": "是"}],
    "missed_births": [{"parity": "2", "witnesses": "4", "verified": "是"}],
    "missed_women": [{"witnesses": "3", "verified": "是"}],
}


def test_is_confirmed_needs_enough_witnesses_and_verification():
    assert is_confirmed("3", "是", RULES)          # 3 >= 3 and verified
    assert not is_confirmed("2", "是", RULES)      # too few witnesses
    assert not is_confirmed("3", "否", RULES)      # not verified while the rules require it
    assert not is_confirmed("", "是", RULES) and not is_confirmed(None, "是", RULES)
    lenient = SimpleNamespace(confirmation=SimpleNamespace(min_witnesses=3, require_verified=False))
    assert is_confirmed("3", "否", lenient) and not is_confirmed("2", "是", lenient)


def test_unit_cases_by_hand():
    cases = unit_cases("T1", CHECKLIST, ENTRIES, RULES)
    got = [(c["kind"], c["ref"], c["parity"], c["procedure_type"], c["confirmed"]) for c in cases]
    assert got == [
        ("woman_false", "W001", "", "", 1),         # 查无此人, 3 witnesses, verified
        ("birth_wrong", "B002", "3", "", 0),        # register parity 3 (no true parity); not verified: pending
        ("procedure_false", "S001", "", "结扎", 0),  # 2 witnesses < 3: pending
        ("birth_missed", "MB001", "2", "", 1),
        ("woman_missing", "MW001", "", "", 1),
    ]
    assert all(c["township_code"] == "T1" and c["unit_code"] == "U1" for c in cases)


def test_true_parity_wins_over_register_parity():
    entries = {"births_check": [{"ref": "B001", "result": "错报", "true_parity": "3", "witnesses": "3",
                                 "verified": "是"}]}
    [case] = unit_cases("T1", CHECKLIST, entries, RULES)
    assert (case["kind"], case["parity"], case["confirmed"]) == ("birth_wrong", "3", 1)


def test_cases_frame_has_the_contract_columns_even_when_empty():
    assert list(cases_frame([]).columns) == CASE_COLUMNS
    assert len(cases_frame(unit_cases("T1", CHECKLIST, ENTRIES, RULES))) == 5


def test_case_rows_carry_witnesses_and_verification_as_entered():
    cases = unit_cases("T1", CHECKLIST, ENTRIES, RULES)
    assert cases[0] == {"township_code": "T1", "unit_code": "U1", "kind": "woman_false", "ref": "W001", "parity": "",
                        "procedure_type": "", "programme": "", "result": "查无此人", "witnesses": "3", "verified": "是",
                        "confirmed": 1}
    assert [(c["witnesses"], c["verified"]) for c in cases] == [("3", "是"), ("5", "否"), ("2", "是"), ("4", "是"),
                                                                ("3", "是")]
    # a row without witnesses, verification or parity: empty text, pending, scored as a first or second child
    [missed] = unit_cases("T1", CHECKLIST, {"missed_births": [{}]}, RULES)
    assert (missed["parity"], missed["witnesses"], missed["verified"], missed["confirmed"]) == ("", "", "", 0)


def test_a_checklist_without_a_section_skips_only_that_sheet():
    # no women section (and no benefits): the births and procedures entries still give their cases
    sections = {k: v for k, v in CHECKLIST.sections.items() if k != "women_check"}
    cases = unit_cases("T1", UnitChecklist("U1", sections), ENTRIES, RULES)
    assert [c["kind"] for c in cases] == ["birth_wrong", "procedure_false", "birth_missed", "woman_missing"]


def test_benefit_cases_carry_the_programme_of_their_register_row():
    # the points of a benefit error depend on its programme (孕前优生 is charged for 资格 only)
    benefits = pd.DataFrame({"ref": ["Z001", "Z002", "Z003"], "name": ["甲", "乙", "丙"],
                             "program": ["奖励扶助", "孕前优生健康检查", "特别扶助"], "amount": [960, 0, 1620]})
    checklist = UnitChecklist("U1", {"benefits_check": benefits})
    entries = {"benefits_check": [{"ref": "Z001", "result": "发放不符", "witnesses": "3", "verified": "是"},
                                  {"ref": "Z002", "result": "资格不符", "witnesses": "3", "verified": "是"},
                                  {"ref": "Z003", "result": "属实"}]}
    cases = unit_cases("T1", checklist, entries, RULES)
    assert [(c["kind"], c["ref"], c["result"], c["programme"]) for c in cases] == [
        ("benefit_error", "Z001", "发放不符", "奖励扶助"), ("benefit_error", "Z002", "资格不符", "孕前优生健康检查")]
