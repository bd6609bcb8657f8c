"""The demo county's simulated assessment (assessment_demo.py): deterministic, valid, and printable."""

import pandas as pd

from chouyang.assessment.facts import check_entries
from chouyang.assessment.scheme import load_scheme_preset
from chouyang.assessment.scoring import computed_scores
from chouyang.demo.checklist import demo_assessment, simulate_entries, summary_lines
from chouyang.demo.population import demo_townships

TOWNS = demo_townships()


def test_same_seed_same_assessment_other_seed_other():
    a, b, c = demo_assessment(TOWNS, "s1"), demo_assessment(TOWNS, "s1"), demo_assessment(TOWNS, "s2")
    pd.testing.assert_frame_equal(a.townships, b.townships)
    assert not a.townships.total.equals(c.townships.total)
    assert len(a.townships) == 28 and a.townships["rank"].min() == 1
    assert a.townships.total.is_monotonic_decreasing
    assert (a.townships["c:A"] <= 255).all()  # 280 less the 25 points the seed gives no rule for


def test_every_scheme_gets_valid_simulated_entries():
    survey = pd.DataFrame({"township_code": TOWNS.township_code[:20], "deduction": 2.0, "deduction_raw": 3.0})
    for name in ("dengzhou-2016h1", "flat-cap8", "per-type-cap15"):
        scheme = load_scheme_preset(name)
        computed = computed_scores(scheme, survey)
        entries = simulate_entries(scheme, TOWNS, "x", computed)
        assert check_entries(scheme, entries, TOWNS.township_code, computed) == []
        assert len(demo_assessment(TOWNS, "x", survey, scheme).townships) == 28


def test_summary_lines_show_top_and_bottom_with_consequences():
    a = demo_assessment(TOWNS, "demo")
    lines = summary_lines(a, n=3)
    table = a.townships
    assert lines[0] == "综合考核：28 个乡镇，满分 280 分"
    assert lines[1] == "前几名：" and lines[5] == "后几名："
    assert lines[2] == f"  第 1 名　{table.township_name[0]}　总分 {table.total[0]:g}　{table.consequences[0]}"
    assert lines[-1].startswith("考核结果：") and "重点管理" in lines[-1]
    assert "重点管理" in lines[8]  # the last township


def test_the_full_year_period_asks_for_the_half_year_defaults():
    scheme = load_scheme_preset("dengzhou-2016h1")
    entries = simulate_entries(scheme, TOWNS.iloc[:2], "y", period="full")
    assert "A2.4" in set(entries.facts["item"])  # 11月底前报告: entered at the full-year assessment
    assert check_entries(scheme, entries, TOWNS.township_code[:2], period="full") == []
    assert check_entries(scheme, entries, TOWNS.township_code[:2], period="half")[0].message == \
        "半年考核时此项默认为满分，不用填写"
