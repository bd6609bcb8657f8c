"""Entering assessment facts (facts.py): what to enter, and located problems for every bad entry."""

import pytest

from chouyang.assessment.facts import Entries, adjustment_fields, check_entries, fact_fields, flag_fields, parse_entries, score_fields
from chouyang.assessment.scheme import load_scheme_preset

DENGZHOU = load_scheme_preset("dengzhou-2016h1")
FLAT = load_scheme_preset("flat-cap8")
CODE = "411381001"


def test_fact_fields_of_the_280_point_checklist():
    half = fact_fields(DENGZHOU).set_index(["item", "part"])
    assert len(half) == 35  # 23 leaves, three of them x 5 departments
    assert half.required.sum() == 34  # 11月底前报告: 半年考核默认满分
    row = half.loc[("A2.4", "")]
    assert row.fact_kind == "default" and row.fact == "半年考核默认满分，不用填写" and not row.reference_required
    row = half.loc[("A1.2.1", "")]
    assert (row.fact_kind, row.allowed, row.reference_required) == ("yes_no", "是/否", True)
    assert row.evidence == "有正式文件（调整领导小组的文件）"
    assert half.loc[("A1.2.4", "")].fact == "1年内召开领导小组会议次数"
    assert half.loc[("A1.3.3", "")].evidence.startswith("人员数")
    assert half.loc[("A1.5", "")].allowed == "0–100（%）" and half.loc[("A1.5", "")].evidence.startswith("到位率")
    assert half.loc[("A3.1.1", "")].allowed == "0–2 的整数"
    assert list(half.loc["A2.2.3"].index) == ["卫生计生", "公安", "教育", "民政", "统计"]
    full = fact_fields(DENGZHOU, "full").set_index(["item", "part"])
    assert full.required.all() and full.loc[("A3.1.2", "")].fact.startswith("群众自治示范村比例（%，2016年底")


def test_other_entry_fields():
    scores = score_fields(FLAT).set_index("component")
    assert list(scores.index) == ["service", "survey_h1", "survey_h2", "station", "county"]
    assert scores.loc["survey_h2", "when"] == "not_visited" and scores.loc["county", "when"] == "always"
    adj = adjustment_fields(FLAT).set_index("item")
    assert adj.loc["station_built", "allowed"] == "3–5 分" and adj.loc["interference", "allowed"].endswith("（按 2 倍计）")
    assert adj.loc["severe", "requires"] == "detention、fees" and adj.loc["discipline", "fact_kind"] == "yes_no"
    assert "survey" not in adjustment_fields(DENGZHOU).item.values  # computed from the survey, never entered
    assert list(flag_fields(DENGZHOU).label) == ["重点管理", "重点管理", "重点管理", "一票否决"]


def _complete_facts(code=CODE) -> list[dict]:
    values = {"yes_no": "是", "count": "1", "rate": "60%"}
    return [{"township_code": code, "item": f.item, "part": f.part, "value": values[f.fact_kind],
             "reference": "邓政〔2016〕3号" if f.reference_required else "", "source": "甲.xlsx",
             "sheet": "综合治理清单", "row": 4 + i}
            for i, f in enumerate(fact_fields(DENGZHOU).itertuples()) if f.required]


def test_complete_entries_pass_and_parse():
    entries = Entries.from_records(facts=_complete_facts())
    assert check_entries(DENGZHOU, entries, [CODE]) == []
    parsed = parse_entries(DENGZHOU, entries)
    assert parsed.facts[(CODE, "A1.5")] == 60 and parsed.facts[(CODE, "A1.2.4")] == 1
    assert parsed.facts[(CODE, "A2.2.1")] == {d: True for d in ("卫生计生", "公安", "教育", "民政", "统计")}
    assert parsed.references[(CODE, "A1.2.1")] == "邓政〔2016〕3号"


def _one_problem(entries, townships=(CODE,), **kw):
    problems = check_entries(DENGZHOU, entries, list(townships), **kw)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


@pytest.mark.parametrize("item,value,words", [
    ("A1.1.1", "也许", "只能填写：是、否"),
    ("A1.2.4", "2.5", "应为 0 或正整数"),
    ("A1.2.4", "-1", "应为 0 或正整数"),
    ("A3.1.1", "3", "不能超过 2"),
    ("A1.5", "120", "0–100"),
    ("A1.5", "NaN", "应为比例数字"),
    ("A1.5", "", "未填写（计划生育事业费投入到位率（%））"),
])
def test_bad_values_are_located(item, value, words):
    facts = _complete_facts()
    row = next(r for r in facts if r["item"] == item)
    row["value"] = value
    p = _one_problem(Entries.from_records(facts=facts))
    assert (p.file, p.sheet, p.row, p.column) == ("甲.xlsx", "综合治理清单", row["row"], "填报值")
    assert words in p.message and str(p).startswith("甲.xlsx，工作表「综合治理清单」，第 ")


def test_structure_problems():
    facts = _complete_facts()
    missing = [r for r in facts if r["item"] != "A1.5"]
    assert "缺少清单条目 A1.5「落实计划生育事业费政府投入责任（投入到位率）」的填报" in \
        _one_problem(Entries.from_records(facts=missing)).message
    assert _one_problem(Entries.from_records(facts=facts + [dict(facts[0], row=99)])).message == "同一乡镇的同一条目重复填报"
    assert "清单中没有这个条目" in _one_problem(Entries.from_records(facts=facts + [dict(facts[0], item="A9")])).message
    assert "分项小计" in _one_problem(Entries.from_records(facts=facts + [dict(facts[0], item="A1.1")])).message
    dept = next(r for r in facts if r["item"] == "A2.2.1")
    assert "部门应为" in _one_problem(Entries.from_records(facts=facts + [dict(dept, part="财政")])).message
    half_default = dict(facts[0], item="A2.4", value="是")
    assert "半年考核时此项默认为满分" in _one_problem(Entries.from_records(facts=facts + [half_default])).message
    no_file = [dict(r, reference="") if r["item"] == "A1.2.1" else r for r in facts]
    p = _one_problem(Entries.from_records(facts=no_file))
    assert p.column == "文件名称或文号" and "须有正式文件" in p.message
    foreign = _complete_facts("411399001")
    p = check_entries(DENGZHOU, Entries.from_records(facts=facts + foreign[:1]), [CODE])
    assert len(p) == 1 and p[0].value == "411399001" and "不在本次考核的乡镇名单" in p[0].message


def test_adjustment_and_flag_problems():
    facts = _complete_facts()
    why = {"township_code": CODE, "reason": "查实", "evidence": "通报"}

    def problem(adjustments=(), flags=()):
        return _one_problem(Entries.from_records(facts=facts, adjustments=adjustments, flags=flags))

    assert problem([{**why, "item": "survey", "value": "3"}]).message == "此项由抽样调查结果计算，不应录入"
    assert "须写明事由" in problem([{**why, "item": "discipline", "value": "是", "reason": ""}]).message
    assert "须写明证据或依据" in problem([{**why, "item": "city_site", "value": "是", "evidence": ""}]).message
    assert "加扣须依附于同一乡镇的「严重违反" in problem([{**why, "item": "discipline_leader", "value": "是"}]).message
    p = problem([{**why, "item": "fees", "value": "1"}, {**why, "item": "severe", "value": "2"}])
    assert "加扣起数不能多于" in p.message and p.value == "2"
    assert "只能填写：是、否" in problem([{**why, "item": "medical", "value": "1"}]).message
    assert "没有这个加减分条目" in problem([{**why, "item": "bribe", "value": "是"}]).message
    assert "认定此情形须写明证据或依据" in problem(flags=[{**why, "flag": "major_case", "value": "是",
                                                           "evidence": ""}]).message
    # nothing entered: empty, 否 and 0 rows add nothing and need no reason
    quiet = Entries.from_records(facts=facts, adjustments=[{"township_code": CODE, "item": "medical", "value": "否"},
                                                           {"township_code": CODE, "item": "fees", "value": "0"}],
                                 flags=[{"township_code": CODE, "flag": "major_case", "value": ""}])
    assert check_entries(DENGZHOU, quiet, [CODE]) == []
    assert parse_entries(DENGZHOU, quiet).adjustments == {}


def test_entered_points_outside_their_range():
    p = check_entries(FLAT, Entries.from_records(adjustments=[
        {"township_code": CODE, "item": "station_built", "value": "2", "reason": "新建", "evidence": "验收"}]), [CODE])
    assert any(x.message == "分值应在 3–5 之间" and x.value == "2" for x in p)


def test_scores_of_townships_the_survey_did_not_visit():
    scores = [{"township_code": CODE, "component": c, "score": "10", "evidence": ""}
              for c in ("service", "survey_h1", "station", "county")]
    p = check_entries(FLAT, Entries.from_records(scores=scores), [CODE], computed={"survey_h2": set()})
    assert [x.message for x in p] == [f"乡镇 {CODE}：未被抽样调查，「全市年终人口计生工作考核（本轮抽样调查，满分减上报误差扣分）」"
                                      "须录入按主要工作数据的得分"]
    entered = scores + [{"township_code": CODE, "component": "survey_h2", "score": "40", "evidence": ""}]
    p = check_entries(FLAT, Entries.from_records(scores=entered), [CODE], computed={"survey_h2": set()})
    assert [x.message for x in p] == ["未抽查乡镇按主要工作数据打分：请写明依据的数据"]
    too_high = [dict(scores[0], score="16")] + scores[1:]
    p = check_entries(FLAT, Entries.from_records(scores=too_high), [CODE], computed={"survey_h2": {CODE}})
    assert [x.message for x in p] == ["得分应在 0–15 之间"]
