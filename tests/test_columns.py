"""Column checks of inputs.readers one kind at a time (validate_columns and its converters), and inputs.tables' readers."""

import datetime as dt

import openpyxl
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from chouyang.inputs.readers import Column, Schema, validate_columns
from chouyang.inputs.tables import read_table

from conftest import make_id

KINDS = Schema("t.csv", (
    Column("code", "code9"), Column("n", "int"), Column("k", "pos_int"), Column("x", "number"),
    Column("f", "flag", required=False), Column("d", "date", allow_empty=True), Column("e", "enum", choices=("是", "否")),
    Column("pid", "id18"), Column("id", "text"),
), key="id")


def _check(rows: list[dict]):
    warnings = []
    frame = pd.DataFrame(rows, dtype=str)
    out, problems = validate_columns(frame, KINDS, "t.csv", warnings)
    return out, [(p.row, p.column, p.message) for p in problems], warnings


def test_every_kind_converts_a_good_row():
    pid = make_id("19880304", 2)
    out, problems, warnings = _check([{"code": "411381001", "n": "3.0", "k": "1", "x": "47.5", "f": "", "d": "2016/7/1",
                                       "e": "是", "pid": pid.lower(), "id": "a"}])
    assert problems == [] and warnings == []
    row = out.iloc[0].to_dict()
    assert row == {"code": "411381001", "n": 3, "k": 1, "x": 47.5, "f": "", "d": dt.date(2016, 7, 1), "e": "是",
                   "pid": pid.upper(), "id": "a"}


def test_every_kind_names_its_problem_with_row_and_column():
    bad_check = make_id("19880304", 2)[:17] + ("1" if make_id("19880304", 2)[17] != "1" else "2")
    _, problems, warnings = _check([
        {"code": "41138100", "n": "-1", "k": "0", "x": "四", "f": "2", "d": "2016-02-30", "e": "有", "pid": bad_check,
         "id": "a"},
        {"code": "", "n": "1", "k": "1", "x": "1", "f": "1", "d": "", "e": "否", "pid": "123", "id": "a"},
    ])
    assert problems == [
        (2, "code", "应为 9 位数字代码"), (3, "code", "不能为空"),
        (2, "n", "应为不小于 0 的整数"), (2, "k", "应为不小于 1 的整数"), (2, "x", "应为数字"),
        (2, "f", "应为 0 或 1（或留空）"),
        (2, "d", "不是有效日期（可用 YYYY-MM-DD、YYYY/M/D、YYYYMMDD 或 Excel 日期）"),
        (2, "e", "不在允许的取值中（是/否）"),
        (3, "pid", "身份证号应为 18 位（前 17 位数字，末位数字或 X，含有效出生日期）"),
        (3, "id", "重复的编号（与第 2 行相同）"),
    ]
    # a wrong check digit alone is stored, with a warning that masks the number
    assert [(w.row, w.column, w.value) for w in warnings] == [(2, "pid", bad_check[:6] + "********" + bad_check[-4:])]


@given(st.integers(min_value=0, max_value=10 ** 9), st.booleans())
def test_int_kind_reads_any_whole_number_also_as_excel_writes_it(n, excel):
    out, problems, _ = _check([{"code": "411381001", "n": f"{n}.0" if excel else str(n), "k": "1", "x": "1", "f": "0",
                                "d": "", "e": "否", "pid": make_id("19880304", 2), "id": "a"}])
    assert problems == [] and out.at[0, "n"] == n


@given(st.text(alphabet="0123456789", min_size=1, max_size=14))
def test_code9_is_exactly_nine_digits(code):
    _, problems, _ = _check([{"code": code, "n": "1", "k": "1", "x": "1", "f": "0", "d": "", "e": "否",
                              "pid": make_id("19880304", 2), "id": "a"}])
    assert (problems == []) == (len(code) == 9)


def test_csv_in_gbk_and_xlsx_read_as_the_same_text(tmp_path):
    rows = [["township_code", "名称", "n"], ["011381001", "㴔滩镇", "7"], ["011381002", " 古城街道 ", ""]]
    (tmp_path / "t.csv").write_bytes("\n".join(",".join(r) for r in rows).encode("gb18030"))
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.active.append([None, None, None])  # an empty row is dropped
    wb.save(tmp_path / "t.xlsx")
    csv_frame, csv_enc = read_table(tmp_path / "t.csv")
    xlsx_frame, xlsx_enc = read_table(tmp_path / "t.xlsx")
    assert (csv_enc, xlsx_enc) == ("GB18030/GBK", "XLSX")
    assert csv_frame.values.tolist() == xlsx_frame.values.tolist() == [["011381001", "㴔滩镇", "7"], ["011381002", "古城街道", ""]]
