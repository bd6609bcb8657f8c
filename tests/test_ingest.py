"""Entering field results: validation, atomicity, idempotency, replacement and round trip."""

import csv

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chouyang import steps
from chouyang.errors import ChouyangError
from chouyang.inputs.readers import mask_id
from chouyang.render.survey_workbook import read_entry
from chouyang.round.folder import Round
from chouyang.steps import export_unit, ingest

from conftest import copy_round, init_round, make_id, write_county

UNIT = "411381001201"  # 东关社区: woman 王秀英 (W001), birth 王小明 (B001), 上环 (S001)


def _seed_for(rnd, unit):
    from chouyang.survey.draw import draw_sample

    frame = rnd.load_frame().frame
    for i in range(100):
        sample, _ = draw_sample(frame, rnd.rules(), f"s{i}")
        if unit in set(sample[sample.role == "primary"].unit_code):
            return f"s{i}"
    raise AssertionError


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory):
    """The tiny county drawn (UNIT a primary) with its forms, made once per module."""
    base = tmp_path_factory.mktemp("tiny")
    rnd = init_round(base / "R", write_county(base / "county"))
    steps.draw(rnd, _seed_for(rnd, UNIT))
    steps.forms(rnd, workers=1)
    return rnd.path


@pytest.fixture
def tiny(tiny_template, tmp_path):
    """A fresh copy of the template round for each test (a copy takes milliseconds, the forms a second)."""
    return Round.open(copy_round(tiny_template, tmp_path / "R"))


def workbook(rnd, tmp_path, edits=(), missed_births=(), missed_women=(), name="filled.xlsx"):
    """The unit's entry workbook with every result 属实, then `edits` {(sheet, row, label): value}."""
    wb = openpyxl.load_workbook(rnd.path / "entry" / f"{UNIT}.xlsx")
    for sheet in ("育龄妇女核对", "出生核对", "手术核对"):
        ws = wb[sheet]
        col = {c.value: c.column for c in ws[3]}
        for r in range(4, ws.max_row + 1):
            if ws.cell(r, 1).value:
                ws.cell(r, col["核实结果"], "属实")
    for (sheet, row, label), value in dict(edits).items():
        ws = wb[sheet]
        col = {c.value: c.column for c in ws[3]}
        ws.cell(row, col[label]).value = value
    for sheet, rows in (("漏报出生", missed_births), ("漏档妇女", missed_women)):
        ws = wb[sheet]
        col = {c.value: c.column for c in ws[3]}
        for i, row in enumerate(rows, start=4):
            for label, value in row.items():
                ws.cell(i, col[label]).value = value
    path = tmp_path / name
    wb.save(path)
    return path


def _store_bytes(rnd):
    return rnd.store_path.read_bytes()


def _rejected(rnd, path, *expected):
    before = _store_bytes(rnd)
    with pytest.raises(ChouyangError) as info:
        ingest(rnd, [path])
    message = str(info.value)
    for text in expected:
        assert text in message, message
    assert "数据库没有任何改动" in message
    assert _store_bytes(rnd) == before
    return message


MISSED_BIRTH = {"母亲姓名": "李丽", "子女姓名": "李小军", "性别": "男", "出生日期": "2016-03-05", "孩次": 2,
                "政策属性": "政策内", "反映群众人数": 3, "调查组查实": "是"}


def test_valid_workbook_is_stored_with_cases(tiny, tmp_path):
    path = workbook(tiny, tmp_path, edits={("出生核对", 4, "核实结果"): "错报", ("出生核对", 4, "实际孩次"): 3,
                                           ("出生核对", 4, "反映群众人数"): 4, ("出生核对", 4, "调查组查实"): "是"},
                    missed_births=[MISSED_BIRTH, dict(MISSED_BIRTH, 反映群众人数=2)])
    [result] = ingest(tiny, [path])
    assert (result.status, result.confirmed, result.pending) == ("new", 2, 1)
    entries = tiny.entries()[UNIT]
    assert entries["births_check"] == [{"ref": "B001", "result": "错报", "true_parity": "3", "true_sex": "",
                                        "true_birth_date": "", "witnesses": "4", "verified": "是", "note": ""}]
    assert [r["witnesses"] for r in entries["missed_births"]] == ["3", "2"]
    status = steps.status(tiny).set_index("unit_code")
    assert bool(status.at[UNIT, "entered"]) and status.at[UNIT, "confirmed"] == 2


@pytest.mark.parametrize("edits,expected", [
    ({("育龄妇女核对", 4, "核实结果"): "属实了"}, ["工作表「育龄妇女核对」，第 4 行，列「核实结果」", "不在允许的取值中", "属实了"]),
    ({("育龄妇女核对", 4, "核实结果"): None}, ["工作表「育龄妇女核对」，第 4 行，列「核实结果」：未填写"]),
    ({("出生核对", 4, "核实结果"): "错报", ("出生核对", 4, "实际性别"): "男", ("出生核对", 4, "反映群众人数"): 3,
      ("出生核对", 4, "调查组查实"): "是"}, ["工作表「出生核对」，第 4 行，列「核实结果」：错报必须至少填写一项与在册不同的实际值"]),
    ({("出生核对", 4, "核实结果"): "虚报", ("出生核对", 4, "调查组查实"): "是"},
     ["工作表「出生核对」，第 4 行，列「反映群众人数」：误差行必须填写反映群众人数"]),
    ({("手术核对", 4, "核实结果"): "虚报", ("手术核对", 4, "反映群众人数"): 3, ("手术核对", 4, "调查组查实"): "对"},
     ["工作表「手术核对」，第 4 行，列「调查组查实」", "（值：对）"]),
    ({("手术核对", 4, "核实结果"): "错报", ("手术核对", 4, "实际手术类型"): "上环", ("手术核对", 4, "反映群众人数"): 3,
      ("手术核对", 4, "调查组查实"): "是"}, ["列「实际手术类型」：错报必须填写与在册（上环）不同的实际手术类型"]),
    ({("出生核对", 4, "核实结果"): "错报", ("出生核对", 4, "实际出生日期"): "2016-02-30",
      ("出生核对", 4, "反映群众人数"): 3, ("出生核对", 4, "调查组查实"): "是"}, ["列「实际出生日期」：不是有效日期"]),
])
def test_check_sheet_rules(tiny, tmp_path, edits, expected):
    _rejected(tiny, workbook(tiny, tmp_path, edits=edits), *expected)


@pytest.mark.parametrize("row,expected", [
    (dict(MISSED_BIRTH, 出生日期="2015-06-30"), "工作表「漏报出生」，第 4 行，列「出生日期」：不在调查时限"),
    (dict(MISSED_BIRTH, 孩次=0), "工作表「漏报出生」，第 4 行，列「孩次」：孩次应为不小于 1 的整数"),
    (dict(MISSED_BIRTH, 母亲姓名=None), "列「母亲姓名」：母亲身份证号和母亲姓名至少填写一项"),
    (dict(MISSED_BIRTH, 母亲身份证号="41138119880304002"), "列「母亲身份证号」：身份证号应为 18 位"),
    (dict(MISSED_BIRTH, 调查组查实=None), "列「调查组查实」：误差行必须填写调查组是否查实"),
])
def test_missed_birth_rules(tiny, tmp_path, row, expected):
    _rejected(tiny, workbook(tiny, tmp_path, missed_births=[row]), expected)


def test_missed_births_on_both_ends_of_the_period_are_accepted(tiny, tmp_path):
    # 调查时限 2015-07-01 .. 2016-06-30 includes both days (2015-06-30 is refused above)
    path = workbook(tiny, tmp_path, missed_births=[dict(MISSED_BIRTH, 出生日期="2015-07-01"),
                                                   dict(MISSED_BIRTH, 子女姓名="李小兰", 出生日期="2016-06-30")])
    [result] = ingest(tiny, [path])
    assert (result.status, result.confirmed) == ("new", 2)
    assert [r["birth_date"] for r in tiny.entries()[UNIT]["missed_births"]] == ["2015-07-01", "2016-06-30"]


def test_missed_woman_rules(tiny, tmp_path):
    registered = make_id("19880304", 2)  # 王秀英 is in this unit's register
    new = make_id("19920101", 12)
    base = {"姓名": "钱芳", "出生日期": "1992-01-01", "婚姻状况": "初婚", "节育措施": "无", "反映群众人数": 3,
            "调查组查实": "是"}
    rows = [dict(base, 身份证号=registered), dict(base, 身份证号=new[:15] + "X"),
            dict(base, 身份证号=new), dict(base, 身份证号=new)]
    message = _rejected(tiny, workbook(tiny, tmp_path, missed_women=rows),
                        "工作表「漏档妇女」，第 4 行，列「身份证号」：此人已在本样本点的在册名单中，不是漏档",
                        "工作表「漏档妇女」，第 5 行，列「身份证号」：身份证号应为 18 位",
                        "工作表「漏档妇女」，第 7 行，列「身份证号」：与第 6 行重复")
    assert "共 3 处" in message
    assert registered not in message and mask_id(registered) in message  # never a whole ID number


def test_wrong_check_digit_warns_as_at_init(tiny, tmp_path):
    # issue 10: init warned and ingest rejected the whole workbook for the same fault; now both warn
    new = make_id("19920101", 12)
    wrong = new[:-1] + ("0" if new[-1] != "0" else "1")
    row = {"姓名": "钱芳", "出生日期": "1992-01-01", "婚姻状况": "初婚", "节育措施": "无", "反映群众人数": 3,
           "调查组查实": "是", "身份证号": wrong}
    [result] = ingest(tiny, [workbook(tiny, tmp_path, missed_women=[row])])
    assert result.status == "new"
    assert [str(w) for w in result.warnings] == [
        f"filled.xlsx，工作表「漏档妇女」，第 4 行，列「身份证号」：身份证号校验位不正确（请核对）（值：{mask_id(wrong)}）"]


def test_every_problem_listed_at_once(tiny, tmp_path):
    edits = {("育龄妇女核对", 4, "核实结果"): None, ("出生核对", 4, "核实结果"): "不知道"}
    message = _rejected(tiny, workbook(tiny, tmp_path, edits=edits, missed_births=[dict(MISSED_BIRTH, 孩次=0)]),
                        "育龄妇女核对", "出生核对", "漏报出生")
    assert "共 3 处" in message


def test_workbook_of_other_round_unit_or_register_refused(tiny, tmp_path):
    for key, value, expected in (("round_id", "2017H1", "另一轮次（2017H1）"),
                                 ("unit_code", "411381001299", "不是本轮次的样本点"),
                                 ("register_fingerprint", "0" * 64, "另一份全员人口信息")):
        path = workbook(tiny, tmp_path, name=f"{key}.xlsx")
        wb = openpyxl.load_workbook(path)
        for row in wb["_meta"].iter_rows():
            if row[0].value == key:
                row[1].value = value
        wb.save(path)
        _rejected(tiny, path, expected)


def test_same_content_twice_changes_nothing(tiny, tmp_path):
    path = workbook(tiny, tmp_path)
    assert ingest(tiny, [path])[0].status == "new"
    before = _store_bytes(tiny)
    assert ingest(tiny, [path])[0].status == "unchanged"
    assert _store_bytes(tiny) == before


def test_different_content_needs_replace_and_is_logged(tiny, tmp_path):
    ingest(tiny, [workbook(tiny, tmp_path, name="a.xlsx")])
    changed = workbook(tiny, tmp_path, name="b.xlsx", edits={
        ("出生核对", 4, "核实结果"): "虚报", ("出生核对", 4, "反映群众人数"): 5, ("出生核对", 4, "调查组查实"): "是"})
    before = _store_bytes(tiny)
    with pytest.raises(ChouyangError, match="--replace"):
        ingest(tiny, [changed])
    assert _store_bytes(tiny) == before
    [result] = ingest(tiny, [changed], replace=True)
    assert (result.status, result.changes, result.confirmed) == ("replaced", 1, 1)
    [entry] = tiny.log_entries("ingest_replace")
    [change] = entry["detail"]["changes"]
    assert change["sheet"] == "出生核对" and change["row"] == "B001"
    assert change["old"]["result"] == "属实" and change["new"]["result"] == "虚报"
    assert entry["user"] and entry["time"]


def test_crash_half_way_leaves_store_unchanged(tiny, tmp_path, monkeypatch):
    ingest(tiny, [workbook(tiny, tmp_path, name="a.xlsx")])
    before = _store_bytes(tiny)
    changed = workbook(tiny, tmp_path, name="b.xlsx", missed_births=[MISSED_BIRTH] * 4)
    import chouyang.round.store as module

    real, calls = module._insert_row, []

    def flaky(*args):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("power cut")
        real(*args)

    monkeypatch.setattr(module, "_insert_row", flaky)
    with pytest.raises(RuntimeError):
        ingest(tiny, [changed], replace=True)
    assert len(calls) == 4
    assert _store_bytes(tiny) == before
    assert tiny.entries()[UNIT].get("missed_births", []) == []


def test_csv_folder_with_labels_is_accepted(tiny, tmp_path):
    path = workbook(tiny, tmp_path)
    folder = tmp_path / "csv"
    folder.mkdir()
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        name = "_meta" if ws.title == "_meta" else ws.title
        with open(folder / f"{name}.csv", "w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows([["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)])
    entry_csv, entry_xlsx = read_entry(folder), read_entry(path)
    assert entry_csv.sheets == entry_xlsx.sheets and entry_csv.meta["unit_code"] == UNIT
    assert ingest(tiny, [folder])[0].status == "new"


_results = st.sampled_from(["属实", "错报", "虚报"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(birth=_results, proc=_results, woman=st.sampled_from(["属实", "查无此人", "迁出", "死亡"]),
       witnesses=st.integers(0, 9), verified=st.sampled_from(["是", "否"]),
       missed=st.lists(st.tuples(st.sampled_from(["男", "女"]), st.integers(1, 4), st.integers(0, 9)), max_size=3))
def test_property_ingest_export_round_trip(tiny, tmp_path_factory, birth, proc, woman, witnesses, verified, missed):
    tmp = tmp_path_factory.mktemp("rt")
    err = {"witnesses": str(witnesses), "verified": verified}
    women = {"ref": "W001", "result": woman, "actual_contraception": "", "note": "",
             **(err if woman == "查无此人" else {})}
    births = {"ref": "B001", "result": birth, "true_sex": "女" if birth == "错报" else "", "true_birth_date": "",
              "true_parity": "", "note": "", **(err if birth != "属实" else {})}
    procs = {"ref": "S001", "result": proc, "true_type": "取环" if proc == "错报" else "", "note": "",
             **(err if proc != "属实" else {})}
    missed_rows = [{"mother_id": "", "mother_name": "李丽", "child_name": "", "sex": s, "birth_date": "2016-01-02",
                    "parity": str(p), "policy": "政策内", "witnesses": str(w), "verified": "是", "note": ""}
                   for s, p, w in missed]
    folder = tmp / "in"
    folder.mkdir()
    meta = {"round_id": "2016H1", "unit_code": UNIT, "register_fingerprint": tiny.register_fingerprint()}
    (folder / "_meta.csv").write_text("".join(f"{k},{v}\n" for k, v in meta.items()), encoding="utf-8")
    for sheet, rows in (("women_check", [women]), ("births_check", [births]), ("procedures_check", [procs]),
                        ("missed_births", missed_rows), ("missed_women", [])):
        keys = sorted({k for r in rows for k in r} | {"ref", "witnesses", "verified", "note", "result"}
                      if sheet.endswith("check") else
                      ["ref", "mother_id", "mother_name", "child_name", "sex", "birth_date", "parity", "policy",
                       "witnesses", "verified", "note"] if sheet == "missed_births" else
                      ["ref", "person_id", "name", "birth_date", "marital_status", "contraception", "witnesses",
                       "verified", "note"])
        if sheet == "births_check":
            keys = sorted(set(keys) | {"true_sex", "true_birth_date", "true_parity"})
        if sheet == "procedures_check":
            keys = sorted(set(keys) | {"true_type"})
        if sheet == "women_check":
            keys = sorted(set(keys) | {"actual_contraception"})
        with open(folder / f"{sheet}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, keys)
            w.writeheader()
            w.writerows(rows)
    ingest(tiny, [folder], replace=True)
    expected = {"women_check": [women], "births_check": [births], "procedures_check": [procs],
                "missed_births": missed_rows, "missed_women": []}
    assert tiny.entries()[UNIT] == {k: v for k, v in expected.items() if v}
    out = export_unit(tiny, UNIT, tmp / "out")
    assert ingest(tiny, [out])[0].status == "unchanged"  # exported content hashes the same
    assert tiny.entries()[UNIT] == {k: v for k, v in expected.items() if v}
