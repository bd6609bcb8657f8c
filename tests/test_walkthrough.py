"""The README's walkthrough "设计自己的调查表", run as written: a question added in Excel shows on every medium.

The commands are read from the README's block after the walkthrough marker and run in order, with the
demo county's files replaced by the tiny test county and the example XLSForm by a copy with one
question added the way the walkthrough's step 1 says (a `select_one yes_no` row).  The example
phone submissions name two sample points of the demo county; here they are rewritten to the tiny
county's drawn points.  Then the added question is looked for on the printed page (its layout
record), in the entry workbook, on the web entry page, in the XLSForm for phones and in the export.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import openpyxl
from pyxform.xls2xform import convert
from starlette.testclient import TestClient

from chouyang.round.folder import Round
from chouyang.serve import create_app

REPO = Path(__file__).resolve().parents[1]
MARK = "<!-- walkthrough: tests/test_walkthrough.py runs these commands -->"
ADDED = ["select_one yes_no", "knows_leave", "您是否知道生育假延长的政策？"]   # the README's step 1, word for word


def walkthrough_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(re.escape(MARK) + r"\n```bash\n(.*?)\n```", text, re.S).group(1)
    lines, joined = [], ""
    for line in block.splitlines():
        joined += line.split("  #")[0].rstrip().removesuffix("\\")
        if not line.rstrip().endswith("\\"):
            lines.append(shlex.split(joined))
            joined = ""
    return lines


def with_added_question(example: Path, out: Path) -> Path:
    wb = openpyxl.load_workbook(example)
    ws = wb["survey"]
    at = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 2).value == "knows_registration") + 1
    ws.insert_rows(at)
    for c, value in enumerate(ADDED, start=1):
        ws.cell(at, c, value)
    wb.save(out)
    return out


def test_readme_step_one_names_the_added_question():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert " | ".join(ADDED) in text


def test_the_walkthrough_runs_and_the_added_question_is_on_every_medium(county, tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    example = with_added_question(REPO / "docs" / "examples" / "satisfaction.xlsx", tmp_path / "satisfaction.xlsx")
    submissions = tmp_path / "satisfaction-submissions.csv"
    swap = {"demo-out/county/frame.csv": str(county["frame"]), "demo-out/county/teams.csv": str(county["teams"]),
            "demo-out/county/register": str(county["register"]), "docs/examples/satisfaction.xlsx": str(example),
            "docs/examples/satisfaction-submissions.csv": str(submissions)}
    commands = walkthrough_commands()
    assert [c[1] for c in commands] == ["instrument", "init", "instrument", "instrument", "draw", "plan", "forms",
                                        "instrument", "ingest", "export"]
    for words in commands:
        assert words[0] == "chouyang"
        if words[1] == "ingest":
            _phone_submissions(REPO / "docs" / "examples" / "satisfaction-submissions.csv", submissions, tmp_path / "2026P1")
        code, out, err = run(*[swap.get(w, w) for w in words[1:]])
        assert code == 0, (words, out, err)

    rnd = Round.open(tmp_path / "2026P1")
    unit = sorted(rnd.primaries().unit_code)[0]
    layout = json.loads((rnd.path / "forms" / f"{unit}.satisfaction.layout.json").read_text(encoding="utf-8"))
    assert "knows_leave" in json.dumps(layout, ensure_ascii=False)                      # printed and read by the scanner
    book = openpyxl.load_workbook(rnd.path / "entry" / f"{unit}.satisfaction.xlsx")
    assert any(ADDED[2] in str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)   # workbook
    client = TestClient(create_app(rnd), base_url="http://127.0.0.1:8000", follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": token, "name": "张三", "next": "/progress"}).status_code == 303
    page = client.get(f"/instruments/satisfaction/{unit}")
    assert page.status_code == 200 and ADDED[2] in page.text                             # web entry page
    phone = tmp_path / "手机版.xlsx"
    assert "knows_leave" in convert(xlsform=str(phone)).xform                            # the phones' form
    exported = list(csv.reader(io.StringIO((rnd.path / "export" / "satisfaction.csv").read_text(encoding="utf-8-sig"))))
    assert exported[0][:2] == ["unit_code", "overall"] and "knows_leave" in exported[0]
    leave = exported[0].index("knows_leave")
    assert [row[leave] for row in exported[1:]] == ["1", "0"]                             # brought back from the phones


def _phone_submissions(example: Path, out: Path, round_dir: Path) -> None:
    """The README's example submissions, moved to the tiny county's points and answering the added question."""
    units = sorted(Round.open(round_dir).primaries().unit_code)[:2]
    rows = list(csv.reader(io.StringIO(example.read_text(encoding="utf-8-sig"))))
    header = rows[0][:8] + ["policy-knows_leave"] + rows[0][8:]
    body = [r[:1] + [u] + r[2:8] + [leave] + r[8:] for r, u, leave in zip(rows[1:], units, ("1", "0"))]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *body])
    out.write_text("\ufeff" + text.getvalue(), encoding="utf-8")
