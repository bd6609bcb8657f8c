"""Scoring throughput: time and peak memory for the demo county and a synthetic province.

The province has 2,000 townships of 4 villages each (8,000 villages, 320,000
register women); 2 villages per township are drawn (4,000 sample points) and
their entries carry random planted errors.  Target: scoring under 30 s.

Usage:  python benchmarks/score.py [--townships 2000] [--demo DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chouyang.config.rules import load_preset
from chouyang.inputs.readers import Register
from chouyang.round.folder import Round
from chouyang.steps import score_round
from chouyang.survey.cases import unit_cases
from chouyang.survey.check_rows import unit_checklists
from chouyang.survey.draw import draw_sample
from chouyang.survey.score import score_data


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def province(n_towns: int, rng: np.random.Generator):
    towns = [f"{100000000 + i:09d}" for i in range(n_towns)]
    units = [f"{t}{200 + j:03d}" for t in towns for j in range(4)]
    frame = pd.DataFrame({"township_code": np.repeat(towns, 4), "township_name": [f"乡{i}" for i in np.repeat(
        range(n_towns), 4)], "unit_code": units, "unit_name": [f"村{u[-3:]}" for u in units],
        "households": 60, "population": 200, "wcba": 40, "exclude": 0, "exclude_reason": ""})
    n_w = len(units) * 40
    women = pd.DataFrame({
        "person_id": [f"P{i:017d}" for i in range(n_w)], "name": "王芳",
        "birth_date": dt.date(1985, 1, 1), "unit_code": np.repeat(units, 40),
        "household_no": [f"{i % 40:04d}" for i in range(n_w)],
        "marital_status": rng.choice(["初婚", "未婚"], n_w, p=[0.8, 0.2]),
        "contraception": rng.choice(["上环", "结扎", "药具", "无"], n_w), "contraception_date": None})
    n_b = len(units) * 3
    births = pd.DataFrame({
        "birth_id": [f"B{i:08d}" for i in range(n_b)], "mother_id": women.person_id.to_numpy()[::40 // 3][:n_b],
        "child_name": "王小", "sex": rng.choice(["男", "女"], n_b), "birth_date": dt.date(2016, 1, 1),
        "parity": rng.choice([1, 2, 3], n_b, p=[0.5, 0.4, 0.1]), "policy": "政策内",
        "unit_code": np.repeat(units, 3)})
    n_p = len(units) * 4
    procs = pd.DataFrame({
        "procedure_id": [f"S{i:08d}" for i in range(n_p)], "person_id": women.person_id.to_numpy()[::10][:n_p],
        "type": rng.choice(["上环", "结扎", "补救措施"], n_p), "date": dt.date(2016, 1, 1),
        "unit_code": np.repeat(units, 4)})
    return frame, Register(women, births, procs, None, {}, [])


def entries_for(checklists, rng):
    out = {}
    for unit, cl in checklists.items():
        e = {}
        for sheet, results in (("women_check", ["属实", "查无此人"]), ("births_check", ["属实", "虚报", "错报"]),
                               ("procedures_check", ["属实", "虚报"])):
            rows = []
            for ref in cl.sections[sheet].ref:
                r = rng.choice(results, p=[0.95] + [0.05 / (len(results) - 1)] * (len(results) - 1))
                row = {"ref": ref, "result": r, "note": ""}
                if r != "属实":
                    row.update(witnesses=str(rng.integers(0, 7)), verified="是")
                if r == "错报":
                    row["true_parity"] = "4"
                rows.append(row)
            e[sheet] = rows
        e["missed_births"] = [{"sex": "男", "parity": "1", "policy": "政策内", "witnesses": "3", "verified": "是"}
                              for _ in range(rng.poisson(0.3))]
        out[unit] = e
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--townships", type=int, default=2000)
    parser.add_argument("--demo", type=Path, default=None, help="a finished `chouyang demo` output folder")
    args = parser.parse_args()
    rules = load_preset("per-type-cap15")
    if args.demo is None:
        from chouyang.cli import main as cli

        args.demo = Path(tempfile.mkdtemp(prefix="chouyang-bench-")) / "demo"
        cli(["demo", str(args.demo)])
    start = time.perf_counter()
    score_round(Round.open(args.demo / "round"))
    print(f"[示范县] 计分（含读取全员信息）：{time.perf_counter() - start:.1f} 秒，峰值内存 {peak_mb():.0f} MB")

    rng = np.random.default_rng(1)
    frame, register = province(args.townships, rng)
    sample, _ = draw_sample(frame, rules, "benchmark")
    primary = sample[sample.role == "primary"]
    checklists = unit_checklists(register, primary.unit_code, rules.round.reference_start, rules.round.reference_end)
    entries = entries_for(checklists, rng)
    town = dict(zip(primary.unit_code, primary.township_code))
    cases = pd.DataFrame([c for u, e in entries.items() for c in unit_cases(town[u], checklists[u], e, rules)])
    print(f"[省级模拟] {args.townships} 个乡镇，{len(primary)} 个样本点，{len(register.women)} 名在册妇女，"
          f"{len(cases)} 个误差个案")
    start = time.perf_counter()
    result = score_data(rules, frame, sample, register, entries, cases)
    elapsed = time.perf_counter() - start
    print(f"[省级模拟] 计分：{elapsed:.1f} 秒（目标 < 30 秒），峰值内存 {peak_mb():.0f} MB；"
          f"全县出生漏报率 {result.county.set_index('metric').at['birth_omission_rate', 'estimate']:.4f}")


if __name__ == "__main__":
    main()
