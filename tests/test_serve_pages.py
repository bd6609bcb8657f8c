"""The pages' presenters worked by hand: the keying and adjudication forms; a review list's fields read one by one."""

from __future__ import annotations

import pandas as pd
import pytest

from chouyang.entry import keyed
from chouyang.errors import ChouyangError
from chouyang.inputs.readers import mask_id
from chouyang.render.survey_workbook import FIRST_ROW
from chouyang.scan import review
from chouyang.serve.pages.entry import keyed_sheets
from chouyang.survey.check_rows import UnitChecklist

CHECKLIST = UnitChecklist("U1", {"births_check": pd.DataFrame({"ref": ["B001", "B002"], "mother_name": ["甲某", "乙某"]})})
ID_1, ID_2 = "411381199201010084", "411381199301010084"


def _picks(row) -> list[tuple[str, str, bool]]:
    [cell] = [c for c in row.cells if c.kind == "pick"]
    return cell.picks


def test_the_keying_form_shows_every_register_row_and_three_blank_new_rows():
    data = {"births_check": [{"ref": "B001", "result": "属实"}], "missed_births": [{"ref": "MB001", "sex": "男"}]}
    sheets = {s.key: s for s in keyed_sheets(CHECKLIST, data)}
    assert list(sheets) == ["births_check", "missed_births", "missed_women"]
    births = sheets["births_check"]
    assert [r.number for r in births.rows] == [FIRST_ROW, FIRST_ROW + 1] and births.count_name == ""
    first = births.rows[0].cells
    # the ref, the 6 register columns printed on the form, the 7 columns a clerk keys
    assert len(first) == 1 + 6 + 7 and (first[0].value, first[1].value, first[2].value) == ("B001", "甲某", "")
    assert (first[7].name, first[7].kind, first[7].value) == ("births_check.0.result", "select", "属实")
    assert births.rows[1].cells[7].value == "" and len(births.heads) == 1 + 1 + 6 + 7
    missed = sheets["missed_births"]  # one keyed row and 3 blank ones
    assert (missed.count, missed.count_name, missed.rows[0].ref) == (4, "missed_births.rows", "MB001")
    assert missed.rows[0].cells[1].kind == "id" and missed.rows[0].cells[4].value == "男"
    assert sheets["missed_women"].count == 3
    assert not any(r.mismatched for s in sheets.values() for r in s.rows)


def test_the_adjudication_form_offers_both_passes_and_preselects_only_a_saved_choice():
    mismatches = [keyed.Mismatch("births_check", 1, "B002", "witnesses", "3", "4"),
                  keyed.Mismatch("missed_births", 2, "", "mother_id", ID_1, ID_2)]
    base = {"births_check": [{"ref": "B001"}, {"ref": "B002", "witnesses": "4"}], "missed_births": []}
    sheets = {s.key: s for s in keyed_sheets(CHECKLIST, base, mismatches)}
    births = sheets["births_check"]
    assert [r.mismatched for r in births.rows] == [False, True]
    assert _picks(births.rows[1]) == [("@1", "一录：3", False), ("@2", "二录：4", False)]
    missed = sheets["missed_births"]  # no keyed row, a mismatch in the third: rows 1-3, no blank rows
    assert missed.count == 3 and [r.mismatched for r in missed.rows] == [False, False, True]
    [id_pick] = [c for c in missed.rows[2].cells if c.kind == "pick"]
    assert id_pick.picks[0][1] == "一录：" + mask_id(ID_1) and id_pick.note == "第 10 位不同"
    assert sheets["missed_women"].count == 0
    settled = {s.key: s for s in keyed_sheets(CHECKLIST, base, mismatches, settled=True)}
    assert [p[2] for p in _picks(settled["births_check"].rows[1])] == [False, True]  # the draft chose pass 2's 4
    first = keyed.Mismatch("births_check", 1, "B002", "witnesses", "4", "5")
    assert [p[2] for p in _picks(keyed_sheets(CHECKLIST, base, [first], settled=True)[0].rows[1])] == [True, False]
    neither = keyed.Mismatch("births_check", 1, "B002", "witnesses", "1", "2")
    assert [p[2] for p in _picks(keyed_sheets(CHECKLIST, base, [neither], settled=True)[0].rows[1])] == [False, False]


def test_a_review_field_naming_a_column_the_sheet_lacks_is_refused_with_its_item():
    field = {"key": "witnesses", "kind": "ticks", "options": [{"label": "0", "value": 0}], "value": 0}
    raw = {"sheet": "births_check", "workbook_row": 5, "fields": [field]}
    [item] = review.read_items("U1", {"format": 1, "items": [raw]})
    assert item.fields[0].values == ("0",) and item.fields[0].confidence is None and item.ref == ""
    with pytest.raises(ChouyangError, match=r"^U1：第 2 个核对条目格式不对（ValueError: unknown column nope）$"):
        review.read_items("U1", {"format": 1, "items": [raw, {**raw, "fields": [field, {**field, "key": "nope"}]}]})
    with pytest.raises(ChouyangError, match=r"^x.json：第 1 个核对条目格式不对（KeyError: 'value'）$"):
        review.read_items("U1", {"format": 1, "items": [{**raw, "fields": [{**field, "options": [{"label": "0"}]}]}]},
                          "x.json")
