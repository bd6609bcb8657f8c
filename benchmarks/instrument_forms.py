"""Rendering speed of the instrument engine (issue 18: at least today's survey forms, ≈ 50 pages/s on 2 cores).

Two instruments written here as data: a one-page 满意度 questionnaire (a section of questions and a
blank-row repeat) and a register check over `--women` women per point (a repeat table running over
several pages, with a fixed-list repeat).  For `--subjects` points each: pages/s in one process and
with the worker pool (chouyang.pool), PDF + layout record per point, one font cut for the job.

Usage:  python benchmarks/instrument_forms.py [--subjects 100] [--women 60] [--workers 2] [--chunk 25] [--out DIR]
        python benchmarks/instrument_forms.py --smoke      (3 points, for CI)
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from chouyang.instruments.model import Choice, ChoiceList, Field, Group, Instrument
from chouyang.render.instrument_pdf import InstrumentRenderer, instrument_font, write_instrument_pdfs

SECRET = b"\x05" * 32
ROUND, TITLE = "2016H1", "测试县2016年上半年人口和计划生育目标管理责任制考核"


def _list(name, *pairs):
    return ChoiceList(name, tuple(Choice(c, label) for c, label in pairs))


YES_NO = _list("yesno", ("yes", "是"), ("no", "否"))
SATISFACTION = Instrument(
    "satisfaction_bench", "计划生育服务满意度调查表", "MY1", "1", "point",
    choices={c.name: c for c in (YES_NO, _list("sat", ("1", "非常满意"), ("2", "比较满意"), ("3", "一般"),
                                                 ("4", "不太满意"), ("5", "很不满意")),
                                 _list("svc", ("a", "孕前优生检查"), ("b", "避孕药具发放"), ("c", "生育登记"), ("d", "奖励扶助")),
                                 _list("sex", ("1", "男"), ("2", "女")))},
    children=(
        Group("s1", "服务评价", children=(
            Field("q1", "select_one", "您对本村计划生育服务总体是否满意？", choices="sat"),
            Field("q2", "select_multiple", "过去一年您接受过哪些服务？", choices="svc"),
            Field("q3", "select_one", "是否有工作人员上门宣传过政策？", choices="yesno"),
            Field("q4", "integer", "上门宣传过几次？", relevant="${q3} = 'yes'", paper="digits", digits=2),
            Field("q5", "text", "您对计划生育工作有什么意见或建议？"))),
        Group("members", "家庭成员", repeat=True, rows="blank", blank_rows=8, children=(
            Field("name", "text", "姓名"), Field("sex", "select_one", "性别", choices="sex"),
            Field("kids", "integer", "子女数", constraint=". >= 0 and . <= 4"),
            Field("home", "select_one", "是否在家", choices="yesno"))),
    ))
CHECK = Instrument(
    "women_check_bench", "育龄妇女核对表", "WB1", "1", "point",
    choices={"result": _list("result", ("ok", "属实"), ("absent", "查无此人"), ("wrong", "错报")), "yesno": YES_NO},
    children=(
        Group("women", "育龄妇女核对", repeat=True, rows="register", table="women", key="ref", children=(
            Field("ref", "text", "编号", prefill="ref", width=12), Field("name", "text", "姓名", prefill="name", width=16),
            Field("household_no", "text", "户编号", prefill="household_no", width=24),
            Field("result", "select_one", "核实结果", choices="result"),
            Field("witnesses", "integer", "反映群众人数", constraint=". >= 0 and . <= 5"),
            Field("verified", "select_one", "调查组查实", choices="yesno"),
            Field("note", "text", "备注"))),
        Group("items", "工作检查", repeat=True, rows="fixed", key="item",
              fixed=tuple((f"A{i}", f"检查项目{i}") for i in range(1, 6)),
              children=(Field("done", "select_one", "是否做到", choices="yesno"),)),
    ))


def subjects(n: int, women: int) -> list[tuple[dict, dict]]:
    out = []
    for u in range(n):
        subject = {"unit_code": f"411381001{u:03d}", "unit_name": f"第{u + 1}村", "township_name": "古城街道"}
        rows = [{"ref": f"W{i:03d}", "name": "王" + "秀英芳兰"[(i + u) % 4] * (1 + i % 3),
                 "household_no": f"41138100{u:03d}{i:04d}"} for i in range(1, women + 1)]
        out.append((subject, {"women": rows}))
    return out


def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes (the wall clock lies on a shared machine)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(instrument: Instrument, jobs: list[tuple[dict, dict]], folder: Path, workers: int, chunk: int
        ) -> tuple[int, float, float]:
    """Pages written and seconds taken (the font is cut before the clock starts, once per job as the forms step does)."""
    font = instrument_font(instrument, [s for s, _ in jobs], [r for _, r in jobs], TITLE)
    start, cpu = time.perf_counter(), cpu_seconds()
    pages = write_instrument_pdfs(instrument, jobs, folder, SECRET, ROUND, TITLE, font, workers, chunk)
    return pages, time.perf_counter() - start, cpu_seconds() - cpu


def one_by_one(instrument: Instrument, jobs: list[tuple[dict, dict]], folder: Path) -> tuple[int, float, float]:
    """One document (and one font cut by fpdf2) per point, in one process."""
    font = instrument_font(instrument, [s for s, _ in jobs], [r for _, r in jobs], TITLE)
    renderer = InstrumentRenderer(instrument, SECRET, font)
    folder.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    pages = 0
    for subject, rows in jobs:
        record = renderer.render(subject, rows, ROUND, TITLE, folder / f"{subject['unit_code']}.pdf")
        (folder / f"{subject['unit_code']}.layout.json").write_text(json.dumps(record, ensure_ascii=False),
                                                                   encoding="utf-8")
        pages += len(record["pages"])
    return pages, time.perf_counter() - start, cpu_seconds() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=100)
    ap.add_argument("--women", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=25, help="points drawn into one document before it is split")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--smoke", action="store_true", help="3 points, one process: only that it runs")
    args = ap.parse_args()
    n = 3 if args.smoke else args.subjects
    out = args.out or Path(tempfile.mkdtemp(prefix="chouyang-instrument-bench-"))
    jobs = subjects(n, args.women)
    counts = (1,) if args.smoke else (1, args.workers)
    for instrument in (SATISFACTION, CHECK):
        pages, seconds, cpu = one_by_one(instrument, jobs, out / f"{instrument.name}-single")
        print(f"{instrument.name}: {n} points, {pages} pages, one document per point, 1 process: {seconds:.2f} s, "
              f"{pages / seconds:.1f} pages/s ({pages / cpu:.1f} pages per CPU second)")
        for workers in counts:
            pages, seconds, cpu = run(instrument, jobs, out / f"{instrument.name}-{workers}", workers, args.chunk)
            print(f"{instrument.name}: {n} points, {pages} pages, {args.chunk} points per document, {workers} worker(s): "
                  f"{seconds:.2f} s, {pages / seconds:.1f} pages/s ({pages / cpu:.1f} pages per CPU second)")


if __name__ == "__main__":
    main()
