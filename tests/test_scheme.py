"""Assessment schemes (scheme.py): presets, the 280-point tree against seed 004, every quote in the seed, validation."""

from decimal import Decimal
from pathlib import Path

import pytest

from chouyang.assessment.scheme import load_scheme, load_scheme_preset, parse_scheme, scheme_description, scheme_names
from chouyang.errors import ChouyangError

SEED = (Path(__file__).resolve().parents[1] / "docs" / "seeds" / "004_9eb4765fcbf83373.txt").read_text(encoding="utf-8")


def _section(name: str) -> str:
    """The text of one part of seed 004: "第二篇", or "第六篇 第1篇" / "第六篇 第3篇"."""
    if name == "第二篇":
        return SEED[SEED.index("考核机制 第二篇"):SEED.index("考核机制 第三篇")]
    six = SEED.index("考核机制 第六篇")
    part = name.split()[1]
    following = {"第1篇": "第2篇", "第3篇": "第4篇"}[part]
    return SEED[SEED.index(f"\n{part}\n", six):SEED.index(f"\n{following}\n", six)]


def test_presets_shipped():
    assert scheme_names() == ["dengzhou-2016h1", "flat-cap8", "per-type-cap15"]
    assert all(scheme_description(n) for n in scheme_names())


@pytest.mark.parametrize("name", ["dengzhou-2016h1", "flat-cap8", "per-type-cap15"])
def test_every_quote_is_in_seed_004_in_the_section_it_names(name):
    scheme = load_scheme_preset(name)
    quotes = scheme.quotes()
    assert len(quotes) >= 25
    for where, quote, section in quotes:
        assert quote == quote.strip()
        assert quote in SEED, f"{name} {where}: not in seed 004: {quote}"
        # a quote from another part than the scheme's own must say so (borrowed_from)
        assert quote in _section(section), f"{name} {where}: not in {section}: {quote}"


def test_dengzhou_borrows_only_with_a_label():
    scheme = load_scheme_preset("dengzhou-2016h1")
    own = [q for _, q, s in scheme.quotes() if s == "第二篇"]
    borrowed = [q for _, q, s in scheme.quotes() if s == "第六篇 第1篇"]
    assert len(own) == 39 and len(borrowed) == 32
    assert "以上三项加分不超过5分" in borrowed and "上述累计减分不超过15分" in borrowed
    assert all(q not in _section("第二篇") for q in borrowed)


def test_dengzhou_tree_sums_to_the_seed_subtotals():
    s = load_scheme_preset("dengzhou-2016h1")
    items = s.items
    assert items["A"].points == 280  # (一)综合治理责任落实(280分)
    assert [(c, items[c].points) for c in items["A"].children] == [("A1", 130), ("A2", 110), ("A3", 40)]

    def leaf_sum(node):
        return sum(i.points for i in s.leaves(node))

    assert leaf_sum("A1") == 130  # 20 + 20 + 20 + 20 + 30 + 20
    assert [items[c].points for c in items["A1"].children] == [20, 20, 20, 20, 30, 20]
    assert leaf_sum("A2") == 110  # 20 + (20 + 15 + 15) + 20 + 20
    assert [items[c].points for c in items["A2"].children] == [20, 50, 20, 20]
    # 协会 (40): the seed gives only (1)乡级(20分) with ①组织建设(5分) and ②群众自治示范村(10分), then ends
    assert items["A3"].children == ("A3.1",) and items["A3.1"].points == 20
    assert [(c, items[c].points) for c in items["A3.1"].children] == [("A3.1.1", 5), ("A3.1.2", 10)]
    assert leaf_sum("A3") == 15
    assert s.missing_points("A3") == 20 and s.missing_points("A3.1") == 5
    assert items["A3"].incomplete and items["A3.1"].incomplete and "中断" in s.note
    assert leaf_sum("A") == 255 and s.missing_points("A") == 0
    assert len(s.leaves()) == 23


def test_dengzhou_rule_values_as_the_seed_states_them():
    s = load_scheme_preset("dengzhou-2016h1")
    half, full = s.rule("A1.5", "half"), s.rule("A1.5", "full")
    assert (half.full_at, half.per_point, half.zero_below) == (50, Decimal("2.5"), 30)
    assert (full.full_at, full.per_point, full.zero_below) == (100, Decimal("2.5"), 80)
    assert s.rule("A1.2.4").kind == "per_count" and s.rule("A1.2.4").per == 3 and s.items["A1.2.4"].points == 5
    assert s.rule("A1.3.3").per == 3 and s.items["A1.3.3"].points == 10
    assert s.rule("A2.3").kind == "deduct_per_count" and s.rule("A2.3").per == 5
    assert s.rule("A2.2.1").departments == ("卫生计生", "公安", "教育", "民政", "统计") and s.rule("A2.2.1").per == 4
    assert s.rule("A2.4", "half").default_full and not s.rule("A2.4", "full").default_full
    assert s.rule("A3.1.2", "half").kind == "rate_threshold" and s.rule("A3.1.2", "half").threshold == 65
    assert s.rule("A3.1.2", "full").kind == "rate_slope" and s.rule("A3.1.2", "full").full_at == 70
    assert s.period == "half"


def test_other_presets_composites():
    flat = load_scheme_preset("flat-cap8")
    assert not flat.items and flat.points == 100
    assert flat.components["city"].weight == Decimal("0.6") and flat.components["county"].weight == Decimal("0.4")
    assert [flat.components[c].points for c in flat.components["city"].children] == [15, 75, 10]
    assert [flat.components[c].points for c in flat.components["survey"].children] == [30, 45]
    assert {g.id: g.cap for g in flat.groups} == {"bonus": 12, "deduction": 8, "interference_group": None}
    assert flat.adjustment_items["interference"].factor == 2
    per_type = load_scheme_preset("per-type-cap15")
    assert not per_type.items and per_type.points == 100
    assert {g.id: g.cap for g in per_type.groups} == {"bonus": 5, "deduction": 15, "petition": None}
    assert per_type.consequences["advanced"].n == 15 and per_type.consequences["manage"].n == 5


def test_load_scheme_from_a_file(tmp_path):
    path = tmp_path / "scheme.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_scheme(path).points == 10
    path.write_bytes("# 方案\n".encode("gbk"))
    with pytest.raises(ChouyangError, match="UTF-8"):
        load_scheme(path)


MINIMAL = """
[scheme]
name = "测试方案"
section = "第二篇"
period = "half"

[composite]
points = 10

[[item]]
id = "R"
title = "根"
points = 10

[[item]]
id = "R1"
parent = "R"
title = "甲"
points = 10
rule = "yes_no"

[[component]]
id = "R"
title = "清单"
points = 10
source = "checklist"
item = "R"

[[adjustment]]
id = "g"
title = "减分"
sign = "deduction"
cap = 8

[[adjustment.item]]
id = "a"
title = "事故"
rule = "fixed"
points = 2

[[consequence]]
id = "manage"
kind = "bottom"
label = "重点管理"
n = 1
"""


def _broken(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new, 1)


def test_minimal_scheme_is_valid():
    s = parse_scheme(MINIMAL, "scheme.toml")
    assert s.items["R"].children == ("R1",) and s.rule("R1").points == 10


@pytest.mark.parametrize("old,new,where,words", [
    ('rule = "yes_no"', 'rule = "maybe"', "item[R1].rule", "未知的计分规则"),
    ('title = "甲"\npoints = 10', 'title = "甲"\npoints = -10', "item[R1].points", "不能为负数"),
    ('title = "甲"\npoints = 10', 'title = "甲"\npoints = nan', "item[R1].points", "nan 或 inf"),
    ('title = "甲"\npoints = 10', 'title = "甲"\npoints = inf', "item[R1].points", "nan 或 inf"),
    ('title = "甲"\npoints = 10', 'title = "甲"\npoints = "十"', "item[R1].points", "应为数字"),
    ("cap = 8", "cap = -1", "adjustment[g].cap", "不能为负数"),
    ('title = "根"\npoints = 10', 'title = "根"\npoints = 8', "item[R].points", "超过本条目"),
    ('title = "根"\npoints = 10', 'title = "根"\npoints = 12', "item[R].points", "incomplete"),
    ('title = "根"\npoints = 10', 'title = "根"\npoints = 10\nincomplete = "缺"', "item[R].incomplete", "已足额"),
    ('id = "R1"\nparent = "R"', 'id = "R"\nparent = "R"', "item[R].id", "编号重复"),
    ('id = "R1"\nparent = "R"', 'id = "R1"\nparent = "Q"', "item[R1].parent", "上级条目不存在"),
    ('id = "R"\ntitle = "根"\npoints = 10', 'id = "R"\ntitle = "根"\npoints = 10\nrule = "yes_no"', "item[R].rule",
     "不能有计分规则"),
    ('rule = "yes_no"', "", "item[R1].rule", "缺少计分规则"),
    ('rule = "yes_no"', 'rule = "yes_no"\npts = 3', "item[R1].pts", "未知的键"),
    ('rule = "yes_no"', 'rule = "yes_no"\nper = 3', "item[R1].per", "不使用这个键"),
    ('rule = "yes_no"', 'rule = "per_count"', "item[R1].per", "缺少必填"),
    ('rule = "yes_no"', 'rule = "per_department"\nper = 3\ndepartments = ["公安", "教育"]', "item[R1].per",
     "不等于满分"),
    ('rule = "yes_no"', 'rule = "rate_slope"\nfull_at = 50\nper_point = 2.5\nzero_below = 60', "item[R1].zero_below",
     "高于计满分"),
    ('rule = "yes_no"', 'rule = "rate_threshold"\nthreshold = 120', "item[R1].threshold", "0–100"),
    ('period = "half"', 'period = "annual"', "scheme.period", "half 或 full"),
    ("[composite]\npoints = 10", "[composite]\npoints = 100", "composite.points", "与总分不符"),
    ('source = "checklist"\nitem = "R"', 'source = "checklist"\nitem = "Z"', "component[R].item", "没有这个条目"),
    ('source = "checklist"', 'source = "guess"', "component[R].source", "未知或缺少得分来源"),
    ('sign = "deduction"', 'sign = "minus"', "adjustment[g].sign", "bonus"),
    ('rule = "fixed"\npoints = 2', 'rule = "fixed"\npoints = 0', "adjustment[g].item[a].points", "应大于 0"),
    ('kind = "bottom"', 'kind = "worst"', "consequence[manage].kind", "未知的后果类型"),
    ('label = "重点管理"', 'label = "重点管理、通报"', "consequence[manage].label", "顿号"),
    ("n = 1", "n = 1\n\n[[flag]]\nid = \"f\"\ntitle = \"事故\"\nconsequence = \"nobody\"", "flag[f].consequence",
     "bottom"),
    ("[scheme]", "[schema]\n[scheme]", "schema", "未知的节"),
])
def test_validation_names_file_element_and_key(old, new, where, words):
    with pytest.raises(ChouyangError) as info:
        parse_scheme(_broken(old, new), "scheme.toml")
    text = str(info.value)
    assert "scheme.toml" in text and f"列「{where}" in text and words in text, text


def test_every_problem_is_listed_at_once():
    text = _broken('rule = "yes_no"', 'rule = "maybe"').replace("cap = 8", "cap = -1")
    with pytest.raises(ChouyangError) as info:
        parse_scheme(text, "scheme.toml")
    assert len(info.value.problems) == 2


def test_not_toml():
    with pytest.raises(ChouyangError, match="不是有效的 TOML"):
        parse_scheme("[scheme\nname =", "scheme.toml")


def test_cycle_in_the_tree_is_refused():
    text = MINIMAL.replace('id = "R"\ntitle = "根"\npoints = 10', 'id = "R"\nparent = "R1"\ntitle = "根"\npoints = 10')
    with pytest.raises(ChouyangError, match="成环"):
        parse_scheme(text, "scheme.toml")


def test_indicator_thresholds_outside_percent_only_when_the_column_is_not_a_rate():
    text = MINIMAL.replace('source = "checklist"\nitem = "R"', 'source = "indicator"\ncolumn = "corrected_sex_ratio"\n'
                           'percent = false\nrule = "rate_threshold"\nthreshold = 107')
    assert parse_scheme(text, "scheme.toml").components["R"].rule.threshold == 107
    with pytest.raises(ChouyangError, match="0–100"):
        parse_scheme(text.replace("percent = false", "percent = true"), "scheme.toml")


@pytest.mark.parametrize("old,new,where,words", [
    ('id = "R1"\nparent = "R"', 'id = "R1"\nparent = ["R"]', "item[R1].parent", "上级条目不存在"),
    ('id = "R1"\nparent = "R"', 'id = "R1"\nparent = { id = "R" }', "item[R1].parent", "上级条目不存在"),
    ('rule = "yes_no"', 'rule = ["yes_no"]', "item[R1].rule", "未知的计分规则"),
    ('source = "checklist"', 'source = ["checklist"]', "component[R].source", "未知或缺少得分来源"),
    ('sign = "deduction"', 'sign = ["deduction"]', "adjustment[g].sign", "应为 bonus"),
    ('rule = "fixed"\npoints = 2', 'rule = {}\npoints = 2', "adjustment[g].item[a].rule", "未知的加减分规则"),
    ("n = 1", 'n = 1\ncomponent = ["R"]', "consequence[manage].component", "没有这个得分组成部分"),
])
def test_an_array_or_table_where_a_name_belongs_is_a_problem_not_a_crash(old, new, where, words):
    # these used to raise TypeError (unhashable type) out of the parser: a traceback, not a message
    with pytest.raises(ChouyangError) as info:
        parse_scheme(_broken(old, new), "scheme.toml")
    assert f"列「{where}」：{words}" in str(info.value), str(info.value)
