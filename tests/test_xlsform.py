"""XLSForm ↔ Instrument: export that pyxform converts, import, every refusal located, a KoboToolbox user's form."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyxform.xls2xform import convert

from chouyang.atomic import leftovers
from chouyang.errors import ChouyangError
from chouyang.instruments import catalog, definition, xlsform
from chouyang.instruments.model import Choice, ChoiceList, Field, Group, Instrument

SURVEY = catalog.builtin("survey")

# A test-only instrument: asked per household, a section, a fixed-row repeat, every field type.
FIXTURE = """
[instrument]
name = "household_check"
title = "家庭情况核查"
code = "HH1"
version = "7"
per = "household"

[layout]
page = [210, 297]

[choices]
yn = [["1", "是"], ["0", "否"]]
services = [["visit", "上门随访"], ["pill", "发放药具"], ["exam", "孕前检查"]]

[[field]]
name = "intro"
type = "note"
label = "请如实填写"

[[field]]
type = "group"
name = "home"
label = "家庭"
  [[field.field]]
  name = "members"
  type = "integer"
  label = "家庭人口数"
  constraint = ". >= 1 and . <= 20"
  constraint_message = "人口数应在 1 至 20 之间"
  paper = "digits"
  digits = 2
  [[field.field]]
  name = "income"
  type = "decimal"
  label = "人均年收入（万元）"
  hint = "按上年计算"
  width = 18.5
  [[field.field]]
  name = "services"
  type = "select_multiple"
  choices = "services"
  label = "享受过的服务"
  required = "yes"
  [[field.field]]
  name = "exam_date"
  type = "date"
  label = "孕前检查日期"
  relevant = "selected(${services}, 'exam')"

[[field]]
type = "group"
name = "items"
label = "核查项目"
repeat = true
rows = "fixed"
key = "item"
fixed = [["a", "政策宣传"], ["b", "随访服务"]]
  [[field.field]]
  name = "item"
  type = "text"
  label = "项目"
  prefill = "item"
  [[field.field]]
  name = "done"
  type = "select_one"
  choices = "yn"
  label = "是否落实"
  scores = "B2.1"
  option_width = 7

[[field]]
name = "total"
type = "calculate"
label = ""
calculation = "count(${items})"
"""
HOUSEHOLD = definition.loads(FIXTURE, "fixture.toml")


def pyxform_ok(path: Path, quiet: bool = True) -> str:
    """The XForm pyxform makes of the file; our own exports convert without a single warning."""
    warnings: list[str] = []
    result = convert(str(path), warnings=warnings)
    assert not quiet or warnings == [], warnings
    return result.xform


def without_unit_code(inst):
    assert inst.children[0].name == "unit_code"
    return replace(inst, children=inst.children[1:])


# --- export -------------------------------------------------------------------------------

def test_survey_export_converts_with_pyxform_and_reads_back_equal(tmp_path):
    path = tmp_path / "survey.xlsx"
    xlsform.export(SURVEY, path)
    xform = pyxform_ok(path)
    # `result` is in five repeats: references to it are relative paths pyxform accepts; witnesses is a
    # number on the phone (its 0 … 5+ scale is only what paper prints)
    assert 'nodeset="/data/births_check/witnesses" type="int" required="../result = \'虚报\' or ../result = \'错报\'"' \
        ' constraint=". &gt;= 0"' in xform
    back = xlsform.read(path)
    assert replace(without_unit_code(back), source=SURVEY.source) == SURVEY
    assert back.children[0] == Field("unit_code", "text", "样本点编码", prefill="unit_code")


def test_unit_code_is_the_first_field_read_only_with_its_prefill(tmp_path):
    path = tmp_path / "survey.xlsx"
    xlsform.export(SURVEY, path)
    ws = openpyxl.load_workbook(path)["survey"]
    header = [c.value for c in ws[1]]
    row = dict(zip(header, [c.value for c in ws[2]]))
    assert (row["type"], row["name"], row["read_only"], row["chouyang::prefill"]) == ("text", "unit_code", "yes", "unit_code")
    assert '<bind nodeset="/data/unit_code" type="string" readonly="true()"/>' in pyxform_ok(path)


def test_every_exported_cell_is_plain_text(tmp_path):
    path = tmp_path / "survey.xlsx"
    xlsform.export(SURVEY, path)
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type == "s" and isinstance(c.value, str) for c in cells)
    assert [ws.title for ws in wb.worksheets] == ["survey", "choices", "settings"]
    settings = dict(zip([c.value for c in wb["settings"][1]], [c.value for c in wb["settings"][2]]))
    assert (settings["form_id"], settings["form_title"], settings["version"], settings["default_language"],
            settings["chouyang::code"], settings["chouyang::per"]) == ("survey", "人口和计划生育抽样调查核查表", "2", "中文 (zh)",
                                                                     "HC2", "point")
    choices = [tuple(c.value for c in row) for row in wb["choices"].iter_rows(min_row=2)]
    assert ("witnesses", "5", "5+") in choices and ("woman_result", "查无此人", "查无此人") in choices


def test_fixture_instrument_round_trips_and_converts(tmp_path):
    path = tmp_path / "household.xlsx"
    xlsform.export(HOUSEHOLD, path)
    xform = pyxform_ok(path)
    assert "<h:title>家庭情况核查</h:title>" in xform and 'id="household_check" version="7"' in xform
    back = xlsform.read(path)
    assert back.children[0].name == "intro"   # asked per household: no unit_code field added
    assert replace(back, source="fixture.toml") == HOUSEHOLD


def test_export_is_atomic_and_leaves_no_temporary_file(tmp_path):
    xlsform.export(HOUSEHOLD, tmp_path / "a.xlsx")
    assert leftovers(tmp_path) == [] and (tmp_path / "a.xlsx").stat().st_size > 0


# --- import refusals ------------------------------------------------------------------------

LABEL = "label::中文 (zh)"
SURVEY_ROWS = [
    ["type", "name", LABEL, "relevant", "constraint"],
    ["begin group", "basic", "基本情况", None, None],                       # row 2
    ["select_one yn", "married", "是否已婚", None, None],                   # row 3
    ["integer", "children", "子女数", "${married} = '1'", ". >= 0"],        # row 4
    ["end group", None, None, None, None],                                  # row 5
    ["note", "thanks", "谢谢您的配合", None, None],                          # row 6
]
CHOICE_ROWS = [["list_name", "name", LABEL], ["yn", "1", "是"], ["yn", "0", "否"]]
SETTINGS_ROWS = [["form_title", "form_id", "version"], ["测试问卷", "test_q", "1"]]


def write_form(path: Path, survey=None, choices=None, settings=None, survey_title="survey") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = survey_title
    for row in survey or SURVEY_ROWS:
        ws.append(row)
    for title, rows in (("choices", choices or CHOICE_ROWS), ("settings", settings or SETTINGS_ROWS)):
        sheet = wb.create_sheet(title)
        for row in rows:
            sheet.append(row)
    wb.save(path)
    return path


def edited(rows, row: int, column: int, value):
    out = [list(r) for r in rows]
    out[row - 1][column] = value
    return out


def refused(path: Path) -> ChouyangError:
    with pytest.raises(ChouyangError) as info:
        xlsform.read(path)
    assert "没有导入" in str(info.value) or not info.value.problems
    return info.value


def assert_problem(path: Path, sheet: str, row: int | None, column: str | None, words: str):
    error = refused(path)
    found = [p for p in error.problems if (p.sheet, p.row, p.column) == (sheet, row, column)]
    assert found, str(error)
    assert any(words in p.message for p in found), str(error)
    assert all(p.file == path.name for p in error.problems)


def test_the_base_form_imports(tmp_path):
    inst = xlsform.read(write_form(tmp_path / "q.xlsx"))
    assert (inst.name, inst.title, inst.version, inst.per, inst.code) == ("test_q", "测试问卷", "1", "point", "test_q")
    basic = inst.children[0]
    assert isinstance(basic, Group) and [f.name for f in basic.children] == ["married", "children"]
    assert basic.children[1].relevant == "${married} = '1'" and inst.children[1].type == "note"


@pytest.mark.parametrize("header", ["label", "label::zh", "label::中文", "label::Chinese (zh)", "LABEL::中文 (zh)"])
def test_label_columns_in_every_spelling(tmp_path, header):
    rows = [["type", "name", header, "label::English (en)"], ["text", "name_q", "姓名", "Name"]]
    (field,) = xlsform.read(write_form(tmp_path / "q.xlsx", survey=rows)).children
    assert field.label == "姓名"


SURVEY_REFUSALS = [  # (row, column index, new value, column header, words)
    (4, 0, "geopoint", "type", "不支持的题型"),
    (4, 1, "married", "name", "名称重复"),
    (4, 3, "${nope} = 1", "relevant", "不存在的题目 ${nope}"),
    (4, 3, "${children} > 1", "relevant", "引用了自身"),
    (4, 4, ". >>= 1", "constraint", "表达式有误"),
    (3, 0, "select_one nolist", "type", "选项列表不存在"),
    (3, 0, "select_one yn or_other", "type", "select_one 列表名"),
    (3, 2, "=A1", LABEL, "公式"),
    (3, 2, "题" * 10_001, LABEL, "超过上限 10000"),
    (3, 2, "题" * 2_001, LABEL, "超过 2000 个字符"),
    (3, 2, "Married?", LABEL, "不含中文"),
    (3, 1, "已婚", "name", "ASCII"),
    (3, 4, "../nope = 1", "constraint", "相对路径 ../nope"),
]


@pytest.mark.parametrize("row,col,value,column,words", SURVEY_REFUSALS, ids=[r[4] for r in SURVEY_REFUSALS])
def test_survey_refusals_are_located(tmp_path, row, col, value, column, words):
    path = write_form(tmp_path / "q.xlsx", survey=edited(SURVEY_ROWS, row, col, value))
    assert_problem(path, "survey", row, column, words)


def test_a_label_only_in_english_is_refused(tmp_path):
    rows = [["type", "name", "label::English (en)"], ["text", "name_q", "Your name"]]
    assert_problem(write_form(tmp_path / "q.xlsx", survey=rows), "survey", 2, "label::English (en)", "不含中文")


def test_an_unknown_column_with_a_value_is_refused_an_empty_one_is_not(tmp_path):
    rows = [r + [None] for r in SURVEY_ROWS]
    rows[0][-1] = "default"
    assert xlsform.read(write_form(tmp_path / "a.xlsx", survey=rows)).name == "test_q"
    rows[2][-1] = "1"
    assert_problem(write_form(tmp_path / "b.xlsx", survey=rows), "survey", 3, "default", "不支持的列")


def test_a_chouyang_column_on_the_wrong_row_is_refused(tmp_path):
    rows = [r + [None] for r in SURVEY_ROWS]
    rows[0][-1] = "chouyang::rows"
    rows[2][-1] = "blank"
    assert_problem(write_form(tmp_path / "q.xlsx", survey=rows), "survey", 3, "chouyang::rows", "不适用")


@pytest.mark.parametrize("rows,row,words", [
    (SURVEY_ROWS[:4] + SURVEY_ROWS[5:], 2, "begin group 没有对应的 end group"),
    (SURVEY_ROWS + [["end group", None, None, None, None]], 7, "end group 前面没有对应的 begin group"),
    (edited(SURVEY_ROWS, 5, 0, "end repeat"), 5, "与第 2 行的 begin group 不匹配"),
], ids=["unclosed", "end-without-begin", "mismatched"])
def test_unbalanced_begin_and_end_are_refused(tmp_path, rows, row, words):
    assert_problem(write_form(tmp_path / "q.xlsx", survey=rows), "survey", row, "type", words)


def test_choices_refusals_are_located(tmp_path):
    path = write_form(tmp_path / "a.xlsx", choices=edited(CHOICE_ROWS, 3, 1, "1"))
    assert_problem(path, "choices", 3, "name", "选项编码重复")
    path = write_form(tmp_path / "b.xlsx", choices=edited(CHOICE_ROWS, 2, 2, "Yes"))
    assert_problem(path, "choices", 2, LABEL, "选项标签只有英文")


def test_a_form_id_that_is_not_ascii_is_refused(tmp_path):
    path = write_form(tmp_path / "q.xlsx", settings=edited(SETTINGS_ROWS, 2, 1, "满意度调查"))
    assert_problem(path, "settings", 2, "form_id", "ASCII")


def test_a_workbook_without_a_survey_sheet_is_refused(tmp_path):
    error = refused(write_form(tmp_path / "q.xlsx", survey_title="问卷"))
    assert [(p.sheet, p.message) for p in error.problems] == [("survey", "缺少 survey 工作表")]
    assert "q.xlsx 不是 XLSForm，没有导入" in str(error)


def test_a_file_that_is_not_an_xlsx_is_refused(tmp_path):
    path = tmp_path / "q.xlsx"
    path.write_text("type,name,label\ntext,a,甲\n", encoding="utf-8")
    assert "q.xlsx：不是 Excel 工作簿（.xlsx）" in str(refused(path))


def test_a_file_over_5_mb_is_refused_before_it_is_opened(tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"\0" * (5 * 1024 * 1024 + 1))
    assert "big.xlsx：文件有 5.0 MB，超过上限 5 MB" in str(refused(path))


# --- a form written by someone else (a KoboToolbox user) --------------------------------------

KOBO_SURVEY = [
    ["type", "name", "label::Chinese (zh)", "label::English (en)", "hint::Chinese (zh)", "required", "relevant",
     "constraint", "constraint_message::Chinese (zh)", "appearance", "$kuid", "$autoname"],
    ["start", "start", None, None, None, None, None, None, None, None, "k01", "start"],
    ["end", "end", None, None, None, None, None, None, None, None, "k02", "end"],
    ["note", "intro", "您好！我们正在开展计划生育服务满意度和政策知晓情况调查。", "Hello", None, None, None, None, None, None,
     "k03", "intro"],
    ["begin_group", "respondent", "受访者基本情况", "Respondent", None, None, None, None, None, "field-list", "k04",
     "respondent"],
    ["select_one sex", "resp_sex", "性别", "Sex", None, "true", None, None, None, None, "k05", "resp_sex"],
    ["integer", "resp_age", "年龄（周岁）", "Age", "请填写周岁", "true", None, ". >= 15 and . <= 80",
     "年龄应在 15 至 80 岁之间", None, "k06", "resp_age"],
    ["end_group", None, None, None, None, None, None, None, None, None, "k07", None],
    ["select_multiple policies", "known_policies", "您知道以下哪些政策？", "Which policies do you know?", "可多选", "true",
     None, None, None, "minimal", "k08", "known_policies"],
    ["select_one satisfaction", "satisfaction", "您对本村计划生育服务满意吗？", "Satisfied?", None, "true", None, None, None,
     None, "k09", "satisfaction"],
    ["text", "reason", "不满意的原因", "Why not?", None, None,
     "selected(${satisfaction}, 'unsatisfied') or selected(${satisfaction}, 'very_unsatisfied')", None, None, None, "k10",
     "reason"],
    ["note", "thanks", "调查结束，谢谢！", "Thank you", None, None, "count-selected(${known_policies}) >= 0", None, None, None,
     "k11", "thanks"],
]
KOBO_SURVEY.append([None] * 10 + ["k12", None])   # a row Kobo left with only its $kuid: not a question
KOBO_CHOICES = [
    ["list_name", "name", "label::Chinese (zh)", "label::English (en)", "$autovalue"],
    ["sex", "male", "男", "Male", "male"], ["sex", "female", "女", "Female", "female"],
    ["policies", "reward", "奖励扶助", "Reward", "reward"], ["policies", "special", "特别扶助", "Special support", "special"],
    ["policies", "free_exam", "免费孕前优生健康检查", "Free check", "free_exam"],
    ["satisfaction", "satisfied", "满意", "Satisfied", "satisfied"], ["satisfaction", "neutral", "一般", "Neutral", "neutral"],
    ["satisfaction", "unsatisfied", "不满意", "Unsatisfied", "unsatisfied"],
    ["satisfaction", "very_unsatisfied", "很不满意", "Very unsatisfied", "very_unsatisfied"],
]
KOBO_SETTINGS = [["form_title", "form_id", "version", "default_language"],
                 ["计划生育服务满意度和政策知晓情况调查", "satisfaction_2026", "2026120701", "Chinese (zh)"]]


def test_a_kobotoolbox_questionnaire_imports(tmp_path):
    path = write_form(tmp_path / "kobo.xlsx", KOBO_SURVEY, KOBO_CHOICES, KOBO_SETTINGS)
    pyxform_ok(path, quiet=False)  # the form is a valid XLSForm to begin with (pyxform warns of the missing English hints)
    inst = xlsform.read(path)
    assert (inst.name, inst.title, inst.version, inst.per) == ("satisfaction_2026", "计划生育服务满意度和政策知晓情况调查",
                                                               "2026120701", "point")
    assert [n.name for n in inst.children] == ["intro", "respondent", "known_policies", "satisfaction", "reason", "thanks"]
    group = inst.children[1]
    assert isinstance(group, Group) and not group.repeat and group.label == "受访者基本情况"
    sex, age = group.children
    assert (sex.type, sex.choices, sex.required, sex.label) == ("select_one", "sex", "yes", "性别")
    assert (age.type, age.constraint, age.constraint_message, age.hint) == ("integer", ". >= 15 and . <= 80",
                                                                           "年龄应在 15 至 80 岁之间", "请填写周岁")
    known = inst.children[2]
    assert (known.type, known.choices) == ("select_multiple", "policies")
    assert inst.choices["policies"].codes() == ("reward", "special", "free_exam")
    assert inst.choices["satisfaction"].label_of("very_unsatisfied") == "很不满意"
    assert inst.children[4].relevant.startswith("selected(${satisfaction}, 'unsatisfied')")
    assert inst.children[0].type == "note" and inst.children[0].label.startswith("您好")
    # re-exported for phones: the sample point's unit_code comes first, and pyxform still converts it
    out = tmp_path / "again.xlsx"
    xlsform.export(inst, out)
    assert "/data/unit_code" in pyxform_ok(out)
    assert without_unit_code(xlsform.read(out)) == replace(inst, source="again.xlsx")


def test_kobo_dollar_columns_are_ignored_but_other_unknown_ones_are_not(tmp_path):
    rows = [list(r) for r in KOBO_SURVEY]
    rows[0][9] = "media::image"
    rows[5][9] = "sex.png"
    assert_problem(write_form(tmp_path / "kobo.xlsx", rows, KOBO_CHOICES, KOBO_SETTINGS), "survey", 6, "media::image",
                   "不支持的列")


# --- importing into a round -------------------------------------------------------------------

def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_add_to_round_writes_the_definition_and_a_copy(tmp_path):
    source = write_form(tmp_path / "kobo.xlsx", KOBO_SURVEY, KOBO_CHOICES, KOBO_SETTINGS)
    round_dir = tmp_path / "round"
    round_dir.mkdir()
    inst = catalog.add_to_round(round_dir, source)
    folder = round_dir / "instruments"
    assert sorted(p.name for p in folder.iterdir()) == ["satisfaction_2026.toml", "satisfaction_2026.xlsx"]
    assert (folder / "satisfaction_2026.xlsx").read_bytes() == source.read_bytes()
    found = catalog.round_instruments(round_dir)
    assert sorted(found) == ["satisfaction_2026", "survey"]
    assert replace(found["satisfaction_2026"], source="") == replace(inst, source="")
    assert leftovers(round_dir) == []


@pytest.mark.parametrize("case", ["drawn", "builtin", "broken"])
def test_add_to_round_refusals_change_nothing(tmp_path, case):
    round_dir = tmp_path / "round"
    (round_dir / "instruments").mkdir(parents=True)
    (round_dir / "instruments" / "keep.txt").write_text("原有", encoding="utf-8")
    source = write_form(tmp_path / "q.xlsx")
    words = {"drawn": "已抽样的轮次不能再添加调查表", "builtin": "survey 是内置调查表的名称", "broken": "不存在的题目 ${nope}"}[case]
    if case == "drawn":
        (round_dir / "draw.json").write_text("{}", encoding="utf-8")
    elif case == "builtin":
        source = write_form(tmp_path / "q.xlsx", settings=edited(SETTINGS_ROWS, 2, 1, "survey"))
    else:
        source = write_form(tmp_path / "q.xlsx", survey=edited(SURVEY_ROWS, 4, 3, "${nope} = 1"))
    before = snapshot(round_dir)
    with pytest.raises(ChouyangError, match=words.replace("$", r"\$").replace("{", r"\{").replace("}", r"\}")):
        catalog.add_to_round(round_dir, source)
    assert snapshot(round_dir) == before


# --- any valid instrument: export → pyxform → read is the identity (with unit_code added) ------------

_ZH = st.text(alphabet="调查表题目甲乙丙丁一二三满意", min_size=1, max_size=5)


@st.composite
def shared_name_instruments(draw):
    """Names drawn from a small pool (unique among siblings only), so references cross repeats by path."""
    pool = ["result", "note", "count_a", "x"]
    choices = {"yn": ChoiceList("yn", (Choice("1", "是"), Choice("0", "否")))}
    everywhere: list[str] = []

    def fields(names, depth: int) -> tuple:
        here: list[str] = []
        out = []
        for name in names:
            refs = st.sampled_from([None] + [f"${{{s}}} != ''" for s in here + everywhere[-2:]])
            if name.startswith("sub") and depth < 2:
                inner = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
                out.append(Group(f"{name}_{len(everywhere)}", draw(_ZH), relevant=draw(refs), children=fields(inner, depth + 1)))
                continue
            kind = draw(st.sampled_from(["select_one", "integer", "text", "date"]))
            out.append(Field(name, kind, draw(_ZH), choices="yn" if kind == "select_one" else None, relevant=draw(refs),
                             constraint=draw(st.sampled_from([None, ". != ''"] + [f". != ${{{s}}}" for s in here]))))
            here.append(name)
            everywhere.append(name)
        return tuple(out)

    groups = []
    for i in range(draw(st.integers(1, 3))):
        names = draw(st.lists(st.sampled_from(pool + ["sub"]), min_size=1, max_size=4, unique=True))
        repeat = draw(st.booleans())
        groups.append(Group(f"g{i}", draw(_ZH), repeat=repeat, rows="blank" if repeat else None, children=fields(names, 1)))
    top = fields(draw(st.lists(st.sampled_from(["x", "note"]), max_size=2, unique=True)), 0)
    return Instrument("gen", "生成的表", "G1", "1", draw(st.sampled_from(["point", "person"])), tuple(groups) + top,
                      choices, {"page": [210, 297]}, "gen.xlsx")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(shared_name_instruments())
def test_export_then_read_is_the_identity(tmp_path_factory, inst):
    assume(definition.check(inst) == [] and not any(c.name == "unit_code" for c in inst.children))
    path = tmp_path_factory.mktemp("gen") / "gen.xlsx"
    xlsform.export(inst, path)
    pyxform_ok(path)
    back = xlsform.read(path)
    assert (without_unit_code(back) if inst.per == "point" else back) == inst


def test_add_to_a_round_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(ChouyangError, match="轮次文件夹不存在"):
        catalog.add_to_round(tmp_path / "missing", write_form(tmp_path / "q.xlsx"))
    assert not (tmp_path / "missing").exists()
