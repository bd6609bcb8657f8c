import datetime as dt

import openpyxl
import pandas as pd
import pytest

from chouyang.errors import ChouyangError
from chouyang.inputs.readers import id_check_digit, id_is_valid, in_period, load_frame, load_register, load_teams, mask_id, parse_date

from conftest import FRAME_ROWS, make_id


def test_gbk_and_utf8_bom_frames_read_identically(county, tmp_path):
    text = county["frame"].read_text(encoding="utf-8")
    gbk, bom = tmp_path / "gbk.csv", tmp_path / "bom.csv"
    # 㴔 (U+3D14) is outside GBK proper, so GBK files use GB18030 for it
    gbk.write_bytes(text.encode("gb18030"))
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    a, b = load_frame(gbk), load_frame(bom)
    assert a.frame.equals(b.frame)
    assert a.encoding == "GB18030/GBK" and b.encoding == "UTF-8（带BOM）"
    assert list(a.frame.township_name.unique()) == ["古城街道", "㴔滩镇", "杏山旅游管理区"]


def test_codes_keep_leading_zeros(tmp_path):
    f = tmp_path / "frame.csv"
    f.write_text("township_code,township_name,unit_code,unit_name,households,population,wcba\n"
                 "011381001,甲镇,011381001001,甲村,1,2,3\n", encoding="utf-8")
    assert load_frame(f).frame.unit_code.tolist() == ["011381001001"]


def test_xlsx_frame_matches_csv(county, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["township_code", "township_name", "unit_code", "unit_name", "households", "population", "wcba"])
    for r in FRAME_ROWS:
        ws.append(list(r))  # codes typed as text, counts as numbers
    wb.save(tmp_path / "frame.xlsx")
    assert load_frame(tmp_path / "frame.xlsx").frame.equals(load_frame(county["frame"]).frame)


def test_undecodable_csv_is_refused(tmp_path):
    f = tmp_path / "frame.csv"
    f.write_bytes(bytes(range(0x80, 0x100)) * 4)
    with pytest.raises(ChouyangError, match="编码"):
        load_frame(f)


@pytest.mark.parametrize("text,expected", [
    ("2016-07-01", dt.date(2016, 7, 1)), ("2016/7/1", dt.date(2016, 7, 1)),
    ("20160701", dt.date(2016, 7, 1)), ("42552", dt.date(2016, 7, 1)),
    ("2016-02-30", None), ("2016-13-01", None), ("昨天", None),
])
def test_dates(text, expected):
    assert parse_date(text) == expected


def test_id_numbers():
    pid = make_id("19880304", 2)
    assert id_is_valid(pid) and len(pid) == 18
    assert id_check_digit("11010519491231002") == "X"  # the GB 11643 textbook example
    assert not id_is_valid(pid[:-1] + ("0" if pid[-1] != "0" else "1"))
    assert mask_id(pid) == pid[:6] + "********" + pid[-4:]


def test_frame_errors_are_all_listed_with_row_and_column(tmp_path):
    f = tmp_path / "frame.csv"
    f.write_text("township_code,township_name,unit_code,unit_name,households,population,wcba\n"
                 "411381001,甲镇,411381001001,甲村,10,20,5\n"
                 "41138100,甲镇,411381001002,乙村,10,20,-1\n"
                 "411381001,甲镇,411381001001,丙村,ten,20,5\n", encoding="utf-8")
    with pytest.raises(ChouyangError) as info:
        load_frame(f)
    msg = str(info.value)
    assert "frame.csv，第 3 行，列「township_code」" in msg
    assert "frame.csv，第 3 行，列「wcba」" in msg
    assert "frame.csv，第 4 行，列「households」" in msg
    assert "frame.csv，第 4 行，列「unit_code」：重复的编号（与第 2 行相同）" in msg
    assert len(info.value.problems) == 4


def test_missing_column_named(tmp_path):
    f = tmp_path / "frame.csv"
    f.write_text("township_code,township_name,unit_code,households,population,wcba\n", encoding="utf-8")
    with pytest.raises(ChouyangError, match="缺少必需的列：unit_name"):
        load_frame(f)


def test_register_problems(county):
    reg = county["register"]
    women = (reg / "women.csv").read_text(encoding="utf-8").splitlines()
    bad_check = make_id("19950101", 8)
    bad_check = bad_check[:-1] + ("1" if bad_check[-1] != "1" else "2")
    women.append(f"{bad_check},孙燕,1995-01-01,411381001203,0009,未婚,无,")       # row 5: warning only
    women.append(f"{make_id('19960101', 10)},周婷,1996-02-30,411381999999,0010,未婚,无,")  # row 6
    (reg / "women.csv").write_text("\n".join(women) + "\n", encoding="utf-8")
    with pytest.raises(ChouyangError) as info:
        load_register(reg, {r[2] for r in FRAME_ROWS})
    msg = str(info.value)
    # every problem in one run: the type error and the unknown code of the same row (issue 10)
    assert "women.csv，第 6 行，列「birth_date」：不是有效日期" in msg
    assert "women.csv，第 6 行，列「unit_code」：抽样框中没有这个村/社区代码" in msg
    women.pop()
    (reg / "women.csv").write_text("\n".join(women) + "\n", encoding="utf-8")
    loaded = load_register(reg, {r[2] for r in FRAME_ROWS})
    assert [(w.row, w.column) for w in loaded.warnings] == [(5, "person_id")]
    assert "校验位" in str(loaded.warnings[0])


def test_register_duplicate_and_missing_file(county):
    reg = county["register"]
    births = (reg / "births.csv").read_text(encoding="utf-8").splitlines()
    births.append(births[1])
    (reg / "births.csv").write_text("\n".join(births) + "\n", encoding="utf-8")
    (reg / "procedures.csv").unlink()
    with pytest.raises(ChouyangError) as info:
        load_register(reg)
    msg = str(info.value)
    assert "births.csv，第 4 行，列「birth_id」：重复的编号（与第 2 行相同）" in msg
    assert "找不到 procedures.csv" in msg


def test_teams_split_members_and_check_homes(county):
    teams = load_teams(county["teams"], {"411381001", "411381103"}).frame
    assert teams.members.tolist() == [["王芳", "李娜"], ["陈静", "杨帆"]]
    assert teams.home_townships.tolist() == [["411381001"], []]
    with pytest.raises(ChouyangError, match="teams.csv，第 2 行，列「home_townships」：抽样框中没有这个乡镇代码"):
        load_teams(county["teams"], {"411381103"})


def test_in_period_includes_both_ends():
    start, end = dt.date(2015, 7, 1), dt.date(2016, 6, 30)  # 调查时限, both days inclusive
    dates = pd.Series([dt.date(2015, 6, 30), start, dt.date(2016, 1, 1), end, dt.date(2016, 7, 1), None], dtype=object)
    assert in_period(dates, start, end).tolist() == [False, True, True, True, False, False]
