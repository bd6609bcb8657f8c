"""report.py: the renderer writes what it is given (tables in, files out; no round folder)."""

import csv

import openpyxl
import pypdfium2 as pdfium
import pytest

from chouyang.config.rules import load_preset
from chouyang.inputs.readers import load_frame, load_register
from chouyang.render.report import write_csvs, write_pdf, write_xlsx
from chouyang.survey.cases import cases_frame, unit_cases
from chouyang.survey.check_rows import unit_checklists
from chouyang.survey.draw import draw_sample
from chouyang.survey.score import score_data

from conftest import write_county

MISSED = {"mother_id": "", "mother_name": "某", "child_name": "", "sex": "男", "birth_date": "2016-01-02",
          "parity": "1", "policy": "政策内", "witnesses": "3", "verified": "是", "note": ""}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The tiny county, every register row 属实, and one confirmed missed 一孩 birth in the first point."""
    county = write_county(tmp_path_factory.mktemp("county"))
    rules = load_preset("dengzhou-2016h1", "2016H1")  # 一、二孩 2 points; 2 points per township, 杏山 1
    frame = load_frame(county["frame"]).frame
    register = load_register(county["register"])
    sample, _ = draw_sample(frame, rules, "42")
    primary = sample[sample.role == "primary"]
    lists = unit_checklists(register, primary.unit_code, rules.round.reference_start, rules.round.reference_end)
    entries = {u: {s: [{"ref": r, "result": "属实"} for r in cl.sections[s].ref] for s in cl.sections}
               for u, cl in lists.items()}
    first = primary.unit_code.iloc[0]
    entries[first]["missed_births"] = [MISSED]
    town = dict(zip(primary.unit_code, primary.township_code))
    rows = [c for u in entries for c in unit_cases(town[u], lists[u], entries[u], rules)]
    result = score_data(rules, frame, sample, register, entries, cases_frame(rows))
    return rules, sample, result, town[first]


def test_csvs(scored, tmp_path):
    _, _, result, town = scored
    write_csvs(result, tmp_path)
    assert (tmp_path / "cases.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows the Chinese
    with open(tmp_path / "cases.csv", encoding="utf-8-sig") as fh:
        [case] = list(csv.DictReader(fh))
    assert (case["township_code"], case["kind"], case["rule"], case["points"]) == (town, "birth_missed",
                                                                                  "birth_parity_1_2", "2")
    with open(tmp_path / "townships.csv", encoding="utf-8-sig") as fh:
        towns = {r["township_code"]: r for r in csv.DictReader(fh)}
    assert len(towns) == 3 and towns[town]["deduction"] == "2"
    assert sum(float(r["deduction"]) for r in towns.values()) == 2.0


def test_xlsx_reprints_the_tables_it_is_given(scored, tmp_path):
    rules, sample, result, town = scored
    text = sample.astype(str)
    record = {"round_id": "2016H1", "seed": "42", "commitment": None}
    reps = [{"unit_code": "A", "replacement": "B", "reason": "水淹", "time_utc": "2016-07-20T00:00:00Z"}]
    write_xlsx(result, rules, tmp_path / "r.xlsx", draw_record=record, replacements=reps, sample=text,
               rules_text="[round]\nid = \"2016H1\"\n")
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["乡镇汇总", "个案明细", "全县估计", "抽样记录", "规则"]
    summary = wb["乡镇汇总"]
    heads = [c.value for c in summary[1]]
    rows = {r[heads.index("代码")]: r for r in summary.iter_rows(min_row=2, values_only=True)}
    assert rows[town][heads.index("扣分")] == 2
    cases = list(wb["个案明细"].iter_rows(min_row=2, values_only=True))
    assert [(c[2], c[9], c[10], c[11]) for c in cases] == [("出生漏报", "一、二孩错漏", 2, "现场反馈")]
    draw_rows = [r[:2] for r in wb["抽样记录"].iter_rows(values_only=True)]  # rows padded to the sample's width
    assert ("seed", "42") in draw_rows
    assert ("replacement", "A → B（水淹，2016-07-20T00:00:00Z）") in draw_rows
    assert sum(r[0] == "2016H1" for r in draw_rows) == len(sample)  # every sample row, as text
    assert [r[0] for r in wb["规则"].iter_rows(values_only=True)] == ["[round]", 'id = "2016H1"']


def test_pdf_pages_and_text(scored, tmp_path):
    rules, _, result, _ = scored
    pages = write_pdf(result, rules, tmp_path / "r.pdf")
    assert pages == 2 + 3  # ranking, charts, one feedback page per township
    pdf = pdfium.PdfDocument(tmp_path / "r.pdf")
    assert len(pdf) == 5
    first = pdf[0].get_textpage().get_text_range()
    assert "抽样调查结果报告" in first and "确认误差 1 例" in first
    flat = "".join(first.split())  # line breaks may fall anywhere
    # which county estimators were used (rules [estimation]), named on the first page
    assert "按合并比率估计" in flat and "各乡镇的修正值用本乡镇样本比率" in flat
    assert "Korn-Graubard95%区间（设计效应截断于1）" in flat
    last = pdf[4].get_textpage().get_text_range()
    assert "抽样调查结果现场反馈单" in last
