"""Scanned assessment checklists: accuracy and review load of reading the printed checklist (chouyang scan).

Builds the tiny test county's round with the dengzhou-2016h1 scheme, writes its checklists
(chouyang checklist), fills random pages as many writers would (chouyang.scansim: every tick
group answered with a random option; write-ins written now and then), puts half through a
flatbed scanner and half through a phone camera, reads every page with the survey forms'
reader and interprets it as `chouyang scan` does (assessment_scan.interpret_checklist_row).

Prints, per kind of page:
- pages identified;
- tick groups marked, and silent errors among them: a value written to the workbook without
  review that differs from what was ticked;
- tick-only rows (nothing written) sent to review for what was read (a row ticked 是 whose
  document, reason or evidence is missing goes to review by rule and is not counted);
- reading time per page (CPU seconds, reading only).

Usage:  python benchmarks/checklist_scan.py [--pages 40] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from chouyang import steps
from chouyang.demo import scansim
from chouyang.render.pdf import full_font
from chouyang.scan.checklist import interpret_checklist_row
from chouyang.scan.pages import PageImage, load_layouts, read_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import init_round, write_county  # noqa: E402


def random_answers(page: dict, rng) -> dict:
    answers = {}
    for row in page["rows"]:
        a = {}
        for key, f in row["fields"].items():
            if f["kind"] == "ticks":
                a[key] = f["options"][int(rng.integers(len(f["options"])))]["value"]
            elif rng.random() < 0.2:
                a[key] = "".join(str(d) for d in rng.integers(0, 10, 3))
        answers[(row["section"], row["ref"])] = a
    return answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    font = full_font()
    with tempfile.TemporaryDirectory() as tmp:
        rnd = init_round(Path(tmp) / "R", write_county(Path(tmp) / "county"))
        steps.draw(rnd, "benchmark")
        steps.checklist(rnd)
        layouts = load_layouts(rnd.checklist_dir)
        codes = sorted(layouts)
        stats = {kind: {"pages": 0, "identified": 0, "groups": 0, "silent": 0, "plain": 0, "plain_review": 0,
                        "cpu": 0.0} for kind in ("flatbed", "photo")}
        for n in range(args.pages):
            kind = "flatbed" if n % 2 == 0 else "photo"
            code = codes[int(rng.integers(len(codes)))]
            i = int(rng.integers(len(layouts[code]["pages"])))
            page = layouts[code]["pages"][i]
            dpi = float(rng.choice([150, 200, 300])) if kind == "flatbed" else float(rng.uniform(180, 230))
            img = scansim.render_page(rnd.checklist_dir / f"{code}.pdf", i, dpi, "RGB")
            answers = random_answers(page, rng)
            truth = scansim.fill_page(img, page, answers, dpi, rng, scansim.random_writer(rng), font.path,
                                      font.collection_index)
            img = scansim.flatbed(img, dpi, rng) if kind == "flatbed" else scansim.photo(img, rng)
            s = stats[kind]
            s["pages"] += 1
            start = time.process_time()
            read = read_page(PageImage("bench", 1, img.convert("L")), rnd.secret(), "2016H1", layouts)
            s["cpu"] += time.process_time() - start
            if read.problem:
                continue
            s["identified"] += 1
            for row, spec in zip(read.rows, page["rows"]):
                key = (row["section"], row["ref"])
                values, issues, by_key = interpret_checklist_row(row, spec)
                written = any(f["kind"] == "write" and answers[key].get(k) for k, f in spec["fields"].items())
                if not written:  # a row ticked 是 that needs a document, reason or evidence goes to review anyway
                    s["plain"] += 1
                    s["plain_review"] += any(not t.startswith("勾选了") for t in issues)
                for fkey, f in row["fields"].items():
                    if f.kind != "ticks":
                        continue
                    s["groups"] += 1
                    expected = scansim.truth_value(truth[key][fkey], f.options)
                    if not issues and by_key[fkey] != expected:
                        s["silent"] += 1
                        print(f"silent error: {code} p{i + 1} {key} {fkey}: read {by_key[fkey]!r}, ticked {expected!r}")
        for kind, s in stats.items():
            print(f"{kind}: {s['identified']}/{s['pages']} pages identified; {s['groups']} tick groups, "
                  f"{s['silent']} silent errors; tick-only rows sent to review {s['plain_review']}/{s['plain']} "
                  f"({100 * s['plain_review'] / max(s['plain'], 1):.1f} %); "
                  f"{s['cpu'] / max(s['pages'], 1):.2f} CPU s per page")


if __name__ == "__main__":
    main()
