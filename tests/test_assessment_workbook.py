"""The checklist entry workbook (assessment_workbook.py): layout, validation lists, round trip into the same scores."""

import openpyxl
import pandas as pd
import pytest

from chouyang.assessment.facts import Entries, check_entries
from chouyang.assessment.scheme import load_scheme_preset
from chouyang.assessment.scoring import assess
from chouyang.demo.checklist import simulate_entries
from chouyang.errors import ChouyangError
from chouyang.render.checklist_workbook import (
    FORM_CODE,
    fill_checklist_workbook,
    identity_problems,
    read_checklist_workbook,
    write_checklist_workbook,
)

DENGZHOU = load_scheme_preset("dengzhou-2016h1")
TOWN = pd.DataFrame({"township_code": ["411381102"], "township_name": ["罗庄镇"]})


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    path = tmp_path_factory.mktemp("checklist") / "411381102.xlsx"
    write_checklist_workbook(path, DENGZHOU, round_id="2016H1", round_name="邓州市2016年上半年考核",
                             township_code="411381102", township_name="罗庄镇")
    return path


def test_layout_meta_and_validation(blank):
    wb = openpyxl.load_workbook(blank)
    assert wb.sheetnames == ["综合治理清单", "加减分", "否决与违纪", "_meta"]  # no entered scores in this scheme
    assert wb["_meta"].sheet_state == "veryHidden"
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["round_id"] == "2016H1" and meta["township_code"] == "411381102" and meta["form_code"] == FORM_CODE
    assert meta["period"] == "half" and meta["scheme_sha256"] == DENGZHOU.sha256
    ws = wb["综合治理清单"]
    assert ws["A1"].value.startswith("邓州市2016年上半年考核　罗庄镇（411381102）") and ws.protection.sheet
    assert [c.value for c in ws[3]] == ["编号", "项目", "分值", "计分规则", "须查看的材料", "填报内容", "部门", "填报值",
                                        "文件名称或文号", "备注"]
    assert ws.max_row == 3 + 35
    rows = {(ws.cell(i, 1).value, ws.cell(i, 7).value or ""): i for i in range(4, ws.max_row + 1)}
    a24 = rows[("A2.4", "")]
    assert ws.cell(a24, 6).value == "半年考核默认满分，不用填写" and ws.cell(a24, 8).protection.locked
    assert not ws.cell(rows[("A1.5", "")], 8).protection.locked
    assert "上半年计划生育事业费投入到位率达到50%以上计30分" in ws.cell(rows[("A1.5", "")], 4).value
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert lists and lists[0].formula1 == '"是,否"'
    assert f"H{rows[('A2.2.1', '公安')]}" in str(lists[0].sqref)
    counts = {str(dv.sqref): dv.formula2 for dv in ws.data_validations.dataValidation if dv.type == "whole"}
    assert counts[f"H{rows[('A3.1.1', '')]}"] == "2"
    assert ws.print_title_rows == "$3:$3"


def test_round_trip_gives_the_same_assessment(blank, tmp_path):
    entries = simulate_entries(DENGZHOU, TOWN, "wb")
    path = tmp_path / "filled.xlsx"
    path.write_bytes(blank.read_bytes())
    fill_checklist_workbook(path, entries)
    read = read_checklist_workbook(path)
    assert read.problems == [] and read.meta["township_code"] == "411381102"
    assert identity_problems(read, round_id="2016H1", townships=["411381102"], scheme=DENGZHOU) == []
    assert check_entries(DENGZHOU, read.entries, ["411381102"]) == []
    assert set(read.entries.facts.sheet) == {"综合治理清单"} and read.entries.facts.row.min() == 4
    direct = assess(DENGZHOU, TOWN, entries).townships
    via_workbook = assess(DENGZHOU, TOWN, read.entries).townships
    pd.testing.assert_frame_equal(direct, via_workbook)


def test_a_filled_error_is_located(blank, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(blank.read_bytes())
    fill_checklist_workbook(path, Entries.from_records(facts=[
        {"township_code": "411381102", "item": "A1.5", "value": "150"}]))
    read = read_checklist_workbook(path)
    problems = check_entries(DENGZHOU, read.entries, ["411381102"])
    bad = [p for p in problems if p.value == "150"]
    assert len(bad) == 1 and (bad[0].file, bad[0].sheet, bad[0].column) == ("bad.xlsx", "综合治理清单", "填报值")
    assert bad[0].row == 4 + 12  # A1.5 is the 13th fact row
    assert any(p.message == "未填写（是否签订）" for p in problems)


def test_identity_is_checked(blank):
    read = read_checklist_workbook(blank)
    other = load_scheme_preset("flat-cap8")
    assert "另一轮次" in identity_problems(read, round_id="2016H2", townships=["411381102"], scheme=DENGZHOU)[0].message
    assert "不是本轮次考核的乡镇" in identity_problems(read, round_id="2016H1", townships=["411381001"],
                                                      scheme=DENGZHOU)[0].message
    assert "另一版本的考核方案" in identity_problems(read, round_id="2016H1", townships=["411381102"],
                                                    scheme=other)[0].message


def test_foreign_files_are_refused(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"not a workbook")
    with pytest.raises(ChouyangError, match="无法作为 Excel 工作簿打开"):
        read_checklist_workbook(path)
    with pytest.raises(ChouyangError, match=".xlsx"):
        read_checklist_workbook(tmp_path / "x.csv")
    wb = openpyxl.Workbook()
    wb.active.title = "综合治理清单"
    wb.active.append(["项目", "分值"])
    wb.save(path)
    read = read_checklist_workbook(path)
    assert read.meta == {} and "找不到表头行" in read.problems[0].message
    assert "缺少隐藏的元数据" in identity_problems(read, round_id="2016H1", townships=[], scheme=DENGZHOU)[0].message


def test_entered_scores_sheet_for_the_flat_scheme(tmp_path):
    flat = load_scheme_preset("flat-cap8")
    path = tmp_path / "flat.xlsx"
    write_checklist_workbook(path, flat, round_id="R", round_name="年终考核", township_code="411381102",
                             township_name="罗庄镇")
    ws = openpyxl.load_workbook(path)["录入得分"]
    assert [ws.cell(i, 1).value for i in range(4, 9)] == ["service", "survey_h1", "survey_h2", "station", "county"]
    assert ws.cell(6, 4).value.startswith("仅当本乡镇未被抽样调查抽到时填写")
    fill_checklist_workbook(path, Entries.from_records(scores=[
        {"township_code": "411381102", "component": "county", "score": "88.5", "evidence": "县区通报"}]))
    scores = read_checklist_workbook(path).entries.scores.set_index("component")
    assert scores.loc["county", "score"] == "88.5" and scores.loc["county", "evidence"] == "县区通报"
