"""XLSForms written by someone else (issue 18, "Done when"), through every medium: the XLSForm exchange, paper
(printed, filled, scanned or photographed, read), the entry workbook, ODK Central CSV and web entry.

The forms are four of github.com/mberg/claude-skills skills/xlsform/examples.md, transcribed in
tests/fixtures/xlsforms/*.md (labels translated, what was removed and why said in each file): 住户调查表
(a repeat of household members behind a yes/no), 家庭月度收支调查表 (integers with constraints, a calculate, a note
that quotes answers, a text with a calculation), 子女与收入情况调查表 (skip logic with `and`), and the GPS and media
form, kept unchanged, which the importer must refuse, located.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pyxform.xls2xform import convert
from xlsform_md import _SEPARATOR, FIXTURES, to_xlsx

from chouyang.demo import scansim
from chouyang.errors import ChouyangError
from chouyang.instruments import export as export_csv
from chouyang.instruments import odk, xlsform
from chouyang.instruments.expr import evaluate, parse, truthy
from chouyang.instruments.model import Field, Instrument
from chouyang.instruments.responses import sheet_where, validate
from chouyang.render.instrument_items import answer_for
from chouyang.render.instrument_pdf import instrument_font, write_instrument_pdfs
from chouyang.render.instrument_sheets import table_columns, workbook_plan
from chouyang.render.instrument_workbook import read_instrument_workbook, write_instrument_workbook
from chouyang.render.pdf import full_font
from chouyang.scan.instrument import base_name, interpret
from chouyang.scan.pages import PageImage, load_layouts, read_page

ACCEPTED = ("household", "budget", "conditional")
SECRET = b"\x05" * 32
ROUND, TITLE = "2016H1", "测试县2016年上半年人口和计划生育抽样调查"
TODAY = dt.date(2016, 7, 26)
POINTS = [{"unit_code": f"41138100120{i}", "unit_name": name, "township_name": "古城街道"}
          for i, name in enumerate(["东关社区", "东关一区", "东关二区"], start=1)]
CAREFUL = scansim.Writer((25, 25, 35), 0.95, 0.35, False, (0.4, 0.2, 0.25, 0.15, 0.0), 1.0, 0.2, 4.0, 0.04, 0.0)


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> dict[str, Instrument]:
    folder = tmp_path_factory.mktemp("foreign")
    return {name: xlsform.read(to_xlsx(FIXTURES / f"{name}.md", folder / f"{name}.xlsx")) for name in ACCEPTED}


# --- answers made from the form itself ------------------------------------------------------------------

def answer(inst: Instrument, f: Field, i: int) -> str:
    """A valid answer of submission `i` to field `f` (codes for choices), whatever the form."""
    codes = inst.choice_list(f).codes() if f.is_select else ()
    return {"select_one": lambda: codes[i % len(codes)],
            "select_multiple": lambda: " ".join(sorted({codes[i % len(codes)], codes[(i + 1) % len(codes)]})),
            "integer": lambda: str(i + 2), "decimal": lambda: f"{1200 + i}.5", "date": lambda: f"2016-07-{20 + i:02d}",
            "text": lambda: f"回答{i}"}.get(f.type, lambda: "")()


def _asked(groups, f: Field, values: dict[str, str]) -> bool:
    relevant = [g.relevant for g in groups if g.relevant] + ([f.relevant] if f.relevant else [])
    return all(truthy(evaluate(parse(r), values, today=TODAY)) for r in relevant)


def answers(inst: Instrument, i: int) -> dict[str, str]:
    """Top-level answers of submission `i`, a field skipped (left empty) when its `relevant` says so."""
    values: dict[str, str] = {}
    for groups, f in inst.walk():
        if not any(g.repeat for g in groups) and f.type not in ("note", "calculate") and not f.prefill:
            values[f.name] = answer(inst, f, i) if _asked(groups, f, values) else ""
    return values


def member_rows(inst: Instrument, n: int) -> dict[str, list[dict[str, str]]]:
    return {g.name: [{f.name: answer(inst, f, k) for _, f in _fields(g) if f.type not in ("note", "calculate")}
                     for k in range(n)] for g in inst.repeats()}


def _fields(g):
    for node in g.children:
        if isinstance(node, Field):
            yield g, node
        else:
            yield from _fields(node)


def shown(values: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v != ""}


# --- the XLSForm exchange -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACCEPTED)
def test_export_converts_with_pyxform_and_reads_back_equal(forms, tmp_path, name):
    inst = forms[name]
    path = tmp_path / f"{name}.xlsx"
    xlsform.export(inst, path)
    warnings: list[str] = []
    xform = convert(str(path), warnings=warnings).xform
    assert warnings == []
    assert f'id="{inst.name}"' in xform and f"<h:title>{inst.title}</h:title>" in xform
    back = xlsform.read(path)
    assert back.children[0].name == "unit_code"   # a point's form for the phones carries the point
    assert replace(back, children=back.children[1:], source=inst.source) == inst


def test_what_the_importer_kept_of_each_form(forms):
    household = forms["household"]
    repeat = household.group("household_members")
    assert (repeat.repeat, repeat.rows, repeat.relevant) == (True, "blank", "${has_members} = 'yes'")
    assert [f.name for f in repeat.children] == ["member_name", "member_age", "member_relationship"]
    assert household.fields()[-1] == Field("timestamp", "calculate", "", calculation="now()")
    budget = forms["budget"]
    assert [f.constraint for f in budget.fields() if f.type == "integer"] == [". >= 0"] * 6
    assert budget.fields()[0].constraint_message == "收入应为正数"
    status = budget.fields()[-1]
    assert (status.type, status.calculation[:3]) == ("text", "if(")
    assert forms["conditional"].fields()[-1].relevant == "${has_income} = 'yes' and ${monthly_income} > 0"


def test_the_gps_and_media_form_is_refused_naming_sheet_row_and_column(tmp_path):
    path = to_xlsx(FIXTURES / "site_monitoring.md", tmp_path / "site_monitoring.xlsx")
    with pytest.raises(ChouyangError) as caught:
        xlsform.read(path)
    types = [(p.sheet, p.row, p.column, p.value) for p in caught.value.problems if "不支持的题型" in p.message]
    assert types == [("survey", 3, "type", "geopoint"), ("survey", 4, "type", "geotrace"), ("survey", 7, "type", "image"),
                     ("survey", 8, "type", "audio"), ("survey", 11, "type", "video")]
    text = str(caught.value)
    assert "site_monitoring.xlsx，工作表「survey」，第 3 行，列「type」：不支持的题型" in text and "没有导入" in text


def test_the_household_form_as_its_source_has_it_is_refused_at_each_construct(tmp_path):
    path = to_xlsx(FIXTURES / "household_original.md", tmp_path / "household_original.xlsx")
    with pytest.raises(ChouyangError) as caught:
        xlsform.read(path)
    found = sorted({(p.sheet, p.row, p.column) for p in caught.value.problems})
    assert found == [("choices", r, "country") for r in range(9, 15)] + [
        ("survey", 10, "choice_filter"), ("survey", 11, "type"), ("survey", 13, "calculation"), ("survey", 13, "choice_filter")]
    text = str(caught.value)
    assert "第 11 行，列「type」：不支持的题型" in text and "select_one_from_file hospitals_list" in text
    assert "第 13 行，列「calculation」：计算题（calculate）必须有 calculation" in text   # now() sits in choice_filter


# --- paper --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def printed(forms, tmp_path_factory):
    out = {}
    for name, inst in forms.items():
        folder = tmp_path_factory.mktemp(f"paper_{name}")
        font = instrument_font(inst, POINTS, round_title=TITLE)
        pages = write_instrument_pdfs(inst, [(p, {}) for p in POINTS], folder, SECRET, ROUND, TITLE, font=font)
        out[name] = (folder, pages, load_layouts(folder))
    return out


def _layout_rows(record: dict) -> list[dict]:
    return [row for page in record["pages"] for row in page["rows"]]


def _on_paper(rows: list[dict]) -> set[str]:
    """The fields with boxes on the pages (a field's lines of boxes and digit rows are one field)."""
    return {base_name(k) for row in rows for k in row["fields"]}


def _not_printable(inst: Instrument) -> set[str]:
    """Notes (printed as text) and calculations (the phone's): no boxes."""
    return {f.name for f in inst.fields() if answer_for(inst, f).kind in ("note", "none")}


@pytest.mark.parametrize("name", ACCEPTED)
def test_pages_for_three_points_with_every_field_on_paper_or_not_printable(forms, printed, name):
    inst = forms[name]
    folder, pages, layouts = printed[name]
    assert sorted(layouts) == [p["unit_code"] for p in POINTS]
    assert pages == sum(len(r["pages"]) for r in layouts.values()) >= 3
    record = layouts[POINTS[0]["unit_code"]]
    rows = _layout_rows(record)
    on_paper, not_printable = _on_paper(rows), _not_printable(inst)
    assert on_paper | not_printable == {f.name for f in inst.fields()} and not on_paper & not_printable
    blank = [r["blank_index"] for r in rows if r["section"] == "household_members"]
    assert blank == ([1, 2, 3, 4, 5] if name == "household" else [])   # a plain begin repeat: 5 lines to write in
    assert not_printable == {"household": {"timestamp"}, "budget": {"total_expenses", "balance_display"},
                             "conditional": set()}[name]


def test_a_note_that_shows_answers_on_the_phone_names_the_fields_on_paper(forms):
    from chouyang.render.instrument_items import NoteItem, print_plan

    (note,) = [i for i in print_plan(forms["budget"]) if isinstance(i, NoteItem)]
    spent = "（房租（住房）+食品和日用品+水电燃气费+其他支出）"
    assert note.text == f"结余：「月收入」 - {spent} = 「月收入」 - {spent}"


def test_skip_instructions_jump_past_every_question_the_answer_skips(forms):
    from chouyang.render.instrument_items import Question, print_plan

    questions = [i for i in print_plan(forms["conditional"]) if isinstance(i, Question)]
    # 6 is asked only when 4 is 是 and 5 above 0: 否 on 4 skips 5 and 6 (the form ends), and at 5 only 5's part is left
    assert [(q.number, q.skip) for q in questions if q.skip] == [
        (1, "（若本题为“否” → 跳至 第4题）"), (4, "（若本题为“否” → 本表结束）"), (5, "（若本题不大于0 → 本表结束）")]


def _row_key(row: dict) -> tuple:
    return row["section"], row["ref"] or row["blank_index"]


def _tick_groups(row: dict) -> dict[str, list[str]]:
    """The row's tick fields by the field they belong to: {field: [layout keys]} (lines of boxes, digit rows)."""
    groups: dict[str, list[str]] = {}
    for k, f in row["fields"].items():
        if f["kind"] == "ticks":
            groups.setdefault(base_name(k), []).append(k)
    return groups


def _choose(row: dict, keys: list[str]) -> tuple[dict[str, list], str]:
    """({layout key: [values to tick]}, the value the field should read as) for one field of a row."""
    if "#" in keys[0]:   # one 0-9 row per digit: 1, 2, 3…
        digits = [(i + 1) % 10 for i in range(len(keys))]
        return {k: [d] for k, d in zip(keys, digits)}, str(int("".join(map(str, digits))))
    options = [(k, o["value"]) for k in keys for o in row["fields"][k]["options"]]
    multiple = row["fields"][keys[0]].get("multiple") and len(options) > 1
    chosen = [options[0], options[-1]] if multiple else [options[0]]
    marks: dict[str, list] = {}
    for k, value in chosen:
        marks.setdefault(k, []).append(value)
    return marks, " ".join(str(v) for _, v in chosen)


def _ticks(page: dict) -> tuple[dict, dict]:
    """What to tick on the page: (marks {(section, row): {layout key: [values]}}, expected {(section, row): {field: value}}).

    Every tick field of every question and of the first two blank rows of a repeat: a select_one its first choice,
    a select_multiple its first and last, a number in digit rows 1, 2, 3…; write-in boxes are left empty."""
    marks, expected = {}, {}
    for row in page["rows"]:
        if row["blank_index"] and row["blank_index"] > 2:
            continue
        for name, keys in _tick_groups(row).items():
            ticked, value = _choose(row, keys)
            marks.setdefault(_row_key(row), {}).update(ticked)
            expected.setdefault(_row_key(row), {})[name] = value
    return marks, expected


def _fill(pdf: Path, index: int, page: dict, marks: dict, rng):
    img = scansim.render_page(pdf, index, 200, "RGB")
    font = full_font()
    pen = scansim.Painter(img, 200, rng, font.path, font.collection_index)
    for row in page["rows"]:
        for k, values in marks.get((row["section"], row["ref"] or row["blank_index"]), {}).items():
            for value in values:
                pen.mark(next(o for o in row["fields"][k]["options"] if o["value"] == value), CAREFUL)
    return img


def _scanned(pdf: Path, n: int, page: dict, marks: dict, how: str, layouts: dict, rng):
    """Page n ticked, then put through a flatbed scanner or photographed with a phone, and read."""
    img = _fill(pdf, n, page, marks, rng)
    image = scansim.flatbed(img, 200, rng, angle=1.0, quality=85) if how == "flatbed" else scansim.photo(img, rng, turn=90)
    return read_page(PageImage(f"{how}.jpg", n + 1, image.convert("L")), SECRET, ROUND, layouts)


def _read_back(inst: Instrument, response, expected: dict) -> dict:
    """What the response holds of each expected (row, field): a repeat's row by its number, questions at "top"."""
    got = _read_by_row(inst, response)
    return {key: {f: got.get(key if isinstance(key[1], int) else "top", {}).get(f, "") for f in want}
            for key, want in expected.items()}


def _read_by_row(inst: Instrument, response) -> dict:
    got = {}
    repeats = {g.name for g in inst.repeats()}
    for groups, f in inst.walk():
        if not any(g.repeat for g in groups) and f.name in response.values:
            got.setdefault("top", {})[f.name] = response.values[f.name]
    for name in repeats:
        for i, row in enumerate(response.rows.get(name, []), start=1):
            got[(name, i)] = row
    return got


@pytest.mark.parametrize("name, how", [(n, h) for n in ACCEPTED for h in ("flatbed", "photo")])
def test_filled_pages_scanned_or_photographed_read_back_what_was_ticked(forms, printed, name, how):
    inst = forms[name]
    folder, _, layouts = printed[name]
    unit = POINTS[1]["unit_code"]
    record = layouts[unit]
    rng = np.random.default_rng(31 if how == "flatbed" else 32)
    reads, expected = [], {}
    for n, page in enumerate(record["pages"]):
        marks, want = _ticks(page)
        expected.update(want)
        reads.append(_scanned(folder / f"{unit}.pdf", n, page, marks, how, layouts, rng))
    assert [(r.problem, r.page_id.unit_code, r.page_id.page) for r in reads] == \
        [("", unit, n) for n in range(1, len(record["pages"]) + 1)]
    response, review = interpret(inst, reads[::-1], record)   # pages in any order
    assert [i.issues for i in review] == []   # a careful writer's ticks: nothing to check by hand
    assert _read_back(inst, response, expected) == expected
    compared = sum(len(want) for want in expected.values())
    assert compared >= {"household": 7, "budget": 6, "conditional": 4}[name], compared


# --- the entry workbook ----------------------------------------------------------------------------------

def _label(inst: Instrument, f: Field, value: str) -> str:
    """As a clerk types it: the choice labels (a select_multiple's joined with 、)."""
    cl = inst.choice_list(f)
    return "、".join(cl.label_of(c) for c in value.split()) if cl and value else value


def _table(inst: Instrument, ws, plan, top: dict, rows: dict) -> None:
    """A repeat's sheet: one row a member from row 4, a column a field (header row 3)."""
    fields = {f.name: f for f in inst.fields()}
    for i, row in enumerate(rows[plan.key]):
        for j, (name, _) in enumerate(table_columns(plan), start=1):
            ws.cell(4 + i, j).value = _label(inst, fields[name], row[name])


def _questions(inst: Instrument, ws, plan, top: dict, rows: dict) -> None:
    """A question sheet: the field's name in column A, the answer in column D."""
    fields = {f.name: f for f in inst.fields()}
    for r in range(4, ws.max_row + 1):
        name = ws.cell(r, 1).value
        if name in top:
            ws.cell(r, 4).value = _label(inst, fields[name], top[name])


@pytest.mark.parametrize("name", ACCEPTED)
def test_entry_workbook_filled_with_openpyxl_reads_back_equal(forms, tmp_path, name):
    inst = forms[name]
    path = tmp_path / "u.xlsx"
    write_instrument_workbook(inst, POINTS[0], {}, path, {"round_id": ROUND, "round_title": TITLE})
    top, rows = answers(inst, 0), member_rows(inst, 2)
    wb = openpyxl.load_workbook(path)
    for plan in workbook_plan(inst):
        (_table if plan.table else _questions)(inst, wb[plan.label], plan, top, rows)
    wb.save(path)
    response = read_instrument_workbook(inst, path, today=TODAY)
    assert response.unit_code == POINTS[0]["unit_code"]
    assert shown(response.values) == shown(top)
    assert {g: [shown(r) for r in rs] for g, rs in response.rows.items()} == rows


# --- phones: an ODK Central export --------------------------------------------------------------------

def _columns(inst: Instrument) -> list[tuple[str, Field]]:
    """(Central's header, field) of the main file's columns: top-level fields by their group-field names."""
    top = [(groups, f) for groups, f in inst.walk() if not any(g.repeat for g in groups) and f.type != "note"]
    return [("-".join([g.name for g in groups] + [f.name]), f) for groups, f in top if f.name != "unit_code"]


def central_csv(inst: Instrument, path: Path, n: int = 5) -> list[dict[str, str]]:
    """submissions.csv as ODK Central writes it for the form `export` made: SubmissionDate, unit_code, the fields
    by their group-field names (repeats are files of their own), meta-instanceID, KEY, SubmitterID, ReviewState."""
    columns = _columns(inst)
    sent = []
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["SubmissionDate", "unit_code"] + [h for h, _ in columns] +
                        ["meta-instanceID", "KEY", "SubmitterID", "ReviewState"])
        for i in range(n):
            stamp = f"2016-07-26T09:3{i}:00.000+08:00"   # what the phone computed for a calculate
            values = answers(inst, i)
            uuid = f"uuid:6f1c2a4e-0b7d-4c1e-9a3b-{i:012d}"
            unit = POINTS[i % len(POINTS)]["unit_code"]
            cells = [stamp if f.type == "calculate" else values.get(f.name, "") for _, f in columns]
            writer.writerow([f"2016-07-26T10:0{i}:00.000Z", unit] + cells + [uuid, uuid, "7", ""])
            sent.append({"unit_code": unit, **values})
    return sent


@pytest.mark.parametrize("name", ACCEPTED)
def test_central_csv_of_five_submissions_is_read_validated_and_exported(forms, tmp_path, name):
    inst = forms[name]
    sent = central_csv(inst, tmp_path / "submissions.csv")
    subs = odk.read_submissions(inst, tmp_path / "submissions.csv", today=TODAY)
    assert [r.submission for r in subs] == [f"uuid:6f1c2a4e-0b7d-4c1e-9a3b-{i:012d}" for i in range(5)]
    for r, want in zip(subs, sent):
        checked, problems = validate(inst, r, TODAY, sheet_where("submissions.csv"))
        assert problems == []
        assert (checked.unit_code, shown({k: v for k, v in checked.values.items() if k in want})) == \
            (want["unit_code"], shown({k: v for k, v in want.items() if k != "unit_code"}))
    assert subs.notes == (["重复组「其他家庭成员」的数据不在主文件中，暂不支持导入，已留空。"] if inst.repeats() else [])
    header, rows = export_csv.export_rows(inst, list(subs))
    assert header[0] == "unit_code" and len(rows) == 5
    assert [row[0] for row in rows] == [s["unit_code"] for s in sent]
    first = dict(zip(header, rows[0]))
    assert {k: first[k] for k in sent[0] if k in first} == {k: v for k, v in sent[0].items() if k in first}


# --- the web --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_round(tmp_path_factory):
    from serve_support import make_round

    return make_round(tmp_path_factory.mktemp("web") / "base")


@pytest.mark.parametrize("name", ACCEPTED)
def test_web_entry_two_equal_passes_are_settled(forms, base_round, tmp_path, monkeypatch, name):
    from test_serve_instruments import client_for, post

    from chouyang.entry import instrument_entry as ie
    from chouyang.round import store as instrument_store

    from serve_support import UNIT, copy_round

    inst = forms[name]
    monkeypatch.setattr(ie, "SOURCE", lambda rnd: {inst.name: inst})
    rnd = copy_round(base_round, tmp_path / "R")
    top, rows = answers(inst, 0), member_rows(inst, 2)
    form = _web_form(inst, top, rows)
    url = f"/instruments/{inst.name}/{UNIT}"
    first, second = client_for(rnd, "张三"), client_for(rnd, "李四")
    r = post(first, url, form)
    assert r.status_code == 303, r.text[-2000:]
    assert post(second, url, form).status_code == 303
    assert "两遍一致" in second.get("/instruments").text
    with rnd.store() as con:
        stored = instrument_store.stored_response(con, inst.name, UNIT)
    assert shown(stored.values) == shown(top)
    assert {g: [shown(r) for r in rs] for g, rs in stored.rows.items()} == rows


def _web_form(inst: Instrument, top: dict[str, str], rows: dict[str, list[dict]]) -> dict:
    """The posted entry form: f/<name>, a select_multiple's ticks as a list, rows/<repeat> and r/<repeat>/<i>/<name>."""
    multiple = {f.name for f in inst.fields() if f.type == "select_multiple"}
    form = {f"f/{k}": v.split() if k in multiple else v for k, v in top.items()}
    for g, members in rows.items():
        form[f"rows/{g}"] = str(len(members))
        form.update({f"r/{g}/{i}/{k}": v for i, row in enumerate(members) for k, v in row.items()})
    return form


CELL = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="|\\"), max_size=8)


@given(st.lists(st.lists(CELL.map(str.strip), min_size=2, max_size=2), min_size=1, max_size=4))
def test_a_markdown_table_reads_back_as_its_cells(rows):
    from xlsform_md import sheets

    assume(not any(c.startswith("-") or c.startswith(":") for c in rows[0]))   # a header, not a separator line
    text = "## survey\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"
    assert sheets(text)["survey"] == [r for r in rows if not _SEPARATOR.fullmatch("| " + " | ".join(r) + " |")]


def test_fixture_markdown_reads_as_the_sheets_it_shows():
    from xlsform_md import sheets

    found = sheets((FIXTURES / "conditional.md").read_text(encoding="utf-8"))
    assert list(found) == ["survey", "choices", "settings"]
    assert found["survey"][0][:3] == ["type", "name", "label::中文 (zh)"] and len(found["survey"]) == 7
    assert found["choices"][3] == ["age_group", "0_2", "0—2 岁", "0-2 years"]
    assert json.dumps(found["settings"], ensure_ascii=False) == \
        '[["form_title", "form_id", "version"], ["子女与收入情况调查表", "children_income", "1"]]'
