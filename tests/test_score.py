"""Scoring on a hand-computed toy county, both deduction presets, and cross-checks of the estimators."""

import csv
import dataclasses
import io
import math

import openpyxl
import pandas as pd
import pypdfium2 as pdfium
import pytest

from chouyang import steps, vocab
from chouyang.config.rules import Section, load_preset
from chouyang.round.folder import Round, read_sample
from chouyang.survey.draw import draw_sample
from chouyang.survey.estimate import clopper_pearson, korn_graubard, taylor_ratio
from chouyang.survey.score import score_data

from conftest import make_id

GUCHENG, TANTAN, XINGSHAN = "411381001", "411381103", "411381550"
MISSED = {"mother_id": "", "mother_name": "李丽", "child_name": "", "birth_date": "2016-01-02",
          "parity": "2", "policy": "政策内", "witnesses": "3", "verified": "是", "note": ""}


def _write(folder, rnd, unit, sheets):
    folder.mkdir(parents=True)
    meta = {"round_id": "2016H1", "unit_code": unit, "register_fingerprint": rnd.register_fingerprint()}
    (folder / "_meta.csv").write_text("".join(f"{k},{v}\n" for k, v in meta.items()), encoding="utf-8")
    for sheet, rows in sheets.items():
        keys = list(vocab.sheet_columns(sheet))
        with open(folder / f"{sheet}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, keys, restval="")
            w.writeheader()
            w.writerows(rows)
    return folder


def _ok(ref, **extra):
    return {"ref": ref, "result": "属实", "witnesses": "", "verified": "", "note": "", **extra}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Tiny county: 古城 points 201 and 202, 㴔滩 point 103201 (+1), 杏山 one point; entries written by hand."""
    from conftest import init_round, write_county


    base = tmp_path_factory.mktemp("toy")
    county = write_county(base / "county")
    rnd = init_round(base / "R", county)
    frame, rules = rnd.load_frame().frame, rnd.rules()
    seed = next(f"t{i}" for i in range(500) if {"411381001201", "411381001202", "411381103201"} <= set(
        draw_sample(frame, rules, f"t{i}")[0].query("role == 'primary'").unit_code))
    steps.draw(rnd, seed)
    primary = read_sample(rnd.sample_path).query("role == 'primary'").unit_code.tolist()
    folders = []
    empty = {"women_check": [], "births_check": [], "procedures_check": [], "missed_births": [], "missed_women": []}
    for unit in primary:
        sheets = dict(empty)
        if unit == "411381001201":  # 王秀英 上环; birth 王小明 男 1孩; procedure 上环
            sheets["women_check"] = [_ok("W001", actual_contraception="")]
            sheets["births_check"] = [_ok("B001", result="虚报", witnesses="3", verified="是",
                                          true_sex="", true_birth_date="", true_parity="")]
            sheets["procedures_check"] = [_ok("S001", result="虚报", witnesses="4", verified="是", true_type="")]
            sheets["missed_births"] = ([dict(MISSED, sex="男")] * 4 + [dict(MISSED, sex="女")] * 4
                                       + [dict(MISSED, sex="女", parity="3", policy="政策外", witnesses="2")])
        elif unit == "411381001202":  # 李丽; birth 李小红 女 2孩
            sheets["women_check"] = [_ok("W001", actual_contraception="")]
            sheets["births_check"] = [_ok("B001", result="错报", witnesses="5", verified="是", true_sex="",
                                          true_birth_date="", true_parity="3")]
        elif unit == "411381103201":  # 赵敏 结扎
            sheets["women_check"] = [_ok("W001", actual_contraception="")]
            sheets["procedures_check"] = [_ok("S001", result="错报", witnesses="3", verified="否", true_type="上环")]
            sheets["missed_women"] = [{"person_id": make_id("19920101", 12), "name": "钱芳", "birth_date": "1992-01-01",
                                       "marital_status": "初婚", "contraception": "上环", "witnesses": "4",
                                       "verified": "是", "note": ""}]
        folders.append(_write(base / "entries" / unit, rnd, unit, sheets))
    steps.ingest(rnd, folders)
    return rnd


def test_toy_cases_and_deductions_per_type(toy):
    result = steps.score(toy)
    cases = result.cases
    assert len(cases) == 14
    gucheng = cases[cases.township_code == GUCHENG]
    assert gucheng.kind.value_counts().to_dict() == {"birth_missed": 9, "birth_false": 1, "procedure_false": 1,
                                                    "birth_wrong": 1}
    wrong = gucheng[gucheng.kind == "birth_wrong"].iloc[0]
    assert (wrong.parity, wrong.rule, wrong.points) == ("3", "birth_parity_3plus", 3.0)  # true parity, not register 2
    pending = gucheng[gucheng.confirmed == 0].iloc[0]
    assert (pending.kind, pending.parity, pending.points) == ("birth_missed", "3", 0.0)
    t = result.townships.set_index("township_code")
    # 古城: false birth 0 (虚报 is not charged in 第1篇) + false IUD 1 + 8 missed x 2 + wrong 3rd child 3
    # = 20 -> cap 15
    assert (t.at[GUCHENG, "deduction_raw"], t.at[GUCHENG, "deduction"]) == (20.0, 15.0)
    false_birth = gucheng[gucheng.kind == "birth_false"].iloc[0]
    assert (false_birth.rule, false_birth.points) == ("birth_false", 0.0)
    assert (t.at[GUCHENG, "cases_confirmed"], t.at[GUCHENG, "cases_pending"]) == (11, 1)
    # 㴔滩: 结扎错报 not verified -> pending; missed woman confirmed but 0 points
    assert (t.at[TANTAN, "deduction_raw"], t.at[TANTAN, "cases_confirmed"], t.at[TANTAN, "cases_pending"]) == (0, 1, 1)
    assert t.at[XINGSHAN, "deduction"] == 0 and t.at[XINGSHAN, "points"] == 1
    # every deducted point traces to a case
    assert cases.groupby("township_code").points.sum().get(GUCHENG) == 20.0


def test_toy_rates(toy):
    t = steps.score(toy).townships.set_index("township_code")
    g = t.loc[GUCHENG]
    # B_reg 2, B_false 1, B_wrong 1, B_miss 8 (confirmed) -> B_true 9
    assert g.birth_omission_rate == pytest.approx(8 / 9)
    assert g.birth_false_rate == pytest.approx(1 / 2) and g.birth_wrong_rate == pytest.approx(1 / 2)
    assert g.birth_error_rate == pytest.approx(10 / 10)
    assert g.woman_missing_rate == 0 and g.iud_false_rate == 1.0
    assert math.isnan(g.sterilisation_false_rate) and math.isnan(g.remedial_false_rate)
    assert g.statistical_error_rate == pytest.approx(11 / 13)  # 11 cases / (5 records + 8 found missing)
    x = t.loc[TANTAN]
    assert math.isnan(x.birth_omission_rate)
    assert x.woman_missing_rate == pytest.approx(1 / 2) and x.sterilisation_false_rate == 0
    assert x.statistical_error_rate == pytest.approx(1 / 3)
    assert math.isnan(t.at[XINGSHAN, "statistical_error_rate"])


def test_toy_corrected_indicators(toy):
    t = steps.score(toy).townships.set_index("township_code")
    g = t.loc[GUCHENG]
    assert (g.register_births, g.corrected_births) == (2, pytest.approx(9.0))  # 2 x 9/2
    assert (g.compliance_rate, g.corrected_compliance_rate) == (1.0, pytest.approx(1.0))
    assert (g.sex_ratio, g.corrected_sex_ratio) == (100.0, pytest.approx(80.0))  # boys 1->4, girls 1->5
    assert (g.longacting_rate, g.corrected_longacting_rate) == (0.5, pytest.approx(0.5))
    assert g.correction_note == ""
    # 㴔滩 has no register births in its sample: the birth ratios fall back to the county's
    assert "改用全县合并比率" in t.at[TANTAN, "correction_note"] and "出生数" in t.at[TANTAN, "correction_note"]


def test_toy_csv_outputs_follow_the_contract(toy):
    steps.score(toy)
    report = toy.path / "report"
    towns = pd.read_csv(report / "townships.csv", dtype=str, keep_default_na=False)
    assert list(towns.columns)[:25] == [
        "township_code", "township_name", "points", "cases_confirmed", "cases_pending", "deduction_raw",
        "deduction", "birth_omission_rate", "birth_false_rate", "birth_wrong_rate", "birth_error_rate",
        "woman_missing_rate", "iud_false_rate", "sterilisation_false_rate", "remedial_false_rate",
        "statistical_error_rate", "register_births", "corrected_births", "compliance_rate",
        "corrected_compliance_rate", "sex_ratio", "corrected_sex_ratio", "longacting_rate",
        "corrected_longacting_rate", "rank"]
    row = towns.set_index("township_code").loc[XINGSHAN]
    assert row.birth_omission_rate == "" and row.statistical_error_rate == ""  # empty, not 0 or NaN
    assert towns.set_index("township_code").loc[GUCHENG, "rank"] == "3"
    cases = pd.read_csv(report / "cases.csv", dtype=str)
    assert list(cases.columns) == ["township_code", "unit_code", "kind", "ref", "parity", "procedure_type",
                                   "witnesses", "verified", "confirmed", "rule", "points", "status", "status_note"]
    assert set(cases.status) <= {"现场反馈"}  # no feedback given yet
    county = pd.read_csv(report / "county.csv")
    assert list(county.columns) == ["metric", "estimate", "ci_low", "ci_high", "method"]
    wb = openpyxl.load_workbook(report / "report.xlsx")
    assert wb.sheetnames == ["乡镇汇总", "个案明细", "全县估计", "抽样记录", "规则"]
    pages = [p.get_textpage().get_text_range() for p in pdfium.PdfDocument(report / "report.pdf")]
    assert sum("现场反馈单" in p for p in pages) == 3
    assert "㴔滩镇" in "".join(pages)


def test_presets_give_documented_different_totals(toy):
    frame, sample, register = toy.load_frame().frame, read_sample(toy.sample_path), toy.load_register()

    entries = toy.entries()
    totals = {}
    for name in ("per-type-cap15", "flat-cap8"):
        rules = load_preset(name)
        cases = steps.cases(toy, rules)
        t = score_data(rules, frame, sample, register, entries, cases).townships.set_index("township_code")
        totals[name] = (t.at[GUCHENG, "deduction_raw"], t.at[GUCHENG, "deduction"])
    assert totals["per-type-cap15"] == (20.0, 15.0)
    # flat: every birth case 4 ("出现出生误差的每例扣4分"), 虚报 included: false 4 + wrong 4 + 8 missed x 4 = 40,
    # plus false IUD 2 = 42 -> cap 8
    assert totals["flat-cap8"] == (42.0, 8.0)


# --- estimators --------------------------------------------------------------

# samplics' tests/estimation/one_stage_fpc.csv (MIT licence), reference data for the cross-check
ONE_STAGE_FPC = """stratid,psuid,weight,nh,Nh,y,x
1,1,3,5,15,5.54,2.8
1,2,3,5,15,7.7,4
1,3,3,5,15,11.48,6.1
1,4,3,5,15,12.2,6.5
1,5,3,5,15,16.7,9
2,1,3,3,9,7.16,3.7
2,1,3,3,9,2.66,1.2
2,2,3,3,9,9.5,5
2,2,3,3,9,9.5,5
2,3,3,3,9,7.7,4
2,3,3,3,9,13.1,7
3,1,5,4,20,6.26,3.2
3,1,5,4,20,16.7,9
3,1,5,4,20,5.54,2.8
3,2,5,4,20,8.42,4.4
3,2,5,4,20,8.6,4.5
3,3,5,4,20,11.3,6
3,3,5,4,20,11.12,5.9
3,4,5,4,20,12.74,6.8
3,4,5,4,20,11.48,6.1
3,4,5,4,20,16.52,8.9
"""


def test_taylor_ratio_matches_samplics_published_example():
    d = pd.read_csv(io.StringIO(ONE_STAGE_FPC))
    r, se = taylor_ratio(d.y, d.x, d.weight, d.stratid, d.psuid, 1 - d.nh / d.Nh)
    assert round(r, 6) == 1.892038
    assert round(se, 7) == 0.0072954


def test_county_rates_match_samplics_on_demo(demo_dir):
    pytest.importorskip("samplics")
    from samplics.estimation import TaylorEstimator
    from samplics.utils.types import PopParam

    from chouyang.survey import estimate as est
    from chouyang.survey.check_rows import unit_checklists

    rnd = Round.open(demo_dir / "round")
    rules = rnd.rules()
    primary = read_sample(rnd.sample_path).query("role == 'primary'")
    checklists = unit_checklists(rnd.load_register(), primary.unit_code, rules.round.reference_start,
                                 rules.round.reference_end)
    from chouyang.survey.deductions import assign_points

    counts = est.unit_counts(checklists, assign_points(steps.cases(rnd), rules))
    design = est.make_design(primary, sorted(primary.township_code), "srs")
    d = design.units.merge(counts, on="unit_code")
    ours = est.county_rates(counts, design, "truncated").set_index("metric")
    fpc = dict(zip(d.stratum, d.fpc))
    for name in ("birth_omission_rate", "birth_error_rate", "statistical_error_rate", "woman_missing_rate"):
        num, den, _ = est.RATES[name]
        y, x = est.combine(d, num), est.combine(d, den)
        their = TaylorEstimator(PopParam.ratio)
        their.estimate(y, d.weight.to_numpy(), x, stratum=d.stratum.to_numpy(), psu=d.unit_code.to_numpy(), fpc=fpc)
        assert ours.at[name, "estimate"] == pytest.approx(float(their.point_est), rel=1e-9), name
        assert ours.at[name, "se"] == pytest.approx(float(their.stderror), rel=1e-6), name


def test_intervals_stay_in_unit_interval():
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    low, high = clopper_pearson(1, 10)
    assert low == pytest.approx(0.0025286, abs=1e-6) and high == pytest.approx(0.4450161, abs=1e-6)
    low, high = korn_graubard(0.0, 0.0, 200, df=28)
    assert low == 0.0 and 0 < high < 0.03
    low, high = korn_graubard(0.02, 0.01, 500, df=28)
    assert 0 <= low < 0.02 < high < 0.1


def test_demo_county_estimates_are_sane(demo_dir):
    county = pd.read_csv(demo_dir / "round" / "report" / "county.csv").set_index("metric")
    for metric in ("birth_omission_rate", "birth_error_rate", "statistical_error_rate"):
        row = county.loc[metric]
        assert 0 <= row.ci_low <= row.estimate <= row.ci_high <= 1
    assert "杏山旅游管理区并入" in county.at["birth_omission_rate", "method"]
    assert "自由度 28" in county.at["birth_omission_rate", "method"]  # 55 points - 27 (pseudo-)strata
    corrected = county.loc["corrected_births"]
    assert corrected.ci_low < corrected.estimate < corrected.ci_high


def test_census_round_has_no_sampling_error(toy):
    """Every village of every township visited: SE 0 and intervals equal to the estimates."""
    preset = load_preset("dengzhou-2016h1")
    rules = dataclasses.replace(preset, sampling=Section({**preset.sampling.values, "points_per_township": 10,
                                                          "overrides": {}}))
    frame, register = toy.load_frame().frame, toy.load_register()
    sample = draw_sample(frame, rules, "census")[0]
    assert set(sample.unit_code) == set(frame.unit_code) and (sample.inclusion_prob == 1).all()
    entries = {u: {} for u in frame.unit_code} | toy.entries()  # nothing found in the villages never entered
    county = score_data(rules, frame, sample, register, entries, steps.cases(toy, rules)).county.set_index("metric")
    estimated = county[county.se.notna() & county.estimate.notna()]
    assert {"corrected_births", "birth_omission_rate", "statistical_error_rate"} <= set(estimated.index)
    assert (estimated.se == 0).all()
    assert (estimated.ci_low == estimated.estimate).all() and (estimated.ci_high == estimated.estimate).all()
    # 古城 2 -> 9 births, 㴔滩 0, 杏山 0 (register births of the whole townships = of every village)
    assert county.at["corrected_births", "estimate"] == pytest.approx(9.0)
    assert "全查" in county.at["corrected_births", "method"]


def test_estimation_rules_reach_the_county_table(toy):
    frame, sample, register = toy.load_frame().frame, read_sample(toy.sample_path), toy.load_register()
    preset = load_preset("dengzhou-2016h1")
    methods = {}
    for ratio, kg in (("combined", "truncated"), ("separate", "untruncated")):
        rules = dataclasses.replace(preset, estimation=Section({"county_ratio": ratio, "korn_graubard": kg}))
        county = score_data(rules, frame, sample, register, toy.entries(), steps.cases(toy, rules))
        methods[ratio] = county.county.set_index("metric").method
    assert "合并比率估计" in methods["combined"]["corrected_births"]
    assert "设计效应截断于 1" in methods["combined"]["birth_omission_rate"]
    assert "分别比率估计" in methods["separate"]["corrected_births"]
    assert "设计效应不截断" in methods["separate"]["birth_omission_rate"]
