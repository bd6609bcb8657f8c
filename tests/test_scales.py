"""Numbers printed as tick scales, and fields not on paper (issue 18).

A count printed 0 1 2 3 4 5+ (witnesses, a checklist count) is an `integer` with a choice list and
`paper = "ticks"`; a rate printed as bands ≥65% / <65% is a `decimal` the same way.  Checked here:
the definition check (valid exactly with paper = "ticks"), the XLSForm export (the field stays a
number for pyxform, its list in chouyang::choices) and its reading back, validation (any number
within the constraint, "5+" typed as printed is stored 5), the engine's printed options (the list),
the scan of a tick on the top option, and `paper = "none"` (not printed, not scanned).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyxform.xls2xform import convert

from chouyang.assessment.scheme import load_scheme_preset
from chouyang.errors import ChouyangError
from chouyang.instruments import catalog, definition, xlsform
from chouyang.instruments.checklist import checklist_instrument
from chouyang.instruments.checks import check
from chouyang.instruments.model import Choice, ChoiceList, Field, Group, Instrument
from chouyang.instruments.responses import Response, normalise, sheet_where, validate
from chouyang.render.instrument_items import Answer, Question, Table, answer_for, print_plan
from chouyang.render.instrument_pdf import render_instrument
from chouyang.render.instrument_workbook import read_instrument_workbook, write_instrument_workbook
from chouyang.render.qr import PageId
from chouyang.scan.instrument import interpret
from chouyang.scan.marks import EMPTY, MARKED
from chouyang.scan.pages import PageRead
from chouyang.scan.rows import FieldRead

TODAY = date(2016, 7, 26)
SECRET = b"\x03" * 32
SUBJECT = {"unit_code": "411381001201", "unit_name": "东关社区", "township_name": "古城街道"}
WITNESSES = ChoiceList("witnesses", tuple(Choice(str(n), str(n)) for n in range(5)) + (Choice("5", "5+"),))
BANDS = ChoiceList("band_65", (Choice("65", "≥65%"), Choice("0", "<65%")))
YES_NO = ChoiceList("yes_no", (Choice("是", "是"), Choice("否", "否")))


def instrument(*fields: Field, repeat: bool = False) -> Instrument:
    group = Group("g", "核对", repeat=repeat, rows="blank" if repeat else None, blank_rows=2 if repeat else 0,
                  children=fields)
    return Instrument("scales", "勾选刻度测试表", "SC1", "1", "point", (group,),
                      {c.name: c for c in (WITNESSES, BANDS, YES_NO)}, source="scales.toml")


def witnesses(**kw) -> Field:
    spec = {"choices": "witnesses", "paper": "ticks", "constraint": ". >= 0", "constraint_message": "应为不小于 0 的整数"}
    return Field("witnesses", "integer", "反映群众人数", **(spec | kw))


def rate(**kw) -> Field:
    spec = {"choices": "band_65", "paper": "ticks", "constraint": ". >= 0 and . <= 100"}
    return Field("rate", "decimal", "示范村比例（%）", **(spec | kw))


FORM = instrument(Field("found", "select_one", "是否找到", choices="yes_no"), witnesses(), rate(),
                  Field("note", "text", "备注", paper="none"))


# --- the definition check ---------------------------------------------------------------------------

def test_a_number_with_a_choice_list_is_valid_exactly_when_printed_as_ticks():
    assert check(FORM) == []
    for paper in (None, "digits", "write"):
        (problem,) = check(instrument(witnesses(paper=paper)))
        assert problem.column == "group[1].field[1].choices" and problem.value == "witnesses"
        assert 'integer 题的选项列表只用于纸面的勾选刻度（如 0 1 2 3 4 5+）：请同时写 paper = "ticks"，或删除 choices' \
            in problem.message
    (problem,) = check(instrument(Field("t", "text", "文字", choices="yes_no", paper="ticks")))
    assert "只有选择题（select_one、select_multiple）以及印成勾选刻度的整数、小数题才有选项列表" in problem.message
    (problem,) = check(instrument(witnesses(choices="nope")))
    assert problem.message == "勾选刻度的选项列表不存在" and problem.value == "nope"


def test_a_scale_code_is_a_number_its_field_accepts():
    form = replace(FORM, choices={**FORM.choices, "witnesses": ChoiceList("witnesses", (Choice("0", "0"), Choice("5+", "5+")))})
    (problem,) = check(form)
    assert "选项「5+」的编码应为整数（勾选后存入的就是编码）" in problem.message and problem.value == "5+"
    (problem,) = check(instrument(witnesses(constraint=". >= 1")))   # a tick on 0 would be refused
    assert "选项「0」（编码 0）不符合本题的约束（constraint），勾选后会被拒收" in problem.message
    assert check(instrument(rate(choices="band_65", constraint=". >= 0 and . <= 100"))) == []
    # a constraint on other answers is checked at entry, not here
    assert check(instrument(Field("n", "integer", "人数"), witnesses(constraint=". <= ${n}"))) == []


# --- XLSForm ----------------------------------------------------------------------------------------

def test_export_keeps_the_number_for_pyxform_and_the_scale_in_its_own_column(tmp_path):
    path = tmp_path / "scales.xlsx"
    xlsform.export(FORM, path)
    ws = openpyxl.load_workbook(path)["survey"]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("name")]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True) if r[1]}
    assert (rows["witnesses"]["type"], rows["witnesses"]["chouyang::choices"], rows["witnesses"]["chouyang::paper"]) == \
        ("integer", "witnesses", "ticks")
    assert (rows["rate"]["type"], rows["rate"]["chouyang::choices"]) == ("decimal", "band_65")
    assert (rows["found"]["type"], rows["found"]["chouyang::choices"]) == ("select_one yes_no", None)
    warnings: list[str] = []
    xform = convert(str(path), warnings=warnings).xform
    assert warnings == []
    assert '<bind nodeset="/data/g/witnesses" type="int" constraint=". &gt;= 0"' in xform   # a phone keys a number
    assert '<bind nodeset="/data/g/rate" type="decimal"' in xform
    back = xlsform.read(path)
    assert back.children[1:] == FORM.children and back.choices == FORM.choices


def test_the_survey_form_round_trips_with_its_scales(tmp_path):
    survey = catalog.builtin("survey")
    xlsform.export(survey, tmp_path / "survey.xlsx")
    back = xlsform.read(tmp_path / "survey.xlsx")
    scales = [(f.name, f.type, f.choices) for f in back.fields() if f.is_scale]
    assert scales == [(f.name, f.type, f.choices) for f in survey.fields() if f.is_scale]
    assert sorted(set(scales)) == [("parity", "integer", "parity"), ("true_parity", "integer", "parity"),
                                   ("witnesses", "integer", "witnesses")]


def _xlsform_with(tmp_path, field_row: dict):
    path = tmp_path / "hand.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    columns = ["type", "name", "label", "chouyang::choices", "chouyang::paper"]
    ws.append(columns)
    ws.append([field_row.get(c) for c in columns])
    choices = wb.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    for c in WITNESSES.choices:
        choices.append(["witnesses", c.code, c.label])
    wb.create_sheet("settings").append(["form_id", "form_title"])
    wb["settings"].append(["hand", "手写表"])
    wb.save(path)
    return path


def test_reading_refuses_a_scale_without_ticks_or_on_a_select_at_its_cell(tmp_path):
    path = _xlsform_with(tmp_path, {"type": "integer", "name": "w", "label": "人数", "chouyang::choices": "witnesses"})
    with pytest.raises(ChouyangError) as info:
        xlsform.read(path)
    (problem,) = info.value.problems
    assert (problem.sheet, problem.row, problem.column) == ("survey", 2, "chouyang::choices")
    assert 'paper = "ticks"' in problem.message
    path = _xlsform_with(tmp_path, {"type": "select_one witnesses", "name": "w", "label": "人数",
                                    "chouyang::choices": "witnesses"})
    with pytest.raises(ChouyangError) as info:
        xlsform.read(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (2, "chouyang::choices") and "选择题的选项列表写在 type 列" in problem.message
    path = _xlsform_with(tmp_path, {"type": "integer", "name": "w", "label": "人数", "chouyang::choices": "witnesses",
                                    "chouyang::paper": "ticks"})
    assert xlsform.read(path).fields()[-1] == Field("w", "integer", "人数", choices="witnesses", paper="ticks")


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("field, typed, stored", [
    (witnesses(), "3", "3"), (witnesses(), "7", "7"), (witnesses(), "5+", "5"), (witnesses(), "2.0", "2"),
    (witnesses(), "５", "5"), (rate(), "71.3", "71.3"), (rate(), "65", "65"), (rate(), "≥65%", "65"), (rate(), "<65%", "0"),
])
def test_any_number_is_stored_as_typed_and_a_printed_label_as_its_code(field, typed, stored):
    assert normalise(FORM, field, typed) == (stored, None)


def _problems(values: dict) -> list[tuple[str, str]]:
    raw = Response(FORM.name, SUBJECT["unit_code"], "", values)
    _, problems = validate(FORM, raw, TODAY, sheet_where("w.xlsx", top_row=4))
    return [(p.column, p.message) for p in problems]


def test_the_constraint_not_the_list_decides_what_is_valid():
    assert _problems({"witnesses": "12", "rate": "71.3", "note": "入户三次"}) == []
    assert _problems({"witnesses": "-1", "rate": "101"}) == [
        ("反映群众人数（witnesses）", "应为不小于 0 的整数"),
        ("示范村比例（%）（rate）", "不符合要求（本项大于或等于0且本项小于或等于100）")]
    assert _problems({"witnesses": "6+"}) == [("反映群众人数（witnesses）", "应为整数")]   # not a printed label


@given(st.integers(0, 10 ** 6))
def test_every_whole_number_of_witnesses_is_valid_and_kept(n):
    raw = Response(FORM.name, SUBJECT["unit_code"], "", {"witnesses": str(n)})
    normalised, problems = validate(FORM, raw, TODAY, sheet_where("w.xlsx"))
    assert problems == [] and normalised.values["witnesses"] == str(n)


# --- the engine: printed options, the scan, paper = "none" ------------------------------------------

def test_the_engine_prints_a_scale_as_its_list():
    assert answer_for(FORM, witnesses()) == Answer("ticks", (("0", "0"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"),
                                                             ("5+", "5")))
    assert answer_for(FORM, rate()) == Answer("ticks", (("≥65%", "65"), ("<65%", "0")))
    # a small constraint range would print 0 … 3; the list wins
    assert [o[0] for o in answer_for(FORM, witnesses(constraint=". >= 0 and . <= 3")).options] == \
        ["0", "1", "2", "3", "4", "5+"]
    assert answer_for(FORM, rate(choices=None, paper="write")).kind == "write"
    assert answer_for(FORM, Field("note", "text", "备注", paper="none")).kind == "none"
    assert answer_for(FORM, Field("n", "integer", "数", prefill="n", paper="none")).kind == "none"
    questions = [q.field.name for q in print_plan(FORM) if isinstance(q, Question)]
    assert questions == ["found", "witnesses", "rate"]   # 备注 is asked in the workbook, not on paper


def test_the_survey_forms_witnesses_and_parity_print_their_scales():
    survey = catalog.builtin("survey")
    tables = {t.group.name: t for t in print_plan(survey) if isinstance(t, Table)}
    columns = {c.key: c for c in tables["births_check"].columns}
    assert columns["witnesses"].answer.options == (("0", "0"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"), ("5+", "5"))
    assert columns["true_parity"].answer.options == (("1", "1"), ("2", "2"), ("3", "3"), ("4+", "4"))
    assert columns["parity"].kind == "printed"   # the register's parity: printed, never ticked


def _reads(record: dict, ticks: dict[str, str], blank_index: int | None = None, written=()) -> list[PageRead]:
    """The pages of a layout record read with only `ticks` (field key -> option label) marked (in blank
    row `blank_index` only, when given)."""
    reads = []
    for i, page in enumerate(record["pages"], start=1):
        rows = []
        for row in page["rows"]:
            fields = {}
            here = blank_index is None or row.get("blank_index") == blank_index
            for key, f in row["fields"].items():
                states = [MARKED if here and ticks.get(key) == o["label"] else EMPTY for o in f.get("options", [])]
                fields[key] = FieldRead(key, f["kind"], f["label"], f.get("options", []), states,
                                        written=here and key in written)
            rows.append({k: row.get(k) for k in ("ref", "section", "blank_index", "y", "h", "header")} | {"fields": fields})
        page_id = PageId("R", SUBJECT["unit_code"], record["form"], i, len(record["pages"]))
        reads.append(PageRead("p.png", i, page_id=page_id, rows=rows))
    return reads


def test_a_tick_on_the_top_option_stores_its_code_and_the_unprinted_note_is_not_expected(tmp_path):
    form = instrument(Field("result", "select_one", "是否属实", choices="yes_no"), witnesses(), rate(),
                      Field("note", "text", "备注", paper="none"), repeat=True)
    record = render_instrument(form, SUBJECT, {}, SECRET, "R", "测试", tmp_path / "s.pdf")
    keys = {k for page in record["pages"] for row in page["rows"] for k in row["fields"]}
    assert keys == {"result", "witnesses", "rate"}   # nothing printed for 备注
    row = next(r for r in record["pages"][0]["rows"] if r["blank_index"] == 1)
    assert [o["label"] for o in row["fields"]["witnesses"]["options"]] == ["0", "1", "2", "3", "4", "5+"]
    assert row["fields"]["witnesses"]["open_top"] is True
    response, review = interpret(form, _reads(record, {"result": "否", "witnesses": "5+", "rate": "≥65%"}, 1), record)
    assert response.rows["g"] == [{"result": "否", "witnesses": "5", "rate": "65"}] and review == []
    normalised, problems = validate(form, response, TODAY, sheet_where("s.pdf"))
    assert problems == [] and normalised.rows["g"][0]["note"] == ""
    # pages printed while 备注 was still on paper: what is written there goes to review, nothing is stored
    old = replace(form, children=(replace(form.children[0], children=form.children[0].children[:3] + (
        Field("note", "text", "备注"),)),))
    old_record = render_instrument(old, SUBJECT, {}, SECRET, "R", "测试", tmp_path / "old.pdf")
    reads = _reads(old_record, {"result": "是"}, 1, written={"note"})
    response, review = interpret(form, reads, old_record)
    assert response.rows["g"] == [{"result": "是"}]
    new_row = "新发现的一行，请核对并补录手写内容"   # a blank row with writing on it
    assert [item.issues for item in review] == [[new_row, "「备注」不是本调查表纸面上的题目（页面可能按另一版本印制），请人工核对"]]
    assert interpret(old, reads, old_record)[1][0].issues == [new_row, "「备注」有手写内容，请人工录入"]


@pytest.fixture(scope="module")
def dengzhou(tmp_path_factory):
    inst = checklist_instrument(load_scheme_preset("dengzhou-2016h1"))
    subject = {"unit_code": "411381102", "unit_name": "罗庄镇", "township_name": "罗庄镇"}
    record = render_instrument(inst, subject, {}, SECRET, "R", "测试", tmp_path_factory.mktemp("zl1") / "zl1.pdf")
    return inst, record


def test_the_dengzhou_checklist_prints_on_9_pages_without_its_unprinted_cells(dengzhou):
    inst, record = dengzhou
    assert len(record["pages"]) == 9   # 13 while 备注 and needless 文件名称或文号 boxes were printed; ZL1 prints 5
    printed = {f["field"] for page in record["pages"] for row in page["rows"] for f in row["fields"].values()}
    unprinted = {f.name for f in inst.fields() if f.paper == "none"}
    assert len(unprinted) > 40 and not printed & unprinted
    assert printed == {f.name for f in inst.fields() if f.type != "note" and f.paper != "none" and f.prefill is None}


def test_a_scanned_band_stores_what_the_scanned_checklist_stores(dengzhou):
    """A tick on ≥65% stores 65, as scan/checklist does (option value 65, with its note), and validates as a rate."""
    inst, record = dengzhou
    reads = _reads(record, {"item_A3.1.2": "≥65%", "item_A1.2.4": "2+"})
    response, _ = interpret(inst, reads, record)
    assert (response.values["item_A3.1.2"], response.values["item_A1.2.4"]) == ("65", "2")
    spec = next(f for page in record["pages"] for row in page["rows"] for k, f in row["fields"].items() if k == "item_A3.1.2")
    assert json.dumps(spec["options"], ensure_ascii=False).count('"value": "') == 2
    assert [(o["label"], o["value"]) for o in spec["options"]] == [("≥65%", "65"), ("<65%", "0")]
    field = next(f for f in inst.fields() if f.name == "item_A3.1.2")
    assert (field.type, field.paper, field.constraint) == ("decimal", "ticks", ". >= 0 and . <= 100")
    assert normalise(inst, field, "65") == ("65", None) and normalise(inst, field, "71.3") == ("71.3", None)


def test_the_entry_workbook_takes_a_count_above_the_printed_scale(tmp_path):
    path = tmp_path / "w.xlsx"
    write_instrument_workbook(FORM, SUBJECT, {}, path, {"round_id": "R"})
    wb = openpyxl.load_workbook(path)
    ws = wb["核对"]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    assert ws.cell(rows["witnesses"], 5).value == "纸面勾选：0、1、2、3、4、5+（此处填数字，可超出纸面最高档）"
    assert ws.cell(rows["found"], 5).value == "选项：是、否"
    ws.cell(rows["witnesses"], 4).value = 7
    ws.cell(rows["rate"], 4).value = 71.3
    ws.cell(rows["note"], 4).value = "入户三次"   # asked in the workbook though not printed
    wb.save(path)
    response = read_instrument_workbook(FORM, path, TODAY)
    assert {k: v for k, v in response.values.items() if v} == {"witnesses": "7", "rate": "71.3", "note": "入户三次"}


def test_a_definition_file_keeps_its_scales():
    text = catalog.dumps(FORM)
    assert 'name = "witnesses"\ntype = "integer"\nlabel = "反映群众人数"\nchoices = "witnesses"' in text
    assert definition.loads(text, FORM.source) == FORM
