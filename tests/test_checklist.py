"""checklist.py by hand: refs per unit and section, period filter, masked IDs, sort order."""

import datetime as dt

import pandas as pd

from chouyang.inputs.readers import Register
from chouyang.survey.check_rows import unit_checklists

START, END = dt.date(2015, 7, 1), dt.date(2016, 6, 30)
ID1, ID2, ID3 = "411381198803040021", "411381199005120045", "411381198501010061"


def _register() -> Register:
    women = pd.DataFrame({
        "person_id": [ID1, ID2, ID3], "name": ["王秀英", "李丽", "赵敏"],
        "birth_date": [dt.date(1988, 3, 4), dt.date(1990, 5, 12), dt.date(1985, 1, 1)],
        "unit_code": ["U1", "U1", "U2"], "household_no": ["0002", "0001", "0003"],
        "marital_status": ["初婚", "初婚", "再婚"], "contraception": ["上环", "无", "结扎"]})
    births = pd.DataFrame({
        "birth_id": ["B9", "B1", "B2"], "mother_id": [ID1, ID1, "411381199901010000"],
        "child_name": ["甲", "乙", "丙"], "sex": ["男", "女", "男"],
        "birth_date": [dt.date(2016, 6, 30), dt.date(2015, 6, 30), dt.date(2015, 7, 1)],
        "parity": [2, 1, 1], "policy": ["政策内"] * 3, "unit_code": ["U1", "U1", "U1"]})
    procedures = pd.DataFrame({"procedure_id": ["P1"], "person_id": [ID3], "type": ["结扎"],
                               "date": [dt.date(2016, 1, 5)], "unit_code": ["U2"]})
    return Register(women, births, procedures, None, {}, [])


def test_refs_order_and_period():
    lists = unit_checklists(_register(), ["U1", "U2", "U3"], START, END)
    women = lists["U1"].sections["women_check"]
    # sorted by household: 李丽 (0001) before 王秀英 (0002)
    assert list(zip(women.ref, women.name)) == [("W001", "李丽"), ("W002", "王秀英")]
    assert list(women.masked_id) == ["411381********0045", "411381********0021"]
    births = lists["U1"].sections["births_check"]
    # B1 (2015-06-30) is before the period; both ends of the period count: 2015-07-01 and 2016-06-30
    assert list(zip(births.ref, births.birth_id, births.birth_date_text)) == [
        ("B001", "B2", "2015-07-01"), ("B002", "B9", "2016-06-30")]
    assert list(births.mother_name) == ["（不在册）", "王秀英"]  # the first mother is not in the register
    assert lists["U2"].count("procedures_check") == 1 and lists["U2"].sections["procedures_check"].name[0] == "赵敏"
    assert lists["U3"].count("women_check") == 0 and lists["U3"].count("births_check") == 0
    assert "benefits_check" not in lists["U1"].sections  # no benefits file in the register


def test_refs_restart_in_every_unit():
    lists = unit_checklists(_register(), ["U1", "U2"], START, END)
    assert list(lists["U2"].sections["women_check"].ref) == ["W001"]


def test_procedures_on_both_ends_of_the_period_are_checked():
    register = _register()
    # P1 2016-01-05 is inside; P2 on the last day and P3 on the first day count too; P4, P5 a day outside
    register.procedures = pd.DataFrame({
        "procedure_id": ["P1", "P2", "P3", "P4", "P5"], "person_id": [ID3] * 5,
        "type": ["结扎", "上环", "取环", "补救措施", "上环"],
        "date": [dt.date(2016, 1, 5), END, START, dt.date(2016, 7, 1), dt.date(2015, 6, 30)], "unit_code": ["U2"] * 5})
    procs = unit_checklists(register, ["U2"], START, END)["U2"].sections["procedures_check"]
    assert list(zip(procs.ref, procs.procedure_id, procs.date_text)) == [
        ("S001", "P3", "2015-07-01"), ("S002", "P1", "2016-01-05"), ("S003", "P2", "2016-06-30")]
