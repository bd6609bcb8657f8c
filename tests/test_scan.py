"""Reading filled paper forms from synthetic scans (render, mark known answers, degrade, read back)."""

import shutil

import numpy as np
import openpyxl
import pytest

from chouyang import steps
from chouyang.pdf import full_font
from chouyang.round import Round
from chouyang.scan import BoxRead
from chouyang.scansim import degrade, mark_page, render_page

pytestmark = pytest.mark.slow  # renders, marks and reads dozens of pages (about 40 s)


def _answers(page, rng):
    """Random known answers for every row of a page (ticks, crosses, a cancelled box now and then)."""
    answers = {}
    for row in page["rows"]:
        key = (row["section"], row["ref"] or row["blank_index"])
        fields = row["fields"]
        if row["ref"] is None:
            if rng.random() < 0.3:
                answers[key] = {"sex": str(rng.choice(["男", "女"])) if "sex" in fields else None,
                                "verified": "是", "witnesses": str(rng.integers(3, 9))}
                answers[key] = {k: v for k, v in answers[key].items() if v}
            continue
        result = str(rng.choice([b["value"] for b in fields["result"]]))
        a = {"result": [result]}
        if rng.random() < 0.1:  # changed their mind: another box filled solid, the answer ticked
            other = next(b["value"] for b in fields["result"] if b["value"] != result)
            a["result"].append("~" + other)
        if result != "属实":
            a["witnesses"] = str(rng.integers(0, 10))
            a["verified"] = str(rng.choice(["是", "否"]))
        answers[key] = a
    return answers


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    from conftest import init_round, write_county

    base = tmp_path_factory.mktemp("scan")
    county = write_county(base / "county")
    rnd = init_round(base / "R", county)
    steps.draw(rnd, "scan-seed")
    steps.forms(rnd, workers=1)
    # the same forms printed for a copy of the round with another secret: forged pages
    other = base / "other"
    shutil.copytree(rnd.path, other)
    (other / "secret.key").write_text("ab" * 32 + "\n")
    steps.forms(Round.open(other), workers=1)

    rng = np.random.default_rng(7)
    layouts = rnd.layouts()
    truth, files = {}, []
    font = full_font()
    settings = [(150, 0.0, False, None, 0, 0), (150, 2.8, False, 55, 0.6, 8), (200, -3.0, True, 60, 0.5, 6),
                (300, 1.2, False, None, 0.8, 4), (150, -1.5, True, 45, 0.4, 10)]
    k = 0
    extra = []  # two more scans of every page, under other settings, for the accuracy count
    for unit, layout in sorted(layouts.items()):
        for i, page in enumerate(layout["pages"]):
            img0 = render_page(rnd.path / "forms" / f"{unit}.pdf", i, 300)
            answers = _answers(page, rng)
            truth[(unit, i + 1)] = answers
            for copy in range(3):
                dpi, angle, flip, jpeg, blur, noise = settings[k % len(settings)]
                k += 1
                img = img0.resize((int(img0.width * dpi / 300), int(img0.height * dpi / 300)))
                mark_page(img, page, answers, dpi, rng, font.path, font.collection_index)
                img = degrade(img, rng, angle, flip, jpeg, blur, noise)
                path = base / "scans" / f"{k:03d}.jpg"
                path.parent.mkdir(exist_ok=True)
                img.save(path, quality=90)
                (files if copy == 0 else extra).append(path)
    files = [files[j] for j in rng.permutation(len(files))]  # scanner order is not page order
    forged = base / "scans" / "forged.png"
    render_page(other / "forms" / f"{sorted(layouts)[0]}.pdf", 1, 150).save(forged)
    duplicate = base / "scans" / "again.png"
    shutil.copy(files[0], duplicate)
    summary = steps.scan(rnd, files + [forged, duplicate])
    return rnd, summary, truth, layouts, files, extra


def test_every_page_identified_and_grouped(scans):
    rnd, summary, truth, layouts, files, extra = scans
    assert summary.pages == len(files) + 2
    assert sum(summary.units.values()) == len(files)
    assert summary.units == {u: len(lay["pages"]) for u, lay in layouts.items()}
    assert all(not m for m in summary.missing.values())
    assert summary.rejected == [("forged.png", 1, "forged")]
    assert len(summary.duplicates) == 1


def test_tick_boxes_read_with_every_error_flagged(scans):
    rnd, summary, truth, layouts, files, extra = scans
    from chouyang.scan import interpret_row, load_pages, read_page

    total = wrong = unflagged = 0
    for path in files + extra:
        [page] = load_pages(path)
        read = read_page(page, rnd.secret(), "2016H1", layouts)
        answers = truth[(read.page_id.unit_code, read.page_id.page)]
        for row in read.rows:
            want = answers.get((row["section"], row["ref"] or row["blank_index"]), {})
            _, issues = interpret_row(row)
            for key, boxes in row["fields"].items():
                if not (isinstance(boxes, list) and boxes and isinstance(boxes[0], BoxRead)):
                    continue
                wanted = want.get(key, [])
                wanted = [wanted] if isinstance(wanted, str) else wanted
                for b in boxes:
                    total += 1
                    expected = "checked" if b.value in wanted else "filled" if "~" + b.value in wanted else "empty"
                    if b.state != expected:
                        wrong += 1
                        unflagged += not issues
    assert total > 1000
    assert wrong / total <= 0.005, (wrong, total)
    assert unflagged == 0


def test_workbook_and_review_list(scans):
    rnd, summary, truth, layouts, files, extra = scans
    unit = sorted(layouts)[0]
    wb = openpyxl.load_workbook(rnd.path / "scan" / f"{unit}.xlsx")
    ws = wb["育龄妇女核对"]
    answers = truth[(unit, 2)]
    col = {c.value: c.column for c in ws[3]}
    for r in range(4, ws.max_row + 1):
        ref = ws.cell(r, 1).value
        want = answers.get(("women_check", ref))
        if want:
            assert ws.cell(r, col["核实结果"]).value == want["result"][0]
    review = (rnd.path / "scan" / "review" / f"{unit}.csv").read_text(encoding="utf-8-sig")
    assert review.startswith("工作表,行,编号,页,问题,截图")


def test_paper_path_gives_the_typed_deductions(demo_dir, tmp_path):
    """The demo --scan path on the two townships with the most deductions: fill from the truth, scan, review, ingest, score."""
    import sqlite3

    from chouyang.demo import _paper_path
    from chouyang.round import read_sample

    copy = tmp_path / "round-scan"
    shutil.copytree(demo_dir / "round", copy, ignore=shutil.ignore_patterns("report", "scan"))
    con = sqlite3.connect(copy / "store.sqlite")
    con.execute("DELETE FROM entries")
    con.execute("DELETE FROM ingests")
    con.commit()
    con.close()
    sample = read_sample(copy / "sample.csv").query("role == 'primary'")
    typed = steps.score_round(Round.open(demo_dir / "round"))
    towns = typed.townships.sort_values("deduction_raw", ascending=False).township_code.head(2)
    units = set(sample[sample.township_code.isin(towns)].unit_code)
    [line] = _paper_path(tmp_path, demo_dir / "county" / "truth", "test", typed, units=units, round_dir=copy)
    assert "扣分与键盘录入路径完全一致" in line
    assert typed.townships.set_index("township_code").loc[list(towns), "deduction_raw"].sum() > 0
