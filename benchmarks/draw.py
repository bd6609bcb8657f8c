"""Draw and verify time for a large frame: 50,000 units in 12,500 townships (issue 14, target < 1 s each).

The frame has 4 units per township with sizes 0..300, 2 % of units excluded and 10 % drawn in
the previous round.  `draw` is `draw_sample`; `verify` is what `steps.verify` does to the sample:
`draw_sample` + `apply_replacements` (10 replacements) + `sample_csv_bytes` compared with the stored
bytes.  With `--round`, the whole `steps.verify` on a round folder is timed too (it also reads and
validates frame.csv and hashes the inputs).  Figures are medians of `--runs` runs.

Usage:  python benchmarks/draw.py [--townships 12500] [--units 4] [--runs 5] [--round]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chouyang import steps
from chouyang.config.rules import parse_rules, round_rules_text
from chouyang.survey.draw import apply_replacements, draw_sample, sample_csv_bytes

SEED = "2016-07-25 福彩3D 2016199期 528"


def big_frame(n_towns: int, per_town: int, rng: np.random.Generator) -> tuple[pd.DataFrame, set[str]]:
    towns = np.array([f"{100000000 + i:09d}" for i in range(n_towns)])
    township = np.repeat(towns, per_town)
    units = np.array([f"{t}{200 + j:03d}" for t in towns for j in range(per_town)])
    wcba = rng.integers(0, 301, len(units))
    exclude = (rng.random(len(units)) < 0.02).astype(int)
    frame = pd.DataFrame({"township_code": township, "township_name": [f"乡{t[-5:]}" for t in township],
                          "unit_code": units, "unit_name": [f"村{u[-5:]}" for u in units],
                          "households": 2 * wcba, "population": 7 * wcba, "wcba": wcba,
                          "exclude": exclude, "exclude_reason": np.where(exclude == 1, "村庄撤并", "")})
    previous = set(units[rng.random(len(units)) < 0.10])
    return frame, previous


def rules_for(method: str):
    text = re.sub(r"^method = .*$", f'method = "{method}"', round_rules_text("dengzhou-2016h1", "2016H1"), flags=re.M)
    return parse_rules(text, "benchmark")


def replacements(sample: pd.DataFrame, n: int) -> list[dict]:
    first = lambda role: sample[sample.role == role].groupby("township_code", sort=True).unit_code.first()
    primary, reserve = first("primary"), first("reserve")
    towns = sorted(set(primary.index) & set(reserve.index))[:n]
    return [{"unit_code": primary[t], "replacement": reserve[t], "reason": "道路中断"} for t in towns]


def median_time(fn, runs: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of `runs` calls (CPU time is less disturbed by other load)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def bench_method(frame: pd.DataFrame, previous: set[str], method: str, runs: int) -> None:
    rules = rules_for(method)
    sample, _ = draw_sample(frame, rules, SEED, previous)
    reps = replacements(sample, 10)
    stored = sample_csv_bytes(apply_replacements(sample, reps))

    def verify() -> None:
        again, _ = draw_sample(frame, rules, SEED, previous)
        assert sample_csv_bytes(apply_replacements(again, reps)) == stored

    draw_s = median_time(lambda: draw_sample(frame, rules, SEED, previous), runs)
    verify_s = median_time(verify, runs)
    print(f"{method}: draw {draw_s[0]:.3f} s (cpu {draw_s[1]:.3f} s), verify {verify_s[0]:.3f} s "
          f"(cpu {verify_s[1]:.3f} s); {int((sample.role == 'primary').sum()):,} primary, "
          f"{int((sample.role == 'reserve').sum()):,} reserve")


def bench_round(frame: pd.DataFrame, runs: int) -> None:
    """steps.verify on a round folder (srs): reads frame.csv, checks fingerprints, re-derives the sample."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame.to_csv(tmp / "frame.csv", index=False)
        (tmp / "teams.csv").write_text("team_id,leader,members,home_townships\n01,张伟,王芳,\n", encoding="utf-8")
        reg = tmp / "register"
        reg.mkdir()
        unit = frame.unit_code.iloc[0]
        (reg / "women.csv").write_text("person_id,name,birth_date,unit_code,household_no,marital_status,"
                                       "contraception,contraception_date\n"
                                       f"41138119880304002X,王秀英,1988-03-04,{unit},0001,初婚,无,\n", encoding="utf-8")
        (reg / "births.csv").write_text("birth_id,mother_id,child_name,sex,birth_date,parity,policy,unit_code\n",
                                        encoding="utf-8")
        (reg / "procedures.csv").write_text("procedure_id,person_id,type,date,unit_code\n", encoding="utf-8")
        start = time.perf_counter()
        rnd = steps.init(tmp / "R2016", "dengzhou-2016h1", tmp / "frame.csv", tmp / "teams.csv", reg,
                         round_id="2016H1", name="基准测试县2016年上半年").round
        init_s = time.perf_counter() - start
        start = time.perf_counter()
        steps.draw(rnd, SEED)
        draw_s = time.perf_counter() - start
        sample = rnd.sample()
        for rep in replacements(sample, 3):
            steps.replace(rnd, rep["unit_code"], rep["reason"])
        verify_s = median_time(lambda: steps.verify(rnd), runs)[0]
        assert steps.verify(rnd).ok
        print(f"round (srs): init {init_s:.2f} s, steps.draw {draw_s:.2f} s, steps.verify {verify_s:.2f} s "
              f"(reading and validating frame.csv included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--townships", type=int, default=12_500)
    parser.add_argument("--units", type=int, default=4, help="units per township")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round", action="store_true", help="also time steps.verify on a round folder")
    args = parser.parse_args()
    frame, previous = big_frame(args.townships, args.units, np.random.default_rng(14))
    print(f"frame: {len(frame):,} units in {args.townships:,} townships; median of {args.runs} runs")
    for method in ("srs", "pps"):
        bench_method(frame, previous, method, args.runs)
    if args.round:
        bench_round(frame, args.runs)


if __name__ == "__main__":
    main()
