"""instruments.responses (validate) and instruments.export, on the hand-written fixture of responses_support."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from responses_support import VISIT, VISIT_POINT

from chouyang import atomic
from chouyang.errors import ChouyangError
from chouyang.instruments.export import csv_bytes, export_rows, read_cell, safe_cell, write_csv
from chouyang.instruments.model import Field, Group, Instrument
from chouyang.instruments.responses import Response, normalise, sheet_where, validate

TODAY = date(2026, 12, 7)
FIELDS = {f.name: f for f in VISIT.fields()}


def answers(**values) -> dict[str, str]:
    base = {"unit_code": "411381001001", "visited": "1", "people": "3", "methods": "iud", "income": "1200",
            "visit_date": "2026-11-30", "remark": ""}
    base.update(values)
    return base


def check(values=None, rows=None, instrument=VISIT):
    raw = Response(instrument.name, "411381001001", "", values if values is not None else answers(), rows or {}, "a.xlsx")
    return validate(instrument, raw, TODAY, sheet_where("a.xlsx", top_row=5, first_row=3))


def where_and_what(problems):
    return [(p.sheet, p.row, p.column, p.message) for p in problems]


# --- one value by type --------------------------------------------------------------------------

@pytest.mark.parametrize("name, given, stored", [
    ("visited", "1", "1"), ("visited", "否", "2"), ("visited", "  是 ", "1"),
    ("methods", "pill iud", "iud pill"), ("methods", "结扎  iud", "iud ster"), ("methods", "iud iud", "iud"),
    ("people", "3", "3"), ("people", "3.0", "3"), ("people", "03", "3"), ("people", "-2", "-2"), ("people", "３", "3"),
    ("income", "1200.50", "1200.5"), ("income", "0.0", "0"), ("income", "1e3", "1000"), ("income", ".5", "0.5"),
    ("income", "-0.25", "-0.25"),
    ("visit_date", "2026-03-05", "2026-03-05"), ("visit_date", "2026/3/5", "2026-03-05"),
    ("visit_date", "20260305", "2026-03-05"), ("visit_date", "46086", "2026-03-05"),   # Excel: 45658 is 2025-01-01
    ("visit_date", "2026/3/5 0:00", "2026-03-05"), ("visit_date", "2026-03-05 00:00:00", "2026-03-05"),
    ("remark", "  门口有狗  ", "门口有狗"), ("remark", "第一行\r\n第二行", "第一行\n第二行"), ("remark", "=1+2", "=1+2"),
    ("unit_code", " 411381001001 ", "411381001001"), ("reason", "", ""),
])
def test_accepted_values_are_stored_normalised(name, given, stored):
    assert normalise(VISIT, FIELDS[name], given) == (stored, None)


@pytest.mark.parametrize("name, given, reason", [
    ("visited", "3", "「3」不是可选的选项（可选：1 是、2 否）"),
    ("visited", "是 否", "「是 否」不是可选的选项"),
    ("methods", "iud coil", "「coil」不是可选的选项"),
    ("people", "3.5", "应为整数"), ("people", "三", "应为整数"), ("people", "1,000", "应为整数"),
    ("income", "abc", "应为数字"), ("income", "nan", "应为数字"), ("income", "inf", "应为数字"), ("income", "1.2.3", "应为数字"),
    ("visit_date", "2026-02-30", "日期应写成 YYYY-MM-DD"), ("visit_date", "5.3.2026", "日期应写成"),
    ("visit_date", "1899-12-31", "日期不在 1900—2100 年之间"), ("visit_date", "2026/3/5 下午", "日期应写成"),
    ("visit_date", "2026-03-05 13:30", "日期应写成"),
    ("remark", "响铃\x07", "含有控制字符"), ("remark", "x" * 2001, "文字超过 2000 个字符"),
])
def test_refused_values_say_why(name, given, reason):
    stored, why = normalise(VISIT, FIELDS[name], given)
    assert why is not None and why.startswith(reason)
    assert stored == given.strip()


def test_a_whole_response_is_normalised_and_notes_are_dropped():
    values = answers(visited="是", methods="药具 上环", income="1,200".replace(",", ""), visit_date="2026/11/30", intro="x")
    out, problems = check(values)
    assert problems == []
    assert out.values == {"unit_code": "411381001001", "visited": "1", "reason": "", "people": "3", "methods": "iud pill",
                          "income": "1200", "visit_date": "2026-11-30", "remark": ""}
    assert out.rows == {"women": []}


# --- relevant, required, constraint -------------------------------------------------------------

def test_skipped_question_with_a_value_is_refused_and_the_condition_shown_in_words():
    out, problems = check(answers(visited="2", reason="外出务工", people="3", methods="", income=""))
    assert where_and_what(problems) == [
        ("survey", 5, "在家人数（people）", "此题应跳过（条件「是否入户为“1”」不成立：是否入户填的是“2”（否）），"
                                           "却填了值；为留痕不自动删除，请核对前面的回答，或清空此题"),
    ]
    assert problems[0].value == "3"
    assert out.values["people"] == "3"   # kept, not dropped: the audit sees what was written


def test_required_when_relevant_only():
    _, problems = check(answers(visited="2", reason="", people="", methods="", income=""))
    assert where_and_what(problems) == [("survey", 5, "未入户原因（reason）", "必填，未填写")]
    _, problems = check(answers(visited="1", income=""))       # required="${visited} = '1'"
    assert where_and_what(problems) == [("survey", 5, "人均收入（income）", "必填，未填写")]
    _, problems = check(answers(visited="2", reason="外出", people="", methods="", income=""))
    assert problems == []


def test_constraint_message_and_default_message():
    _, problems = check(answers(people="25", visit_date="2026-12-08"))
    assert where_and_what(problems) == [
        ("survey", 5, "在家人数（people）", "在家人数应在 0—20 之间"),
        ("survey", 5, "走访日期（visit_date）", "不符合要求（本项小于或等于今天）"),
    ]
    assert [p.value for p in problems] == ["25", "2026-12-08"]
    assert check(answers(people="20", visit_date="2026-12-07"))[1] == []


def test_a_refused_value_does_not_cascade_into_the_questions_that_depend_on_it():
    _, problems = check(answers(visited="x", reason="外出", people="3", income=""))
    assert [(p.column, p.message.split("（")[0]) for p in problems] == [("是否入户（visited）", "「x」不是可选的选项")]


def test_unknown_fields_and_repeats_are_refused():
    _, problems = check({**answers(), "age": "30"}, rows={"children": [{"x": "1"}]})
    assert where_and_what(problems) == [
        ("survey", 5, "age", "调查表中没有字段「age」（或它不属于这一部分）"),
        ("survey", 5, "children", "调查表中没有重复组「children」"),
    ]


def test_repeat_rows_see_the_top_level_values_and_are_located_by_row():
    rows = {"women": [{"ref": "W1", "result": "属实"},
                      {"ref": "W2", "result": "wrong", "true_birth_date": "2026/12/01"},
                      {"ref": "W3", "result": "错报"},
                      {"ref": "W4", "result": "gone", "true_birth_date": "1990-01-01"}]}
    out, problems = check(answers(), rows)
    assert out.rows["women"] == [
        {"ref": "W1", "result": "ok", "true_birth_date": ""},
        {"ref": "W2", "result": "wrong", "true_birth_date": "2026-12-01"},
        {"ref": "W3", "result": "wrong", "true_birth_date": ""},
        {"ref": "W4", "result": "gone", "true_birth_date": "1990-01-01"},
    ]
    assert [(p.sheet, p.row, p.column, p.message[:12]) for p in problems] == [
        ("育龄妇女核对", 4, "实际出生日期（true_birth_date）", "实际出生日期不能晚于走访"),   # 12-01 > visit_date 11-30
        ("育龄妇女核对", 5, "实际出生日期（true_birth_date）", "必填，未填写"),
        ("育龄妇女核对", 6, "实际出生日期（true_birth_date）", "此题应跳过（条件「核实结"),
    ]


def test_every_problem_is_listed_not_only_the_first():
    values = answers(visited="1", people="abc", methods="coil", income="x", visit_date="明天", remark="\x00")
    _, problems = check(values, {"women": [{"ref": "W1", "result": "?"}]})
    assert [p.column for p in problems] == ["在家人数（people）", "节育措施（methods）", "人均收入（income）",
                                            "走访日期（visit_date）", "备注（remark）", "核实结果（result）"]


def test_a_row_value_shadows_a_refused_top_level_value_of_the_same_name():
    rows = Group("rows", "明细", repeat=True, rows="blank", children=(
        Field("n", "integer", "人数"), Field("why", "text", "说明", relevant="${n} > 2")))
    inst = replace(VISIT_POINT, children=(Field("unit_code", "calculate", "村代码"), Field("n", "integer", "总人数"), rows))
    _, problems = check({"unit_code": "1", "n": "x"}, {"rows": [{"n": "1", "why": "多填"}]}, instrument=inst)
    assert [(p.sheet, p.column) for p in problems] == [("survey", "总人数（n）"), ("明细", "说明（why）")]


def test_group_relevant_applies_to_its_fields():
    section = Group("extra", "补充", relevant="${visited} = '1'", children=(Field("phone", "text", "电话"),))
    inst = replace(VISIT_POINT, children=VISIT_POINT.children + (section,))
    _, problems = check({**answers(visited="2", reason="外出", people="", methods="", income=""), "phone": "138"}, instrument=inst)
    assert [p.column for p in problems] == ["电话（phone）"] and "补充" not in problems[0].message


def test_an_expression_that_does_not_parse_is_a_definition_error():
    broken = replace(VISIT_POINT, children=(Field("unit_code", "calculate", "村代码"),
                                            Field("n", "integer", "人数", constraint=". >> 3")))
    with pytest.raises(ChouyangError) as err:
        validate(broken, Response("visit_point", "1", "", {}, {}, "a.csv"), TODAY, sheet_where("a.csv"))
    assert err.value.problems[0].file == "visit.toml" and err.value.problems[0].column == "人数（n）"


# --- idempotence (property) ---------------------------------------------------------------------

_CELL = st.sampled_from(["", " ", "1", "2", "是", "否", "x", "3", "3.0", "-1", "25", "iud", "pill iud", "上环 结扎", "coil",
                         "1200.50", ".5", "abc", "2026-11-30", "2026/3/5", "20260305", "46086", "2027-01-01", "2026-02-30",
                         "=1+2", " 备注 ", "a\x07", "ok", "wrong", "属实", "错报"])


@settings(max_examples=150, deadline=None)
@given(top=st.fixed_dictionaries({n: _CELL for n in ("visited", "reason", "people", "methods", "income", "visit_date", "remark")}),
       women=st.lists(st.fixed_dictionaries({"ref": st.sampled_from(["W1", "W2"]), "result": _CELL, "true_birth_date": _CELL}),
                      max_size=3))
def test_validate_is_idempotent(top, women):
    first, problems = check({"unit_code": "411381001001", **top}, {"women": women})
    second, again = check(first.values, first.rows)
    assert second == first
    assert len(again) == len(problems)
    if not problems:
        assert again == []


# --- export -------------------------------------------------------------------------------------

def _response(unit, values, rows=None):
    return Response("visit", unit, "", values, rows or {}, "a.csv")


def test_export_point_level_rows_by_hand():
    responses = [_response("411381001001", answers(methods="iud pill")),
                 _response("411381001002", answers(visited="2", reason="外出", people="", methods="", remark="-见背面"))]
    header, rows = export_rows(VISIT_POINT, responses)
    assert header == ["unit_code", "visited", "reason", "people", "methods", "income", "visit_date", "remark"]
    assert rows == [["411381001001", "1", "", "3", "iud pill", "1200", "2026-11-30", ""],
                    ["411381001002", "2", "外出", "", "", "1200", "2026-11-30", "'-见背面"]]


def test_export_one_row_per_repeat_row_with_group_and_ref():
    women = [{"ref": "W1", "result": "ok", "true_birth_date": ""}, {"ref": "W2", "result": "wrong", "true_birth_date": "1990-05-01"}]
    responses = [_response("411381001001", answers(remark="@sum"), {"women": women}), _response("411381001002", answers())]
    header, rows = export_rows(VISIT, responses)
    assert header == ["unit_code", "group", "ref", "result", "true_birth_date",
                      "visited", "reason", "people", "methods", "income", "visit_date", "remark"]
    assert rows == [
        ["411381001001", "women", "W1", "ok", "", "1", "", "3", "iud", "1200", "2026-11-30", "'@sum"],
        ["411381001001", "women", "W2", "wrong", "1990-05-01", "1", "", "3", "iud", "1200", "2026-11-30", "'@sum"],
        ["411381001002", "", "", "", "", "1", "", "3", "iud", "1200", "2026-11-30", ""],   # nothing to check: still one line
    ]


def test_export_of_several_repeats_uses_the_union_of_their_fields():
    kids = Group("kids", "漏报出生", repeat=True, rows="blank", children=(Field("child_name", "text", "子女姓名"),
                                                                          Field("result", "select_one", "核实", choices="result")))
    inst = replace(VISIT, children=VISIT.children + (kids,))
    r = _response("1", {"visited": "1"}, {"women": [{"ref": "W1", "result": "ok"}], "kids": [{"child_name": "小明", "result": ""}]})
    header, rows = export_rows(inst, [r])
    assert header[:6] == ["unit_code", "group", "ref", "result", "true_birth_date", "child_name"]
    assert [row[:6] for row in rows] == [["1", "women", "W1", "ok", "", ""], ["1", "kids", "", "", "", "小明"]]


@pytest.mark.parametrize("text, written", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+86 138", "'+86 138"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("-3", "-3"), ("-0.5", "-0.5"), ("张三", "张三"), ("", ""),
])
def test_formula_looking_cells_are_written_as_text(text, written):
    assert safe_cell(text) == written
    assert read_cell(written) == text


@given(st.text(alphabet="'=+-@\t3a", max_size=6) | st.text(max_size=12))
@example("'=x")
@example("'-3")
def test_read_cell_undoes_safe_cell(text):
    assert read_cell(safe_cell(text)) == text


def test_write_csv_is_utf8_with_bom_and_atomic(tmp_path):
    header, rows = export_rows(VISIT_POINT, [_response("411381001001", answers(remark="=1+2，逗号,和\"引号\""))])
    path = tmp_path / "visit_point.csv"
    write_csv(path, header, rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw == csv_bytes(header, rows)
    back = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert back[0] == header and back[1][-1] == "'=1+2，逗号,和\"引号\""
    assert atomic.leftovers(tmp_path) == []


def test_instrument_fixture_has_every_field_type():
    assert {f.type for f in VISIT.fields()} == {"select_one", "select_multiple", "integer", "decimal", "date", "text",
                                                "note", "calculate"}
    assert isinstance(VISIT, Instrument)


def test_export_of_a_person_level_instrument_carries_the_subject_key():
    person = replace(VISIT_POINT, per="person")
    r = replace(_response("411381001001", answers()), key="W7")
    header, rows = export_rows(person, [r])
    assert header[:3] == ["unit_code", "key", "visited"] and rows[0][:3] == ["411381001001", "W7", "1"]


def test_repeat_row_keys_are_unique_and_fixed_rows_are_the_listed_ones():
    rows = {"women": [{"ref": "W1", "result": "ok"}, {"ref": "W2", "result": "ok"}, {"ref": "W1", "result": "gone"}]}
    _, problems = check(answers(), rows)
    assert where_and_what(problems) == [("育龄妇女核对", 5, "编号（ref）", "与第 3 行的编号相同：同一条记录只能核对一次")]
    items = Group("items", "检查项目", repeat=True, rows="fixed", key="item", fixed=(("A1", "台账"), ("A2", "档案")),
                  children=(Field("item", "text", "项目"), Field("ok", "select_one", "符合", choices="yn")))
    inst = replace(VISIT_POINT, children=VISIT_POINT.children + (items,))
    _, problems = check(answers(), {"items": [{"item": "A1", "ok": "1"}, {"item": "B9", "ok": "2"}]}, instrument=inst)
    assert where_and_what(problems) == [("检查项目", 4, "项目（item）", "编号不是「检查项目」固定列出的行之一")]


def test_top_level_expressions_count_a_repeats_rows():
    total = Field("checked", "integer", "核对人数", constraint=". = count(${result})", constraint_message="核对人数与明细行数不符")
    inst = replace(VISIT, children=VISIT.children + (total,))
    rows = {"women": [{"ref": "W1", "result": "ok"}, {"ref": "W2", "result": "gone"}, {"ref": "W3", "result": " "}]}
    assert check({**answers(), "checked": "2"}, rows, instrument=inst)[1][0].column == "核实结果（result）"   # W3 required
    _, problems = check({**answers(), "checked": "3"}, rows, instrument=inst)
    assert [p.message for p in problems] == ["核对人数与明细行数不符", "必填，未填写"]
