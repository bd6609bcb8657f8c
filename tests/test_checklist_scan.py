"""The printed assessment checklist (forms/checklist_pdf.py) and reading it back (assessment_scan.py, chouyang scan).

The tiny county's round with a small scheme holding one item of every rule kind: its
checklist PDF and layout record; one township's pages filled by a scansim writer, scanned
in one batch with a survey page and with pages of another round and a forged one; the
checklist workbook the scan writes, its review list, and ingest of the reviewed workbook.
"""

import json
import shutil

import numpy as np
import openpyxl
import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from chouyang import steps
from chouyang.assessment.facts import SHEETS, Entries
from chouyang.assessment.scheme import load_scheme_preset, parse_scheme
from chouyang.demo import scansim
from chouyang.errors import ChouyangError
from chouyang.render.checklist_content import count_scale
from chouyang.render.checklist_pdf import ChecklistForm, checklist_rows, load_checklist_layout, write_checklist_pdfs
from chouyang.render.checklist_workbook import fill_checklist_workbook, is_checklist_workbook, read_checklist_workbook
from chouyang.render.pdf import full_font
from chouyang.render.qr import PageId, payload, qr_matrix
from chouyang.scan.pages import load_layouts
from chouyang.scan.review_items import REVIEW_COLUMNS

TOWN = "411381103"
SCHEME = """\
# 测试用的小考核方案：每种计分规则各一条
[scheme]
name = "测试县综合治理考核"
section = "第二篇"
period = "half"

[composite]
points = 100

[[item]]
id = "A"
title = "综合治理"
points = 80

[[item]]
id = "A1"
parent = "A"
title = "调整领导小组"
points = 10
rule = "yes_no"
fact = "是否有正式文件"
evidence = "有正式文件"
reference_required = true

[[item]]
id = "A2"
parent = "A"
title = "领导小组会议"
points = 5
rule = "per_count"
per = 3
fact = "会议次数"
evidence = "会议次数（会议记录）"

[[item]]
id = "A3"
parent = "A"
title = "专职工作人员"
points = 5
rule = "deduct_per_count"
per = 3
max_count = 2
fact = "缺少人数"
evidence = "人员数"

[[item]]
id = "A4"
parent = "A"
title = "事业费投入"
points = 30
rule = "rate_slope"
full_at = 50
per_point = 2.5
zero_below = 30
fact = "到位率（%）"
evidence = "到位率"

[[item]]
id = "A5"
parent = "A"
title = "示范村比例"
points = 10
rule = "rate_threshold"
threshold = 65
fact = "示范村比例（%）"
evidence = "验收结果"

[[item]]
id = "A6"
parent = "A"
title = "部门互通信息"
points = 12
rule = "per_department"
per = 4
departments = ["公安", "教育", "民政"]
fact = "是否互通"
evidence = "信息互通制度"

[[item]]
id = "A7"
parent = "A"
title = "年度报告"
points = 8
rule = "yes_no"
[item.half]
default_full = true

[[component]]
id = "A"
title = "综合治理"
points = 80
source = "checklist"
item = "A"

[[component]]
id = "county"
title = "县区考核"
points = 20
source = "entered"

[[adjustment]]
id = "bonus"
title = "加分"
sign = "bonus"
cap = 5

[[adjustment.item]]
id = "site"
title = "为市工作会议提供现场"
rule = "fixed"
points = 1
evidence = "会议通知"

[[adjustment.item]]
id = "award"
title = "省级表彰"
rule = "entered"
max = 3

[[adjustment]]
id = "deduction"
title = "减分"
sign = "deduction"
cap = 15

[[adjustment.item]]
id = "fees"
title = "乱收费（每起）"
rule = "per_count"
points = 1

[[flag]]
id = "accident"
title = "重大责任事故"
consequence = "veto"

[[consequence]]
id = "veto"
kind = "veto"
label = "一票否决"
"""
# What the assessor ticks and writes on the township's checklist: (section, ref) -> field -> value or text.
ANSWERS = {
    ("facts", "A1"): {"value": "是", "reference": "7"},
    ("facts", "A2"): {"value": 2},          # the "2+" box
    ("facts", "A3"): {"value": 1},
    ("facts", "A4"): {"value": "475"},      # written by hand: never read
    ("facts", "A5"): {"value": 0},          # "<65%"
    ("facts", "A6"): {"value/公安": "是", "value/教育": "否", "value/民政": "是"},
    ("scores", "county"): {"score": "18"},
    ("adjustments", "site"): {"value": "是", "reason": "3", "evidence": "12"},
    ("adjustments", "award"): {"value": ""},
    ("flags", "accident"): {"value": "否"},
}
# A careful writer: ticks, checks, crosses and slashes of a black pen, none overshooting its box.
WRITER = scansim.Writer((25, 25, 35), 0.95, 0.35, False, (0.4, 0.2, 0.25, 0.15, 0.0), 1.0, 0.2, 4.0, 0.04, 0.0)


def _scan(pdf, index, answers, rng, dpi=150):
    """Page `index` of `pdf` filled with `answers` (or blank) and put through a flatbed scanner."""
    img = scansim.render_page(pdf, index, dpi, "RGB")
    if answers is not None:
        font = full_font()
        scansim.fill_page(img, answers[0], answers[1], dpi, rng, WRITER, font.path, font.collection_index,
                          stray_rate=0)
    return scansim.flatbed(img, dpi, rng, angle=1.2, quality=85)


def _with_qr(pdf, page: dict, text: str, dpi=100):
    """The page printed with another QR code (another round's, or one signed with another secret)."""
    img = scansim.render_page(pdf, 0, dpi, "L")
    matrix = np.array(qr_matrix(text))
    k = dpi / 25.4
    x, y, size = (round(page["qr"][key] * k) for key in ("x", "y", "w"))
    module = np.kron(~matrix, np.ones((64, 64), bool))  # white where light
    patch = Image.fromarray(module.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST)
    img.paste(255, (x - 20, y - 20, x + size + 20, y + size + 20))
    img.paste(patch, (x, y))
    return img


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    from conftest import init_round, write_county

    base = tmp_path_factory.mktemp("checklist")
    rnd = init_round(base / "R", write_county(base / "county"))
    rnd.scheme_path.write_text(SCHEME, encoding="utf-8")  # before the draw, which records the scheme
    steps.draw(rnd, "a")
    steps.forms(rnd, workers=1)
    steps.checklist(rnd, workers=1)
    layouts = load_layouts(rnd.checklist_dir)
    rng = np.random.default_rng(7)
    scans = base / "scans"
    scans.mkdir()
    files = []
    pdf = rnd.checklist_dir / f"{TOWN}.pdf"
    for i, page in enumerate(layouts[TOWN]["pages"]):
        path = scans / f"checklist_{i + 1}.jpg"
        _scan(pdf, i, (page, ANSWERS), rng).save(path)
        files.append(path)
    unit = sorted(load_layouts(rnd.forms_dir))[0]
    survey = scans / "survey.jpg"  # among the checklist pages: one survey page, left blank
    _scan(rnd.forms_dir / f"{unit}.pdf", 0, None, rng).save(survey)
    files.insert(1, survey)
    first = layouts[TOWN]["pages"][0]
    n = len(layouts[TOWN]["pages"])
    # a round folder copied with its secret signs another round's pages; another secret forges this round's
    for name, text in (("foreign", payload(rnd.secret(), PageId("2015H2", TOWN, "ZL1", 1, n))),
                       ("forged", payload(b"\x01" * 32, PageId("2016H1", TOWN, "ZL1", 1, n)))):
        _with_qr(pdf, first, text).save(scans / f"{name}.png")
        files.append(scans / f"{name}.png")
    summary = steps.scan(rnd, files, workers=1)
    return rnd, layouts, summary, unit


def _fields(layout):
    return {(row["section"], row["ref"]): row["fields"] for page in layout["pages"] for row in page["rows"]}


def test_layout_record_has_every_fact_kind_with_its_options_and_values(scanned):
    rnd, layouts, summary, unit = scanned
    assert set(layouts) == {"411381001", TOWN, "411381550"}  # every township of the frame
    layout = layouts[TOWN]
    assert (layout["format"], layout["form"], layout["unit_code"], layout["round_id"]) == (2, "ZL1", TOWN, "2016H1")
    fields = _fields(layout)

    def options(key, name="value"):
        f = fields[key][name]
        assert f["kind"] == "ticks"
        return [(o["label"], o["value"]) for o in f["options"]]

    assert options(("facts", "A1")) == [("是", "是"), ("否", "否")]
    assert fields[("facts", "A1")]["reference"]["kind"] == "write"
    assert options(("facts", "A2")) == [("0", 0), ("1", 1), ("2+", 2)]  # 2 meetings reach the 5 points
    assert fields[("facts", "A2")]["value"]["open_top"]
    assert options(("facts", "A3")) == [("0", 0), ("1", 1), ("2", 2)]  # at most 2 missing: no "2+"
    assert not fields[("facts", "A3")]["value"]["open_top"]
    assert fields[("facts", "A4")]["value"]["kind"] == "write" and fields[("facts", "A4")]["value"]["required"]
    assert options(("facts", "A5")) == [("≥65%", 65), ("<65%", 0)]
    assert {k: options(("facts", "A6"), k) for k in fields[("facts", "A6")]} == \
        {f"value/{d}": [("是", "是"), ("否", "否")] for d in ("公安", "教育", "民政")}
    assert [f["part"] for f in fields[("facts", "A6")].values()] == ["公安", "教育", "民政"]
    assert ("facts", "A7") not in fields  # 半年考核默认满分: printed, nothing to fill
    assert {k: f["kind"] for k, f in fields[("scores", "county")].items()} == {"score": "write", "evidence": "write"}
    assert options(("adjustments", "site")) == [("是", "是"), ("否", "否")]
    assert {k: f["kind"] for k, f in fields[("adjustments", "award")].items()} == \
        {"value": "write", "reason": "write", "evidence": "write"}
    assert options(("flags", "accident")) == [("是", "是"), ("否", "否")]
    boxes = [o for fs in fields.values() for f in fs.values() if f["kind"] == "ticks" for o in f["options"]]
    assert {(b["w"], b["h"]) for b in boxes} == {(3.4, 3.4)}
    assert all(13.5 < b["x"] and b["x"] + b["w"] < 196.5 and 40 < b["y"] < 276 for b in boxes)


def test_pages_carry_the_round_qr_and_what_to_check(scanned):
    rnd, layouts, summary, unit = scanned
    pdf = pdfium.PdfDocument(rnd.checklist_dir / f"{TOWN}.pdf")
    pages = layouts[TOWN]["pages"]
    assert len(pdf) == len(pages) >= 2
    text = ""
    for i, page in enumerate(pages, start=1):
        want = payload(rnd.secret(), PageId("2016H1", TOWN, "ZL1", i, len(pages)))
        assert page["qr"]["payload"] == want
        image = pdf[i - 1].render(scale=150 / 72).to_pil()
        assert [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)] == [want]
        text += pdf[i - 1].get_textpage().get_text_range()
    for words in ("㴔滩镇（411381103）", "综合治理考核清单", f"第 1 页 共 {len(pages)} 页", "查看：有正式文件",
                  "查看：会议次数", "查看：人员数", "查看：到位率", "每1计3分，计满5分为止", "文件名称或文号",
                  "半年考核默认满分，不用填写", "事由", "证据或依据"):
        assert words in text, words
    assert "王秀英" not in text and "411381198803" not in text  # nothing personal from the register


def test_mixed_batch_is_sorted_and_foreign_pages_rejected(scanned):
    rnd, layouts, summary, unit = scanned
    assert summary.units == {unit: 1} and summary.checklists == {TOWN: len(layouts[TOWN]["pages"])}
    assert {(r[0], r[2]) for r in summary.rejected} == {("foreign.png", "foreign_round"), ("forged.png", "forged")}
    assert summary.missing[TOWN] == []
    assert (rnd.scan_dir / f"{unit}.xlsx").exists() and (rnd.scan_dir / "review" / f"{unit}.json").exists()
    assert not (rnd.scan_dir / "review" / f"{TOWN}.json").exists()  # survey review lists hold survey units only
    assert is_checklist_workbook(rnd.scan_dir / "checklist" / f"{TOWN}.xlsx")
    assert not (rnd.scan_dir / "checklist" / "411381001.xlsx").exists()  # no page scanned


def test_every_tick_group_read_into_the_workbook(scanned):
    rnd, layouts, summary, unit = scanned
    read = read_checklist_workbook(rnd.scan_dir / "checklist" / f"{TOWN}.xlsx")
    assert read.problems == [] and read.meta["township_code"] == TOWN
    facts = {(r["item"], r["part"]): (r["value"], r["note"]) for r in read.entries.facts.to_dict("records")}
    assert facts[("A1", "")] == ("是", "")
    assert facts[("A2", "")] == ("2", "纸质清单勾选「2+」，按 2 录入")
    assert facts[("A3", "")] == ("1", "")
    assert facts[("A4", "")] == ("", "")  # a write-in: typed by the clerk from the review list
    assert facts[("A5", "")] == ("0", "纸质清单勾选「<65%」，按 0 录入")
    assert [facts[("A6", d)][0] for d in ("公安", "教育", "民政")] == ["是", "否", "是"]
    adjustments = {r["item"]: r["value"] for r in read.entries.adjustments.to_dict("records")}
    assert adjustments == {"site": "是", "award": "", "fees": ""}
    assert read.entries.flags.value.tolist() == ["否"]


def test_write_ins_go_to_review_in_the_survey_format(scanned):
    rnd, layouts, summary, unit = scanned
    folder = rnd.scan_dir / "checklist" / "review"
    listed = json.loads((folder / f"{TOWN}.json").read_text(encoding="utf-8"))
    assert (listed["format"], listed["round_id"], listed["unit_code"]) == (1, "2016H1", TOWN)
    issues = {item["ref"]: item["issues"] for item in listed["items"]}
    assert issues == {
        "A1": ["「文件名称或文号」有手写内容，请人工录入"],
        "A4": ["「比例」有手写内容，请人工录入"],
        "county": ["「得分」有手写内容，请人工录入"],
        "site": ["「事由」有手写内容，请人工录入", "「证据或依据」有手写内容，请人工录入"],
    }
    assert summary.checklist_review == {TOWN: 4}
    wb = openpyxl.load_workbook(rnd.scan_dir / "checklist" / f"{TOWN}.xlsx")
    for item in listed["items"]:
        assert item["sheet_label"] == SHEETS[item["sheet"]] and (folder / item["crop"]).exists()
        assert wb[item["sheet_label"]].cell(item["workbook_row"], 1).value == item["ref"]
    a1 = next(i for i in listed["items"] if i["ref"] == "A1")
    assert [(f["key"], f["kind"], f["value"]) for f in a1["fields"]] == [("value", "ticks", "是"),
                                                                       ("reference", "write", None)]
    lines = (folder / f"{TOWN}.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ",".join(REVIEW_COLUMNS) and len(lines) == 5


def test_reviewed_scan_goes_through_ingest(scanned, tmp_path):
    rnd, layouts, summary, unit = scanned
    path = tmp_path / f"{TOWN}.xlsx"
    shutil.copy(rnd.scan_dir / "checklist" / f"{TOWN}.xlsx", path)
    with pytest.raises(ChouyangError, match="录入被拒绝"):  # the write-ins are not typed yet
        steps.ingest(rnd, [path])
    fill_checklist_workbook(path, Entries.from_records(  # the clerk types what the review list shows
        facts=[{"township_code": TOWN, "item": "A1", "reference": "测政〔2016〕7号"},
               {"township_code": TOWN, "item": "A4", "value": "47.5"}],
        scores=[{"township_code": TOWN, "component": "county", "score": "18", "evidence": "县区考核通报"}],
        adjustments=[{"township_code": TOWN, "item": "site", "value": "是", "reason": "市现场会", "evidence": "会议通知"}]))
    [result] = steps.ingest(rnd, [path])
    assert (result.kind, result.status, result.unit_code) == ("checklist", "new", TOWN)
    stored = {r["item"]: r["value"] for r in rnd.assessment_entries()[TOWN]["facts"] if not r["part"]}
    assert stored["A2"] == "2" and stored["A4"] == "47.5" and stored["A5"] == "0"


def test_count_scales_follow_the_points_and_fit_the_page():
    dengzhou = load_scheme_preset("dengzhou-2016h1")
    limit = load_checklist_layout()["max_scale_options"]
    assert [label for label, _ in count_scale(dengzhou.rule("A1.3.3"), limit)] == ["0", "1", "2", "3", "4+"]  # 3 per head, 10
    assert [label for label, _ in count_scale(dengzhou.rule("A2.3"), limit)] == ["0", "1", "2", "3", "4+"]  # 5 off each, 20
    long = parse_scheme(SCHEME.replace("per = 3\nfact = \"会议次数\"", "per = 0.5\nfact = \"会议次数\""), "t")
    assert count_scale(long.rule("A2"), limit) is None  # 11 boxes: written instead
    assert checklist_rows(long)["facts"][2].value.key == "value"


def test_an_item_too_long_for_a_page_is_refused(tmp_path):
    scheme = parse_scheme(SCHEME.replace('evidence = "会议次数（会议记录）"', f'evidence = "{"会议记录" * 1200}"'), "t")
    form = ChecklistForm("2016H1", "测试", TOWN, "㴔滩镇", "half", checklist_rows(scheme))
    with pytest.raises(ChouyangError, match="「A2 领导小组会议」的文字太长，一页印不下"):
        write_checklist_pdfs([form], tmp_path, b"\x01" * 32)
    assert list(tmp_path.iterdir()) == []


def test_cli_prints_where_the_checklists_are(scanned, run):
    rnd, layouts, summary, unit = scanned
    code, out, err = run("checklist", rnd.path)
    pages = sum(len(layout["pages"]) for layout in layouts.values())
    assert code == 0 and "已生成 3 个乡镇的考核清单" in out and f"打印用 PDF 共 {pages} 页" in out
    assert "chouyang scan" in out
