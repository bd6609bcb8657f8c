"""Scan reading: pages per second and accuracy on a synthetic batch of filled, degraded scans.

Takes the demo county's forms, fills them by hand from the hidden truth (ticks,
crosses, digits, scribbles), degrades them (rotation up to 3 degrees, 180-degree
turns, noise, blur, JPEG, 150-300 dpi) until at least --pages pages, then runs
`chouyang scan` on the batch and compares every result it did not send to
review with what the clerk typed on the keyboard path.

Usage:  python benchmarks/scan.py [--pages 200] [--demo DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import openpyxl
import pandas as pd

from chouyang import vocab
from chouyang.demo import simulate_scans
from chouyang.forms.workbook import HEADER_ROW
from chouyang.round import Round
from chouyang.steps import scan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--demo", type=Path, default=None, help="a finished `chouyang demo` output folder")
    args = parser.parse_args()
    if args.demo is None:
        from chouyang.cli import main as cli

        args.demo = Path(tempfile.mkdtemp(prefix="chouyang-bench-")) / "demo"
        cli(["demo", str(args.demo)])
    work = Path(tempfile.mkdtemp(prefix="chouyang-scan-"))
    shutil.copytree(args.demo / "round", work / "round", ignore=shutil.ignore_patterns("scan"))
    rnd = Round.open(work / "round")
    units, pages = [], 0
    for layout in sorted((rnd.path / "forms").glob("*.layout.json")):
        units.append(layout.name.split(".")[0])
        pages += len(__import__("json").loads(layout.read_text(encoding="utf-8"))["pages"])
        if pages >= args.pages:
            break
    start = time.perf_counter()
    files = simulate_scans(rnd, args.demo / "county" / "truth", work / "scans", "benchmark", units=set(units))
    print(f"生成 {len(files)} 页模拟扫描：{time.perf_counter() - start:.1f} 秒")
    start = time.perf_counter()
    summary = scan(rnd, files)
    elapsed = time.perf_counter() - start
    identified = sum(summary.units.values())
    print(f"识别：{len(files)} 页，{elapsed:.1f} 秒，{len(files) / elapsed:.1f} 页/秒；页面识别 {identified}/{len(files)}，"
          f"拒收 {len(summary.rejected)}，缺页 {sum(len(m) for m in summary.missing.values())}")
    rows = silent = reviewed = 0
    for unit in units:
        scanned = openpyxl.load_workbook(rnd.path / "scan" / f"{unit}.xlsx")
        typed = openpyxl.load_workbook(args.demo / "field" / f"{unit}.xlsx")
        flagged = set(pd.read_csv(rnd.path / "scan" / "review" / f"{unit}.csv", dtype=str,
                                  keep_default_na=False, encoding="utf-8-sig")["编号"])
        for sheet in vocab.CHECK_SHEETS:
            label = vocab.SHEETS[sheet]
            if label not in scanned.sheetnames:
                continue
            a, b = scanned[label], typed[label]
            col = {c.value: c.column for c in a[HEADER_ROW]}
            for r in range(HEADER_ROW + 1, a.max_row + 1):
                ref = a.cell(r, 1).value
                if not ref:
                    continue
                rows += 1
                if ref in flagged:
                    reviewed += 1
                    continue
                for key in ("result", "verified", "witnesses", "true_sex", "true_type", "true_parity"):
                    label_key = vocab.label_for(sheet, key) if key in vocab.ENTRY_COLUMNS[sheet] else None
                    if label_key and a.cell(r, col[label_key]).value != b.cell(r, col[label_key]).value:
                        silent += 1
                        break
    print(f"在册记录行 {rows} 行：送人工核对 {reviewed} 行（{reviewed / rows:.1%}），"
          f"未送核对而与键盘录入不一致 {silent} 行（{silent / rows:.2%}）；勾选框 {summary.marks} 个")


if __name__ == "__main__":
    main()
