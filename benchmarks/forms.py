"""Forms throughput: pages per second and peak memory (issue: printed survey forms).

Prints, for the demo county and for a run of at least 5,000 pages:
  - our renderer, one process, pages/s;
  - a minimal fpdf2 script drawing the same table pages with plain cell() calls
    and the same font (the floor any fpdf2 form pays), pages/s, and our ratio to it;
  - the full forms step (steps.forms) with its worker pool, pages/s;
  - peak resident memory of the parent and of the workers.

Usage:  python benchmarks/forms.py [--pages 5000] [--out DIR] [--units N]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import shutil
import tempfile
import time
from pathlib import Path

from chouyang.cli import main as cli_main
from chouyang.render.forms import form_font
from chouyang.render.layout import load_layout
from chouyang.render.pdf import ChinesePDF
from chouyang.render.survey_pdf import FormRenderer, UnitForm, blank_rows_for, cover_lines, display_value, paginate
from chouyang.round.folder import Round
from chouyang.steps import forms as make_forms


def peak_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def unit_forms(rnd):
    rules, primary = rnd.rules(), rnd.primaries()
    checklists = rnd.checklists(primary.unit_code)
    layout = load_layout()
    font = form_font(rules, primary, checklists, layout)
    forms = []
    for u in primary.itertuples():
        cl = checklists[u.unit_code]
        forms.append(UnitForm(rules.round.id, rules.round.name, u.township_name, u.unit_code, u.unit_name,
                              "2015-07-01 至 2016-06-30", "第 01 组", "2016-07-26", 3, True, cl,
                              blank_rows_for(cl.count("women_check"), layout)))
    return layout, font, forms


def floor_document(layout, font, form, path) -> int:
    """The same pages and the same text drawn with nothing but cell(): no QR, boxes or marks.

    Cover wording, page header and footer, section titles and every table cell are the
    same strings as ours, so both documents embed the same glyphs.
    """
    pdf = ChinesePDF(orientation="L", font=font)
    pdf.set_auto_page_break(False)
    plans = paginate(form, layout)
    n = len(plans)
    for i, plan in enumerate(plans, start=1):
        pdf.add_page()
        pdf.set_font(size=9)
        for y, text in ((9, layout.form["title"]), (17, form.round_name),
                        (24, f"乡镇（街道）：{form.township_name}　样本点：{form.unit_name}（{form.unit_code}）"),
                        (200, f"第 {i} 页 共 {n} 页")):
            pdf.set_xy(10, y)
            pdf.cell(240, 5, text, align="C")
        if i == 1:
            pdf.set_xy(10, 42)
            for line in cover_lines(form):
                pdf.set_x(10)
                pdf.cell(0, 7, line[:60])
                pdf.ln(7)
                if len(line) > 60:
                    pdf.set_x(10)
                    pdf.cell(0, 7, line[60:])
                    pdf.ln(7)
            continue
        pdf.set_font(size=8)
        for item in plan.items:
            section = layout.section(item.section)
            if item.kind == "title":
                pdf.set_xy(10, item.y)
                pdf.cell(0, 7, section.title)
                continue
            x = 10.0
            for col in section.columns:
                pdf.set_xy(x, item.y)
                if item.kind == "header":
                    text = col.label
                elif item.row:
                    text = display_value(section.key, col.key, item.row)
                else:
                    text = "  ".join(o.label for o in col.options)
                pdf.cell(col.width, 8, text, border=1, align="C")
                x += col.width
    pdf.output(str(path))
    return n


def timed(func, forms, out: Path, min_pages: int) -> tuple[float, int]:
    pages, start = 0, time.perf_counter()
    for i, form in enumerate(itertools.cycle(forms)):
        pages += func(form, out / f"{i % 50}.pdf")
        if pages >= min_pages and i + 1 >= len(forms):
            break
    return pages / (time.perf_counter() - start), pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--units", type=int, default=None, help="only the first N sample points (smoke mode)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="chouyang-bench-"))
    demo = work / "demo"
    if not (demo / "round" / "sample.csv").exists():
        cli_main(["demo", str(demo)])
    rnd = Round.open(demo / "round")
    layout, font, forms = unit_forms(rnd)
    forms = forms[:args.units] if args.units else forms
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    renderer = FormRenderer(layout, rnd.secret(), font)

    print(f"机器：{__import__('os').cpu_count()} 核")
    for label, min_pages in (("示范县", 1), (f"{args.pages} 页", args.pages)):
        ours, n1 = timed(lambda f, p: len(renderer.render(f, p)["pages"]), forms, scratch, min_pages)
        floor, n2 = timed(lambda f, p: floor_document(layout, font, f, p), forms, scratch, min_pages)
        print(f"[{label}] 单进程：本工具 {ours:.1f} 页/秒（{n1} 页）；仅 cell() 的 fpdf2 基线 {floor:.1f} 页/秒"
              f"（{n2} 页）；比值 {ours / floor:.2f}")
    print(f"单进程峰值内存：{peak_mb():.0f} MB")

    shutil.rmtree(rnd.path / "forms", ignore_errors=True)
    shutil.rmtree(rnd.path / "entry", ignore_errors=True)
    start = time.perf_counter()
    summary = make_forms(rnd)
    elapsed = time.perf_counter() - start
    print(f"[示范县] chouyang forms 全流程（含工作簿，进程池）：{summary['pages']} 页，{elapsed:.1f} 秒，"
          f"{summary['pages'] / elapsed:.1f} 页/秒")
    print(f"峰值内存：主进程 {peak_mb():.0f} MB，工作进程 {peak_mb(resource.RUSAGE_CHILDREN):.0f} MB")


if __name__ == "__main__":
    main()
