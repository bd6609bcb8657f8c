"""County estimators in repeated sampling: the demo county drawn again and again.

The demo county (frame, register and hidden field truth of `chouyang demo`'s
default seed) is drawn with the dengzhou-2016h1 preset under seeds
bench-1 ... bench-N.  Every drawn village is "entered" from the field truth
(in memory, as a clerk would type it) and the county table is computed with
`score.county_estimates` on tables in memory, once per estimator choice.
Prints:

- relative bias of corrected county births, separate vs combined ratio,
  against the county's true births (register births, less confirmed false
  ones, plus confirmed missed ones, over every village) and how often the
  county-pooled fallback was taken (a township whose drawn villages have no
  register birth);
- coverage of the 95 % Korn-Graubard intervals of a few rates, design effect
  truncated at 1 vs untruncated, against the rate over every village that can
  be drawn (what the design estimates), with the mean Taylor SE against the
  SD of the estimates over the draws;
- coverage and SE of the corrected county births (jackknife, t interval);
- every SE on a census round (every village of every township visited): 0.

Usage:  python benchmarks/estimates.py [--draws 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from chouyang import vocab
from chouyang.config.rules import COUNTY_RATIOS, KORN_GRAUBARD, Section, load_preset
from chouyang.demo import population as demo
from chouyang.inputs.readers import load_frame, load_register
from chouyang.survey import estimate as est
from chouyang.survey.cases import cases_frame, unit_cases
from chouyang.survey.check_rows import REGISTER_KEY, unit_checklists
from chouyang.survey.deductions import assign_points
from chouyang.survey.draw import draw_sample, ticket
from chouyang.survey.indicators import corrected_matrix, correction_inputs, township_register, unit_ingredients
from chouyang.survey.score import county_estimates, county_indicators

DEMO_SEED = "2016-07-25 福彩3D 2016199期 528"  # the CLI's default `chouyang demo --seed`
RATES = ("birth_omission_rate", "birth_error_rate", "woman_missing_rate", "statistical_error_rate")


def field_entries(checklists: dict, truth: dict[str, pd.DataFrame]) -> dict:
    """What a clerk types for every village from the hidden truth: unit -> sheet -> rows."""
    found = {s: {r[REGISTER_KEY[s]]: r for r in truth[s].to_dict("records")} for s in vocab.CHECK_SHEETS}
    missed = {s: truth[s].groupby("unit_code") for s in vocab.MISSED_SHEETS}
    entries = {}
    for unit, cl in checklists.items():
        sheets = {}
        for sheet in vocab.CHECK_SHEETS:
            rows = []
            for reg in cl.sections.get(sheet, pd.DataFrame(columns=["ref"])).to_dict("records"):
                f = found[sheet][reg[REGISTER_KEY[sheet]]]
                rows.append({"ref": reg["ref"], **{k: f[k] for k in vocab.ENTRY_COLUMNS[sheet] if f.get(k, "") != ""}})
            sheets[sheet] = rows
        for sheet in vocab.MISSED_SHEETS:
            rows = missed[sheet].get_group(unit).to_dict("records") if unit in missed[sheet].groups else []
            sheets[sheet] = [{k: r[k] for k in vocab.ENTRY_COLUMNS[sheet] if r.get(k, "") != ""} for r in rows]
        entries[unit] = sheets
    return entries


@dataclasses.dataclass
class County:
    frame: pd.DataFrame
    counts: pd.DataFrame       # est.unit_counts of every village
    ingredients: pd.DataFrame  # indicators.unit_ingredients of every village, with township_code
    town_reg: pd.DataFrame     # register indicators of every whole township
    true_births: float         # the county's true births (confirmed corrections, every village)
    rates: dict[str, float]    # each rate over every village that can be drawn


def demo_county(rules) -> County:
    start, end = rules.round.reference_start, rules.round.reference_end
    folder = Path(tempfile.mkdtemp(prefix="chouyang-estimates-"))
    paths = demo.write_county(folder, DEMO_SEED, start, end)
    frame = load_frame(paths["frame"]).frame
    register = load_register(paths["register"])
    truth = {k: pd.read_csv(paths["truth"] / f"{k}.csv", dtype=str, keep_default_na=False) for k in vocab.SHEETS}
    checklists = unit_checklists(register, frame.unit_code, start, end)
    entries = field_entries(checklists, truth)
    town = dict(zip(frame.unit_code, frame.township_code))
    cases = cases_frame([c for u, cl in checklists.items() for c in unit_cases(town[u], cl, entries[u], rules)])
    counts = est.unit_counts(checklists, assign_points(cases, rules))
    ingredients = unit_ingredients(checklists, entries, rules).assign(township_code=lambda t: t.unit_code.map(town))
    town_reg = township_register(register, frame, start, end)
    assert town_reg.births.sum() == ingredients.reg_births.sum()  # every register birth is in some village
    drawable = counts[counts.unit_code.isin(frame.unit_code[frame.exclude.astype(int) == 0])]
    rates = {name: est.combine(drawable, num).sum() / est.combine(drawable, den).sum()
             for name, (num, den, _) in est.RATES.items()}
    return County(frame, counts, ingredients, town_reg, float(ingredients.true_births.sum()), rates)


def quick_draw(frame: pd.DataFrame, rules, seed: str) -> pd.DataFrame:
    """The primary points of `draw.draw_sample` for an equal-probability draw, vectorised.

    The same rule (per township, the k smallest tickets among the units not
    flagged `exclude`; the demo county never runs short of them); `main`
    checks that it agrees with draw_sample on the first seeds.
    """
    k = frame.township_code.map(rules.points_for)
    eligible = frame.exclude.astype(int) == 0
    assert (eligible.groupby(frame.township_code).sum() >= k.groupby(frame.township_code).first()).all()
    pool = frame[eligible].assign(k=k[eligible], ticket=[ticket(seed, rules.round.id, u)
                                                         for u in frame.unit_code[eligible]])
    pool = pool.sort_values("ticket", kind="stable")
    size = pool.groupby("township_code").unit_code.transform("size")
    primary = pool[pool.groupby("township_code").cumcount() < pool.k]
    prob = np.minimum(primary.k, size[primary.index]) / size[primary.index]
    return primary.assign(inclusion_prob=prob, weight=1 / prob, role="primary").reset_index(drop=True)


def score_draw(county: County, primary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The county table's pieces under each choice of rules `[estimation]`, from one design.

    `score.county_estimates` is this with one choice of each; the design is built once here.
    """
    design = est.make_design(primary, list(dict.fromkeys(county.frame.township_code)), "srs")
    ingredients = county.ingredients[county.ingredients.unit_code.isin(primary.unit_code)]
    town_reg = county.town_reg[county.town_reg.index.isin(primary.township_code)]
    out = {kg: est.county_rates(county.counts, design, kg).set_index("metric") for kg in KORN_GRAUBARD}
    out |= {ratio: county_indicators(town_reg, ingredients, design, ratio).set_index("metric")
            for ratio in COUNTY_RATIOS}
    return out


def births_fallbacks(county: County, primary: pd.DataFrame) -> int:
    """Townships whose drawn villages have no register birth (their births ratio falls back to the county's)."""
    ing = county.ingredients[county.ingredients.unit_code.isin(primary.unit_code)]
    ci = correction_inputs(county.town_reg.loc[sorted(primary.township_code.unique())], ing)
    w = ing.unit_code.map(primary.set_index("unit_code").weight).to_numpy(dtype=float)
    return int(corrected_matrix(ci, w)[1][:, 0].sum())


def covered(row, truth: float) -> bool:
    return bool(row.ci_low <= truth <= row.ci_high)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000, help="repeated draws (default 1000)")
    args = parser.parse_args()
    preset = load_preset("dengzhou-2016h1")
    start = time.perf_counter()
    county = demo_county(preset)
    print(f"示范县：{len(county.frame)} 个村（居），全县真实出生 {county.true_births:g} 例"
          f"（登记 {county.town_reg.births.sum():g} 例）；准备 {time.perf_counter() - start:.1f} 秒")
    for i in range(1, min(args.draws, 3) + 1):
        slow = draw_sample(county.frame, preset, f"bench-{i}")[0].query("role == 'primary'")
        fast = quick_draw(county.frame, preset, f"bench-{i}")
        assert slow.set_index("unit_code").weight.sort_index().equals(fast.set_index("unit_code").weight.sort_index())

    start = time.perf_counter()
    births = {ratio: [] for ratio in COUNTY_RATIOS}        # (estimate, se, covered) per draw
    rates = {r: [] for r in RATES}                          # (estimate, se) per draw
    cover = {(r, kg): 0 for r in RATES for kg in KORN_GRAUBARD}
    fallbacks = []
    for i in range(1, args.draws + 1):
        primary = quick_draw(county.frame, preset, f"bench-{i}")
        fallbacks.append(births_fallbacks(county, primary))
        tables = score_draw(county, primary)
        for ratio in COUNTY_RATIOS:
            row = tables[ratio].loc["corrected_births"]
            births[ratio].append((row.estimate, row.se, covered(row, county.true_births)))
        for r in RATES:
            for kg in KORN_GRAUBARD:
                cover[(r, kg)] += covered(tables[kg].loc[r], county.rates[r])
            rates[r].append((tables["truncated"].at[r, "estimate"], tables["truncated"].at[r, "se"]))
    n = args.draws
    elapsed = time.perf_counter() - start
    print(f"{n} 次重复抽样（种子 bench-1 … bench-{n}），用时 {elapsed:.1f} 秒（每次 {elapsed / n:.3f} 秒）")
    print()
    print(f"修正后全县出生数（真实值 {county.true_births:g}）：")
    for ratio, label in (("separate", "分别比率（各乡镇比率之和）"), ("combined", "合并比率（全县比率）")):
        values, se, hit = (np.array(v, dtype=float) for v in zip(*births[ratio]))
        print(f"  {label}：相对偏差 {100 * (values.mean() / county.true_births - 1):+.2f}%，"
              f"刀切法平均 SE {se.mean():.1f}，估计值标准差 {values.std(ddof=1):.1f}，"
              f"95% 区间覆盖率 {100 * hit.mean():.1f}%")
    fallbacks = np.array(fallbacks)
    print(f"  分别比率中至少一个乡镇的出生比率改用全县合并比率：{100 * (fallbacks > 0).mean():.1f}% 的抽样"
          f"（平均每次 {fallbacks.mean():.2f} 个乡镇）")
    print()
    print("全县误差率 Korn-Graubard 95% 区间覆盖率（真值：可抽单位全部调查时的比率）：")
    for r in RATES:
        values, se = (np.array(v, dtype=float) for v in zip(*rates[r]))
        print(f"  {r:24s} 真值 {100 * county.rates[r]:6.3f}%：截断 {100 * cover[(r, 'truncated')] / n:.1f}%，"
              f"不截断 {100 * cover[(r, 'untruncated')] / n:.1f}%；泰勒平均 SE {100 * se.mean():.3f}%，"
              f"估计值标准差 {100 * values.std(ddof=1):.3f}%")
    print()
    census_rules = dataclasses.replace(preset, sampling=Section({**preset.sampling.values,
                                                                 "points_per_township": len(county.frame),
                                                                 "overrides": {}}))
    census = draw_sample(county.frame, census_rules, "census")[0].query("role == 'primary'")
    order = list(dict.fromkeys(county.frame.township_code))
    table = county_estimates(county.counts, county.ingredients, county.town_reg, census, order, preset)
    table = table.set_index("metric")
    births_row = table.loc["corrected_births"]
    widths = (table.ci_high - table.ci_low).loc[list(est.RATES) + ["corrected_births"]]
    print(f"全查（{len(census)} 个村全部入样）：修正出生数 {births_row.estimate:g}（真实值 {county.true_births:g}），"
          f"刀切法 SE {births_row.se:g}；误差率泰勒 SE 最大 {table.loc[list(est.RATES), 'se'].max():g}；"
          f"区间宽度最大 {widths.max():g}")


if __name__ == "__main__":
    main()
