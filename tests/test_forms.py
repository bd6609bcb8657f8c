"""Forms and entry workbooks on the demo county (SPEC §2.3, §4, §5)."""

import json
import re

import openpyxl
import pandas as pd
import pypdfium2 as pdfium
import pytest
import zxingcpp

from chouyang import vocab
from chouyang.errors import ChouyangError
from chouyang.render.pdf import ChinesePDF, check_glyphs
from chouyang.render.qr import PageId, mac, parse_payload, payload
from chouyang.round.folder import Round, read_sample

FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


@pytest.fixture(scope="module")
def unit(demo_dir):
    """The demo's first sample point with births in the period (so every section has rows)."""
    rnd = Round.open(demo_dir / "round")
    sample = read_sample(rnd.sample_path)
    births = pd.read_csv(rnd.register_dir() / "births.csv", dtype=str)
    in_period = births[(births.birth_date >= "2015-07-01") & (births.birth_date <= "2016-06-30")]
    for code in sample[sample.role == "primary"].unit_code:
        if (in_period.unit_code == code).sum() >= 2:
            return rnd, code
    raise AssertionError("no demo unit with births")


def _pdf_text(path) -> list[str]:
    return [page.get_textpage().get_text_range() for page in pdfium.PdfDocument(path)]


def test_every_primary_point_has_pdf_layout_and_workbook(demo_dir):
    rnd = Round.open(demo_dir / "round")
    primary = read_sample(rnd.sample_path).query("role == 'primary'").unit_code
    for code in primary:
        for rel in (f"forms/{code}.pdf", f"forms/{code}.layout.json", f"entry/{code}.xlsx"):
            assert (rnd.path / rel).exists(), rel


def test_pdf_text_has_round_name_women_and_children(unit):
    rnd, code = unit
    pages = _pdf_text(rnd.path / "forms" / f"{code}.pdf")
    text = "".join(pages).replace("\r", "")
    assert rnd.rules().round.name in text
    women = pd.read_csv(rnd.register_dir() / "women.csv", dtype=str)
    births = pd.read_csv(rnd.register_dir() / "births.csv", dtype=str)
    births = births[(births.unit_code == code) & (births.birth_date >= "2015-07-01")
                    & (births.birth_date <= "2016-06-30")]
    for name in women[women.unit_code == code].name:
        assert name in text, name
    for name in births.child_name:
        assert name in text, name
    assert not FULL_ID.search(text)
    n = len(pages)
    for i, page in enumerate(pages, start=1):
        assert f"第 {i} 页 共 {n} 页" in page
        if i > 1:
            assert "编号" in page or "漏报出生" in page or "漏档妇女" in page  # header repeated


def test_township_with_rare_glyph_prints(demo_dir):
    rnd = Round.open(demo_dir / "round")
    sample = read_sample(rnd.sample_path)
    code = sample[(sample.township_name == "㴔滩镇") & (sample.role == "primary")].unit_code.iloc[0]
    assert "㴔滩镇" in _pdf_text(rnd.path / "forms" / f"{code}.pdf")[0]


def test_missing_glyph_is_an_error():
    with pytest.raises(ChouyangError, match="U\\+E000"):
        check_glyphs("王\ue000")
    pdf = ChinesePDF()
    pdf.add_page()
    with pytest.raises(ChouyangError, match="字体缺少"):
        pdf.cell(0, 10, "私用区字符\ue000")


def test_every_page_qr_decodes_at_150_dpi_and_verifies(unit):
    rnd, code = unit
    secret = rnd.secret()
    doc = pdfium.PdfDocument(rnd.path / "forms" / f"{code}.pdf")
    n = len(doc)
    for i, page in enumerate(doc, start=1):
        image = page.render(scale=150 / 72).to_pil()
        found = zxingcpp.read_barcodes(image)
        assert len(found) == 1, f"page {i}"
        text = found[0].text
        assert found[0].format == zxingcpp.BarcodeFormat.QRCode
        page_id = parse_payload(secret, text)
        assert page_id == PageId("2016H1", code, "HC2", i, n)
        assert not FULL_ID.search(text) and len(text.split("|")) == 5
    # one changed character anywhere fails verification
    good = payload(secret, PageId("2016H1", code, "HC2", 1, n))
    for pos in range(len(good)):
        if good[pos] == "|":
            continue
        changed = good[:pos] + ("7" if good[pos] != "7" else "8") + good[pos + 1:]
        assert parse_payload(secret, changed) is None, changed
    assert parse_payload(b"another round's secret", good) is None
    assert len(mac(secret, "x")) == 16


def test_layout_record_matches_pages(unit):
    rnd, code = unit
    record = json.loads((rnd.path / "forms" / f"{code}.layout.json").read_text(encoding="utf-8"))
    assert record["units"] == "mm" and record["page_size"] == [297, 210]
    assert len(record["pages"]) == len(pdfium.PdfDocument(rnd.path / "forms" / f"{code}.pdf"))
    refs = [row["ref"] for p in record["pages"] for row in p["rows"] if row["ref"]]
    assert len(refs) == len(set(refs))
    women = pd.read_csv(rnd.register_dir() / "women.csv", dtype=str)
    assert sum(r.startswith("W") for r in refs) == (women.unit_code == code).sum()
    for page in record["pages"]:
        assert len(page["corner_marks"]) == 4 and page["qr"]["w"] >= 25
        for row in page["rows"]:
            if row["section"] == "women_check":
                assert [o["value"] for o in row["fields"]["result"]["options"]] == list(vocab.WOMAN_RESULTS)
            for f in row["fields"].values():
                for box in f["options"] if f["kind"] == "ticks" else [f]:
                    assert 0 < box["x"] < box["x"] + box["w"] <= 297 and row["y"] <= box["y"] < box["y"] + box["h"] <= 210
    blank = [r for p in record["pages"] for r in p["rows"] if r["section"] == "missed_births"]
    assert len(blank) >= 10


def test_workbook_sheets_labels_validation_and_protection(unit):
    rnd, code = unit
    wb = openpyxl.load_workbook(rnd.path / "entry" / f"{code}.xlsx")
    visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert visible == ["育龄妇女核对", "出生核对", "手术核对", "资格核对", "漏报出生", "漏档妇女"]
    assert wb["_meta"].sheet_state == "veryHidden"
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["round_id"] == "2016H1" and meta["unit_code"] == code
    assert meta["register_fingerprint"] == rnd.register_fingerprint()
    ws = wb["育龄妇女核对"]
    header = [c.value for c in ws[3]]
    assert header == ["编号", "姓名", "身份证号", "出生日期", "户编号", "婚姻状况", "节育措施",
                      "核实结果", "实际节育措施", "反映群众人数", "调查组查实", "备注"]
    assert [c.value for c in wb["出生核对"][3]] == ["编号", "母亲姓名", "子女姓名", "性别", "出生日期", "孩次",
                                                  "政策属性", "核实结果", "实际性别", "实际出生日期", "实际孩次",
                                                  "反映群众人数", "调查组查实", "备注"]
    assert [c.value for c in wb["漏报出生"][3]] == ["编号", "母亲身份证号", "母亲姓名", "子女姓名", "性别",
                                                  "出生日期", "孩次", "政策属性", "反映群众人数", "调查组查实", "备注"]
    lists = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type == "list":
            lists[str(dv.sqref).split(":")[0][0]] = dv.formula1
        assert dv.showErrorMessage and dv.errorStyle == "stop"
    assert lists["H"] == '"属实,查无此人,迁出,死亡"' and lists["K"] == '"是,否"'
    assert lists["I"] == '"' + ",".join(vocab.CONTRACEPTION) + '"'
    births_lists = {str(dv.sqref)[0]: dv.formula1 for dv in wb["出生核对"].data_validations.dataValidation
                    if dv.type == "list"}
    assert births_lists["H"] == '"属实,虚报,错报"'
    assert ws.protection.sheet
    assert ws["B4"].protection.locked and not ws["H4"].protection.locked
    last = ws.max_row
    result_range = next(str(dv.sqref) for dv in ws.data_validations.dataValidation if dv.formula1 == lists["H"])
    assert result_range == f"H4:H{last}"
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                assert not (isinstance(value, str) and FULL_ID.search(value)), (sheet.title, value)


# --- the small county (fast): layout record, fitting text, numbering, workbook print setup ------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from chouyang import steps

    from conftest import init_round, write_county

    base = tmp_path_factory.mktemp("forms")
    county = write_county(base / "county")
    women = county["register"] / "women.csv"
    text = women.read_text(encoding="utf-8").replace("王秀英", '=HYPERLINK("http://x")')
    women.write_text(text.replace(",0001,", ",0012060004001234,"), encoding="utf-8")
    rnd = init_round(base / "R", county)
    steps.draw(rnd, "a")  # draws 411381001201 and 411381001202
    steps.forms(rnd, workers=1)
    return base, county, rnd


def test_paper_columns_follow_the_workbook_and_decisive_values_are_ticks(small):
    base, county, rnd = small
    for path in (rnd.path / "forms").glob("*.layout.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["format"] == 2 and record["form"] == "HC2"
        for page in record["pages"]:
            for row in page["rows"]:
                entry = [k for k in vocab.sheet_columns(row["section"]) if k in row["fields"]]
                assert list(row["fields"]) == entry  # same order as the workbook
                for key in ("result", "witnesses", "verified", "true_sex", "true_parity", "true_type", "policy",
                            "sex", "parity", "marital_status", "contraception", "actual_contraception"):
                    if key in row["fields"]:
                        assert row["fields"][key]["kind"] == "ticks", key
                w = row["fields"]["witnesses"]["options"]
                assert [(o["label"], o["value"]) for o in w] == [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("4", 4),
                                                                 ("5+", 5)]
                if "parity" in row["fields"]:
                    assert [o["value"] for o in row["fields"]["parity"]["options"]] == [1, 2, 3, 4]
                if row["section"] == "missed_births":
                    assert list(row["fields"])[:2] == ["mother_id", "mother_name"]
                    assert row["fields"]["mother_id"]["kind"] == "write"
    assert vocab.ENTRY_COLUMNS["missed_births"][:2] == ("mother_id", "mother_name")


def test_sections_numbered_consecutively_and_threshold_marked(small):
    base, county, rnd = small
    unit = "411381001201"  # no benefits file in the small county: 一 .. 五
    text = "".join(_pdf_text(rnd.path / "forms" / f"{unit}.pdf")).replace("\r", "")
    for title in ("一、育龄妇女核对", "二、出生核对", "三、手术核对", "四、漏报出生", "五、漏档妇女"):
        assert title in text
    assert "六、" not in text
    assert "反映群众人数（≥3人计入）" in text
    assert not FULL_ID.search(text)


def test_spare_blank_rows_never_start_a_page(small):
    base, county, rnd = small
    for path in (rnd.path / "forms").glob("*.layout.json"):
        for page in json.loads(path.read_text(encoding="utf-8"))["pages"]:
            rows = page["rows"]
            continued = rows and all(r["ref"] is None for r in rows) and rows[0]["blank_index"] > 1
            assert not (continued and len(rows) <= 3), path


def test_long_text_shrinks_to_its_cell_and_is_refused_when_it_cannot_fit(small, tmp_path):
    from chouyang import steps

    from conftest import init_round

    base, county, rnd = small
    text = "".join(_pdf_text(rnd.path / "forms" / "411381001201.pdf"))
    assert "0012060004001234" in text.replace("\r", "").replace("\n", "")  # 16 digits, shrunk into the column
    women = county["register"] / "women.csv"
    women.write_text(women.read_text(encoding="utf-8").replace("李丽", "李" * 398), encoding="utf-8")
    again = init_round(tmp_path / "R2", county)
    steps.draw(again, "a")
    with pytest.raises(ChouyangError, match=r"样本点 411381001202：育龄妇女核对，编号 W001，列「姓名」的内容太长"):
        steps.forms(again, workers=1)


def test_entry_workbook_prints_whole_and_keeps_register_text_inert(small):
    base, county, rnd = small
    wb = openpyxl.load_workbook(rnd.path / "entry" / "411381001201.xlsx")
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows.replace("$", "") == "3:3"
    cell = wb["育龄妇女核对"]["B4"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
    assert not list((rnd.path / "entry").glob(".chouyang-tmp-*"))
