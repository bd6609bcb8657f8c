"""The demo run: the synthetic county (demo.population) through every step, with simulated field work.

`run_demo` writes the county, runs init .. score on it, types the field results from the
hidden truth as a clerk would (`simulate_field_entry`), fills every township's checklist
(demo.checklist) and, with `scan`, also prints, fills by hand and scans the paper forms
(`simulate_scans`) and checks the paper path's deductions equal the typed path's.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
from tqdm import tqdm

from chouyang import steps, vocab
from chouyang.assessment.facts import Entries
from chouyang.config.rules import load_preset
from chouyang.demo.checklist import simulate_entries, summary_lines
from chouyang.demo.population import demo_rng, write_county
from chouyang.demo.scansim import fill_page, flatbed, photo, random_writer, render_page
from chouyang.entry.checklist import survey_computed
from chouyang.errors import ChouyangError
from chouyang.render.checklist_workbook import fill_checklist_workbook
from chouyang.render.pdf import full_font
from chouyang.render.survey_workbook import FIRST_ROW, column_of, set_values
from chouyang.round.folder import Round
from chouyang.survey.check_rows import REGISTER_KEY

DEMO_ROUND_ID = "2016H1"
DEMO_NAME = "邓州市2016年上半年人口和计划生育目标管理责任制考核（示范县，数据为模拟）"


def run_demo(out: Path, seed: str, echo=lambda s: None, scan: bool = False) -> list[str]:
    """Generate the demo county under OUT and run every step on it; returns summary lines.

    With `scan`, the paper path runs too, in OUT/round-scan: forms -> simulated
    filled scans -> scan -> review (the clerk types what the reader flagged)
    -> ingest -> score, and its deductions must equal the typed path's.
    """
    out = Path(out)
    round_dir = out / "round"
    marker = out / ".chouyang-demo"
    if out.exists() and any(out.iterdir()):
        if not marker.exists():
            raise ChouyangError(f"{out} 已存在且不是示范运行的输出文件夹；请指定一个新的或空的文件夹")
        shutil.rmtree(out)  # a previous demo run: start afresh
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text("chouyang demo output; safe to delete\n", encoding="utf-8")
    rules = load_preset("dengzhou-2016h1", DEMO_ROUND_ID, DEMO_NAME)
    labels = ["生成示范县", "建立轮次", "公布指纹", "抽样", "复核", "调查安排", "核查表", "模拟现场录入",
              "综合治理考核清单", "计分和报告"]
    if scan:
        labels.append("纸质表扫描识别")
    bar = tqdm(total=len(labels), desc="示范运行", unit="步", disable=None)

    def step(i: int) -> None:
        bar.set_postfix_str(labels[i])
        bar.update(1 if i else 0)

    step(0)
    county = write_county(out / "county", seed, rules.round.reference_start, rules.round.reference_end)
    step(1)
    summary = steps.init(round_dir, "dengzhou-2016h1", county["frame"], county["teams"], county["register"],
                         round_id=DEMO_ROUND_ID, name=DEMO_NAME)
    rnd = summary.round
    step(2)
    commitment = steps.commit(rnd)
    step(3)
    record = steps.draw(rnd, seed)
    step(4)
    verified = steps.verify(rnd)
    if not verified.ok:
        raise ChouyangError("示范运行的复核失败：" + "；".join(verified.problems))
    step(5)
    plan = steps.plan(rnd)
    step(6)
    forms = steps.forms(rnd)
    if scan:
        shutil.copytree(round_dir, out / "round-scan")
    step(7)
    filled = simulate_field_entry(rnd, county["truth"], out / "field")
    ingested = steps.ingest(rnd, filled)
    step(8)
    steps.ingest(rnd, simulate_checklists(rnd, seed, out / "checklist-filled"))
    step(9)
    result = steps.score(rnd)
    scan_lines = []
    if scan:
        step(10)
        scan_lines = _paper_path(out, county["truth"], seed, result)
    bar.update(1)
    bar.close()
    c = summary.counts
    return scan_lines + [
        f"示范县：{c['townships']} 个乡镇，{c['units']} 个村/社区，育龄妇女 {c['women']} 人，"
        f"出生 {c['births']} 例，手术 {c['procedures']} 例（数据在 {out / 'county'}）",
        f"承诺指纹：{commitment['fingerprint']}",
        f"抽样（种子「{record['seed']}」）：样本点 {record['counts']['primary']} 个，"
        f"备选 {record['counts']['reserve']} 个 → {rnd.sample_path}",
        "复核：通过",
        f"调查安排：{plan.team_id.nunique()} 个调查组，{plan.date.nunique()} 天 → {rnd.plan_path}、"
        f"{rnd.path / 'plan.pdf'}",
        f"核查表：{forms['units']} 个样本点，共 {forms['pages']} 页 → {rnd.path / 'forms'}；"
        f"录入工作簿 → {rnd.path / 'entry'}",
        f"现场录入（按隐藏的实地情况模拟填写，{out / 'field'}）：{len(ingested)} 个样本点，"
        f"确认误差 {sum(r.confirmed for r in ingested)} 例，待核实 {sum(r.pending for r in ingested)} 例",
        f"计分：扣分合计 {result.townships.deduction.sum():g} 分；{steps.county_summary_line(result)} → {rnd.path / 'report'}",
    ] + summary_lines(result.assessment)


def _paper_path(out: Path, truth_dir: Path, seed: str, typed, units: set[str] | None = None,
                round_dir: Path | None = None) -> list[str]:
    """Paper path in a copy of the round; its deductions must equal the typed path's (`typed`).

    `units` limits the check to some sample points (their townships are compared).
    """
    rnd = Round.open(round_dir or out / "round-scan")
    files = simulate_scans(rnd, truth_dir, out / "scans", seed, units=units)
    summary = steps.scan(rnd, files)
    reviewed = simulate_field_entry(rnd, truth_dir, out / "scan-reviewed", base_dir=rnd.path / "scan",
                                    review_dir=rnd.path / "scan" / "review")
    steps.ingest(rnd, reviewed)
    result = steps.score(rnd, partial=units is not None)
    scanned = result.townships.set_index("township_code")
    b = scanned.loc[scanned.points_entered > 0, ["deduction_raw", "deduction"]]
    a = typed.townships.set_index("township_code")[["deduction_raw", "deduction"]].loc[b.index]
    differ = list(a.index[(a != b).any(axis=1)])
    if differ:
        raise ChouyangError("纸质扫描路径的扣分与键盘录入路径不一致，乡镇：" + "、".join(differ))
    items = sum(summary.review.values())
    return [f"纸质路径：{summary.pages} 页扫描（{out / 'scans'}），{len(summary.units)} 个样本点全部识别，"
            f"需人工核对 {items} 处；扣分与键盘录入路径完全一致（{rnd.path}）"]


def simulate_checklists(rnd: Round, seed: str, out_dir: Path) -> list[Path]:
    """Write every township's checklist workbook (chouyang checklist) and fill it as assessors would
    (assessment_demo.simulate_entries); returns the filled workbooks."""
    steps.checklist(rnd)
    scheme = rnd.scheme()
    towns = steps.assessment_townships(rnd)
    entries = simulate_entries(scheme, towns, seed, survey_computed(scheme, set(rnd.primaries().township_code)))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for code in towns.township_code:
        path = out_dir / f"{code}.xlsx"
        shutil.copyfile(rnd.checklist_dir / f"{code}.xlsx", path)
        fill_checklist_workbook(path, Entries(**{name: table[table.township_code == code]
                                                 for name, table in vars(entries).items()}))
        written.append(path)
    return written


def _truth(truth_dir: Path) -> dict[str, pd.DataFrame]:
    return {k: pd.read_csv(Path(truth_dir) / f"{k}.csv", dtype=str, keep_default_na=False) for k in vocab.SHEETS}


def _check_row_values(sheet: str, reg: dict, found) -> dict[str, object]:
    """What a clerk types for one register row, from the truth row `found`."""
    values = {}
    for key in vocab.ENTRY_COLUMNS[sheet]:
        value = found.get(key, "")
        if key == "actual_contraception" and value == reg.get("contraception"):
            value = ""  # left blank when nothing changed
        if value != "":
            values[key] = int(value) if key in ("witnesses", "true_parity") else value
    return values


def _fill_workbook(ws, sheet: str, table, by_key, missed, only_refs=None) -> None:
    """Type truth values into a sheet: register rows (all, or only `only_refs`) and every missed row."""
    columns = column_of(ws, sheet)
    if table is not None:
        for i, reg in enumerate(table.to_dict("records"), start=FIRST_ROW):
            if only_refs is not None and reg["ref"] not in only_refs:
                continue
            set_values(ws, columns, i, _check_row_values(sheet, reg, by_key.loc[reg[REGISTER_KEY[sheet]]]))
        return
    for i in range(FIRST_ROW, ws.max_row + 1):  # the clerk re-types the new rows in full
        for c in range(2, ws.max_column + 1):
            ws.cell(i, c).value = None
    for i, found in enumerate(missed.to_dict("records"), start=FIRST_ROW):
        set_values(ws, columns, i, {key: int(found[key]) if key in ("witnesses", "parity") else found[key]
                                    for key in vocab.ENTRY_COLUMNS[sheet] if found.get(key, "") != ""})


def simulate_field_entry(rnd, truth_dir: Path, out_dir: Path, base_dir: Path | None = None,
                         review_dir: Path | None = None) -> list[Path]:
    """Fill every entry workbook from the hidden truth, as a clerk would type it; returns the files.

    With `base_dir`/`review_dir` (the output of `chouyang scan`), the clerk only
    types the rows the review list names, plus the new (missed) rows.
    """
    primary = rnd.primaries()
    checklists = rnd.checklists(primary.unit_code)
    truth = _truth(truth_dir)
    by_key = {k: truth[k].set_index(REGISTER_KEY[k]) for k in vocab.CHECK_SHEETS}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in primary.unit_code:
        source = (Path(base_dir) if base_dir else rnd.path / "entry") / f"{unit}.xlsx"
        if not source.exists():
            continue
        only = None
        if review_dir is not None:
            listed = pd.read_csv(Path(review_dir) / f"{unit}.csv", dtype=str, keep_default_na=False,
                                 encoding="utf-8-sig")
            only = set(listed["编号"])
        wb = openpyxl.load_workbook(source)
        cl = checklists[unit]
        for sheet, label in vocab.SHEETS.items():
            if label not in wb.sheetnames:
                continue
            if sheet in vocab.CHECK_SHEETS:
                _fill_workbook(wb[label], sheet, cl.sections[sheet], by_key[sheet], None, only)
            else:
                _fill_workbook(wb[label], sheet, None, None, truth[sheet][truth[sheet].unit_code == unit])
        path = out_dir / f"{unit}.xlsx"
        wb.save(path)
        written.append(path)
    return written


def _paper_answer(key: str, value) -> object:
    """What a team member marks or writes on paper for a typed value (scales end in 5+ and 4+)."""
    if key in vocab.SCALES:
        top = vocab.SCALES[key][-1][1]
        return min(int(value), top)
    return str(value).replace("-", "") if "date" in key else value


def _paper_answers(checklist, unit: str, truth: dict, by_key: dict) -> dict:
    """What the team writes on one unit's forms: the truth of every register row, then every missed row."""
    answers = {}
    for sheet in vocab.CHECK_SHEETS:
        table = checklist.sections.get(sheet)
        for reg in ([] if table is None else table.to_dict("records")):
            values = _check_row_values(sheet, reg, by_key[sheet].loc[reg[REGISTER_KEY[sheet]]])
            answers[(sheet, reg["ref"])] = {k: _paper_answer(k, v) for k, v in values.items()}
    for sheet in vocab.MISSED_SHEETS:
        rows = truth[sheet][truth[sheet].unit_code == unit].to_dict("records")
        for i, found in enumerate(rows, start=1):
            answers[(sheet, i)] = {k: _paper_answer(k, found[k]) for k in vocab.ENTRY_COLUMNS[sheet]
                                   if found.get(k, "") != ""}
    return answers


def simulate_scans(rnd, truth_dir: Path, out_dir: Path, seed: str, progress=None, units=None) -> list[Path]:
    """Print, fill by hand (from the truth) and scan every form page: one JPEG per page, shuffled.

    Each unit's forms are filled by one writer; most pages go through a flatbed scanner, some are
    phone photos.
    """
    primary = rnd.primaries()
    checklists = rnd.checklists(primary.unit_code)
    truth = _truth(truth_dir)
    by_key = {k: truth[k].set_index(REGISTER_KEY[k]) for k in vocab.CHECK_SHEETS}
    layouts = rnd.layouts()
    rng = demo_rng(seed, "scans")
    font = full_font()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for unit in primary.unit_code:
        if units is not None and unit not in units:
            continue
        answers = _paper_answers(checklists[unit], unit, truth, by_key)
        writer = random_writer(rng)
        for i, page in enumerate(layouts[unit]["pages"]):
            dpi = float(rng.choice([150, 200, 300], p=[0.4, 0.45, 0.15]))
            img = render_page(rnd.path / "forms" / f"{unit}.pdf", i, dpi, "RGB")
            fill_page(img, page, answers, dpi, rng, writer, font.path, font.collection_index)
            img = photo(img, rng) if rng.random() < 0.15 else flatbed(img, dpi, rng)
            path = out_dir / f"{hashlib.sha256(f'{unit}|{i}'.encode()).hexdigest()[:12]}.jpg"
            img.save(path, quality=92)
            files.append(path)
            if progress:
                progress(1)
    return sorted(files)
