"""The survey form's layout and vocab's column tables, derived from the survey definition (issue 18 point 4)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chouyang import vocab
from chouyang.errors import ChouyangError
from chouyang.instruments import catalog
from chouyang.instruments.model import Field, Group
from chouyang.instruments.sheets import Sheets
from chouyang.render.layout import Option, load_layout

SURVEY = catalog.builtin("survey")

# What the stages read before the tables were derived (the hand-written vocab of chouyang 0.1).
OLD_ENTRY_COLUMNS = {
    "women_check": ("result", "actual_contraception", "witnesses", "verified", "note"),
    "births_check": ("result", "true_sex", "true_birth_date", "true_parity", "witnesses", "verified", "note"),
    "procedures_check": ("result", "true_type", "witnesses", "verified", "note"),
    "benefits_check": ("result", "witnesses", "verified", "note"),
    "missed_births": ("mother_id", "mother_name", "child_name", "sex", "birth_date", "parity", "policy",
                      "witnesses", "verified", "note"),
    "missed_women": ("person_id", "name", "birth_date", "marital_status", "contraception", "witnesses", "verified", "note"),
}
OLD_REGISTER_LABELS = {
    "women_check": {"name": "姓名", "person_id": "身份证号", "birth_date": "出生日期", "household_no": "户编号",
                    "marital_status": "婚姻状况", "contraception": "节育措施"},
    "births_check": {"mother_name": "母亲姓名", "child_name": "子女姓名", "sex": "性别", "birth_date": "出生日期",
                     "parity": "孩次", "policy": "政策属性"},
    "procedures_check": {"name": "姓名", "type": "手术类型", "date": "手术日期"},
    "benefits_check": {"name": "姓名", "program": "项目", "amount": "金额"},
}
OLD_ENTRY_LABELS = {"ref": "编号", "result": "核实结果", "witnesses": "反映群众人数", "verified": "调查组查实",
                    "true_sex": "实际性别", "true_birth_date": "实际出生日期", "true_parity": "实际孩次",
                    "true_type": "实际手术类型", "actual_contraception": "实际节育措施", "note": "备注"}
WITNESSES = (("0", 0), ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5+", 5))
PARITY = (("1", 1), ("2", 2), ("3", 3), ("4+", 4))


def test_vocab_tables_are_the_ones_the_stages_always_read():
    assert vocab.ENTRY_COLUMNS == OLD_ENTRY_COLUMNS
    assert vocab.REGISTER_LABELS == OLD_REGISTER_LABELS
    assert {k: vocab.ENTRY_LABELS[k] for k in OLD_ENTRY_LABELS} == OLD_ENTRY_LABELS
    assert vocab.SCALES == {"witnesses": WITNESSES, "true_parity": PARITY, "parity": PARITY}
    assert vocab.CONFIRM_TOP == ("true_parity", "parity")
    for sheet in vocab.CHECK_SHEETS:
        assert vocab.sheet_columns(sheet) == ("ref",) + tuple(OLD_REGISTER_LABELS[sheet]) + OLD_ENTRY_COLUMNS[sheet]
    assert vocab.sheet_columns("missed_women") == ("ref",) + OLD_ENTRY_COLUMNS["missed_women"]
    with pytest.raises(AttributeError):
        vocab.NO_SUCH_TABLE  # noqa: B018
    # ENTRY_LABELS is keyed by column alone: every sheet must give an entry column the same label
    for sheet in vocab.SHEETS:
        for key in vocab.ENTRY_COLUMNS[sheet]:
            assert vocab.label_for(sheet, key) == vocab.ENTRY_LABELS[key], (sheet, key)


def test_choices_offered_per_column():
    assert vocab.choices_for("women_check", "result") == ("属实", "查无此人", "迁出", "死亡")
    assert vocab.choices_for("births_check", "true_sex") == ("男", "女")
    assert vocab.choices_for("missed_women", "contraception") == ("上环", "结扎", "皮埋", "药具", "无", "其他")
    # a count scale is entered as a number (the workbook validates 0..99), free text offers nothing
    assert vocab.choices_for("women_check", "witnesses") is None
    assert vocab.choices_for("missed_births", "parity") is None
    assert vocab.choices_for("births_check", "parity") is None and vocab.choices_for("births_check", "note") is None
    assert vocab.options_for("births_check", "true_parity") == PARITY
    assert vocab.options_for("women_check", "verified") == (("是", "是"), ("否", "否"))
    assert vocab.label_for("missed_births", "mother_id") == "母亲身份证号"
    with pytest.raises(KeyError):
        vocab.label_for("women_check", "nope")


def test_the_survey_layout_columns_kinds_and_widths():
    layout = load_layout()
    assert layout.code == "HC2" and layout.form["title"] == "人口和计划生育抽样调查核查表"
    assert layout.form["min_blank_rows"] == 10 and "section_titles" not in layout.form
    assert [s.key for s in layout.sections] == list(vocab.CHECK_SHEETS + vocab.MISSED_SHEETS)
    women = layout.section("women_check")
    assert (women.title, women.blank) == ("育龄妇女核对", False)
    kinds = {c.key: c.kind for c in women.columns}
    assert kinds == {"ref": "register", "name": "register", "person_id": "register", "birth_date": "register",
                     "household_no": "register", "marital_status": "register", "contraception": "register",
                     "result": "ticks", "actual_contraception": "ticks", "witnesses": "ticks", "verified": "ticks",
                     "note": "write"}
    widths = {c.key: c.width for c in women.columns}
    # 4 results x 6.5, 6 measures x 6.0, 6 counts x 5.5, 2 x 6.5; 备注 takes the rest of 286 - 11 mm
    assert (widths["result"], widths["actual_contraception"], widths["witnesses"], widths["verified"]) == (26, 36, 33, 13)
    assert widths["note"] == pytest.approx(275 - (11 + 16 + 24 + 17 + 20 + 10 + 10) - (26 + 36 + 33 + 13)) == 59
    witnesses = next(c for c in women.columns if c.key == "witnesses")
    assert witnesses.options[-1] == Option("5+", 5) and (witnesses.open_top, witnesses.confirm_top) == (True, False)
    result = next(c for c in women.columns if c.key == "result")
    assert result.options[1] == Option("查无此人", "查无此人") and not result.open_top
    missed = layout.section("missed_births")
    assert missed.blank and [c.kind for c in missed.columns][:3] == ["register", "write", "write"]
    parity = next(c for c in missed.columns if c.key == "parity")
    assert [o.value for o in parity.options] == [1, 2, 3, 4] and parity.confirm_top


def _with_field(group_name: str, field_name: str, **changes):
    """The survey definition with one field of one group changed (a round's own survey definition)."""
    def change(g: Group) -> Group:
        if g.name != group_name:
            return g
        return replace(g, children=tuple(replace(f, **changes) if isinstance(f, Field) and f.name == field_name else f
                                         for f in g.children))
    return replace(SURVEY, children=tuple(change(g) for g in SURVEY.children), source="round/instruments/survey.toml")


def test_a_rounds_own_definition_changes_the_printed_form():
    own = _with_field("procedures_check", "name", width=30.0, label="受术者姓名")
    section = load_layout(own).section("procedures_check")
    name, note = section.columns[1], section.columns[-1]
    assert (name.label, name.width) == ("受术者姓名", 30.0)
    assert note.width == pytest.approx(load_layout().section("procedures_check").columns[-1].width - 14)


def test_a_too_wide_section_is_refused_in_chinese():
    own = _with_field("women_check", "person_id", width=200.0)
    with pytest.raises(ChouyangError) as info:
        load_layout(own)
    (problem,) = info.value.problems
    assert problem.file == "round/instruments/survey.toml"
    # 备注 had 59 mm; 176 mm more for the ID leaves -117 mm, 127 mm short of the 10 mm it keeps
    assert "women_check（育龄妇女核对）" in problem.message and "超出表格 127.0 毫米" in problem.message


def test_two_columns_without_a_width_are_refused():
    own = _with_field("women_check", "name", width=None)
    with pytest.raises(ChouyangError) as info:
        load_layout(own)
    assert "只能有一列不写宽度" in info.value.problems[0].message and "name、note" in info.value.problems[0].message


@settings(max_examples=30, deadline=None)
@given(st.floats(5, 30), st.floats(3, 9))
def test_the_columns_always_fill_the_table_width(name_width, pitch):
    own = _with_field("procedures_check", "name", width=name_width)
    own = replace(own, children=tuple(
        replace(g, children=tuple(replace(f, option_width=pitch) if f.name == "true_type" else f for f in g.children))
        if g.name == "procedures_check" else g for g in own.children))
    section = load_layout(own).section("procedures_check")
    assert sum(c.width for c in section.columns) == pytest.approx(286 - 11)
    true_type = next(c for c in section.columns if c.key == "true_type")
    assert true_type.width == pytest.approx(4 * pitch)


def test_sheets_of_a_test_instrument():
    inst = replace(SURVEY, children=SURVEY.children[:1])
    sheets = Sheets(inst)
    assert list(sheets.sheets) == ["women_check"]
    assert sheets.entry_columns() == {"women_check": OLD_ENTRY_COLUMNS["women_check"]}
    assert sheets.scales() == {"witnesses": WITNESSES} and sheets.confirm_top() == ()
