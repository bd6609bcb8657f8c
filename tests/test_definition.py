"""Instrument definitions in TOML: the reader, the shared check, the built-in survey form, the catalog."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chouyang import vocab
from chouyang.errors import ChouyangError
from chouyang.instruments import catalog, definition
from chouyang.instruments.expr import evaluate, parse, truthy
from chouyang.instruments.model import FIELD_TYPES, PAPER_KINDS, PER, Choice, ChoiceList, Field, Group, Instrument

SHEET_ORDER = vocab.CHECK_SHEETS + vocab.MISSED_SHEETS

BASE = """
[instrument]
name = "t"
title = "测试表"
code = "T1"
version = "1"
per = "point"

[layout]
page = [297, 210]
titles = { g = "第一组" }

[choices]
yn = [["1", "是"], ["0", "否"]]

[[group]]
name = "g"
label = "第一组"
repeat = true
rows = "blank"
blank_rows = 3

[[group.field]]
name = "a"
type = "select_one"
choices = "yn"
label = "甲"

[[group.field]]
name = "b"
type = "integer"
label = "乙"
relevant = "${a} = '1'"
constraint = ". >= 0"
constraint_message = "不能为负数"
"""


def problems_of(text: str) -> list:
    with pytest.raises(ChouyangError) as info:
        definition.loads(text, "t.toml")
    return info.value.problems


def one_problem(text: str, column: str, words: str):
    found = [p for p in problems_of(text) if p.column == column]
    assert found, [str(p) for p in problems_of(text)]
    assert words in found[0].message, str(found[0])
    assert found[0].file == "t.toml"
    return found[0]


# --- the reader -------------------------------------------------------------------------

def test_loads_reads_every_part():
    inst = definition.loads(BASE, "t.toml")
    assert (inst.name, inst.title, inst.code, inst.version, inst.per, inst.source) == ("t", "测试表", "T1", "1", "point", "t.toml")
    assert inst.layout == {"page": [297, 210], "titles": {"g": "第一组"}}
    assert inst.choices == {"yn": ChoiceList("yn", (Choice("1", "是"), Choice("0", "否")))}
    (group,) = inst.children
    assert (group.name, group.repeat, group.rows, group.blank_rows) == ("g", True, "blank", 3)
    assert [f.name for f in group.children] == ["a", "b"]
    assert group.children[1] == Field("b", "integer", "乙", relevant="${a} = '1'", constraint=". >= 0",
                                      constraint_message="不能为负数")


def test_load_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes(BASE.encode("gb18030"))
    with pytest.raises(ChouyangError, match="gbk.toml 不是 UTF-8 编码"):
        definition.load(path)
    path.write_bytes(BASE.encode("utf-8"))
    assert definition.load(path).name == "t"


def test_broken_toml_is_refused_with_the_file():
    with pytest.raises(ChouyangError, match="t.toml 不是有效的 TOML"):
        definition.loads("[instrument\n", "t.toml")


def test_a_nested_group_is_an_entry_of_the_field_array():
    text = BASE + """
[[group.field]]
type = "group"
name = "inner"
label = "内层"
  [[group.field.field]]
  name = "c"
  type = "text"
  label = "丙"
  relevant = "${b} > 2"
"""
    inst = definition.loads(text, "t.toml")
    inner = inst.children[0].children[2]
    assert isinstance(inner, Group) and not inner.repeat
    assert [f.name for f in inner.children] == ["c"]


REFUSALS = [  # (replace this, with this, key path, words of the message)
    ('type = "integer"', 'type = "geopoint"', "group[1].field[2].type", "不支持的题型"),
    ('name = "b"', 'name = "a"', "group[1].field[2].name", "名称重复"),
    ('choices = "yn"', 'choices = "nope"', "group[1].field[1].choices", "选项列表不存在"),
    ('["0", "否"]', '["1", "否"]', "choices.yn[2]", "选项编码重复"),
    ('relevant = "${a} = \'1\'"', 'relevant = "${a} = = 1"', "group[1].field[2].relevant", "表达式有误"),
    ('relevant = "${a} = \'1\'"', 'relevant = "${zz} = 1"', "group[1].field[2].relevant", "不存在的题目 ${zz}"),
    ('relevant = "${a} = \'1\'"', 'relevant = "${b} = 1"', "group[1].field[2].relevant", "引用了自身"),
    ('relevant = "${a} = \'1\'"', 'relevant = ". = 1"', "group[1].field[2].relevant", "引用了自身"),
    ('label = "甲"', 'label = ""', "group[1].field[1].label", "缺少中文标签"),
    ('label = "甲"', 'label = "Sex"', "group[1].field[1].label", "不含中文"),
    ('label = "甲"', 'label = "甲\\u0007"', "group[1].field[1].label", "控制字符"),
    ('label = "甲"', f'label = "{"甲" * 2001}"', "group[1].field[1].label", "超过 2000 个字符"),
    ('name = "a"', 'name = "甲a"', "group[1].field[1].name", "ASCII"),
    ('rows = "blank"', 'rows = "sometimes"', "group[1].rows", "行来源"),
    ('rows = "blank"', 'rows = "register"', "group[1].table", "登记表"),
    ('per = "point"', 'per = "village"', "instrument.per", "填报单位"),
    ('name = "t"', 'name = "调查"', "instrument.name", "ASCII"),
    ('title = "测试表"', 'title = "Survey"', "instrument.title", "不含中文"),
    ('constraint_message = "不能为负数"', 'constraint_message = "must be positive"', "group[1].field[2].constraint_message",
     "只有英文"),
    ('blank_rows = 3', 'blank_rows = "3"', "group[1].blank_rows", "应为整数"),
    ('label = "乙"', 'label = "乙"\ncolour = "red"', "group[1].field[2].colour", "未知的键"),
    ('choices = "yn"', 'choices = "yn"\ntop = "open"', "group[1].field[1].top", "从小到大的整数"),   # codes 1, 0
    ('type = "integer"', 'type = "integer"\ntop = "open"', "group[1].field[2].top", "才能有最高项"),
    ('choices = "yn"', 'choices = "yn"\ntop = "sometimes"', "group[1].field[1].top", "open、confirm 之一"),
]


@pytest.mark.parametrize("old,new,column,words", REFUSALS, ids=[r[2] + ":" + r[3] for r in REFUSALS])
def test_each_refusal_is_located_by_key_path(old, new, column, words):
    assert old in BASE
    one_problem(BASE.replace(old, new, 1), column, words)


def test_a_cycle_of_relevants_is_refused():
    text = BASE.replace('label = "甲"', 'label = "甲"\nrelevant = "${b} = 1"')
    problem = one_problem(text, "group[1].field[1].relevant", "relevant 形成循环：a → b → a")
    assert problem.value == "${b} = 1"


def test_a_group_relevant_on_its_own_field_is_a_self_reference():
    text = BASE.replace('blank_rows = 3', 'blank_rows = 3\nrelevant = "${a} = \'1\'"')
    one_problem(text, "group[1].relevant", "引用了自身")


def test_a_form_over_2000_fields_is_refused():
    fields = "".join(f'\n[[group.field]]\nname = "f{i}"\ntype = "text"\nlabel = "题{i}"\n' for i in range(1999))
    one_problem(BASE + fields, "instrument.name", "有 2001 个题目，超过上限 2000 个")


def test_a_repeat_name_must_be_unique_in_the_whole_form():
    text = BASE + '\n[[group]]\nname = "other"\nlabel = "另一组"\n  [[group.field]]\n  type = "group"\n  name = "g"\n' \
                  '  label = "同名"\n    [[group.field.field]]\n    name = "c"\n    type = "text"\n    label = "丙"\n'
    one_problem(text, "group[1].name", "重复组的名称在整个调查表中必须唯一")


def test_names_differing_only_in_case_are_duplicates():
    one_problem(BASE.replace('name = "b"', 'name = "A"'), "group[1].field[2].name", "名称重复")


def test_both_arrays_in_one_container_are_refused():
    text = BASE + '\n[[field]]\nname = "top"\ntype = "text"\nlabel = "顶"\n'
    one_problem(text, "group", "不能同时使用 field 和 group")


# --- reference resolution ---------------------------------------------------------------

def fixture_tree() -> Instrument:
    text = lambda name, **kw: Field(name, "text", "题", **kw)
    a = Group("a", "甲组", repeat=True, rows="blank", children=(text("x"), text("only_a")))
    inner = Group("inner", "内组", children=(text("deep", relevant="${x} != ''"),))
    b = Group("b", "乙组", repeat=True, rows="blank", children=(text("x"), text("y", relevant="${x} != ''"), inner))
    return Instrument("r", "引用", "R1", "1", "point", (a, b, text("z", relevant="${x} != ''")))


def test_references_resolve_in_own_group_then_enclosing_then_anywhere():
    inst = fixture_tree()
    assert definition.resolve(inst, (1, 1), "x") == [(1, 0)]        # b.y → b.x, not a.x
    assert definition.resolve(inst, (1, 2, 0), "x") == [(1, 0)]     # b.inner.deep → the nearest enclosing b.x
    assert definition.resolve(inst, (1, 1), "only_a") == [(0, 1)]   # unique anywhere
    assert definition.resolve(inst, (2,), "x") == [(0, 0), (1, 0)]  # top level: two → ambiguous
    assert definition.resolve(inst, (2,), "nope") == []
    (problem,) = definition.check(inst)
    assert problem.column == "field[3].relevant" and "有歧义" in problem.message


# --- the built-in survey form ---------------------------------------------------------------

SURVEY = catalog.builtin("survey")
# The print geometry the survey form has always had (formerly forms/survey.toml), in mm.
WIDTHS = {
    "women_check": {"ref": 11, "name": 16, "person_id": 24, "birth_date": 17, "household_no": 20, "marital_status": 10,
                    "contraception": 10},
    "births_check": {"ref": 11, "mother_name": 15, "child_name": 15, "sex": 7, "birth_date": 17, "parity": 7, "policy": 11,
                     "true_birth_date": 22},
    "procedures_check": {"ref": 11, "name": 16, "type": 13, "date": 17},
    "benefits_check": {"ref": 11, "name": 16, "program": 30, "amount": 14},
    "missed_births": {"ref": 9, "mother_id": 46, "mother_name": 22, "child_name": 22, "birth_date": 24},
    "missed_women": {"ref": 9, "person_id": 46, "name": 22, "birth_date": 24},
}
OPTION_WIDTHS = {
    "women_check": {"result": 6.5, "witnesses": 5.5, "verified": 6.5},
    "births_check": {"result": 6.5, "witnesses": 5.5, "verified": 6.5},
    "procedures_check": {"result": 6.5, "true_type": 7, "witnesses": 5.5, "verified": 6.5},
    "benefits_check": {"result": 7, "witnesses": 5.5, "verified": 6.5},
    "missed_births": {"policy": 7.5, "witnesses": 5.5, "verified": 6.5},
    "missed_women": {"witnesses": 5.5, "verified": 6.5},
}
TITLES = {"women_check": "育龄妇女核对", "births_check": "出生核对（调查时限内）", "procedures_check": "手术核对（调查时限内）",
          "benefits_check": "三项制度及孕前优生健康检查资格核对", "missed_births": "漏报出生（在册中没有、现场发现的出生）",
          "missed_women": "漏档妇女（在册中没有、现场发现的育龄妇女）"}
VOCABULARIES = {"marital_status": vocab.MARITAL_STATUS, "contraception": vocab.CONTRACEPTION, "sex": vocab.SEX,
                "policy": vocab.POLICY, "procedure_type": vocab.PROCEDURE_TYPES, "yes_no": vocab.YES_NO,
                "woman_result": vocab.WOMAN_RESULTS, "birth_result": vocab.BIRTH_RESULTS,
                "procedure_result": vocab.PROCEDURE_RESULTS, "benefit_result": vocab.BENEFIT_RESULTS}


def test_survey_definition_is_valid_and_cached():
    assert catalog.builtin_names() == ["survey"]
    assert catalog.builtin("survey") is SURVEY
    assert definition.check(SURVEY) == []
    assert (SURVEY.name, SURVEY.code, SURVEY.title, SURVEY.per) == ("survey", "HC2", "人口和计划生育抽样调查核查表", "point")


@pytest.mark.parametrize("sheet", SHEET_ORDER)
def test_survey_agrees_with_the_vocabularies_the_stages_keep(sheet):
    group = SURVEY.children[SHEET_ORDER.index(sheet)]
    assert (group.name, group.label) == (sheet, vocab.SHEETS[sheet])
    results = next(f for f in group.children if f.name == "result") if sheet in vocab.CHECK_SHEETS else None
    if results is not None:
        assert SURVEY.choices[results.choices].codes() == vocab.RESULTS[sheet]
    for f in group.children:
        if f.choices in VOCABULARIES:
            clist = SURVEY.choices[f.choices]
            assert clist.codes() == VOCABULARIES[f.choices] and [c.label for c in clist.choices] == list(clist.codes())


def test_survey_witness_and_parity_scales_store_the_top_value():
    assert SURVEY.choices["witnesses"].label_of("5") == "5+"
    assert SURVEY.choices["parity"].codes() == ("1", "2", "3", "4") and SURVEY.choices["parity"].label_of("4") == "4+"
    tops = {(gs[-1].name, f.name): f.top for gs, f in SURVEY.walk() if f.top}
    assert tops == {**{(s, "witnesses"): "open" for s in SHEET_ORDER}, ("births_check", "true_parity"): "confirm",
                    ("missed_births", "parity"): "confirm"}


@pytest.mark.parametrize("sheet", SHEET_ORDER)
def test_survey_rows_prefill_and_print_widths(sheet):
    group = SURVEY.group(sheet)
    assert group.repeat
    if sheet in vocab.CHECK_SHEETS:
        assert (group.rows, group.key) == ("register", "ref")
        assert all(f.prefill == f.name for f in group.children if f.prefill)
        assert [f.name for f in group.children if f.printed] == [f.name for f in group.children if f.prefill]
    else:
        assert (group.rows, group.blank_rows, group.table) == ("blank", 10, None)
        assert not any(f.prefill for f in group.children)
        assert [f.name for f in group.children if f.printed] == ["ref"]   # the row number the form prints
    for f in group.children:
        assert f.width == WIDTHS[sheet].get(f.name), f.name
        assert f.option_width == OPTION_WIDTHS[sheet].get(f.name), f.name
    assert SURVEY.layout["section_titles"][sheet] == TITLES[sheet]


def test_survey_register_tables_and_audit_hooks():
    tables = {g.name: g.table for g in SURVEY.children if g.rows == "register"}
    assert tables == {"women_check": "women", "births_check": "births", "procedures_check": "procedures",
                      "benefits_check": "benefits"}
    hooks = {(g.name, f.name): f.verifies for g, f in ((gs[-1], f) for gs, f in SURVEY.walk()) if f.verifies}
    assert hooks == {("women_check", "result"): "ref", ("women_check", "actual_contraception"): "contraception",
                     ("births_check", "result"): "ref", ("births_check", "true_sex"): "sex",
                     ("births_check", "true_birth_date"): "birth_date", ("births_check", "true_parity"): "parity",
                     ("procedures_check", "result"): "ref", ("procedures_check", "true_type"): "type",
                     ("benefits_check", "result"): "ref"}
    layout = SURVEY.layout
    assert (layout["page"], layout["table_left"], layout["table_right"], layout["qr_position"]) == ([297, 210], 11, 286, [250, 13])
    assert (layout["row_height"], layout["tick_box"], layout["option_width"]) == (8.0, 3.4, 6.0)


def value_of(text: str | None, values: dict, dot=None) -> bool:
    return truthy(evaluate(parse(text), values, dot)) if text else True


@pytest.mark.parametrize("sheet", vocab.CHECK_SHEETS)
def test_witnesses_and_verified_are_required_exactly_on_error_rows(sheet):
    group = SURVEY.group(sheet)
    for name in ("witnesses", "verified"):
        f = next(f for f in group.children if f.name == name)
        assert f.relevant is None   # ingest accepts (and ignores) them on rows that are not errors
        for result in vocab.RESULTS[sheet]:
            assert value_of(f.required, {"result": result}) == vocab.is_error(sheet, result), (name, result)


def test_every_new_row_needs_witnesses_and_verified():
    for sheet in vocab.MISSED_SHEETS:
        for name in ("witnesses", "verified"):
            f = next(f for f in SURVEY.group(sheet).children if f.name == name)
            assert (f.required, f.relevant) == ("yes", None)


def test_a_wrong_birth_needs_one_true_value_that_differs_as_ingest_checks():
    result = next(f for f in SURVEY.group("births_check").children if f.name == "result")
    register = {"sex": "女", "birth_date": "2025-03-01", "parity": "2"}
    same = {**register, "true_sex": "女", "true_birth_date": "", "true_parity": ""}
    assert not value_of(result.constraint, same, dot="错报")
    assert value_of(result.constraint, {**same, "true_parity": "3"}, dot="错报")
    assert value_of(result.constraint, {**same, "true_birth_date": "2025-03-02"}, dot="错报")
    assert value_of(result.constraint, same, dot="属实")
    true_type = next(f for f in SURVEY.group("procedures_check").children if f.name == "true_type")
    assert not value_of(true_type.constraint, {"type": "上环"}, dot="上环")
    assert value_of(true_type.constraint, {"type": "上环"}, dot="取环")
    assert value_of(true_type.relevant, {"result": "错报"}) and not value_of(true_type.relevant, {"result": "虚报"})


def test_a_missed_birth_needs_the_mothers_id_or_name():
    name = next(f for f in SURVEY.group("missed_births").children if f.name == "mother_name")
    assert value_of(name.required, {"mother_id": ""}) and not value_of(name.required, {"mother_id": "411381199001011234"})


# --- Instrument → TOML ---------------------------------------------------------------------

def test_dumps_of_the_survey_reads_back_equal():
    assert definition.loads(catalog.dumps(SURVEY), SURVEY.source) == SURVEY


_ZH = st.text(alphabet="调查表题目甲乙丙丁一二三满意", min_size=1, max_size=6)
_ODD = st.text(alphabet='"\\\' \n\t#=[]{}', max_size=3)
_LABEL = st.builds(lambda a, b, c: a + b + c, _ZH, _ODD, _ZH)


@st.composite
def instruments(draw) -> Instrument:
    counter = itertools.count()
    codes = st.lists(st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True), min_size=1, max_size=4, unique=True)
    choices = {}
    for list_name in draw(st.lists(st.sampled_from(["yn", "scale", "list.dotted"]), unique=True, max_size=3)):
        choices[list_name] = ChoiceList(list_name, tuple(Choice(c, draw(_LABEL)) for c in draw(codes)))
    earlier: list[str] = []

    def relevant():
        return draw(st.sampled_from([None] + [f"${{{n}}} != ''" for n in earlier]))

    def field() -> Field:
        kinds = [t for t in FIELD_TYPES if choices or t not in ("select_one", "select_multiple")]
        kind = draw(st.sampled_from(kinds))
        list_name = draw(st.sampled_from(sorted(choices))) if "select" in kind else None
        f = Field(f"f{next(counter)}", kind, draw(_LABEL), choices=list_name,
                  required=draw(st.sampled_from([None, "yes"])), relevant=relevant(), hint=draw(st.none() | _LABEL),
                  calculation="1 + 2" if kind == "calculate" else None,
                  paper=draw(st.none() | st.sampled_from(PAPER_KINDS)), prefill=draw(st.none() | st.just("ref")),
                  width=draw(st.none() | st.floats(0.5, 300)), digits=draw(st.none() | st.integers(1, 12)))
        earlier.append(f.name)
        return f

    def group(depth: int) -> Group:
        name, rel = f"g{next(counter)}", relevant()
        repeat = draw(st.booleans())
        rows = draw(st.sampled_from(["register", "blank", "fixed"])) if repeat else None
        kids = tuple(group(depth + 1) if depth < 2 and draw(st.integers(0, 4)) == 0 else field()
                     for _ in range(draw(st.integers(1, 3))))
        return Group(name, draw(_LABEL), repeat=repeat, rows=rows, table="women" if rows == "register" else None,
                     blank_rows=draw(st.integers(0, 9)) if rows == "blank" else 0,
                     fixed=(("i1", "第一项"), ("i2", "第二项")) if rows == "fixed" else (), relevant=rel, children=kids)

    children = tuple(group(0) if draw(st.booleans()) else field() for _ in range(draw(st.integers(1, 4))))
    keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=4)
    scalars = st.integers(-5, 500) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5) | st.booleans()
    layout = draw(st.dictionaries(keys, scalars | st.lists(scalars, max_size=3) | st.dictionaries(keys, scalars, max_size=2),
                                  max_size=4))
    return Instrument("gen", draw(_LABEL), "G1", draw(st.sampled_from(["1", "2026.1"])), draw(st.sampled_from(PER)),
                      children, choices, layout, "gen.toml")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instruments())
def test_dumps_then_loads_is_the_identity(inst):
    assert definition.check(inst) == []
    assert definition.loads(catalog.dumps(inst), "gen.toml") == inst


# --- a round's instruments -----------------------------------------------------------------

def test_round_instruments_extend_and_override_the_builtins(tmp_path):
    assert catalog.round_instruments(tmp_path) == {"survey": SURVEY}
    folder = tmp_path / "instruments"
    folder.mkdir()
    (folder / "t.toml").write_text(BASE, encoding="utf-8")
    own = replace(SURVEY, version="3", source="")
    (folder / "survey.toml").write_text(catalog.dumps(own), encoding="utf-8")
    found = catalog.round_instruments(tmp_path)
    assert sorted(found) == ["survey", "t"]
    assert found["survey"].version == "3" and found["t"].title == "测试表"


def test_a_temporary_file_left_by_an_interrupted_write_is_not_an_instrument(tmp_path):
    (tmp_path / "instruments").mkdir()
    (tmp_path / "instruments" / ".chouyang-tmp-0123abcd-t.toml").write_text(BASE, encoding="utf-8")
    assert sorted(catalog.round_instruments(tmp_path)) == ["survey"]


def test_a_round_file_must_be_named_after_its_instrument(tmp_path):
    (tmp_path / "instruments").mkdir()
    (tmp_path / "instruments" / "other.toml").write_text(BASE, encoding="utf-8")
    with pytest.raises(ChouyangError, match="文件名应与调查表名称"):
        catalog.round_instruments(tmp_path)


def test_unknown_builtin_is_refused():
    with pytest.raises(ChouyangError, match="没有名为 nope 的内置调查表"):
        catalog.builtin("nope")


def test_the_survey_definition_validates_rows_as_ingest_decides():
    from datetime import date

    from chouyang.instruments.responses import Response, sheet_where, validate

    woman = {"name": "王芳", "person_id": "411381********1234", "birth_date": "1990-01-01", "household_no": "H1",
             "marital_status": "初婚", "contraception": "上环"}
    birth = {"mother_name": "王芳", "child_name": "李明", "sex": "男", "birth_date": "2025-03-01", "parity": "2",
             "policy": "政策内"}
    rows = {"women_check": [{"ref": "W001", **woman, "result": "属实", "witnesses": "2"},      # ignored on a 属实 row
                            {"ref": "W002", **woman, "result": "查无此人"}],                   # an error: witnesses needed
            "births_check": [{"ref": "B001", **birth, "result": "错报", "true_sex": "男", "witnesses": "3", "verified": "是"}],
            "missed_births": [{"mother_name": "张丽", "sex": "女", "birth_date": "2025-05-01", "parity": "1",
                               "policy": "政策内", "witnesses": "1", "verified": "是"}]}
    _, problems = validate(SURVEY, Response("survey", "U1", "", {}, rows), date(2026, 1, 1), sheet_where("x.xlsx"))
    assert [(p.sheet, p.row, p.column) for p in problems] == [
        ("育龄妇女核对", 3, "反映群众人数（witnesses）"), ("育龄妇女核对", 3, "调查组查实（verified）"),
        ("出生核对", 2, "核实结果（result）")]
    assert "错报必须至少填写一项与在册不同的实际值" in problems[2].message
