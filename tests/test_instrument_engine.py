"""One engine for any instrument (issue 18 points 2 and 7): print → simulated fill → scan → interpret, and the
entry workbook's round trip, for instruments written only here as test fixtures (no TOML, no new Python).

满意度: a section of 5 questions (select_one, select_multiple, a yes/no whose relevant skips the next
question, a count printed as digit rows, a text) and a note, then a repeat over blank household-member
rows (a count there is a tick scale from its constraint).  核对: a register repeat of 40 women over
several pages and a fixed-list repeat.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import openpyxl
import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chouyang.demo import scansim
from chouyang.errors import ChouyangError
from chouyang.instruments.model import Choice, ChoiceList, Field, Group, Instrument
from chouyang.instruments.responses import sheet_where, validate
from chouyang.render.instrument_items import Question, answer_for, integer_range, print_plan
from chouyang.render.instrument_pdf import InstrumentRenderer, instrument_font, render_instrument
from chouyang.render.instrument_workbook import read_instrument_workbook, write_instrument_workbook
from chouyang.render.pdf import full_font
from chouyang.scan.instrument import field_answer, interpret
from chouyang.scan.marks import EMPTY, MARKED, UNCERTAIN
from chouyang.scan.pages import PageImage, PageRead, load_layouts, read_page
from chouyang.scan.rows import FieldRead

SECRET = b"\x07" * 32
ROUND, TITLE = "2016H1", "测试县2016年上半年人口和计划生育目标管理责任制考核"
SUBJECT = {"unit_code": "411381001201", "unit_name": "东关社区", "township_name": "古城街道"}
TODAY = dt.date(2016, 7, 26)


def _list(name, *pairs):
    return ChoiceList(name, tuple(Choice(code, label) for code, label in pairs))


YES_NO = _list("yesno", ("yes", "是"), ("no", "否"))
SATISFACTION = Instrument(
    name="satisfaction_test", title="计划生育服务满意度调查表（测试）", code="MY1", version="1", per="point",
    choices={c.name: c for c in (
        YES_NO,
        _list("satisfaction", ("1", "非常满意"), ("2", "比较满意"), ("3", "一般"), ("4", "不太满意"), ("5", "很不满意")),
        _list("services", ("a", "孕前优生检查"), ("b", "避孕药具发放"), ("c", "生育登记"), ("d", "奖励扶助"), ("e", "其他")),
        _list("sex", ("1", "男"), ("2", "女")),
        _list("relation", ("1", "户主"), ("2", "配偶"), ("3", "子女"), ("4", "其他")))},
    children=(
        Group("s1", "服务评价", children=(
            Field("q1", "select_one", "您对本村计划生育服务总体是否满意？", choices="satisfaction", required="yes",
                  hint="按最接近的一项勾选"),
            Field("q2", "select_multiple", "过去一年您接受过哪些服务？", choices="services"),
            Field("q3", "select_one", "是否有工作人员上门宣传过政策？", choices="yesno", required="yes"),
            Field("q4", "integer", "上门宣传过几次？", relevant="${q3} = 'yes'", paper="digits", digits=2),
            Field("q5", "text", "您对计划生育工作有什么意见或建议？"),
            Field("n1", "note", "以下家庭成员情况由调查员逐人询问填写。"),
        )),
        Group("members", "家庭成员", repeat=True, rows="blank", blank_rows=6, children=(
            Field("name", "text", "姓名"),
            Field("sex", "select_one", "性别", choices="sex"),
            Field("relation", "select_one", "与户主关系", choices="relation"),
            Field("kids", "integer", "子女数", constraint=". >= 0 and . <= 4"),
            Field("home", "select_one", "是否在家", choices="yesno"),
        )),
    ),
)
# What the team ticked (every decisive value a tick box; write-ins are read by people, see below).
TICKED = {"q1": "2", "q2": "a d", "q3": "yes", "q4": "12"}
MEMBERS = [{"sex": "2", "relation": "1", "kids": "2", "home": "yes"},
           {"sex": "1", "relation": "2", "kids": "0", "home": "no"}]
WRITTEN = {("s1", "q5"): {"q5": "多宣传"}, ("members", 1): {"name": "张三"}}

CHECK = Instrument(
    name="women_check_test", title="育龄妇女核对表（测试）", code="WT1", version="2", per="point",
    choices={"result": _list("result", ("ok", "属实"), ("absent", "查无此人"), ("wrong", "错报")), "yesno": YES_NO},
    children=(
        Field("head", "text", "村（居）委会主任姓名"),
        Group("women", "育龄妇女核对", repeat=True, rows="register", table="women", key="ref", children=(
            Field("ref", "text", "编号", prefill="ref", width=12),
            Field("name", "text", "姓名", prefill="name", width=16),
            Field("result", "select_one", "核实结果", choices="result", required="yes"),
            Field("witnesses", "integer", "反映群众人数", constraint=". >= 0 and . <= 5", relevant="${result} != 'ok'"),
            Field("note", "text", "备注"),
        )),
        Group("items", "工作检查", repeat=True, rows="fixed", key="item",
              fixed=(("A1", "有村级计生专干"), ("A2", "有宣传栏"), ("A3", "台账完整")), children=(
                  Field("done", "select_one", "是否做到", choices="yesno"),)),
    ),
)
WOMEN = [{"ref": f"W{i:03d}", "name": "王" + "秀英芳兰"[i % 4] * (1 + i % 3)} for i in range(1, 41)]
# A careful writer: ticks, checks, crosses and slashes of a black pen, none overshooting its box.
CAREFUL = scansim.Writer((25, 25, 35), 0.95, 0.35, False, (0.4, 0.2, 0.25, 0.15, 0.0), 1.0, 0.2, 4.0, 0.04, 0.0)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instrument")
    font = instrument_font(SATISFACTION, [SUBJECT], round_title=TITLE)
    record = InstrumentRenderer(SATISFACTION, SECRET, font).render(SUBJECT, {}, ROUND, TITLE, folder / "u.pdf")
    (folder / f"{SUBJECT['unit_code']}.layout.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return folder, record, font


def _rows(page: dict) -> dict:
    return {(r["section"], r["ref"] or r["blank_index"]): r for r in page["rows"]}


def _box(row: dict, key: str, value) -> dict:
    return next(o for o in row["fields"][key]["options"] if o["value"] == value)


def _filled_page(pdf, page: dict, dpi: int, rng) -> object:
    """The page rendered, and the answers above ticked and written by the careful writer."""
    img = scansim.render_page(pdf, 0, dpi, "RGB")
    font = full_font()
    pen = scansim.Painter(img, dpi, rng, font.path, font.collection_index)
    rows = _rows(page)
    for name, value in TICKED.items():
        row = rows[("s1", name)]
        if name == "q4":
            for i, digit in enumerate(value, start=1):
                pen.mark(_box(row, f"q4#{i}", int(digit)), CAREFUL)
        else:
            for code in value.split():
                pen.mark(_box(row, name, code), CAREFUL)
    for i, member in enumerate(MEMBERS, start=1):
        for name, code in member.items():
            pen.mark(_box(rows[("members", i)], name, code), CAREFUL)
    for key, texts in WRITTEN.items():
        for name, text in texts.items():
            pen.write(rows[key]["fields"][name], text, CAREFUL)
    return img


# --- the printed pages and their layout record ------------------------------------------------------

def test_questions_are_numbered_and_the_yes_no_prints_where_to_skip_to():
    questions = [i for i in print_plan(SATISFACTION) if isinstance(i, Question)]
    assert [(q.number, q.field.name) for q in questions] == [(1, "q1"), (2, "q2"), (3, "q3"), (4, "q4"), (5, "q5")]
    assert questions[2].skip == "（若本题为“否” → 跳至 第5题）"
    assert [q.skip for q in questions if q.field.name != "q3"] == ["", "", "", ""]


def _values(field: dict, what: str = "value") -> list:
    return [o[what] for o in field["options"]]


def _boxes(pages: list[dict]) -> list[dict]:
    return [o for p in pages for r in p["rows"] for f in r["fields"].values() if f["kind"] == "ticks" for o in f["options"]]


def _outside(things: list[dict], x0: float, x1: float, y0: float, y1: float) -> list[dict]:
    """Those of `things` (boxes, rows) not wholly within [x0, x1] x [y0, y1] (rows: only y)."""
    return [t for t in things if not (x0 <= t.get("x", x0) <= t.get("x", x0) + t.get("w", 0) <= x1)
            or not y0 <= t["y"] <= t["y"] + t["h"] <= y1]


def test_layout_record_is_read_by_the_scan_readers_loader_with_every_box(printed):
    folder, record, _ = printed
    layouts = load_layouts(folder)   # the reader's own check of the format
    assert list(layouts) == [SUBJECT["unit_code"]]
    assert (record["format"], record["form"], record["round_id"], record["unit_code"]) == (2, "MY1", ROUND, SUBJECT["unit_code"])
    assert len(record["pages"]) == 1
    page = record["pages"][0]
    assert page["qr"]["payload"].startswith(f"{ROUND}|{SUBJECT['unit_code']}|MY1|1/1|")
    rows = _rows(page)
    assert list(rows) == [("s1", f"q{i}") for i in range(1, 6)] + [("members", i) for i in range(1, 7)]
    boxes = _boxes(record["pages"])
    assert len(boxes) == 5 + 5 + 2 + 20 + 6 * (2 + 4 + 5 + 2)
    assert _outside(boxes, 13.5, 196.5, 40, 276) == []   # every box inside the table area of the page


def test_each_kind_has_its_boxes_in_the_layout_record(printed):
    rows = _rows(printed[1]["pages"][0])
    fields = rows[("s1", "q4")]["fields"]
    assert list(fields) == ["q4#1", "q4#2"]   # one 0-9 row per digit, tens first
    assert _values(fields["q4#1"]) == list(range(10))
    assert _values(rows[("s1", "q2")]["fields"]["q2"]) == ["a", "b", "c", "d", "e"]
    assert rows[("s1", "q2")]["fields"]["q2"]["multiple"] is True
    assert rows[("s1", "q5")]["fields"]["q5"]["kind"] == "write"
    member = rows[("members", 3)]["fields"]
    assert _values(member["kids"]) == ["0", "1", "2", "3", "4"]   # a tick scale from its constraint
    assert _values(member["home"], "label") == ["是", "否"]
    assert member["name"]["kind"] == "write"


def _page_texts(path) -> list[str]:
    doc = pdfium.PdfDocument(path)
    return [doc[i].get_textpage().get_text_range().replace("\r\n", "").replace("\n", "") for i in range(len(doc))]


def test_every_page_names_round_point_and_instrument(tmp_path):
    record = render_instrument(CHECK, SUBJECT, {"women": WOMEN}, SECRET, ROUND, TITLE, tmp_path / "c.pdf")
    texts = _page_texts(tmp_path / "c.pdf")
    n = len(record["pages"])
    assert n == len(texts) >= 2
    for i, text in enumerate(texts, start=1):
        missing = [w for w in ("育龄妇女核对表（测试）", TITLE, "东关社区（411381001201）", "轮次：2016H1", "表号：WT1",
                               f"第 {i} 页 共 {n} 页") if w not in text]
        assert missing == [], i
    assert "王芳芳" in "".join(texts) and "有宣传栏" in "".join(texts)


def _refs(pages: list[dict], section: str | None = None) -> list:
    """The refs of a section's rows over the pages in order; every row of every page without a section."""
    rows = [r for p in pages for r in p["rows"]]
    return rows if section is None else [r["ref"] for r in rows if r["section"] == section]


def _continued_tables(pages: list[dict], section: str) -> list[tuple[dict, dict]]:
    """(header, first row) of the table `section` on each page after the first that holds its rows."""
    out = []
    for p in pages[1:]:
        rows = [r for r in p["rows"] if r["section"] == section]
        if rows:
            out.append((p["headers"][rows[0]["header"]], rows[0]))
    return out


def test_a_long_register_runs_over_pages_with_its_header_repeated(tmp_path):
    record = render_instrument(CHECK, SUBJECT, {"women": WOMEN}, SECRET, ROUND, TITLE, tmp_path / "c.pdf")
    pages, texts = record["pages"], _page_texts(tmp_path / "c.pdf")
    assert _refs(pages, "women") == [w["ref"] for w in WOMEN]   # every register row once, in the register's order
    later = _continued_tables(pages, "women")
    assert len(later) == len(pages) - 1 >= 1   # every later page continues the table
    assert [(header["section"], header["y"] < row["y"]) for header, row in later] == [("women", True)] * len(later)
    assert [("一、育龄妇女核对（续）" in t) for t in texts] == [False] + [True] * len(later)
    assert _refs(pages, "items") == ["A1", "A2", "A3"]
    assert _outside(_refs(pages), 0, 210, 40, 276) == []   # A4 portrait: no row crosses the bottom margin


def test_a_table_wider_than_the_page_is_refused_naming_it(printed):
    wide = Instrument("wide", "家庭", "WD1", "1", "point", choices={"yesno": YES_NO}, children=(
        Group("g", "家庭成员", repeat=True, rows="blank", blank_rows=2, children=tuple(
            Field(f"f{i}", "integer", "子女数", paper="digits", digits=2) for i in range(3)) + (
            Field("t", "text", "姓名"),)),), layout={"orientation": "L"})
    with pytest.raises(ChouyangError, match="「家庭成员」的表格比纸面宽 [0-9]+ 毫米"):
        InstrumentRenderer(wide, SECRET, printed[2])


# --- simulated fill, scan, interpret -----------------------------------------------------------------

@pytest.mark.parametrize("how", ["flatbed", "photo"])
def test_filled_page_scanned_or_photographed_reads_back_what_was_ticked(printed, how):
    folder, record, _ = printed
    rng = np.random.default_rng(11 if how == "flatbed" else 12)
    img = _filled_page(folder / "u.pdf", record["pages"][0], 200, rng)
    image = scansim.flatbed(img, 200, rng, angle=1.5, quality=85) if how == "flatbed" else scansim.photo(img, rng, turn=90)
    read = read_page(PageImage("p.jpg", 1, image.convert("L")), SECRET, ROUND, load_layouts(folder))
    assert read.problem == ""
    response, review = interpret(SATISFACTION, [read], record)
    assert (response.instrument, response.unit_code) == ("satisfaction_test", SUBJECT["unit_code"])
    assert response.values == TICKED
    assert response.rows == {"members": MEMBERS}
    # the write-ins are never read: each one written sends its row to review, at its place in the workbook
    assert [(i.sheet, i.workbook_row, i.issues) for i in review] == [
        ("s1", 8, ["「您对计划生育工作有什么意见或建议？」有手写内容，请人工录入"]),
        ("members", 4, ["新发现的一行，请核对并补录手写内容", "「姓名」有手写内容，请人工录入"])]
    checked, problems = validate(SATISFACTION, response, TODAY, sheet_where("p.jpg"))
    assert problems == []
    assert checked.values["q2"] == "a d" and checked.values["q5"] == ""


def _reads(*states: list[str], key="f") -> list[FieldRead]:
    return [FieldRead(f"{key}#{i}" if len(states) > 1 else key, "ticks", f"数（{i}）",
                      [{"label": str(d), "value": d} for d in range(len(s))], list(s)) for i, s in enumerate(states, 1)]


def _digit(d: int | None) -> list[str]:
    return [MARKED if i == d else EMPTY for i in range(10)]


@given(st.integers(0, 999), st.integers(0, 2))
def test_digit_rows_give_the_number_with_leading_rows_left_empty(n, blank_leading):
    digits = [int(c) for c in f"{n:03d}"]
    lead = min(blank_leading, len(str(n)) and 3 - len(str(n)))   # only rows that hold a leading zero
    states = [_digit(None) if i < lead else _digit(d) for i, d in enumerate(digits)]
    f = Field("f", "integer", "数", paper="digits", digits=3)
    assert field_answer(CHECK, f, _reads(*states)) == (str(n), [])


def test_digit_rows_with_a_gap_two_marks_or_an_unclear_mark_go_to_review():
    f = Field("f", "integer", "数", paper="digits", digits=2)
    assert field_answer(CHECK, f, _reads(_digit(3), _digit(None))) == ("", ["「数（2）」未勾选"])
    two = _digit(1)
    two[4] = MARKED
    assert field_answer(CHECK, f, _reads(two, _digit(2)))[1] == ["「数（1）」同时勾选了 1、4"]
    unclear = _digit(None)
    unclear[7] = UNCERTAIN
    assert field_answer(CHECK, f, _reads(_digit(1), unclear)) == ("", ["「数（2）」标记不清（7）"])
    assert field_answer(CHECK, f, _reads(_digit(None), _digit(None))) == ("", [])


def test_select_multiple_keeps_every_tick_and_a_select_one_refuses_two():
    multi = SATISFACTION.fields()[1]
    states = [MARKED, EMPTY, MARKED, EMPTY, MARKED]
    read = FieldRead("q2", "ticks", multi.label, [{"label": c, "value": c} for c in "abcde"], states)
    assert field_answer(SATISFACTION, multi, [read]) == ("a c e", [])
    one = SATISFACTION.fields()[0]
    read = FieldRead("q1", "ticks", one.label, [{"label": c, "value": c} for c in "12345"], states)
    assert field_answer(SATISFACTION, one, [read])[0] == ""


@given(st.integers(-50, 50), st.integers(0, 30), st.sampled_from([(">=", "<="), (">", "<")]))
def test_integer_range_reads_both_bounds_of_a_constraint(low, span, ops):
    high = low + span
    text = f". {ops[0]} {low} and . {ops[1]} {high}"
    expected = (low, high) if ops[0] == ">=" else (low + 1, high - 1)
    assert integer_range(text) == (expected if expected[0] <= expected[1] else None)
    assert integer_range(f"{high} {'>=' if ops[0] == '>=' else '>'} . and . {ops[0]} {low}") == integer_range(text)


def test_how_each_kind_is_answered_on_paper():
    kinds = {f.name: answer_for(SATISFACTION, f) for f in SATISFACTION.fields()}
    assert {k: a.kind for k, a in kinds.items()} == {
        "q1": "ticks", "q2": "ticks", "q3": "ticks", "q4": "digits", "q5": "write", "n1": "note", "name": "write",
        "sex": "ticks", "relation": "ticks", "kids": "ticks", "home": "ticks"}
    assert kinds["q4"].digit_labels == ("十位", "个位")
    assert answer_for(SATISFACTION, Field("d", "date", "日期")).kind == "write"
    assert answer_for(SATISFACTION, Field("d", "date", "日期", paper="digits")).digits == 8
    assert answer_for(SATISFACTION, Field("n", "integer", "数", constraint=". >= 0 and . <= 200")).digits == 3


# --- the entry workbook -----------------------------------------------------------------------------

def _fill(path, out, answers: dict[str, object], members: list[dict[str, object]]):
    wb = openpyxl.load_workbook(path)
    ws = wb["服务评价"]
    rows = {ws.cell(r, 1).value: r for r in range(4, ws.max_row + 1)}
    for name, value in answers.items():
        ws.cell(rows[name], 4).value = value
    ws = wb["家庭成员"]
    header = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
    for i, member in enumerate(members):
        for label, value in member.items():
            ws.cell(4 + i, header[label]).value = value
    wb.save(out)


HOSTILE = '=HYPERLINK("http://example.com","点我")'


def test_workbook_has_a_sheet_per_section_and_repeat_with_drop_downs_and_locked_cells(tmp_path):
    path = tmp_path / "u.xlsx"
    write_instrument_workbook(SATISFACTION, SUBJECT, {}, path, {"round_id": ROUND, "round_title": TITLE})
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["服务评价", "家庭成员", "_meta"]
    assert wb["_meta"].sheet_state == "veryHidden"
    ws = wb["服务评价"]
    assert (ws.protection.sheet, ws["C4"].protection.locked, ws["D4"].protection.locked) == (True, True, False)
    lists = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert lists["D4"].formula1 == '"非常满意,比较满意,一般,不太满意,很不满意"'
    assert lists["D7"].type == "whole"


def test_workbook_validations_come_from_choice_lists_and_constraints(tmp_path):
    path = tmp_path / "u.xlsx"
    write_instrument_workbook(SATISFACTION, SUBJECT, {}, path, {"round_id": ROUND})
    wb = openpyxl.load_workbook(path)
    lists = {str(dv.sqref): dv for dv in wb["服务评价"].data_validations.dataValidation}
    assert (lists["D7"].formula1, lists["D7"].formula2) == ("-1000000000", "1000000000")
    assert [c.value for c in wb["家庭成员"][3]] == ["姓名", "性别", "与户主关系", "子女数", "是否在家"]
    members = {str(dv.sqref): dv for dv in wb["家庭成员"].data_validations.dataValidation}
    assert (members["D4:D9"].type, members["D4:D9"].formula1, members["D4:D9"].formula2) == ("whole", "0", "4")
    assert members["B4:B9"].formula1 == '"男,女"'
    assert wb["服务评价"].print_title_rows == "$3:$3"
    assert wb["家庭成员"].page_setup.orientation == "landscape"


def test_workbook_round_trip_gives_the_answers_and_a_formula_stays_text(tmp_path):
    path = tmp_path / "u.xlsx"
    write_instrument_workbook(SATISFACTION, SUBJECT, {}, path, {"round_id": ROUND, "round_title": TITLE})
    filled = tmp_path / "filled.xlsx"
    _fill(path, filled, {"q1": "比较满意", "q2": "孕前优生检查、奖励扶助", "q3": "是", "q4": 12, "q5": HOSTILE},
          [{"姓名": "张三", "性别": "女", "与户主关系": "户主", "子女数": 2, "是否在家": "是"},
           {"姓名": "李四", "性别": "1", "与户主关系": "配偶", "子女数": 0, "是否在家": "no"}])
    response = read_instrument_workbook(SATISFACTION, filled, today=TODAY)
    assert (response.instrument, response.unit_code) == ("satisfaction_test", SUBJECT["unit_code"])
    assert response.values == TICKED | {"q5": HOSTILE}
    assert response.rows == {"members": [{"name": "张三"} | MEMBERS[0], {"name": "李四"} | MEMBERS[1]]}
    again = tmp_path / "again.xlsx"   # written back (as a scan's results would be): the formula is text
    write_instrument_workbook(SATISFACTION, SUBJECT, {}, again, {"round_id": ROUND}, response=response)
    cell = openpyxl.load_workbook(again)["服务评价"]["D8"]
    assert (cell.value, cell.data_type) == (HOSTILE, "s")
    assert read_instrument_workbook(SATISFACTION, again, today=TODAY).values == response.values


def test_workbook_problems_name_file_sheet_row_and_column_all_at_once(tmp_path):
    path = tmp_path / "u.xlsx"
    write_instrument_workbook(SATISFACTION, SUBJECT, {}, path, {"round_id": ROUND})
    _fill(path, tmp_path / "bad.xlsx", {"q1": "满意", "q3": "否", "q4": 3},
          [{"性别": "女", "子女数": "两个"}])
    with pytest.raises(ChouyangError) as caught:
        read_instrument_workbook(SATISFACTION, tmp_path / "bad.xlsx", today=TODAY)
    where = {(p.sheet, p.row, p.column) for p in caught.value.problems}
    assert where == {("服务评价", 4, "回答（您对本村计划生育服务总体是否满意？（q1））"),
                     ("服务评价", 7, "回答（上门宣传过几次？（q4））"),
                     ("家庭成员", 4, "子女数（kids）")}
    text = str(caught.value)
    assert "bad.xlsx，工作表「服务评价」，第 4 行" in text and "「满意」不是可选的选项" in text
    assert "第 7 行" in text and "此题应跳过" in text
    assert "应为整数（值：两个）" in text


def test_a_register_repeat_in_the_workbook_is_prefilled_locked_and_keyed_by_ref(tmp_path):
    path = tmp_path / "c.xlsx"
    write_instrument_workbook(CHECK, SUBJECT, {"women": WOMEN[:3]}, path, {"round_id": ROUND})
    wb = openpyxl.load_workbook(path)
    ws = wb["育龄妇女核对"]
    assert [c.value for c in ws[3]] == ["编号", "姓名", "核实结果", "反映群众人数", "备注"]
    assert [ws.cell(r, 1).value for r in (4, 5, 6)] == ["W001", "W002", "W003"]
    assert ws["B5"].value == "王芳芳芳" and ws["B5"].protection.locked and not ws["C5"].protection.locked
    assert [ws.cell(r, 2).value for r in (4, 5, 6)] == [w["name"] for w in WOMEN[:3]]
    ws["C4"], ws["C5"], ws["D5"], ws["C6"] = "属实", "查无此人", 3, "wrong"
    items = wb["工作检查"]
    assert [c.value for c in items[3]] == ["编号", "项目", "是否做到"]
    items["C5"] = "否"
    wb["基本情况"]["D4"] = "赵主任"
    wb.save(path)
    response = read_instrument_workbook(CHECK, path, today=TODAY)
    assert response.values == {"head": "赵主任"}
    assert [(r["ref"], r["result"], r["witnesses"]) for r in response.rows["women"]] == \
        [("W001", "ok", ""), ("W002", "absent", "3"), ("W003", "wrong", "")]
    assert [(r["item"], r["done"]) for r in response.rows["items"]] == [("A1", ""), ("A2", "no"), ("A3", "")]


# --- many subjects, many pages ----------------------------------------------------------------------

def _perfect_read(record: dict, page: int, answers: dict) -> PageRead:
    """What a flawless reader reports for page `page` of a layout record with `answers` ticked:
    answers[(section, ref or blank_index)] = {layout field key: value ticked}."""
    from chouyang.render.qr import PageId

    spec = record["pages"][page - 1]
    rows = []
    for row in spec["rows"]:
        wanted = answers.get((row["section"], row["ref"] or row["blank_index"]), {})
        fields = {}
        for key, f in row["fields"].items():
            if f["kind"] == "write":
                fields[key] = FieldRead(key, "write", f["label"], [], [], [0.0], 1.0, written=key in wanted)
                continue
            states = [MARKED if o["value"] == wanted.get(key) else EMPTY for o in f["options"]]
            fields[key] = FieldRead(key, "ticks", f["label"], f["options"], states)
        rows.append({k: row[k] for k in ("ref", "section", "blank_index", "y", "h", "header")} | {"fields": fields})
    page_id = PageId(record["round_id"], record["unit_code"], record["form"], page, len(record["pages"]))
    return PageRead("scan.pdf", page, payload="", page_id=page_id, rows=rows, headers=spec["headers"])


def test_register_rows_over_several_pages_are_keyed_by_ref_in_register_order(tmp_path):
    record = render_instrument(CHECK, SUBJECT, {"women": WOMEN}, SECRET, ROUND, TITLE, tmp_path / "c.pdf")
    answers = {("women", w["ref"]): {"result": "ok"} for w in WOMEN}
    answers[("women", "W007")] = {"result": "absent", "witnesses": "3", "note": "已迁"}
    answers[("women", "W040")] = {"result": "wrong", "witnesses": "5"}
    answers[("items", "A2")] = {"done": "no"}
    reads = [_perfect_read(record, i, answers) for i in range(len(record["pages"]), 0, -1)]   # pages in any order
    response, review = interpret(CHECK, reads, record)
    women = response.rows["women"]
    assert [r["ref"] for r in women] == [w["ref"] for w in WOMEN]
    assert women[6] == {"ref": "W007", "result": "absent", "witnesses": "3"}
    assert women[39] == {"ref": "W040", "result": "wrong", "witnesses": "5"}
    assert response.rows["items"] == [{"item": "A1"}, {"item": "A2", "done": "no"}, {"item": "A3"}]
    assert [(i.sheet, i.workbook_row, i.row["ref"], i.issues) for i in review] == [
        ("women", 10, "W007", ["「备注」有手写内容，请人工录入"])]   # the 7th register row: workbook row 4 + 6
    checked, problems = validate(CHECK, response, TODAY, sheet_where("scan.pdf"))
    assert problems == []


def test_many_subjects_drawn_in_one_document_are_split_into_one_pdf_each(tmp_path, printed):
    from chouyang.render.instrument_pdf import write_instrument_pdfs

    subjects = [SUBJECT | {"unit_code": f"41138100120{i}", "unit_name": name}
                for i, name in enumerate(["东关社区", "东关一区", "东关二区"], start=1)]
    pages = write_instrument_pdfs(SATISFACTION, [(s, {}) for s in subjects], tmp_path, SECRET, ROUND, TITLE,
                                  font=printed[2], chunk=2)
    assert pages == 3
    layouts = load_layouts(tmp_path)
    assert sorted(layouts) == [s["unit_code"] for s in subjects]
    second = subjects[1]["unit_code"]
    assert len(pdfium.PdfDocument(tmp_path / f"{second}.pdf")) == 1
    image = scansim.render_page(tmp_path / f"{second}.pdf", 0, 150, "L")   # a blank page, as printed
    read = read_page(PageImage("blank.png", 1, image), SECRET, ROUND, layouts)
    assert (read.problem, read.page_id.unit_code) == ("", second)
    response, review = interpret(SATISFACTION, [read], layouts[second])
    assert (response.unit_code, response.values, response.rows, review) == (second, {}, {"members": []}, [])


def _random_answers(page: dict, rng) -> dict:
    """One random option ticked in every tick group of the questions and of the first 3 member rows."""
    answers = {}
    for row in page["rows"]:
        if row["section"] == "members" and row["blank_index"] > 3:
            continue
        ticks = {k: _values(f) for k, f in row["fields"].items() if f["kind"] == "ticks"}
        answers[(row["section"], row["ref"] or row["blank_index"])] = {
            k: values[int(rng.integers(len(values)))] for k, values in ticks.items()}
    return answers


def _expected(page: dict, truth: dict) -> dict:
    """What each row should read as, from the boxes' truth (digit rows joined into the number)."""
    rows = _rows(page)
    out = {}
    for key, fields in truth.items():
        values = {k: str(scansim.truth_value(states, rows[key]["fields"][k]["options"])) for k, states in fields.items()}
        if "q4#1" in values:
            values = {"q4": str(int(values.pop("q4#1") + values.pop("q4#2")))}
        out[key] = {k: v for k, v in values.items() if v != ""}
    return out


@pytest.mark.parametrize("seed, how", [(21, "flatbed"), (22, "photo")])
def test_random_writers_never_change_an_answer_silently(printed, tmp_path, seed, how):
    """Whatever a random writer does on a flatbed or a phone, every value read differs from what was ticked only on
    a row that goes to review."""
    from chouyang.scan.review_items import save_review_crop

    folder, record, _ = printed
    page = record["pages"][0]
    font = full_font()
    rng = np.random.default_rng(seed)
    img = scansim.render_page(folder / "u.pdf", 0, 200, "RGB")
    truth = scansim.fill_page(img, page, _random_answers(page, rng), 200, rng, scansim.random_writer(rng), font.path,
                              font.collection_index, stray_rate=0)
    image = {"flatbed": scansim.flatbed, "photo": lambda im, _, r: scansim.photo(im, r)}[how](img, 200, rng)
    read = read_page(PageImage(f"{how}.jpg", 1, image.convert("L")), SECRET, ROUND, load_layouts(folder))
    assert read.problem == ""
    response, review = interpret(SATISFACTION, [read], record)
    flagged = {(i.row["section"], i.row["ref"] or i.row["blank_index"]) for i in review}
    got = _by_row(response)
    clean = {key: want for key, want in _expected(page, truth).items() if key not in flagged}
    assert {key: got.get(key, {}) for key in clean} == clean
    assert len(clean) >= 6, (len(clean), len(flagged))   # most rows read clean: the check is not vacuous
    for item in review:   # every review item gets its crop (a question's header may be its own row)
        save_review_crop(item, tuple(record["table_x"]), tmp_path)
    assert [(tmp_path / item.crop_name).stat().st_size > 0 for item in review] == [True] * len(review)


def _by_row(response) -> dict:
    """A satisfaction response's values by layout row: ('s1', question) and ('members', blank row)."""
    got = {("s1", k): {k: v} for k, v in response.values.items()}
    return got | {("members", i + 1): r for i, r in enumerate(response.rows["members"])}


def test_english_names_are_accepted_as_headers_and_an_empty_register_prints_a_line(tmp_path):
    path = tmp_path / "c.xlsx"
    write_instrument_workbook(CHECK, SUBJECT, {"women": WOMEN[:2]}, path, {"round_id": ROUND})
    wb = openpyxl.load_workbook(path)
    ws = wb["育龄妇女核对"]
    for c, name in enumerate(["ref", "name", "result", "witnesses", "note"], start=1):
        ws.cell(3, c).value = name
    ws["C4"], ws["C5"] = "ok", "查无此人"
    wb["基本情况"]["A3"], wb["基本情况"]["D3"] = "name", "value"
    wb.save(path)
    response = read_instrument_workbook(CHECK, path, today=TODAY)
    assert [(r["ref"], r["result"]) for r in response.rows["women"]] == [("W001", "ok"), ("W002", "absent")]
    record = render_instrument(CHECK, SUBJECT, {"women": []}, SECRET, ROUND, TITLE, tmp_path / "empty.pdf")
    text = pdfium.PdfDocument(tmp_path / "empty.pdf")[0].get_textpage().get_text_range()
    assert "（本样本点没有在册记录）" in text and "一、育龄妇女核对" in text
    assert [r["section"] for r in record["pages"][0]["rows"]] == ["_top", "items", "items", "items"]
    record = render_instrument(CHECK, SUBJECT, {}, SECRET, ROUND, TITLE, tmp_path / "none.pdf")   # no such table
    text = pdfium.PdfDocument(tmp_path / "none.pdf")[0].get_textpage().get_text_range()
    assert "一、工作检查" in text   # sections are numbered over those printed
    assert "育龄妇女核对（" not in text and [h["section"] for h in record["pages"][0]["headers"]] == ["_top", "items"]


def test_a_long_choice_list_wraps_into_lines_of_boxes_read_as_one_question(printed, tmp_path):
    many = _list("many", *((str(i), f"比较满意{i}") for i in range(1, 13)))
    long = Instrument("long", "满意度", "LG1", "1", "point", choices={"many": many}, children=(
        Field("q", "select_one", "您对本村计划生育服务总体是否满意？", choices="many"),
        Field("m", "select_multiple", "过去一年您接受过哪些服务？", choices="many")))
    record = InstrumentRenderer(long, SECRET, printed[2]).render(SUBJECT, {}, ROUND, TITLE, tmp_path / "l.pdf")
    rows = _rows(record["pages"][0])
    lines = rows[("_top", "q")]["fields"]
    assert list(lines) == ["q@1", "q@2"]   # 12 choices do not fit on one line of the answer column
    assert [o["value"] for f in lines.values() for o in f["options"]] == [str(i) for i in range(1, 13)]
    assert lines["q@2"]["options"][0]["y"] > lines["q@1"]["options"][0]["y"] + 3.4
    tail = lines["q@2"]["options"][-1]["value"]
    read = _perfect_read(record, 1, {("_top", "q"): {"q@2": tail}, ("_top", "m"): {"m@1": "1", "m@2": "12"}})
    response, review = interpret(long, [read], record)
    assert (response.values, review) == ({"q": "12", "m": "1 12"}, [])
    two = _perfect_read(record, 1, {("_top", "q"): {"q@1": "1", "q@2": "12"}})   # one tick on each line: two marks
    response, review = interpret(long, [two], record)
    assert "q" not in response.values
    assert review[0].issues == ["「您对本村计划生育服务总体是否满意？」同时勾选了 比较满意1、比较满意12"]


def test_a_fixed_row_with_a_long_label_grows_and_a_workbook_of_another_instrument_is_refused(printed, tmp_path):
    long = "上门宣传过政策" * 6   # 42 characters: several lines in the 40 mm label column
    fixed = Instrument("fx", "服务评价", "FX1", "1", "township", choices={"yesno": YES_NO}, children=(
        Group("items", "服务评价", repeat=True, rows="fixed", key="item", fixed=(("A1", long), ("A2", "上门宣传")),
              children=(Field("done", "select_one", "是否在家", choices="yesno"),)),))
    record = InstrumentRenderer(fixed, SECRET, printed[2]).render(SUBJECT, {}, ROUND, TITLE, tmp_path / "f.pdf")
    heights = [r["h"] for r in record["pages"][0]["rows"]]
    assert heights[1] == 8.0 and heights[0] > 8.0
    box = record["pages"][0]["rows"][0]["fields"]["done"]["options"][0]
    row = record["pages"][0]["rows"][0]
    assert abs(box["y"] + box["h"] / 2 - (row["y"] + row["h"] / 2)) < 1e-3   # boxes centred in the taller row
    write_instrument_workbook(fixed, SUBJECT, {}, tmp_path / "f.xlsx", {"round_id": ROUND})
    with pytest.raises(ChouyangError, match="这是调查表「fx」的工作簿，不是「satisfaction_test」的"):
        read_instrument_workbook(SATISFACTION, tmp_path / "f.xlsx", today=TODAY)
