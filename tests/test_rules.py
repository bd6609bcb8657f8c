from importlib.resources import files

import pytest

from chouyang.config.rules import load_preset, parse_rules, preset_names, round_rules_text
from chouyang.errors import ChouyangError


def test_presets_shipped():
    assert preset_names() == ["dengzhou-2016h1", "flat-cap8", "per-type-cap15"]


def test_per_type_values_match_seed_sentence():
    # "一、二孩错漏每例扣2分,多孩错漏报每例扣3分,上环虚报、错报每例扣1分,
    #  结扎虚报、错报每例扣2分,补救措施虚报每例扣1分,…误差每例扣2分" / "累计减分不超过15分"
    for name in ("per-type-cap15", "dengzhou-2016h1"):
        d = load_preset(name).deductions
        assert (d.birth_parity_1_2, d.birth_parity_3plus, d.iud_false_or_wrong,
                d.sterilisation_false_or_wrong, d.remedial_false, d.eligibility_error) == (2, 3, 1, 2, 1, 2)
        assert d.cap == 15
        assert d.woman_missing == 0


def test_flat_values_match_seed_sentence():
    # "平时调查出现节育误差的每例扣2分,出现出生误差的每例扣4分" / "累计扣分不超过8分"
    d = load_preset("flat-cap8").deductions
    assert d.birth_parity_1_2 == d.birth_parity_3plus == 4
    assert d.iud_false_or_wrong == d.sterilisation_false_or_wrong == d.remedial_false == d.remedial_wrong == 2
    assert d.cap == 8


def test_dengzhou_sampling_and_period():
    r = load_preset("dengzhou-2016h1")
    assert r.points_for("411381001") == 2
    assert r.points_for("411381550") == 1  # 杏山抽取1个样本点
    assert str(r.round.reference_start) == "2015-07-01" and str(r.round.reference_end) == "2016-06-30"
    assert [str(d) for d in r.round.survey_days] == ["2016-07-26", "2016-07-27", "2016-07-28", "2016-07-29"]
    assert r.confirmation.min_witnesses == 3 and r.confirmation.require_verified is True


def _broken(old: str, new: str) -> str:
    text = round_rules_text("dengzhou-2016h1", "2016H1", "测试轮次")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old,new,key,words", [
    ("cap = 15", "cap = 15\nbonus = 3", "deductions.bonus", "未知的键"),
    ("cap = 15", 'cap = "十五"', "deductions.cap", "类型错误"),
    ("birth_parity_1_2 = 2", "birth_parity_1_2 = -2", "deductions.birth_parity_1_2", "不能为负数"),
    ("reference_end = 2016-06-30", "reference_end = 2015-06-30", "round.reference_end", "早于开始日期"),
    ("min_witnesses = 3", "", "confirmation.min_witnesses", None),  # optional: default applies
])
def test_validation_names_the_key(old, new, key, words):
    text = _broken(old, new)
    if words is None:
        assert parse_rules(text, "rules.toml").confirmation.min_witnesses == 3
        return
    with pytest.raises(ChouyangError) as info:
        parse_rules(text, "rules.toml")
    assert key in str(info.value) and words in str(info.value)


def test_missing_required_key():
    with pytest.raises(ChouyangError, match="deductions.cap.*缺少必填"):
        parse_rules(_broken("cap = 15", ""), "rules.toml")


def test_estimation_choices():
    for name in preset_names():  # a statistical choice, the same in every preset, and each says so
        e = load_preset(name).estimation
        assert (e.county_ratio, e.korn_graubard) == ("combined", "truncated")
        assert "not a seed rule" in files("chouyang").joinpath("presets", f"{name}.toml").read_text(encoding="utf-8")
    # a rules file from before the section existed gets the defaults
    text = _broken("[estimation]", "[estimation]")
    older = text[:text.index("[estimation]")]  # the last section
    assert "[ranking]" in older and "county_ratio" not in older
    assert parse_rules(older, "rules.toml").estimation.county_ratio == "combined"
    chosen = parse_rules(_broken('county_ratio = "combined"', 'county_ratio = "separate"'), "rules.toml")
    assert chosen.estimation.county_ratio == "separate"


@pytest.mark.parametrize("old,new,key,words", [
    ('county_ratio = "combined"', 'county_ratio = "pooled"', "estimation.county_ratio",
     '应为 "combined" 或 "separate"'),
    ('korn_graubard = "truncated"', 'korn_graubard = "exact"', "estimation.korn_graubard",
     '应为 "truncated" 或 "untruncated"'),
    ('korn_graubard = "truncated"', "korn_graubard = 1", "estimation.korn_graubard", "类型错误"),
])
def test_estimation_refuses_other_values(old, new, key, words):
    with pytest.raises(ChouyangError) as info:
        parse_rules(_broken(old, new), "rules.toml")
    assert key in str(info.value) and words in str(info.value)
