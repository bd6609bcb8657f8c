"""Assessment scoring (assessment.py): every rule kind by hand, a 3-township composite, consequences, traces."""

from decimal import Decimal as D

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chouyang.assessment.facts import Entries
from chouyang.assessment.scheme import Rule, load_scheme_preset, parse_scheme
from chouyang.assessment.scoring import assess, composite_labels, item_points, township_items
from chouyang.errors import ChouyangError

DENGZHOU = load_scheme_preset("dengzhou-2016h1")
FLAT = load_scheme_preset("flat-cap8")


# --- one hand-computed fixture per rule kind --------------------------------------

def test_yes_no_有正式文件计分():
    rule = DENGZHOU.rule("A1.2.1")  # 及时调整领导小组计5分(有正式文件计分)
    assert item_points(rule, True) == 5 and item_points(rule, False) == 0


@pytest.mark.parametrize("item,count,points", [
    ("A1.2.4", 0, 0), ("A1.2.4", 1, 3), ("A1.2.4", 2, 5), ("A1.2.4", 3, 5),   # 1次会议计3分,计满5为止
    ("A1.3.3", 3, 9), ("A1.3.3", 4, 10), ("A1.3.3", 9, 10),                     # 每配备1名计3分,计满10分为止
])
def test_per_count_capped(item, count, points):
    assert item_points(DENGZHOU.rule(item), count) == points


@pytest.mark.parametrize("item,count,points", [
    ("A2.3", 0, 20), ("A2.3", 1, 15), ("A2.3", 3, 5), ("A2.3", 4, 0), ("A2.3", 6, 0),  # 扣5分,扣完为止
    ("A3.1.1", 0, 5), ("A3.1.1", 1, 2), ("A3.1.1", 2, 0),                             # 少1人扣3分,扣完为止: 5-6 -> 0
])
def test_deduct_per_count_floor_zero(item, count, points):
    assert item_points(DENGZHOU.rule(item), count) == points


@pytest.mark.parametrize("period,rate,points", [
    # 上半年…到位率达到50%以上计30分,每降低1个百分点扣2.5分,低于30%不计分
    ("half", "50", "30"), ("half", "73", "30"), ("half", "47.5", "23.75"), ("half", "45", "17.5"),
    ("half", "40", "5"), ("half", "38", "0"), ("half", "35", "0"), ("half", "30", "0"), ("half", "29.9", "0"),
    # 全年…到位率达100%计30分,每降低1个百分点扣2.5分,低于80%不计分
    ("full", "100", "30"), ("full", "99", "27.5"), ("full", "90", "5"), ("full", "88", "0"), ("full", "79", "0"),
])
def test_rate_with_threshold_and_slope(period, rate, points):
    assert item_points(DENGZHOU.rule("A1.5", period), D(rate)) == D(points)


def test_the_slopes_lower_bound_binds_where_the_slope_is_gentler():
    rule = Rule(kind="rate_slope", points=D(30), full_at=D(50), per_point=D(1), zero_below=D(30))
    assert item_points(rule, D(31)) == 11
    assert item_points(rule, D(30)) == 10     # 30 % is not "低于30%"
    assert item_points(rule, D("29.9")) == 0  # the slope alone would give 9.9
    whole = Rule(kind="rate_slope", points=D(30), full_at=D(50), per_point=D("2.5"), zero_below=D(30),
                 shortfall="whole")
    assert item_points(whole, D("47.5")) == 25  # only the 2 whole points short count


@pytest.mark.parametrize("period,rate,points", [
    ("half", "65", "10"), ("half", "64.9", "0"), ("half", "90", "10"),  # 65%以上计10分,低于65%不计分
    ("full", "70", "10"), ("full", "67", "7"), ("full", "68.5", "8.5"), ("full", "60", "0"), ("full", "55", "0"),
])
def test_rate_threshold_and_the_full_year_variant(period, rate, points):
    # 全年: 70%以上计10分,否则每少1个比例点扣1分,扣完为止
    assert item_points(DENGZHOU.rule("A3.1.2", period), D(rate)) == D(points)


def test_per_department():
    rule = DENGZHOU.rule("A2.2.1")  # 卫生计生、公安、教育、民政、统计等5部门各计4分
    assert item_points(rule, {"卫生计生": True, "公安": True, "教育": True, "民政": False, "统计": False}) == 12
    assert item_points(DENGZHOU.rule("A2.2.2"), {d: True for d in rule.departments}) == 15


def test_half_year_default_full():
    assert item_points(DENGZHOU.rule("A2.4", "half"), None) == 20  # 半年考核时此项均默认为满分
    assert item_points(DENGZHOU.rule("A2.4", "full"), False) == 0
    assert item_points(DENGZHOU.rule("A2.4", "full"), True) == 20


@given(st.integers(0, 50), st.decimals(0, 100, places=1))
def test_points_stay_within_the_item(count, rate):
    for item in DENGZHOU.leaves():
        for period in ("half", "full"):
            rule = DENGZHOU.rule(item.id, period)
            fact = {"count": count, "rate": rate, "yes_no": True}.get(rule.fact_kind)
            if rule.kind == "per_department":
                fact = {d: count % 2 == 0 for d in rule.departments}
            assert 0 <= item_points(rule, fact) <= item.points


# --- a 3-township composite (第六篇 第3篇), every number by hand -------------------------

TOWNS = pd.DataFrame({"township_code": ["411381001", "411381002", "411382003"], "township_name": ["甲镇", "乙镇", "丙乡"]})
SURVEY = pd.DataFrame({"township_code": ["411381001", "411381002"], "deduction": [3.0, 8.0],
                       "deduction_raw": [3.0, 11.0]})


def _flat_entries() -> Entries:
    scores = []
    for code, service, h1, station, county in (("411381001", "12", "25", "8", "90"),
                                               ("411381002", "14.5", "28", "9", "80"),
                                               ("411382003", "13", "27", "10", "85")):
        scores += [{"township_code": code, "component": c, "score": v, "evidence": "县区通报"}
                   for c, v in (("service", service), ("survey_h1", h1), ("station", station), ("county", county))]
    scores.append({"township_code": "411382003", "component": "survey_h2", "score": "40", "evidence": "WIS 月报"})
    why = {"reason": "经查实", "evidence": "通报"}
    adjustments = [
        {"township_code": "411381001", "item": "city_site_promoted", "value": "是", **why},
        {"township_code": "411381001", "item": "station_built", "value": "4", **why},
        {"township_code": "411381001", "item": "discipline", "value": "是", **why},
        {"township_code": "411381001", "item": "discipline_leader", "value": "是", **why},
        {"township_code": "411381001", "item": "medical", "value": "是", **why},
        {"township_code": "411381002", "item": "province_site", "value": "13", **why},
        {"township_code": "411381002", "item": "routine_birth", "value": "1", **why},
        {"township_code": "411382003", "item": "detention", "value": "2", **why},
        {"township_code": "411382003", "item": "severe", "value": "1", **why},
        {"township_code": "411382003", "item": "interference", "value": "1.5", **why},
    ]
    flags = [{"township_code": "411382003", "flag": "misconduct", "value": "是", "reason": "向调查组送礼",
              "evidence": "纪检通报"}]
    return Entries.from_records(scores=scores, adjustments=adjustments, flags=flags)


def test_three_township_composite_by_hand():
    a = assess(FLAT, TOWNS, _flat_entries(), survey=SURVEY)
    t = a.townships.set_index("township_code")
    # 年终抽样调查 45 less the survey deduction; 丙乡 was not visited: its entered 40 (按主要工作数据)
    assert list(t["c:survey_h2"]) == [37.0, 42.0, 40.0]            # order: 乙镇, 甲镇, 丙乡 (by rank)
    assert t.loc["411381001", "c:survey"] == 67.0                   # 25 + 42
    assert t.loc["411381002", "c:survey"] == 65.0                   # 28 + 37
    assert t.loc["411382003", "c:survey"] == 67.0                   # 27 + 40
    assert t.loc["411381001", "c:city"] == 87.0                     # 12 + 67 + 8
    assert t.loc["411381002", "c:city"] == 88.5                     # 14.5 + 65 + 9
    assert t.loc["411382003", "c:city"] == 90.0                     # 13 + 67 + 10
    assert t.loc["411381001", "composite"] == 88.2                  # 0.6 x 87 + 0.4 x 90 = 52.2 + 36
    assert t.loc["411381002", "composite"] == 85.1                  # 0.6 x 88.5 + 0.4 x 80 = 53.1 + 32
    assert t.loc["411382003", "composite"] == 88.0                  # 0.6 x 90 + 0.4 x 85 = 54 + 34
    assert t.loc["411381001", "g:bonus"] == 6.0                     # 2 + 4
    assert t.loc["411381002", "g:bonus"] == 12.0                    # 13, capped at 12
    assert t.loc["411381001", "g:deduction"] == 8.0                 # 6 + 2 + 2 = 10, capped at 8
    assert t.loc["411381002", "g:deduction"] == 4.0                 # 1 birth case x 4
    assert t.loc["411382003", "g:deduction"] == 5.0                 # 2 x 2 + 1 x 1
    assert t.loc["411382003", "g:interference_group"] == 3.0        # 1.5, doubled, no cap
    assert list(t.total) == [93.1, 86.2, 80.0]                      # 85.1+12-4, 88.2+6-8, 88+0-5-3
    assert list(t["rank"]) == [1, 2, 3]
    assert list(t.consequences) == ["", "", "重点管理"]              # 丙乡: misconduct flag
    assert "按主要工作数据打分" in t.loc["411382003", "notes"] and t.loc["411381001", "notes"] == ""
    comp = a.components.set_index(["township_code", "component"])
    assert comp.loc[("411382003", "survey_h2"), "basis"] == "未抽查，按主要工作数据打分：WIS 月报"
    assert comp.loc[("411381002", "survey_h2"), "basis"] == "抽样调查：满分 45 减扣分 8"
    adj = a.adjustments
    total_row = adj[(adj.township_code == "411381001") & (adj.group == "deduction") & (adj["item"] == "")].iloc[0]
    assert total_row.title == "违法行政和重大恶性事件等减分合计（累计 10，上限 8）" and total_row.points == 8
    assert a.labels["c:city"] == "市考核（100分×60%）" and composite_labels(FLAT)["g:bonus"] == "加分（加分，上限12分）"


def test_survey_scores_are_not_entered_for_visited_townships():
    entries = _flat_entries()
    extra = Entries.from_records(scores=[{"township_code": "411381001", "component": "survey_h2", "score": "44",
                                          "evidence": "x"}])
    with pytest.raises(ChouyangError, match="已抽查"):
        assess(FLAT, TOWNS, Entries.concat([entries, extra]), survey=SURVEY)
    with pytest.raises(ChouyangError, match="未被抽样调查"):
        assess(FLAT, TOWNS, entries, survey=SURVEY.iloc[:1])


# --- the 280-point checklist scored for one township -----------------------------------

def _dengzhou_facts(code: str, value_of) -> list[dict]:
    from chouyang.assessment.facts import fact_fields
    rows = []
    for f in fact_fields(DENGZHOU).itertuples():
        if f.required:
            rows.append({"township_code": code, "item": f.item, "part": f.part, "value": value_of(f),
                         "reference": "邓政〔2016〕1号" if f.reference_required else ""})
    return rows


def test_checklist_subtotals_and_the_missing_協会_points():
    values = {"yes_no": "是", "count": "2", "rate": "47.5"}
    facts = _dengzhou_facts("411381001", lambda f: values[f.fact_kind])
    a = assess(DENGZHOU, TOWNS.iloc[:1], Entries.from_records(facts=facts))
    items = township_items(a, "411381001").set_index("item")
    assert items.loc["A1.2.4", "points"] == 5 and items.loc["A1.3.3", "points"] == 6   # 2 meetings; 2 staff x 3
    assert items.loc["A1.5", "points"] == 23.75 and items.loc["A1.5", "fact"] == "计划生育事业费投入到位率（%）：47.5%"
    assert items.loc["A2.3", "points"] == 10 and items.loc["A3.1.1", "points"] == 0     # 20-2x5; 5-2x3 -> 0
    assert items.loc["A3.1.2", "points"] == 0                                             # 47.5 % < 65 %
    assert items.loc["A2.4", "points"] == 20 and items.loc["A2.4", "fact"] == "半年考核默认满分"
    assert items.loc["A1.2.1", "reference"] == "邓政〔2016〕1号"
    # 130 - 0 (A1.2.4 full) - 4 (A1.3.3) - 6.25 (A1.5) = 119.75; 110 - 10 (A2.3) = 100; 0 + 0 = 0 of 15
    assert a.townships.iloc[0]["c:A"] == 219.75
    missing = items.loc[["A3", "A3.1"]]
    assert list(missing["max"]) == [20, 5] and list(missing["points"]) == [0, 0]
    assert any("A3「加强计划生育协会组织建设」" in n and "20 分无细则" in n for n in a.notes)
    assert any("A3.1「乡级」" in n and "5 分无细则" in n for n in a.notes)


# --- consequences: ties, a veto, the 重点帮助 pass-down, the two-year escalation -------------

CONSEQUENCES = """
[scheme]
name = "后果测试"
section = "第六篇 第1篇"
period = "full"

[composite]
points = 110

[[component]]
id = "main"
title = "主要工作"
points = 100
source = "entered"

[[component]]
id = "sat"
title = "群众满意度"
points = 10
source = "entered"

[[flag]]
id = "accident"
title = "重大责任事故"
consequence = "veto"

[[flag]]
id = "major_case"
title = "因行政侵权引发重大恶性案件"
consequence = "manage"

[[consequence]]
id = "veto"
kind = "veto"
label = "一票否决"
ranks_last = false

[[consequence]]
id = "manage"
kind = "bottom"
label = "重点管理"
n = 2

[[consequence]]
id = "advanced"
kind = "top"
label = "先进"
n = 2

[[consequence]]
id = "help"
kind = "county_last"
label = "重点帮助"
skip = ["manage"]

[[consequence]]
id = "sat_warning"
kind = "bottom"
label = "单项预警"
n = 1
component = "sat"

[[consequence]]
id = "help_twice"
kind = "repeat"
label = "重点管理"
previous = "重点帮助"
current = "help"
becomes = "manage"

[[consequence]]
id = "manage_twice"
kind = "repeat"
label = "五职责任人免职"
previous = "重点管理"
current = "manage"
"""

#            code         name  main sat  total rank
COUNTY = [("411381001", "A镇", 95, 9),   # 104   2
          ("411381002", "B镇", 90, 8),   # 98    3 (tie)
          ("411381003", "C镇", 90, 8),   # 98    3 (tie)
          ("411381004", "D镇", 60, 7),   # 67    9
          ("411381005", "I镇", 75, 6),   # 81    6
          ("411382001", "E镇", 96, 10),  # 106   1 (veto)
          ("411382002", "F镇", 70, 6),   # 76    7
          ("411382003", "G镇", 65, 5),   # 70    8
          ("411382004", "H镇", 80, 9)]   # 89    5 (violation flag)
PREVIOUS = pd.DataFrame({"township_code": ["411382002", "411381004", "411382003", "411381005"],
                         "consequences": ["重点帮助", "重点管理", "重点帮助", "先进"]})


def _county_assessment(text=CONSEQUENCES, previous=PREVIOUS):
    scheme = parse_scheme(text, "consequences.toml")
    towns = pd.DataFrame([(c, n) for c, n, _, _ in COUNTY], columns=["township_code", "township_name"])
    scores = [{"township_code": c, "component": comp, "score": str(v), "evidence": ""}
              for c, _, main, sat in COUNTY for comp, v in (("main", main), ("sat", sat))]
    flags = [{"township_code": "411382001", "flag": "accident", "value": "是", "reason": "手术事故", "evidence": "通报"},
             {"township_code": "411382004", "flag": "major_case", "value": "是", "reason": "强拆", "evidence": "通报"}]
    return assess(scheme, towns, Entries.from_records(scores=scores, flags=flags), previous=previous)


def test_consequences_ties_veto_pass_down_and_escalation():
    a = _county_assessment()
    t = a.townships.set_index("township_name")
    assert list(t.index) == ["E镇", "A镇", "B镇", "C镇", "H镇", "I镇", "F镇", "G镇", "D镇"]
    assert list(t.total) == [106, 104, 98, 98, 89, 81, 76, 70, 67]
    assert list(t["rank"]) == [1, 2, 3, 3, 5, 6, 7, 8, 9]
    assert t.consequences.to_dict() == {
        "E镇": "一票否决",                  # first by score, vetoed: not 先进
        "A镇": "先进",
        "B镇": "先进",                      # B and C tie for the 2nd 先进 place: both
        "C镇": "先进",
        "H镇": "重点管理",                  # entered violation
        "I镇": "重点帮助",                  # county 411381: D is last but 重点管理 -> passed down to I
        "F镇": "重点管理",                  # county 411382's 重点帮助 (G is 重点管理), 重点帮助 last year too
        "G镇": "重点管理、单项预警",        # second last; lowest 群众满意度 (5)
        "D镇": "重点管理、五职责任人免职",  # last; 重点管理 last year too
    }
    assert "与C镇并列" in t.loc["B镇", "notes"]
    assert any("「先进」名额 2 个，因得分并列共 3 个乡镇：A镇、B镇、C镇" in n for n in a.notes)
    assert any(n.startswith("E镇 综合排名第 1 名，但因一票否决不能评为「先进」") for n in a.notes)
    trace = a.consequences.set_index(["township_code", "consequence"])
    assert trace.loc[("411381005", "help"), "reason"] == "县（市、区）411381 内排名最后（最后一名已列入重点管理，往后顺延）"
    assert trace.loc[("411382002", "manage"), "reason"] == "连续两年列为「重点帮助」"
    assert trace.loc[("411382004", "manage"), "reason"] == "因行政侵权引发重大恶性案件：强拆"
    assert trace.loc[("411381004", "manage"), "reason"] == "综合排名第 9 名（共 9 个，后 2 名）"
    assert ("411382002", "help") not in trace.index  # escalated, not passed down again


def test_without_the_previous_year_nothing_escalates():
    t = _county_assessment(previous=None).townships.set_index("township_name")
    assert t.loc["F镇", "consequences"] == "重点帮助" and t.loc["D镇", "consequences"] == "重点管理"


def test_a_veto_that_ranks_last():
    t = _county_assessment(CONSEQUENCES.replace("ranks_last = false", "ranks_last = true"), None)
    t = t.townships.set_index("township_name")
    assert t.loc["E镇", "rank"] == 9 and t.loc["D镇", "rank"] == 8
    assert t.loc["E镇", "consequences"] == "一票否决、重点管理"  # vetoed, last, so among the last 2
    assert t.loc["G镇", "consequences"] == "重点帮助、单项预警"  # county 411382's last (E) is 重点管理: passed to G


def test_previous_results_need_their_columns():
    with pytest.raises(ChouyangError, match="缺少列：consequences"):
        _county_assessment(previous=pd.DataFrame({"township_code": ["411381001"]}))


def test_bad_period_is_refused():
    with pytest.raises(ChouyangError, match="考核期"):
        assess(FLAT, TOWNS, _flat_entries(), survey=SURVEY, period="quarter")


# --- the pure core stays pure ------------------------------------------------------------

def test_core_modules_import_no_round_io_and_no_renderer():
    from test_imports import RENDERERS, ROUND_IO, import_graph
    graph = import_graph()
    for module in ("assessment.scheme", "assessment.scheme_model", "assessment.scheme_reader", "assessment.scheme_tree",
                   "assessment.scheme_parse", "assessment.facts", "assessment.entry_fields", "assessment.scoring",
                   "assessment.consequences", "assessment.composite", "config.toml"):
        bad = graph[module] & (ROUND_IO | RENDERERS | {"demo.checklist", "demo.county", "demo.population"})
        assert not bad, f"{module} imports {bad}"
    assert "demo.county" not in graph["demo.checklist"]  # demo/county.py may import it without a cycle


INDICATOR = """
[scheme]
name = "指标测试"
section = "第六篇 第3篇"
period = "full"

[composite]
points = 10

[[component]]
id = "compliance"
title = "出生政策符合率"
points = 10
source = "indicator"
column = "corrected_compliance_rate"
rule = "rate_slope"
full_at = 95
per_point = 1
"""


def test_indicator_component_scores_a_corrected_rate():
    scheme = parse_scheme(INDICATOR, "indicator.toml")
    survey = pd.DataFrame({"township_code": ["411381001", "411381002"], "deduction": [0, 0], "deduction_raw": [0, 0],
                           "corrected_compliance_rate": [0.9, float("nan")]})
    towns = TOWNS.iloc[:2]
    with pytest.raises(ChouyangError, match="乙镇|411381002"):  # rate undefined: an entered score is needed
        assess(scheme, towns, Entries.from_records(), survey=survey)
    entries = Entries.from_records(scores=[{"township_code": "411381002", "component": "compliance", "score": "7",
                                            "evidence": "全员数据"}])
    a = assess(scheme, towns, entries, survey=survey).townships.set_index("township_code")
    assert a.loc["411381001", "total"] == 5.0  # 90 % is 5 points short of 95 %: 10 - 5
    assert a.loc["411381002", "total"] == 7.0 and "按主要工作数据打分" in a.loc["411381002", "notes"]
    with pytest.raises(ChouyangError, match="corrected_compliance_rate"):
        assess(scheme, towns, entries, survey=survey.drop(columns="corrected_compliance_rate"))


@given(st.lists(st.integers(0, 4), min_size=4, max_size=4), st.integers(0, 30))
def test_group_caps_are_never_exceeded_and_totals_add_up(counts, bonus):
    why = {"township_code": "411381001", "reason": "查实", "evidence": "通报"}
    items = ("detention", "fees", "routine_contraception", "routine_birth")  # 2, 1, 2, 4 points each
    adjustments = [{**why, "item": i, "value": str(n)} for i, n in zip(items, counts)]
    adjustments.append({**why, "item": "province_site", "value": str(bonus)})
    scores = [{"township_code": "411381001", "component": c, "score": "10", "evidence": "WIS 月报"}
              for c in ("service", "survey_h1", "survey_h2", "station", "county")]
    a = assess(FLAT, TOWNS.iloc[:1], Entries.from_records(scores=scores, adjustments=adjustments))
    row = a.townships.iloc[0]
    raw = 2 * counts[0] + counts[1] + 2 * counts[2] + 4 * counts[3]
    assert row["g:deduction"] == min(raw, 8) and row["g:bonus"] == min(bonus, 12)
    assert row.composite == 28  # 0.6 x (10 + 10 + 10 + 10) + 0.4 x 10
    assert row.total == 28 + min(bonus, 12) - min(raw, 8)


def test_township_trace_has_every_table():
    from chouyang.assessment.scoring import township_trace
    a = assess(FLAT, TOWNS, _flat_entries(), survey=SURVEY)
    trace = township_trace(a, "411382003")
    assert set(trace) == {"items", "components", "adjustments", "consequences"}
    assert list(trace["consequences"].label) == ["重点管理"] and trace["items"].empty
    assert list(trace["adjustments"].points) == [4.0, 1.0, 5.0, 3.0, 3.0]  # detention, severe, total; interference
    assert a.scheme_name.startswith("人口和计划生育") and a.scheme_sha256 == FLAT.sha256


def test_a_survey_table_without_the_deduction_column_is_refused():
    with pytest.raises(ChouyangError, match="没有「deduction」一列（得分组成部分 survey_h2 需要）"):
        assess(FLAT, TOWNS, _flat_entries(), survey=SURVEY.drop(columns="deduction"))
