"""The web workstation's pure parts on small hand-made tables: case feedback, double entry, review adapter, progress."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chouyang.entry import keyed
from chouyang.errors import ChouyangError
from chouyang.render.survey_workbook import FIRST_ROW
from chouyang.round import store
from chouyang.scan import review
from chouyang.serve.app import Sessions
from chouyang.serve.pages.review import option_keys
from chouyang.serve.views import problem_text
from chouyang.survey import feedback, progress
from chouyang.survey.check_rows import UnitChecklist

BIRTH = {"ref": "B001", "result": "虚报", "witnesses": "3", "verified": "是", "note": "", "true_sex": "",
         "true_birth_date": "", "true_parity": ""}
MISSED = {"mother_id": "", "mother_name": "某", "child_name": "", "sex": "男", "birth_date": "2016-01-02",
          "parity": "1", "policy": "政策内", "witnesses": "3", "verified": "是", "note": ""}
ENTRIES = {"U1": {"births_check": [BIRTH], "missed_births": [MISSED, {**MISSED, "sex": "女"}]}}


def cases_table() -> pd.DataFrame:
    return pd.DataFrame([
        {"township_code": "T", "unit_code": "U1", "kind": "birth_false", "ref": "B001", "parity": "1",
         "procedure_type": "", "witnesses": "3", "verified": "是", "confirmed": 1},
        {"township_code": "T", "unit_code": "U1", "kind": "birth_missed", "ref": "MB002", "parity": "1",
         "procedure_type": "", "witnesses": "3", "verified": "是", "confirmed": 1}])


# --- feedback --------------------------------------------------------------------------------

def test_case_rows_follow_the_refs_cases_give():
    assert feedback.case_row(ENTRIES["U1"], "B001") == ("births_check", 0, BIRTH)
    assert feedback.case_row(ENTRIES["U1"], "MB002")[:2] == ("missed_births", 1)
    assert feedback.case_row(ENTRIES["U1"], "MB003") is None and feedback.case_row(ENTRIES["U1"], "MW001") is None


def test_identity_ignores_witnesses_and_note_but_not_facts():
    base = feedback.case_identity(ENTRIES["U1"], "B001", "birth_false")
    more_witnesses = {"births_check": [{**BIRTH, "witnesses": "5", "note": "又有两人反映"}]}
    other_result = {"births_check": [{**BIRTH, "result": "错报", "true_sex": "女"}]}
    assert feedback.case_identity(more_witnesses, "B001", "birth_false") == base
    assert feedback.case_identity(other_result, "B001", "birth_wrong") != base


def _store():
    con = sqlite3.connect(":memory:")
    store.ensure_schema(con)
    return con


def test_transitions_and_comments():
    con = _store()
    ident = feedback.case_identity(ENTRIES["U1"], "B001", "birth_false")
    change = lambda new, comment="": store.change_case_status(con, "U1", "B001", "birth_false", ident, new, comment,
                                                              "张三", "2016-07-28T10:00:00Z")
    with pytest.raises(ChouyangError, match="不能改为「撤销」（可改为：有异议、确认）"):
        change("撤销", "x")
    with pytest.raises(ChouyangError, match="必须填写说明"):
        change("有异议")
    with pytest.raises(ChouyangError, match="没有「作废」这个状态"):
        change("作废")
    assert change("有异议", "不认可") == "现场反馈"
    assert change("复核") == "有异议"
    assert change("撤销", "复核不成立") == "复核"
    with pytest.raises(ChouyangError, match="必须填写说明"):
        change("复核")  # reopening a final status must say why
    assert [c.status for c in store.case_history(con, "U1", "B001")] == ["有异议", "复核", "撤销"]


def test_withdrawn_case_counts_nowhere_and_a_status_lapses_when_its_facts_change():
    con = _store()
    ident = feedback.case_identity(ENTRIES["U1"], "MB002", "birth_missed")
    for new, comment in (("有异议", "a"), ("复核", ""), ("撤销", "出生在时限之前")):
        store.change_case_status(con, "U1", "MB002", "birth_missed", ident, new, comment, "李四", "t")
    out = feedback.apply_statuses(cases_table(), ENTRIES, store.case_history(con))
    assert list(out.status) == ["现场反馈", "撤销"] and list(out.confirmed) == [1, 0]
    assert out.status_note[1] == "出生在时限之前（李四 t）"
    scoring = feedback.scoring_entries(ENTRIES, out)
    assert scoring["U1"]["missed_births"] == [MISSED] and scoring["U1"]["births_check"] == [BIRTH]
    replaced = {"U1": {**ENTRIES["U1"], "missed_births": [MISSED, {**MISSED, "sex": "男", "child_name": "另一个"}]}}
    lapsed = feedback.apply_statuses(cases_table(), replaced, store.case_history(con))
    assert lapsed.status[1] == "现场反馈" and lapsed.confirmed[1] == 1
    assert "录入内容已变更，原状态「撤销」不再适用" in lapsed.status_note[1]


# --- double entry -------------------------------------------------------------------------------

CHECKLIST = UnitChecklist("U1", {"births_check": pd.DataFrame({"ref": ["B001", "B002"]})})


def _form(rows: dict, missed: list[dict] = ()) -> dict:
    form = {keyed.field_name("births_check", i, k): v for i, values in rows.items() for k, v in values.items()}
    for i, values in enumerate(missed):
        form.update({keyed.field_name("missed_women", i, k): v for k, v in values.items()})
    return {**form, "missed_births.rows": "0", "missed_women.rows": str(len(missed))}


def test_a_pass_from_a_form_keeps_hidden_ids_and_drops_empty_new_rows():
    pid = "411381199201010084"
    first = keyed.parse_form(_form({0: {"result": "属实"}, 1: {"result": "虚报", "witnesses": " 3 "}},
                                   [{"person_id": pid, "name": "周某"}, {}]), CHECKLIST)
    assert [r["ref"] for r in first["births_check"]] == ["B001", "B002"]
    assert first["births_check"][1]["witnesses"] == "3" and len(first["missed_women"]) == 1
    again = keyed.parse_form(_form({}, [{"person_id": "", "name": "周某"}]), CHECKLIST, first)
    assert again["missed_women"][0]["person_id"] == pid  # the masked box was left empty
    cleared = keyed.parse_form({**_form({}, [{"person_id": "", "name": "周某"}]),
                                "missed_women.0.person_id.clear": "1"}, CHECKLIST, first)
    assert cleared["missed_women"][0]["person_id"] == ""
    assert again["births_check"][1]["result"] == "虚报"  # fields the form does not carry keep their values


def test_mismatches_resolution_and_clerk_errors():
    a = keyed.parse_form(_form({0: {"result": "属实"}, 1: {"result": "虚报", "witnesses": "3"}}), CHECKLIST)
    b = keyed.parse_form(_form({0: {"result": "属实"}, 1: {"result": "虚报", "witnesses": "4"}},
                               [{"name": "周某"}]), CHECKLIST)
    found = keyed.compare(a, b)
    assert [(m.sheet, m.row, m.key, m.first, m.second) for m in found] == [
        ("births_check", FIRST_ROW + 1, "witnesses", "3", "4"), ("missed_women", FIRST_ROW, "name", "", "周某")]
    resolved, open_ = keyed.resolve({"births_check.1.witnesses": "@2"}, found)
    assert resolved["births_check.1.witnesses"] == "4" and [m.key for m in open_] == ["name"]
    final = keyed.parse_form({**resolved, "missed_women.0.name": ""}, CHECKLIST, b)
    # a: 2 birth rows x 7 entry columns = 14 fields, witnesses 3 differs from the settled 4;
    # b: 14 + the new row's 8 columns = 22 fields, the name it keyed was not kept
    assert keyed.errors_against(a, final) == (14, 1) and keyed.errors_against(b, final) == (22, 1)
    assert keyed.differing_positions("411381199201010084", "411381199301010084") == "第 10 位不同"


@given(st.lists(st.sampled_from(["", "属实", "虚报", "错报"]), min_size=2, max_size=2),
       st.lists(st.sampled_from(["", "属实", "虚报", "错报"]), min_size=2, max_size=2))
def test_picking_every_mismatch_from_one_pass_gives_that_pass(left, right):
    a = keyed.parse_form(_form({i: {"result": v} for i, v in enumerate(left)}), CHECKLIST)
    b = keyed.parse_form(_form({i: {"result": v} for i, v in enumerate(right)}), CHECKLIST)
    mismatches = keyed.compare(a, b)
    resolved, open_ = keyed.resolve({keyed.field_name(m.sheet, m.index, m.key): "@2" for m in mismatches}, mismatches)
    form = {**_form({i: {"result": v} for i, v in enumerate(left)}), **resolved}
    assert not open_ and keyed.compare(keyed.parse_form(form, CHECKLIST), b) == []


def test_entry_file_rows_are_the_workbook_rows():
    data = keyed.parse_form(_form({0: {"result": "属实"}, 1: {"result": "属实"}}), CHECKLIST)
    entry = keyed.entry_file({"round_id": "R", "unit_code": "U1"}, CHECKLIST, data, "网页")
    assert [row for row, _ in entry.sheets["births_check"]] == [FIRST_ROW, FIRST_ROW + 1]
    assert entry.sheets["births_check"][1][1]["ref"] == "B002" and entry.sheets["missed_births"] == []


# --- review adapter ------------------------------------------------------------------------------

WITNESSES = [{"label": str(n), "value": n} for n in range(5)] + [{"label": "5+", "value": 5}]
RAW = {"sheet": "births_check", "sheet_label": "出生核对", "workbook_row": 5, "ref": "B002", "blank_index": None,
       "page": 3, "crop": "c.png", "issues": ["标记不清"],
       "fields": [{"key": "witnesses", "label": "反映群众人数", "kind": "ticks", "options": WITNESSES, "value": 3,
                   "confidence": 0.6, "marks": ["empty", "empty", "empty", "marked", "uncertain", "empty"]},
                  {"key": "note", "label": "备注", "kind": "write", "value": None, "written": True,
                   "confidence": 0.9}]}


def _file(*items, **extra) -> dict:
    return {"format": 1, "round_id": "2016H1", "unit_code": "U1", "items": list(items), **extra}


def test_review_adapter_reads_the_scan_readers_format_and_refuses_a_broken_file():
    [item] = review.read_items("U1", _file(RAW))
    assert (item.sheet, item.row, item.ref, item.page) == ("births_check", 5, "B002", 3)
    assert item.fields[0].values == ("0", "1", "2", "3", "4", "5") and item.fields[0].value == "3"
    assert item.fields[0].marks[3:5] == ("marked", "uncertain")
    assert item.fields[1].kind == "write" and item.fields[1].value == "" and item.fields[1].written
    assert review.read_items("U1", _file({**RAW, "page": 4}))[0].id != item.id  # a new scan: new items
    assert review.read_items("U1", _file({**RAW, "ref": None, "blank_index": 2}))[0].ref == ""
    with pytest.raises(ChouyangError, match="第 1 个核对条目格式不对"):
        review.read_items("U1", _file({**RAW, "sheet": "别的表"}))
    with pytest.raises(ChouyangError, match="应为 format 1"):
        review.read_items("U1", _file(RAW, format=2))
    with pytest.raises(ChouyangError, match="有 items 列表"):
        review.read_items("U1", [RAW])


def test_review_decisions_are_checked_against_the_options():
    [item] = review.read_items("U1", _file(RAW))
    assert review.decision_values(item, {"f.witnesses": "5", "f.note": " 补录 "}, {}) == {"witnesses": "5",
                                                                                        "note": "补录"}
    with pytest.raises(ChouyangError, match="只能选择：0、1、2、3、4、5\\+（收到：6）"):
        review.decision_values(item, {"f.witnesses": "6"}, {})
    assert review.cell_value("3") == 3 and review.cell_value("") is None and review.cell_value("是") == "是"
    assert option_keys(item.fields[0].options) == ["0", "1", "2", "3", "4", "5"]
    assert option_keys((review.Option("是", "是"), review.Option("否", "否"))) == ["1", "2"]


# --- progress, sessions, masking -------------------------------------------------------------------

def test_progress_rolls_up_per_team_day_and_township():
    primary = pd.DataFrame({"township_code": ["T1", "T1", "T2"], "township_name": ["甲", "甲", "乙"],
                            "unit_code": ["U1", "U2", "U3"], "unit_name": ["a", "b", "c"]})
    plan = pd.DataFrame({"team_id": ["01", "01", "02"], "date": ["D1", "D2", "D1"], "township_code": ["T1", "T1", "T2"],
                         "unit_code": ["U1", "U2", "U3"]})
    cases = pd.DataFrame({"unit_code": ["U1", "U1", "U1", "U3"], "confirmed": [1, 0, 0, 1],
                          "status": ["有异议", "现场反馈", "撤销", "确认"]})
    units = progress.unit_progress(primary, plan, {"U1", "U3"}, cases, {"U1": (3, 4), "U2": (0, 2)}, {"U1": 2})
    town = progress.rollup(units, ["township_code"]).set_index("township_code")
    assert town.loc["T1", ["points", "entered", "pages_received", "pages_missing", "review_open"]].tolist() == [2, 1, 3, 1, 2]
    assert town.loc["T1", ["cases_confirmed", "cases_pending", "cases_withdrawn", "objections_open"]].tolist() == [1, 1, 1, 1]
    assert town.loc["T2", "pages_expected"] is pd.NA
    assert progress.totals(units)["cases_confirmed"] == 2


def test_sessions_expire_when_idle_and_end_at_logout():
    sessions = Sessions(idle=60)
    s = sessions.new()
    assert sessions.get(s.sid) is s
    s.seen -= 61
    assert sessions.get(s.sid) is None
    t = sessions.new()
    sessions.end(t.sid)
    assert sessions.get(t.sid) is None and sessions.get(None) is None


def test_problems_on_pages_mask_id_numbers():
    from chouyang.errors import Problem

    text = problem_text(Problem("网页录入", "身份证号无效", 4, "身份证号", "411381199201010085", sheet="漏档妇女"))
    assert "411381199201010085" not in text and "411381********0085" in text
