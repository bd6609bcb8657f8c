"""The built-in demo county: 邓州市's 27 real township-level units plus 杏山.

Villages, people and the hidden "field truth" are synthetic and fully
determined by the demo seed.  The truth plants errors of every kind of
SPEC §2.3, some confirmed by enough witnesses and some not, so every later
step (entry, scoring) has something real to find.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from importlib.resources import files
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from tqdm import tqdm

from chouyang import steps, vocab
from chouyang.assessment.facts import Entries
from chouyang.config.rules import load_preset
from chouyang.demo.checklist import simulate_entries, summary_lines
from chouyang.demo.scansim import fill_page, flatbed, photo, random_writer, render_page
from chouyang.entry.checklist import survey_computed
from chouyang.errors import ChouyangError
from chouyang.render.checklist_workbook import fill_checklist_workbook
from chouyang.render.pdf import full_font
from chouyang.render.survey_workbook import FIRST_ROW, column_of, set_values
from chouyang.round.folder import Round
from chouyang.round.inputs import id_check_digit
from chouyang.survey.check_rows import REGISTER_KEY

XINGSHAN = ("411381550", "杏山旅游管理区")  # not an official division; synthetic code
DEMO_ROUND_ID = "2016H1"
DEMO_NAME = "邓州市2016年上半年人口和计划生育目标管理责任制考核（示范县，数据为模拟）"
COUNTY_REGION = "411381"

_SURNAMES = list("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_GIVEN_F = list("秀英兰芳娟敏静丽艳玲霞红梅琴云华燕萍桂珍凤莉洁婷雪慧颖佳倩晶瑶欣怡悦雯蕾")
_GIVEN_M = list("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波宇浩凯健俊帅斌峰龙阳宁博文")
_VILLAGE_A = list("东西南北前后大小上下新老高杨李张王刘陈赵马朱孙胡")
_VILLAGE_B = ["庄", "营", "楼", "岗", "集", "湾", "寨", "店", "桥", "河", "洼", "坡", "沟", "园", "岭", "堂", "屯", "铺"]


def demo_townships() -> pd.DataFrame:
    table = pd.read_csv(files("chouyang").joinpath("data", "dengzhou_townships.csv"), dtype=str)
    extra = pd.DataFrame([{"township_code": XINGSHAN[0], "township_name": XINGSHAN[1]}])
    return pd.concat([table, extra], ignore_index=True)


def _rng(seed: str, part: str) -> np.random.Generator:
    digest = hashlib.sha256(f"chouyang-demo|{seed}|{part}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _name(rng: np.random.Generator, female: bool) -> str:
    given = _GIVEN_F if female else _GIVEN_M
    n = 1 + int(rng.random() < 0.7)
    return str(rng.choice(_SURNAMES)) + "".join(str(rng.choice(given)) for _ in range(n))


def _person_id(rng: np.random.Generator, birth: dt.date, female: bool, taken: set[str]) -> str:
    while True:
        seq = int(rng.integers(0, 500)) * 2 + (0 if female else 1)
        body = f"{COUNTY_REGION}{birth:%Y%m%d}{seq:03d}"
        pid = body + id_check_digit(body)
        if pid not in taken:
            taken.add(pid)
            return pid


def _date_between(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def make_frame(seed: str) -> pd.DataFrame:
    rng = _rng(seed, "frame")
    rows = []
    for t in demo_townships().itertuples():
        street = t.township_name.endswith("街道")
        n = int(rng.integers(4, 9)) if t.township_code == XINGSHAN[0] else int(rng.integers(8, 19))
        names: set[str] = set()
        for i in range(n):
            while True:
                base = str(rng.choice(_VILLAGE_A)) + str(rng.choice(_VILLAGE_B))
                name = base + ("社区" if street else "村")
                if name not in names:
                    names.add(name)
                    break
            wcba = int(rng.integers(20, 151))
            households = int(wcba * rng.uniform(1.5, 2.2))
            rows.append({"township_code": t.township_code, "township_name": t.township_name,
                         "unit_code": f"{t.township_code}{200 + i:03d}", "unit_name": name,
                         "households": households, "population": int(households * rng.uniform(3.2, 4.0)),
                         "wcba": wcba, "exclude": 0, "exclude_reason": ""})
    frame = pd.DataFrame(rows)
    big = frame.groupby("township_code").unit_code.transform("size") >= 15
    flagged = frame[big].groupby("township_code").head(1).index[::3]
    frame.loc[flagged, "exclude"] = 1
    frame.loc[flagged, "exclude_reason"] = "村庄撤并，已并入邻村"
    return frame


def make_register(frame: pd.DataFrame, seed: str, start: dt.date, end: dt.date) -> dict[str, pd.DataFrame]:
    rng = _rng(seed, "register")
    taken: set[str] = set()
    women, births, procedures, benefits = [], [], [], []
    for unit in frame.itertuples():
        n_households = max(1, int(unit.wcba * 0.8))
        for _ in range(unit.wcba):
            birth = _date_between(rng, dt.date(start.year - 49, 7, 1), dt.date(end.year - 15, 6, 30))
            age = (end - birth).days // 365
            pid = _person_id(rng, birth, True, taken)
            married = age >= 21 and rng.random() < 0.85
            marital = (str(rng.choice(["初婚", "再婚", "离婚", "丧偶"], p=[0.9, 0.05, 0.03, 0.02]))
                       if married else "未婚")
            method, method_date = "无", ""
            if marital in ("初婚", "再婚"):
                method = str(rng.choice(["上环", "结扎", "皮埋", "药具", "无"], p=[0.45, 0.2, 0.03, 0.12, 0.2]))
                if method != "无":
                    recent = rng.random() < 0.15
                    d = (_date_between(rng, start, end) if recent else
                         _date_between(rng, dt.date(max(birth.year + 20, start.year - 15), 1, 1),
                                       start - dt.timedelta(days=1)))
                    method_date = d.isoformat()
                    if recent and method in ("上环", "结扎"):
                        procedures.append({"person_id": pid, "type": method, "date": method_date,
                                           "unit_code": unit.unit_code})
            name = _name(rng, True)
            women.append({"person_id": pid, "name": name, "birth_date": birth.isoformat(),
                          "unit_code": unit.unit_code,
                          "household_no": f"{unit.unit_code[-6:]}{int(rng.integers(1, n_households + 1)):04d}",
                          "marital_status": marital, "contraception": method,
                          "contraception_date": method_date})
            if marital in ("初婚", "再婚") and 20 <= age <= 42 and rng.random() < 0.09:
                parity = int(rng.choice([1, 2, 3, 4], p=[0.5, 0.42, 0.07, 0.01]))
                inside = rng.random() < 0.88
                bdate = (_date_between(rng, start, end) if inside else
                         _date_between(rng, start - dt.timedelta(days=365), start - dt.timedelta(days=1)))
                female = rng.random() < 1 / 2.12
                births.append({"mother_id": pid, "child_name": name[0] + _name(rng, female)[1:],
                               "sex": "女" if female else "男", "birth_date": bdate.isoformat(),
                               "parity": parity, "policy": "政策内" if parity <= 2 else "政策外",
                               "unit_code": unit.unit_code, "mother_name": name})
            if marital in ("初婚", "再婚") and rng.random() < 0.01:
                procedures.append({"person_id": pid, "type": str(rng.choice(["取环", "补救措施"])),
                                   "date": _date_between(rng, start, end).isoformat(),
                                   "unit_code": unit.unit_code})
            if age >= 40 and rng.random() < 0.05:
                benefits.append({"person_id": pid, "program": str(rng.choice(["奖励扶助", "特别扶助", "孕前优生健康检查"])),
                                 "amount": 960, "unit_code": unit.unit_code})
    births_df = pd.DataFrame(births)
    births_df.insert(0, "birth_id", [f"B{i:07d}" for i in range(1, len(births_df) + 1)])
    proc_df = pd.DataFrame(procedures)
    proc_df.insert(0, "procedure_id", [f"P{i:07d}" for i in range(1, len(proc_df) + 1)])
    ben_df = pd.DataFrame(benefits)
    ben_df.insert(0, "benefit_id", [f"Z{i:07d}" for i in range(1, len(ben_df) + 1)])
    return {"women": pd.DataFrame(women), "births": births_df.drop(columns="mother_name"),
            "procedures": proc_df, "benefits": ben_df, "_mother_names": births_df[["birth_id", "mother_name"]],
            "_taken_ids": taken}


def _witnesses(rng: np.random.Generator) -> tuple[int, str]:
    """Most planted errors are confirmed (3+ witnesses, verified); some are not."""
    w = int(rng.choice([0, 1, 2, 3, 4, 5, 6], p=[0.05, 0.08, 0.12, 0.35, 0.2, 0.12, 0.08]))
    return w, "是" if rng.random() < 0.88 else "否"


def make_truth(frame: pd.DataFrame, register: dict, seed: str, start: dt.date,
               end: dt.date) -> dict[str, pd.DataFrame]:
    """What a team would find in each unit, keyed by register ids (never shown to the tool)."""
    rng = _rng(seed, "truth")
    out: dict[str, list] = {k: [] for k in ("women_check", "births_check", "procedures_check",
                                            "benefits_check", "missed_births", "missed_women")}

    def error_fields() -> dict:
        w, v = _witnesses(rng)
        return {"witnesses": w, "verified": v}

    for w in register["women"].itertuples():
        r = rng.random()
        result = "查无此人" if r < 0.015 else "迁出" if r < 0.03 else "死亡" if r < 0.033 else "属实"
        actual = w.contraception
        if result == "属实" and rng.random() < 0.02:
            actual = str(rng.choice(["上环", "结扎", "药具", "无"]))
        row = {"person_id": w.person_id, "unit_code": w.unit_code, "result": result,
               "actual_contraception": actual if result == "属实" else "", "witnesses": "", "verified": ""}
        if result == "查无此人":
            row.update(error_fields())
        out["women_check"].append(row)
    births = register["births"]
    period = births.birth_date.map(lambda d: start.isoformat() <= d <= end.isoformat())
    for b in births[period].itertuples():
        r = rng.random()
        row = {"birth_id": b.birth_id, "unit_code": b.unit_code, "result": "属实", "true_sex": "",
               "true_birth_date": "", "true_parity": "", "witnesses": "", "verified": ""}
        if r < 0.03:
            row.update(result="虚报", **error_fields())
        elif r < 0.07:
            row.update(result="错报", **error_fields())
            if rng.random() < 0.5:
                row["true_sex"] = "女" if b.sex == "男" else "男"
            else:
                row["true_parity"] = int(b.parity) + 1
        out["births_check"].append(row)
    procs = register["procedures"]
    period = procs.date.map(lambda d: start.isoformat() <= d <= end.isoformat())
    for p in procs[period].itertuples():
        r = rng.random()
        row = {"procedure_id": p.procedure_id, "unit_code": p.unit_code, "result": "属实", "true_type": "",
               "witnesses": "", "verified": ""}
        if r < 0.04:
            row.update(result="虚报", **error_fields())
        elif r < 0.06:
            row.update(result="错报", true_type="取环" if p.type == "上环" else "上环", **error_fields())
        out["procedures_check"].append(row)
    for z in register["benefits"].itertuples():
        r = rng.random()
        row = {"benefit_id": z.benefit_id, "unit_code": z.unit_code, "result": "属实", "witnesses": "",
               "verified": ""}
        if r < 0.04:
            row.update(result=str(rng.choice(["资格不符", "发放不符"])), **error_fields())
        out["benefits_check"].append(row)
    women = register["women"]
    married = women[women.marital_status.isin(["初婚", "再婚"])]
    taken = register["_taken_ids"]
    for unit in frame.itertuples():
        for _ in range(int(rng.poisson(0.45))):
            mothers = married[married.unit_code == unit.unit_code]
            female = rng.random() < 1 / 2.12
            row = {"unit_code": unit.unit_code, "mother_id": "", "mother_name": "",
                   "child_name": "", "sex": "女" if female else "男",
                   "birth_date": _date_between(rng, start, end).isoformat(),
                   "parity": int(rng.choice([1, 2, 3], p=[0.45, 0.45, 0.1])), "policy": "政策内",
                   **error_fields()}
            if not mothers.empty and rng.random() < 0.8:
                m = mothers.iloc[int(rng.integers(0, len(mothers)))]
                row.update(mother_id=m.person_id, mother_name=m["name"])
            else:
                row["mother_name"] = _name(rng, True)
            row["child_name"] = row["mother_name"][0] + _name(rng, female)[1:]
            if row["parity"] >= 3:
                row["policy"] = "政策外"
            out["missed_births"].append(row)
        for _ in range(int(rng.poisson(0.35))):
            birth = _date_between(rng, dt.date(start.year - 45, 1, 1), dt.date(end.year - 20, 1, 1))
            out["missed_women"].append({
                "unit_code": unit.unit_code, "person_id": _person_id(rng, birth, True, taken),
                "name": _name(rng, True), "birth_date": birth.isoformat(),
                "marital_status": "初婚", "contraception": str(rng.choice(["上环", "药具", "无"])),
                **error_fields()})
    return {k: pd.DataFrame(v) for k, v in out.items()}


def make_teams(frame: pd.DataFrame, seed: str, n_teams: int = 14, size: int = 6) -> pd.DataFrame:
    rng = _rng(seed, "teams")
    codes = sorted(frame.township_code.unique())
    rows = []
    for i in range(1, n_teams + 1):
        people = [_name(rng, rng.random() < 0.4) for _ in range(size)]
        homes = sorted({str(rng.choice(codes)) for _ in range(int(rng.choice([0, 1, 2], p=[0.3, 0.5, 0.2])))})
        rows.append({"team_id": f"{i:02d}", "leader": people[0], "members": ";".join(people[1:]),
                     "home_townships": ";".join(homes)})
    return pd.DataFrame(rows)


def write_county(out: Path, seed: str, start: dt.date, end: dt.date) -> dict[str, Path]:
    """Write frame.csv, teams.csv, register/ and truth/ under `out`; returns their paths."""
    out = Path(out)
    (out / "register").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    frame = make_frame(seed)
    register = make_register(frame, seed, start, end)
    truth = make_truth(frame, register, seed, start, end)
    frame.to_csv(out / "frame.csv", index=False, encoding="utf-8")
    make_teams(frame, seed).to_csv(out / "teams.csv", index=False, encoding="utf-8")
    for stem in ("women", "births", "procedures", "benefits"):
        register[stem].to_csv(out / "register" / f"{stem}.csv", index=False, encoding="utf-8")
    for key, table in truth.items():
        table.to_csv(out / "truth" / f"{key}.csv", index=False, encoding="utf-8")
    return {"frame": out / "frame.csv", "teams": out / "teams.csv", "register": out / "register",
            "truth": out / "truth"}


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
    rng = _rng(seed, "scans")
    font = full_font()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for unit in primary.unit_code:
        if units is not None and unit not in units:
            continue
        cl = checklists[unit]
        answers = {}
        for sheet in vocab.CHECK_SHEETS:
            table = cl.sections.get(sheet)
            for reg in ([] if table is None else table.to_dict("records")):
                values = _check_row_values(sheet, reg, by_key[sheet].loc[reg[REGISTER_KEY[sheet]]])
                answers[(sheet, reg["ref"])] = {k: _paper_answer(k, v) for k, v in values.items()}
        for sheet in vocab.MISSED_SHEETS:
            rows = truth[sheet][truth[sheet].unit_code == unit].to_dict("records")
            for i, found in enumerate(rows, start=1):
                answers[(sheet, i)] = {k: _paper_answer(k, found[k]) for k in vocab.ENTRY_COLUMNS[sheet]
                                       if found.get(k, "") != ""}
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
