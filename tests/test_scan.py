"""Reading filled paper forms: the small county's forms filled by several writers, scanned and photographed.

The large corpus (thousands of decisive marks) is in benchmarks/scan.py; this one is small and
checks what each kind of page must give: identity, no silent error, cancelled boxes, review lists
and crops, and bad input.
"""

import json
import shutil

import numpy as np
import openpyxl
import pytest
from PIL import Image, ImageDraw

from chouyang import steps, vocab
from chouyang.cli import main
from chouyang.demo import scansim
from chouyang.errors import ChouyangError
from chouyang.render.pdf import full_font
from chouyang.round.folder import Round
from chouyang.scan.marks import MARKED, UNCERTAIN
from chouyang.scan.pages import PageImage, load_layouts, load_pages, read_page
from chouyang.scan.rows import interpret_row


def _page_answers(page, rng):
    answers = scansim.random_answers(page, rng, error_rate=0.5)
    for row in page["rows"]:  # every error row fully answered, so the row's values can be checked
        key = (row["section"], row["ref"])
        if row["ref"] and vocab.is_error(row["section"], str(answers[key].get("result"))):
            answers[key].setdefault("witnesses", 4)
            answers[key].setdefault("verified", "是")
    return answers


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    from conftest import init_round, write_county

    base = tmp_path_factory.mktemp("scan")
    county = write_county(base / "county")
    rnd = init_round(base / "R", county)
    steps.draw(rnd, "a")  # draws the units with register women (411381001201, 411381001202)
    steps.forms(rnd, workers=1)
    layouts = load_layouts(rnd.forms_dir)
    units = sorted(layouts)
    rng = np.random.default_rng(11)
    font = full_font()
    truth, answers_of, files = {}, {}, []
    # (unit index, page index, how): flatbed scans at 150-300 dpi and phone photos turned every way, one
    # of them with two corner marks torn off
    plan = [(0, 0, ("flatbed", 150)), (0, 1, ("photo", 90)), (0, 2, ("flatbed", 300)), (1, 0, ("photo", 180)),
            (1, 1, ("flatbed", 200)), (2, 0, ("photo", 270)), (2, 1, ("photo", 0)), (3, 0, ("flatbed", 200))]
    for k, (u, i, (how, arg)) in enumerate(plan):
        unit = units[u]
        page = layouts[unit]["pages"][i]
        dpi = arg if how == "flatbed" else 200
        img = scansim.render_page(rnd.path / "forms" / f"{unit}.pdf", i, dpi, "RGB")
        answers = _page_answers(page, rng)
        women = [r["ref"] for r in page["rows"] if r["section"] == "women_check"]
        if women and "corrected" not in truth:  # a correction: 查无此人 scribbled solid, 属实 ticked
            answers[("women_check", women[0])] = {"result": {"mark": "属实", "cancel": ["查无此人"]}}
            truth["corrected"] = (unit, i + 1, women[0])
        writer = scansim.random_writer(rng)
        truth[(unit, i + 1)] = scansim.fill_page(img, page, answers, dpi, rng, writer, font.path,
                                                 font.collection_index)
        answers_of[(unit, i + 1)] = answers
        if k == 6:  # both bottom corner marks torn off: located from the QR code, two marks and the boxes
            draw = ImageDraw.Draw(img)
            for m in page["corner_marks"][2:]:
                draw.rectangle([(m["x"] - 2) * dpi / 25.4, (m["y"] - 2) * dpi / 25.4,
                                (m["x"] + m["w"] + 2) * dpi / 25.4, (m["y"] + m["h"] + 2) * dpi / 25.4], fill="white")
        img = scansim.flatbed(img, dpi, rng) if how == "flatbed" else scansim.photo(img, rng, turn=arg)
        path = base / "scans" / f"{k:02d}.jpg"
        path.parent.mkdir(exist_ok=True)
        img.save(path, quality=90)
        files.append(path)
    other = base / "other"  # the same forms under another round secret: forged pages
    shutil.copytree(rnd.path, other)
    (other / "secret.key").write_text("ab" * 32 + "\n")
    steps.forms(Round.open(other), workers=1)
    forged = base / "scans" / "forged.png"
    scansim.render_page(other / "forms" / f"{units[0]}.pdf", 1, 150).save(forged)
    duplicate = base / "scans" / "again.jpg"
    shutil.copy(files[4], duplicate)
    garbage_pdf = base / "scans" / "broken.pdf"
    garbage_pdf.write_bytes(b"%PDF-1.4 this is not a pdf")
    garbage_img = base / "scans" / "broken.jpg"
    garbage_img.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all")
    summary = steps.scan(rnd, files + [forged, duplicate, garbage_pdf, garbage_img], workers=1)
    return rnd, summary, truth, answers_of, layouts, files


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
def test_every_page_identified_and_bad_files_reported(scans):
    rnd, summary, truth, answers_of, layouts, files = scans
    assert sum(summary.units.values()) == len(files)
    pages = [k for k in truth if k != "corrected"]
    assert summary.units == {u: n for u, n in {u: sum(k[0] == u for k in pages) for u in layouts}.items() if n}
    problems = {(r[0], r[2]) for r in summary.rejected}
    assert problems == {("forged.png", "forged"), ("broken.pdf", "bad_file"), ("broken.jpg", "bad_file")}
    texts = [r[3] for r in summary.rejected if r[2] == "bad_file"]
    assert any(t.startswith("broken.pdf：不是可读的 PDF 文件") for t in texts)
    assert any(t.startswith("broken.jpg：不是可读的图片文件") for t in texts)
    assert len(summary.duplicates) == 1


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
def test_no_visible_mark_is_read_wrong_without_review(scans):
    rnd, summary, truth, answers_of, layouts, files = scans
    boxes = wrong = 0
    decisive = 0
    for path in files:
        [page] = load_pages(path)
        read = read_page(page, rnd.secret(), "2016H1", layouts)
        assert not read.problem, path
        want = truth[(read.page_id.unit_code, read.page_id.page)]
        for row in read.rows:
            key = (row["section"], row["ref"] or row["blank_index"])
            values, issues = interpret_row(row)
            for fkey, f in row["fields"].items():
                if f.kind != "ticks":
                    continue
                states = want[key][fkey]
                boxes += len(states)
                wrong += sum(a != b for a, b in zip(f.states, states))
                expected = scansim.truth_value(states, f.options)
                decisive += fkey in scansim.DECISIVE and expected != ""
                if fkey in scansim.DECISIVE and not issues:
                    assert values[fkey] == expected, (path.name, key, fkey, f.states, states)
    assert boxes > 800 and decisive > 30
    assert wrong / boxes < 0.02


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
def test_cancelled_box_hands_the_ticked_value_to_the_workbook(scans):
    """Issue 14's mutant: a box scribbled solid must not be read as the answer."""
    rnd, summary, truth, answers_of, layouts, files = scans
    unit, page, ref = truth["corrected"]
    assert truth[(unit, page)][("women_check", ref)]["result"] == [MARKED, "filled", "empty", "empty"]
    ws = openpyxl.load_workbook(rnd.scan_dir / f"{unit}.xlsx")["育龄妇女核对"]
    col = {c.value: c.column for c in ws[3]}
    row = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, 1).value == ref)
    assert ws.cell(row, col["核实结果"]).value == "属实"


def test_only_cancelled_box_leaves_the_value_empty_and_asks():
    from chouyang.scan.rows import FieldRead, field_value

    options = [{"label": v, "value": v} for v in vocab.WOMAN_RESULTS]
    read = FieldRead("result", "ticks", "核实结果", options, ["empty", "filled", "empty", "empty"])
    value, issues = field_value(read)
    assert value == "" and issues == ["「核实结果」涂黑作废了 查无此人，未另行勾选"]
    read.states = ["marked", "filled", "empty", "empty"]
    assert field_value(read) == ("属实", [])
    scale = [{"label": lab, "value": v} for lab, v in vocab.SCALES["true_parity"]]
    read = FieldRead("true_parity", "ticks", "实际孩次", scale, ["empty"] * 3 + ["marked"], confirm_top=True)
    value, issues = field_value(read)
    assert value == 4 and "「4+」" in issues[0]


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
def test_workbook_values_and_review_lists(scans):
    rnd, summary, truth, answers_of, layouts, files = scans
    for unit in summary.units:
        listed = json.loads((rnd.scan_dir / "review" / f"{unit}.json").read_text(encoding="utf-8"))
        assert listed["unit_code"] == unit and listed["format"] == 1
        csv_rows = (rnd.scan_dir / "review" / f"{unit}.csv").read_text(encoding="utf-8-sig").splitlines()
        assert csv_rows[0] == "工作表,行,编号,页,问题,截图" and len(csv_rows) == len(listed["items"]) + 1
        for item in listed["items"]:
            assert item["issues"] and (rnd.scan_dir / "review" / item["crop"]).exists()
            assert item["sheet"] in vocab.SHEETS and item["workbook_row"] >= 4
            for f in item["fields"]:
                assert 0 <= f["confidence"] <= 1 and f["kind"] in ("ticks", "write")
                if f["key"] == "witnesses":
                    assert [o["value"] for o in f["options"]] == [0, 1, 2, 3, 4, 5]
                    assert f["options"][-1]["label"] == "5+"
    # a register row read without review carries exactly what was ticked
    unit = sorted(layouts)[0]
    wb = openpyxl.load_workbook(rnd.scan_dir / f"{unit}.xlsx")
    flagged = {i["ref"] for i in json.loads((rnd.scan_dir / "review" / f"{unit}.json").read_text("utf-8"))["items"]}
    checked = 0
    for (u, _), answers in answers_of.items():
        if u != unit:
            continue
        for (sheet, ref), a in answers.items():
            if isinstance(ref, int) or ref in flagged:
                continue
            ws = wb[vocab.SHEETS[sheet]]
            col = {c.value: c.column for c in ws[3]}
            row = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, 1).value == ref)
            result = a["result"]["mark"] if isinstance(a["result"], dict) else a["result"]
            assert ws.cell(row, col["核实结果"]).value == result
            if "witnesses" in a:
                assert ws.cell(row, col["反映群众人数"]).value == a["witnesses"]
            checked += 1
    assert checked >= 2


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
def test_review_crop_is_upright_with_its_headers(scans):
    """A row on a page photographed upside down comes out straight, headers on top."""
    rnd, summary, truth, answers_of, layouts, files = scans
    unit = sorted(layouts)[1]  # page 1 of this unit was photographed turned 180 degrees
    listed = json.loads((rnd.scan_dir / "review" / f"{unit}.json").read_text(encoding="utf-8"))
    item = next(i for i in listed["items"] if i["page"] == 1)
    crop = np.asarray(Image.open(rnd.scan_dir / "review" / item["crop"]).convert("L"), dtype=float)
    assert crop.shape[1] > 4 * crop.shape[0]
    clean = scansim.render_page(rnd.path / "forms" / f"{unit}.pdf", 0, 6.0 * 25.4)
    page = layouts[unit]["pages"][0]
    row = next(r for r in page["rows"] if (r["ref"] or None) == item["ref"] and r["blank_index"] == item["blank_index"])
    header = page["headers"][row["header"]]
    x0 = layouts[unit]["table_x"][0]
    top = int((header["y"] - 1) * 6)
    ref = np.asarray(clean, dtype=float)[top:top + int((header["h"] + 1.5) * 6), int(x0 * 6):int(x0 * 6) + crop.shape[1]]
    got = crop[:ref.shape[0], :ref.shape[1]]

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    assert corr(got, ref) > 0.25  # a blurred, shaded photo against the clean print
    assert corr(got, ref) > corr(got[::-1, ::-1], ref) + 0.15


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
def test_only_bad_files_change_nothing_and_broken_layout_is_named(scans, tmp_path, capsys):
    rnd, summary, truth, answers_of, layouts, files = scans
    copy = tmp_path / "R"
    shutil.copytree(rnd.path, copy, ignore=shutil.ignore_patterns("scan"))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"garbage")
    assert main(["scan", str(copy), str(bad), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "bad.pdf" in err and "不是可读的 PDF 文件" in err and "内部错误" not in err
    assert not (copy / "scan").exists()
    layout = next((copy / "forms").glob("*.layout.json"))
    layout.write_text(layout.read_text(encoding="utf-8")[:500], encoding="utf-8")
    assert main(["scan", str(copy), str(files[0]), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert f"forms/{layout.name}" in err and "版面记录已损坏" in err
    assert not (copy / "scan").exists()
    with pytest.raises(ChouyangError):
        load_layouts(copy / "forms")


def test_paper_path_gives_the_typed_deductions(demo_dir, tmp_path):
    """demo --scan on one township: forms filled from the hidden truth by hand, scanned and photographed,
    read, only the flagged rows (and the new ones) typed by the clerk, ingested and scored: the
    township's deductions equal the typed path's."""
    import sqlite3

    from chouyang.demo.county import _paper_path
    from chouyang.round.folder import read_sample

    copy = tmp_path / "round-scan"
    shutil.copytree(demo_dir / "round", copy, ignore=shutil.ignore_patterns("report", "scan"))
    con = sqlite3.connect(copy / "store.sqlite")
    for table in ("entries", "ingests", "assessment_entries"):
        con.execute(f"DELETE FROM {table}")
    con.commit()
    con.close()
    rnd = Round.open(copy)
    typed = steps.score_round(Round.open(demo_dir / "round"))
    sample = read_sample(copy / "sample.csv").query("role == 'primary'")
    pages = {u: len(layout["pages"]) for u, layout in rnd.layouts().items()}
    sample = sample.assign(pages=sample.unit_code.map(pages))
    towns = typed.townships.query("deduction_raw > 0").township_code
    town = sample[sample.township_code.isin(towns)].groupby("township_code").pages.sum().idxmin()
    units = set(sample[sample.township_code == town].unit_code)
    [line] = _paper_path(tmp_path, demo_dir / "county" / "truth", "test", typed, units=units, round_dir=copy)
    assert "扣分与键盘录入路径完全一致" in line
    assert typed.townships.set_index("township_code").loc[town, "deduction_raw"] > 0


# mark placements (mm from the box centre, size relative to the box): wholly above or below the box,
# half beside it, off-centre, and overshooting well past it
ASTRAY = [((0.0, -2.9), 0.6), ((0.4, 2.9), 0.6), ((-1.9, 0.3), 0.6), ((1.9, -0.4), 0.6), ((1.0, -1.2), 1.0),
          ((0.0, 0.0), 1.9)]


@pytest.mark.slow  # the module's scans: about 13 s of rendering and simulating pages
@pytest.mark.parametrize("how", ["flatbed", "photo"])
def test_marks_beside_their_box_are_never_read_as_nothing(scans, how):
    """Optional decisive fields (actual sex, type, parity, witnesses, verified) marked sloppily: the field
    reads the intended option, or it is uncertain (its row goes to review); never empty, never another."""
    rnd, summary, truth, answers_of, layouts, files = scans
    rng = np.random.default_rng(5 if how == "flatbed" else 6)
    pens = [scansim.Writer((30, 30, 40), 0.95, 0.35, False, (1, 0, 0, 0, 0), 1.0, 0.0, 0.0, 0.03, 0.0),
            scansim.Writer((150, 150, 150), 1.0, 0.35, True, (1, 0, 0, 0, 0), 1.0, 0.0, 0.0, 0.03, 0.0)]
    checked = 0
    for unit in sorted(layouts)[:2]:
        page = layouts[unit]["pages"][0]
        img = scansim.render_page(rnd.path / "forms" / f"{unit}.pdf", 0, 200, "RGB")
        painter = scansim.Painter(img, 200, rng, full_font().path, full_font().collection_index)
        intended = {}
        k = 0
        for row in page["rows"]:
            if row["ref"] is None:
                continue
            painter.mark(row["fields"]["result"]["options"][0], pens[0])
            for key, f in row["fields"].items():
                if key == "result" or f["kind"] != "ticks" or key not in scansim.DECISIVE + ("actual_contraception",):
                    continue
                i = min(1, len(f["options"]) - 1)
                astray, size = ASTRAY[k % len(ASTRAY)]
                painter.mark(f["options"][i], pens[k // len(ASTRAY) % 2], shape=str(rng.choice(["tick", "cross", "check"])),
                             astray=astray, size=size)
                intended[(row["ref"], key)] = i
                k += 1
        scanned = scansim.flatbed(img, 200, rng, angle=1.5) if how == "flatbed" else scansim.photo(img, rng, turn=90)
        read = read_page(PageImage("astray", 1, scanned.convert("L")), rnd.secret(), "2016H1", layouts)
        assert not read.problem
        for row in read.rows:
            for key, f in row["fields"].items():
                if (row["ref"], key) not in intended:
                    continue
                i = intended[(row["ref"], key)]
                right = f.states[i] == MARKED and f.states.count(MARKED) == 1
                assert right or UNCERTAIN in f.states, (how, row["ref"], key, f.states, i)
                checked += 1
    assert checked >= 12
