"""The checklist (ZL1) as an instrument (instruments/checklist.py) against what today's code prints and reads.

For every built-in scheme and a small one holding every rule kind: the instrument's fields are
the checklist workbook's entry cells (same rows, same order, same choices as its drop-downs) and
the ZL1 layout record's tick groups and write-ins (same items, order, option codes and labels);
the definition passes `instruments.checks.check()` (where that module is present), exports to an
XLSForm that pyxform converts and that reads back as the same tree; and stored entries of a
township become a `Response` that validates and gives back the same points.
"""

import importlib.util
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chouyang.assessment.facts import Entries, check_entries, fact_fields, parse_entries
from chouyang.assessment.scheme import load_scheme_preset, parse_scheme
from chouyang.assessment.scoring import item_points
from chouyang.demo.checklist import simulate_entries
from chouyang.errors import ChouyangError
from chouyang.instruments import checklist as cl
from chouyang.instruments.checklist import checklist_entries, checklist_instrument, checklist_response, checklist_slots
from chouyang.instruments.export import export_rows
from chouyang.instruments.model import PAPER_NONE
from chouyang.instruments.odk import read_submissions
from chouyang.instruments.responses import sheet_where, validate
from chouyang.render import checklist_content, checklist_pdf
from chouyang.render.checklist_workbook import _LAYOUT, HEADER_ROW, write_checklist_workbook

PRESETS = sorted(p.stem for p in (Path(cl.__file__).parents[1] / "schemes").glob("*.toml"))
TOWN = "411381102"
# Every rule kind once: yes/no with a document, counts (open scale, bounded scale, too long for a scale),
# two rates (a slope: written; a threshold: bands), departments, an entered leaf score, a leaf scored
# in full by default in the half year, an entered and a survey component, three kinds of adjustment
# (one an add-on) and a flag.
ALL_KINDS = """\
[scheme]
name = "测试县综合治理考核"
section = "第二篇"
period = "half"

[composite]
points = 100

[[item]]
id = "A"
title = "综合治理"
points = 75

[[item]]
id = "A1"
parent = "A"
title = "调整领导小组"
points = 10
rule = "yes_no"
fact = "是否有正式文件"
evidence = "有正式文件"
reference_required = true

[[item]]
id = "A2"
parent = "A"
title = "领导小组会议"
points = 5
rule = "per_count"
per = 3
fact = "会议次数"

[[item]]
id = "A3"
parent = "A"
title = "专职工作人员"
points = 5
rule = "deduct_per_count"
per = 3
max_count = 2
fact = "缺少人数"

[[item]]
id = "A4"
parent = "A"
title = "事业费投入"
points = 20
rule = "rate_slope"
full_at = 50
per_point = 2.5
zero_below = 30
fact = "到位率（%）"

[[item]]
id = "A5"
parent = "A"
title = "示范村比例"
points = 10
rule = "rate_threshold"
threshold = 62.5
fact = "示范村比例（%）"

[[item]]
id = "A6"
parent = "A"
title = "部门互通信息"
points = 12
rule = "per_department"
per = 4
departments = ["公安", "教育", "民政"]
fact = "是否互通"

[[item]]
id = "A7"
parent = "A"
title = "年度报告"
points = 8
rule = "yes_no"
[item.half]
default_full = true

[[item]]
id = "A8"
parent = "A"
title = "宣传品发放"
points = 3
rule = "per_count"
per = 0.25
fact = "发放次数"

[[item]]
id = "A9"
parent = "A"
title = "群众评议"
points = 2
rule = "entered"

[[component]]
id = "A"
title = "综合治理"
points = 75
source = "checklist"
item = "A"

[[component]]
id = "county"
title = "县区考核"
points = 20
source = "entered"

[[component]]
id = "survey"
title = "抽样调查"
points = 5
source = "survey"
column = "deduction"

[[adjustment]]
id = "bonus"
title = "加分"
sign = "bonus"
cap = 5

[[adjustment.item]]
id = "site"
title = "为市工作会议提供现场"
rule = "fixed"
points = 1
evidence = "会议通知"

[[adjustment.item]]
id = "award"
title = "省级表彰"
rule = "entered"
min = 0.5
max = 3

[[adjustment]]
id = "deduction"
title = "减分"
sign = "deduction"
cap = 15

[[adjustment.item]]
id = "fees"
title = "乱收费（每起）"
rule = "per_count"
points = 1

[[adjustment.item]]
id = "fees_leader"
title = "乱收费涉及领导（加扣）"
rule = "per_count"
points = 1
requires = ["fees"]

[[flag]]
id = "accident"
title = "重大责任事故"
consequence = "veto"

[[consequence]]
id = "veto"
kind = "veto"
label = "一票否决"
"""


def _schemes():
    out = {name: load_scheme_preset(name) for name in PRESETS}
    out["all-kinds"] = parse_scheme(ALL_KINDS, "all-kinds.toml")
    return out


SCHEMES = _schemes()


def _slot_of(inst):
    """field name -> (table, id, department, column)."""
    return {f.name: key for key, f in checklist_slots(inst).items()}


# --- the workbook ---------------------------------------------------------------------------

def _workbook_cells(scheme, path):
    """Every entry cell of the written workbook in sheet/row/column order: (table, id, part, column),
    with the row's title, and the drop-down list of value cells."""
    write_checklist_workbook(path, scheme, round_id="R", round_name="测试", township_code=TOWN, township_name="罗庄镇")
    wb = openpyxl.load_workbook(path)
    cells, titles, lists = [], {}, {}
    for table, layout in _LAYOUT.items():
        sheet = {"facts": "综合治理清单", "scores": "录入得分", "adjustments": "加减分", "flags": "否决与违纪"}[table]
        if sheet not in wb.sheetnames:
            continue
        ws = wb[sheet]
        keys = [k for k, _, _ in layout]
        for dv in ws.data_validations.dataValidation:
            for rng in dv.sqref.ranges:
                lists[(sheet, rng.min_row)] = (dv.type, dv.formula1, dv.formula2)
        for i in range(HEADER_ROW + 1, ws.max_row + 1):
            ident = ws.cell(i, 1).value
            part = ws.cell(i, keys.index("part") + 1).value or "" if "part" in keys else ""
            titles[(table, ident, part)] = (ws.cell(i, keys.index("title") + 1).value, lists.get((sheet, i)))
            for j, key in enumerate(keys, start=1):
                if ws.cell(i, j).protection.locked is False:
                    cells.append((table, ident, part, key))
    return cells, titles


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_fields_are_the_workbook_entry_cells(name, tmp_path):
    scheme = SCHEMES[name]
    inst = checklist_instrument(scheme)
    cells, titles = _workbook_cells(scheme, tmp_path / "w.xlsx")
    slot = _slot_of(inst)
    asked = [f for f in inst.fields() if f.type != "note" and f.prefill is None]
    assert inst.fields()[0].name == "unit_code" and inst.fields()[0].prefill == "unit_code"
    assert [slot[f.name] for f in asked] == cells          # one-to-one, same order
    for f in asked:
        table, ident, part, column = slot[f.name]
        title, validation = titles[(table, ident, part)]
        assert f.scores == ident
        if column in ("value", "score"):
            assert f.label == (part or title)
            if validation and validation[0] == "list":        # the drop-down is the choice list
                assert inst.choices[f.choices].codes() == tuple(validation[1].strip('"').split(","))
            if validation and validation[0] == "whole" and f.type == "integer" and validation[2] != "9999":
                assert f.constraint.endswith(f". <= {validation[2]}")
    # a leaf scored in full by default has no entry cell and is a note
    notes = [f for f in inst.fields() if f.type == "note" and not f.name.endswith(".incomplete")]
    defaults = [i.id for i in scheme.leaves() if i.rules[scheme.period].default_full]
    assert [f.scores for f in notes] == defaults


# --- the printed checklist's layout record -----------------------------------------------------

def _layout_record(scheme):
    form = checklist_pdf.ChecklistForm("R", "测试", TOWN, "罗庄镇", scheme.period, checklist_pdf.checklist_rows(scheme))
    renderer = checklist_pdf.ChecklistRenderer(b"\x01" * 32, checklist_pdf.checklist_font([form]))
    return renderer.render([form])[2][0]


@pytest.fixture(scope="module")
def records():
    return {name: _layout_record(scheme) for name, scheme in SCHEMES.items()}


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_fields_on_paper_are_the_layout_records_ticks_and_write_ins(name, records):
    inst = checklist_instrument(SCHEMES[name])
    record = records[name]
    assert record["form"] == inst.code == "ZL1"
    by_slot = checklist_slots(inst)
    printed = []
    for page in record["pages"]:
        for row in page["rows"]:
            for spec in row["fields"].values():
                f = by_slot[(row["section"], row["ref"], spec["part"], spec["column"])]
                printed.append(f.name)
                if spec["kind"] == "ticks":
                    options = [(o["label"], str(o["value"])) for o in spec["options"]]
                    assert f.paper == "ticks" and [(c.label, c.code) for c in inst.choice_list(f).choices] == options
                else:
                    assert f.paper in ("write", "digits") and f.type in ("text", "decimal", "integer")
                # paper asks for an explicit 否 on every adjustment and flag (an empty group goes to review);
                # the stored entries do not (empty = nothing happened), so neither does the instrument
                paper_only = spec["kind"] == "ticks" and row["section"] in ("adjustments", "flags")
                assert (f.required == "yes") == (spec["required"] and not paper_only)
    on_paper = [f.name for f in inst.fields() if f.type != "note" and f.paper != PAPER_NONE and f.prefill is None]
    assert printed == on_paper                               # same fields, same order, nothing extra


def test_dengzhou_by_hand():
    inst = checklist_instrument(SCHEMES["dengzhou-2016h1"])
    fields = {f.name: f for f in inst.fields()}
    assert (inst.name, inst.code, inst.per, inst.title) == ("checklist", "ZL1", "township", "综合治理考核清单")
    assert [g.name for g in inst.children] == ["unit_code", "facts", "adjustments", "flags"]   # no entered scores in this scheme
    a124 = fields["item_A1.2.4"]   # 每1计3分，计满5分: 0 1 2+, "2+" stored 2
    assert (a124.type, a124.paper, a124.required) == ("integer", "ticks", "yes")
    assert [(c.label, c.code) for c in inst.choice_list(a124).choices] == [("0", "0"), ("1", "1"), ("2+", "2")]
    assert a124.hint.startswith("计分：每1计3分，计满5分为止；查看：会议次数")
    assert fields["item_A1.2.1.ref"].required == "${item_A1.2.1} = '是'" and fields["item_A1.2.1.ref"].paper == "write"
    assert fields["item_A1.1.1.ref"].paper == PAPER_NONE and fields["item_A1.1.1.note"].paper == PAPER_NONE
    band = [f for f in fields.values() if f.choices and f.choices.startswith("band_")]
    assert [(c.label, c.code) for c in inst.choice_list(band[0]).choices] == [("≥65%", "65"), ("<65%", "0")]
    assert [fields[f"item_A2.2.1.d{k}"].label for k in range(1, 6)] == list(SCHEMES["dengzhou-2016h1"].rule("A2.2.1").departments)
    assert inst.group("g_item_A1.1").label == "签订目标管理责任书，明确各级各部门任务（20分）"
    assert fields["adj_fees.reason"].required == "${adj_fees} > 0"
    assert fields["flag_major_accident"].choices == "yes_no"
    assert fields["flag_major_accident.evidence"].required == "${flag_major_accident} = '是'"
    assert fields["flag_major_accident"].hint == "后果：一票否决"
    # A3.1.2 is a threshold in the half year (bands) and a slope in the full year (a rate written)
    assert fields["item_A3.1.2"].choices == "band_65"
    full = {f.name: f for f in checklist_instrument(SCHEMES["dengzhou-2016h1"], "full").fields()}
    assert (full["item_A3.1.2"].type, full["item_A3.1.2"].choices) == ("decimal", None)
    # A2.4 is scored in full by default in the half year only; A3's missing part is a note in both
    notes = ["item_A3.incomplete", "item_A3.1.incomplete"]
    assert [f.name for f in fields.values() if f.type == "note"] == ["item_A2.4"] + notes
    assert [f.name for f in full.values() if f.type == "note"] == notes and full["item_A2.4.ref"].paper == "write"


def test_all_kinds_by_hand():
    inst = checklist_instrument(SCHEMES["all-kinds"])
    f = {x.name: x for x in inst.fields()}
    assert (f["item_A3"].constraint, f["item_A3"].choices) == (". >= 0 and . <= 2", "count_0_2")   # bounded: no "+"
    assert (f["item_A8"].paper, f["item_A8"].choices) == ("digits", None)   # 13 boxes: too long for a scale
    assert (f["item_A4"].type, f["item_A4"].constraint) == ("decimal", ". >= 0 and . <= 100")
    assert inst.choices["band_62.5"].codes() == ("62.5", "0")
    assert (f["item_A9"].type, f["item_A9"].constraint) == ("decimal", ". >= 0 and . <= 2")
    assert f["item_A7"].type == "note"
    assert f["score_county"].required == "yes" and f["score_survey"].required is None
    assert f["score_survey.evidence"].required == "${score_survey} != ''"
    assert f["adj_award"].constraint == ". = 0 or (. >= 0.5 and . <= 3)"
    assert inst.group("adjgroup_bonus").label == "加分（累计不超过5分）"


def test_the_renderer_prints_the_definitions_rule_wording():
    """One copy of the rule in words and its tick options: the printed checklist uses the definition's."""
    limit = cl.max_scale_options()
    assert limit == int(checklist_pdf.load_checklist_layout()["max_scale_options"]) == 10
    assert cl.TITLE == checklist_pdf.load_checklist_layout()["title"]
    for name in ("rule_summary", "count_scale", "rate_bands"):
        assert getattr(checklist_content, name) is getattr(cl, name), name
    assert set(checklist_pdf.RULE_WORDING) >= {cl.rule_summary, cl.count_scale, cl.rate_bands}   # their glyphs are in the font


def test_a_scheme_whose_ids_collide_as_names_is_refused():
    text = ALL_KINDS.replace('id = "fees_leader"', 'id = "fees.reason"').replace('requires = ["fees"]', "")
    with pytest.raises(ChouyangError, match="编号换成题目名称后重复（adj_fees.reason）"):
        checklist_instrument(parse_scheme(text, "t.toml"))


# --- definition checks and XLSForm --------------------------------------------------------------

_HAVE_CHECKS = importlib.util.find_spec("chouyang.instruments.checks") is not None
_HAVE_XLSFORM = importlib.util.find_spec("chouyang.instruments.xlsform") is not None


@pytest.mark.skipif(not _HAVE_CHECKS, reason="instruments.checks (branch xlsform) not present")
@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_definition_passes_check(name):
    from chouyang.instruments.checks import check

    inst = checklist_instrument(SCHEMES[name])
    assert check(inst) == []   # counts (integer) and banded rates (decimal) are tick scales: paper = "ticks"
    numbers = [f for f in inst.fields() if f.choices and not f.is_select]
    assert all(f.is_scale and f.type in ("integer", "decimal") for f in numbers)


@pytest.mark.skipif(not _HAVE_XLSFORM, reason="instruments.xlsform (branch xlsform) not present")
@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_xlsform_export_converts_with_pyxform_and_reads_back(name, tmp_path):
    from pyxform.xls2xform import convert

    from chouyang.instruments import xlsform

    inst = checklist_instrument(SCHEMES[name])
    xlsform.export(inst, tmp_path / "checklist.xlsx")
    warnings: list[str] = []
    result = convert(xlsform=str(tmp_path / "checklist.xlsx"), warnings=warnings)
    assert warnings == [] and 'id="checklist"' in result.xform
    assert all(f"/{f.name}" in result.xform for f in inst.fields() if f.type != "note")
    # a count stays a number on the phone (its scale is in chouyang::choices, for paper only)
    counts = [f for f in inst.fields() if f.is_scale and f.type == "integer"]
    assert all(f'/{f.name}" type="int"' in result.xform for f in counts)
    back = xlsform.read(tmp_path / "checklist.xlsx")
    assert back.fields() == inst.fields() and back.choices == inst.choices   # scales and all
    assert [(g.name, g.label) for g in back.groups()] == [(g.name, g.label) for g in inst.groups()]


# --- stored entries as a response -----------------------------------------------------------------

DENGZHOU = SCHEMES["dengzhou-2016h1"]
TOWNS = pd.DataFrame({"township_code": [TOWN], "township_name": ["罗庄镇"]})


def test_response_of_hand_entries_on_the_demo_scheme():
    inst = checklist_instrument(DENGZHOU)
    departments = DENGZHOU.rule("A2.2.1").departments
    entries = Entries.from_records(
        facts=[{"township_code": TOWN, "item": "A1.1.1", "value": "是"},
               {"township_code": TOWN, "item": "A1.2.1", "value": "是", "reference": "邓政〔2016〕3号"},
               {"township_code": TOWN, "item": "A1.2.2", "value": "是"},    # a document needed, none given
               {"township_code": TOWN, "item": "A1.2.4", "value": "2", "note": "两次会议"},
               {"township_code": TOWN, "item": "A1.5", "value": "47.5%"},
               {"township_code": TOWN, "item": "A3.1.2", "value": "71.3"},   # rate_threshold 65: kept as typed
               {"township_code": TOWN, "item": "A2.2.1", "part": departments[1], "value": "否"}],
        adjustments=[{"township_code": TOWN, "item": "city_site", "value": "是", "reason": "现场会", "evidence": "通知"}],
        flags=[{"township_code": TOWN, "flag": "major_accident", "value": "否"}])
    assert DENGZHOU.rule("A3.1.2").kind == "rate_threshold" and DENGZHOU.rule("A1.5").kind == "rate_slope"
    response = checklist_response(inst, entries)
    assert (response.instrument, response.unit_code, response.key) == ("checklist", TOWN, "")
    assert response.values == {
        "unit_code": TOWN, "item_A1.1.1": "是", "item_A1.2.1": "是", "item_A1.2.1.ref": "邓政〔2016〕3号",
        "item_A1.2.2": "是", "item_A1.2.4": "2",
        "item_A1.2.4.note": "两次会议", "item_A1.5": "47.5", "item_A3.1.2": "71.3", "item_A2.2.1.d2": "否",
        "adj_city_site": "是", "adj_city_site.reason": "现场会", "adj_city_site.evidence": "通知", "flag_major_accident": "否"}
    _, problems = validate(inst, response, date(2016, 7, 1), sheet_where("t"))
    # the hand entries are partial: every other fact row the workbook requires is missing, nothing else
    required = fact_fields(DENGZHOU).required.sum()
    assert DENGZHOU.period == "half" and required == 34
    assert [p.message for p in problems] == ["必填，未填写"] * (required - 7 + 1)
    missing = {p.column for p in problems}
    assert "文件名称或文号（item_A1.2.2.ref）" in missing and not any("item_A1.2.1.ref" in c for c in missing)
    assert f"{departments[0]}（item_A2.2.1.d1）" in missing and f"{departments[1]}（item_A2.2.1.d2）" not in missing
    assert not any("item_A1.1.1" in c for c in missing)
    header, rows = export_rows(inst, [response])      # what `chouyang export --instrument checklist` writes
    assert header[:3] == ["unit_code", "item_A1.1.1", "item_A1.1.1.ref"] and len(header) == len(
        [f for f in inst.fields() if f.type != "note"])
    assert rows[0][0] == TOWN and rows[0][header.index("item_A3.1.2")] == "71.3"   # the report reads 71.3, not 65


def test_entries_of_other_townships_are_refused():
    inst = checklist_instrument(DENGZHOU)
    entries = Entries.from_records(facts=[{"township_code": "1", "item": "A1.1.1", "value": "是"},
                                          {"township_code": "2", "item": "A1.1.1", "value": "否"}])
    with pytest.raises(ChouyangError, match="只有一个乡镇，实际有 2 个：1、2"):
        checklist_response(inst, entries)
    with pytest.raises(ChouyangError, match="综合治理清单：A9 的「value」在调查表中没有对应的题目"):
        checklist_response(inst, Entries.from_records(facts=[{"township_code": "1", "item": "A9", "value": "是"}]))


def _points(scheme, parsed, code):
    """Every leaf's points, and the adjustments and flags, as scoring reads them."""
    leaves = {i.id: item_points(i.rules[scheme.period], parsed.facts.get((code, i.id)))
              for i in scheme.leaves() if not i.rules[scheme.period].default_full}
    return leaves, parsed.scores, parsed.adjustments, parsed.flags, parsed.references


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.text(alphabet="abcdef0123456789", min_size=1, max_size=8),
       name=st.sampled_from(sorted(SCHEMES)))
def test_stored_entries_round_trip_through_a_response(seed, name):
    """Simulated complete entries -> response (validates clean) -> entries: the same points, texts and flags."""
    scheme = SCHEMES[name]
    inst = checklist_instrument(scheme)
    computed = {c.id: set() for c in scheme.components.values() if c.source in ("survey", "indicator")}
    entries = simulate_entries(scheme, TOWNS, seed, computed)
    assert check_entries(scheme, entries, [TOWN], computed) == []
    response = checklist_response(inst, entries)
    normalised, problems = validate(inst, response, date(2016, 7, 1), sheet_where("t"))
    assert problems == []
    back = checklist_entries(inst, normalised)
    assert check_entries(scheme, back, [TOWN], computed) == []
    before, after = parse_entries(scheme, entries), parse_entries(scheme, back)
    assert _points(scheme, before, TOWN) == _points(scheme, after, TOWN)
    # lossless: every fact is the same value, a banded rate's typed number too (71.3 stays 71.3)
    assert before.facts == after.facts and before.references == after.references


def test_a_phone_submission_is_the_same_response(tmp_path):
    """An ODK Central CSV (group-prefixed headers, metadata columns) of simulated entries reads back as
    the response of the stored entries."""
    inst = checklist_instrument(DENGZHOU)
    response = checklist_response(inst, simulate_entries(DENGZHOU, TOWNS, "phone"))
    normalised, problems = validate(inst, response, date(2016, 7, 1), sheet_where("t"))
    assert problems == []
    columns = [("-".join(g.name for g in groups + (f,)), f.name) for groups, f in inst.walk() if f.type != "note"]
    header = ["SubmissionDate"] + [h for h, _ in columns] + ["KEY"]
    row = ["2016-07-01T10:00:00Z"] + [normalised.values.get(n, "") for _, n in columns]
    row.append("uuid:0b7c2a3e-5f1d-4c8a-9e6b-1a2b3c4d5e6f")
    lines = [",".join(header), ",".join(f'"{c}"' for c in row)]
    (tmp_path / "submissions.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))
    got = read_submissions(inst, tmp_path / "submissions.csv", today=date(2016, 7, 1))
    assert len(got) == 1 and got[0].unit_code == TOWN
    assert {k: v for k, v in got[0].values.items() if v} == {k: v for k, v in normalised.values.items() if v}


_VALUES = ["", "是", "否", "0", "1", "2", "3", "7", "-1", "2.5", "47.5%", "65", "101", "1e1", "abc", "邓政〔2016〕3号"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SCHEMES)), pick=st.integers(0, 10 ** 6), column=st.integers(0, 2),
       value=st.sampled_from(_VALUES))
def test_validation_refuses_what_check_entries_refuses(name, pick, column, value):
    """One cell of complete entries changed: the instrument's validation refuses it exactly when
    facts.check_entries does.  Left out, as the instrument cannot say it: the scores of survey components
    (whether they are due depends on the draw)."""
    scheme = SCHEMES[name]
    inst = checklist_instrument(scheme)
    survey = {c.id for c in scheme.components.values() if c.source in ("survey", "indicator")}
    entries = simulate_entries(scheme, TOWNS, "diff", {c: set() for c in survey})
    tables = {t: [dict(r) for r in getattr(entries, t).to_dict("records")] for t in ("facts", "scores", "adjustments", "flags")}
    cells = [(t, i, c) for t, rows in tables.items() for i, r in enumerate(rows)
             if not (t == "scores" and r["component"] in survey)
             for c in {"facts": ("value", "reference", "note"), "scores": ("score", "evidence"),
                       "adjustments": ("value", "reason", "evidence"), "flags": ("value", "reason", "evidence")}[t][column:column + 1]]
    table, i, col = cells[pick % len(cells)]
    tables[table][i][col] = value
    changed = Entries.from_records(**tables)
    refused = check_entries(scheme, changed, [TOWN], {c: set() for c in survey}) != []
    _, problems = validate(inst, checklist_response(inst, changed), date(2016, 7, 1), sheet_where("t"))
    assert (problems != []) == refused, (table, tables[table][i], problems)


@pytest.mark.parametrize(("fees", "leader", "refused"), [("1", "1", False), ("1", "2", True), ("", "1", True),
                                                         ("0", "1", True), ("", "0", False), ("2", "2", False)])
def test_an_add_on_counts_only_with_its_base_and_not_more_often(fees, leader, refused):
    """加扣 (fees_leader requires fees): refused by the instrument exactly when check_entries refuses it."""
    scheme = SCHEMES["all-kinds"]
    inst = checklist_instrument(scheme)
    f = {x.name: x for x in inst.fields()}
    base = "if(${adj_fees} > 0, ${adj_fees}, 0)"
    assert f["adj_fees_leader"].constraint == f"(. >= 0) and (. = 0 or ({base} > 0 and . <= {base}))"
    values = {"adj_fees": fees, "adj_fees.reason": "收费", "adj_fees.evidence": "票据",
              "adj_fees_leader": leader, "adj_fees_leader.reason": "领导", "adj_fees_leader.evidence": "通报"}
    response = checklist_response(inst, simulate_entries(scheme, TOWNS, "addon", {"survey": set()}))
    response = type(response)(**{**response.__dict__, "values": {**response.values, **values}})
    _, problems = validate(inst, response, date(2016, 7, 1), sheet_where("t"))
    entries = checklist_entries(inst, response)
    assert (check_entries(scheme, entries, [TOWN], {"survey": set()}) != []) == refused
    message = "应为 0 或正整数（起数、例数）；加扣须依附于同一乡镇的「乱收费（每起）」，起数不能多于它们的起数"
    assert [p.message for p in problems] == ([message] if refused else [])
