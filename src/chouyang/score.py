"""Scoring (SPEC §3.3-§3.6), pure: cases -> deductions, rates, corrected indicators, county estimates, ranking.

The score step (steps.py) loads the round and writes the report (report.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from . import estimate as est
from .checklist import unit_checklists
from .deductions import assign_points, township_deductions
from .feedback import WITHDRAWN, with_default_status
from .indicators import (
    RATIOS,
    corrected_matrix,
    corrected_totals,
    correction_inputs,
    indicator_rates,
    township_register,
    unit_ingredients,
)

TOWNSHIP_COLUMNS = [
    "township_code", "township_name", "points", "cases_confirmed", "cases_pending", "deduction_raw", "deduction",
    "birth_omission_rate", "birth_false_rate", "birth_wrong_rate", "birth_error_rate", "woman_missing_rate",
    "iud_false_rate", "sterilisation_false_rate", "remedial_false_rate", "statistical_error_rate",
    "register_births", "corrected_births", "compliance_rate", "corrected_compliance_rate", "sex_ratio",
    "corrected_sex_ratio", "longacting_rate", "corrected_longacting_rate", "rank"]
CASE_OUTPUT_COLUMNS = ["township_code", "unit_code", "kind", "ref", "parity", "procedure_type", "witnesses",
                       "verified", "confirmed", "rule", "points", "status", "status_note"]
CONDITIONAL = "Clopper-Pearson 精确区间，仅以被抽中的样本点为条件（不代表全乡镇的抽样误差）"


@dataclass
class ScoreResult:
    cases: pd.DataFrame
    townships: pd.DataFrame
    county: pd.DataFrame
    township_intervals: pd.DataFrame
    unit_counts: pd.DataFrame
    missing_units: list[str]


def score_data(rules, frame, sample, register, entries, cases) -> ScoreResult:
    """Pure scoring from tables; the score step feeds it from a round folder."""
    primary = sample[sample.role == "primary"].reset_index(drop=True)
    scored = [u for u in primary.unit_code if u in entries]
    missing = [u for u in primary.unit_code if u not in entries]
    primary = primary[primary.unit_code.isin(scored)].reset_index(drop=True)
    checklists = unit_checklists(register, primary.unit_code, rules.round.reference_start, rules.round.reference_end)
    cases = assign_points(with_default_status(cases), rules)
    counts = est.unit_counts(checklists, cases)
    counts = counts.merge(primary[["unit_code", "township_code"]], on="unit_code")

    towns = frame.drop_duplicates("township_code")[["township_code", "township_name"]]
    towns = towns[towns.township_code.isin(primary.township_code)].reset_index(drop=True)
    table = towns.copy()
    table["points"] = table.township_code.map(primary.groupby("township_code").size()).astype(int)
    conf = cases.assign(pending=(cases.confirmed == 0) & (cases.status != WITHDRAWN)).groupby("township_code")
    table["cases_confirmed"] = table.township_code.map(conf.confirmed.sum()).fillna(0).astype(int)
    table["cases_pending"] = table.township_code.map(conf.pending.sum()).fillna(0).astype(int)
    ded = township_deductions(cases[cases.confirmed == 1], list(table.township_code), rules)
    table = table.merge(ded, on="township_code")
    sums = counts.groupby("township_code")[est.COUNT_COLUMNS].sum()
    intervals = []
    for name, (num, den, _) in est.RATES.items():
        x, n = est.combine(sums, num), est.combine(sums, den)
        values = np.divide(x, n, out=np.full(len(x), np.nan), where=n > 0)
        table[name] = table.township_code.map(pd.Series(values, index=sums.index))
        low, high = est.clopper_pearson_arrays(x, n)
        intervals.append(pd.DataFrame({"township_code": sums.index, "metric": name, "estimate": values,
                                       "ci_low": low, "ci_high": high, "numerator": x, "denominator": n,
                                       "method": CONDITIONAL}))
    intervals = pd.concat(intervals, ignore_index=True)

    # corrected indicators
    ingredients = unit_ingredients(checklists, entries, rules).merge(primary[["unit_code", "township_code"]],
                                                                     on="unit_code")
    town_reg = township_register(register, frame, rules.round.reference_start, rules.round.reference_end)
    town_reg = town_reg.loc[list(table.township_code)]
    weights = primary.set_index("unit_code").weight
    corrected, flags = corrected_totals(town_reg, ingredients, weights)
    reg_rates, cor_rates = indicator_rates(town_reg), indicator_rates(corrected)
    idx = table.township_code
    table["register_births"] = idx.map(reg_rates.births).to_numpy()
    table["corrected_births"] = idx.map(cor_rates.births).to_numpy()
    for col in ("compliance_rate", "sex_ratio", "longacting_rate"):
        table[col] = idx.map(reg_rates[col]).to_numpy()
        table[f"corrected_{col}"] = idx.map(cor_rates[col]).to_numpy()
    table["correction_note"] = idx.map(
        lambda c: ("以下比率样本中无数据，改用全县合并比率：" + "、".join(flags[c])) if c in flags else "")
    table = rank_townships(table, rules)

    # county
    design = est.make_design(primary, list(towns.township_code), rules.sampling.method)
    county = est.county_rates(counts, design)
    county = pd.concat([county, county_indicators(town_reg, ingredients, design)], ignore_index=True)
    return ScoreResult(cases[CASE_OUTPUT_COLUMNS], table, county, intervals, counts, missing)


def county_indicators(town_reg, ingredients, design) -> pd.DataFrame:
    """County corrected indicators, recomputed inside every jackknife replicate (no delta formulas)."""
    t = stats.t.ppf(0.975, max(design.df, 1))
    reg = indicator_rates(town_reg.sum().to_frame().T)
    rows = []
    for col, label in (("births", "register_births"), ("compliance_rate", "compliance_rate"),
                       ("sex_ratio", "sex_ratio"), ("longacting_rate", "longacting_rate")):
        rows.append({"metric": label, "estimate": float(reg[col].iloc[0]), "ci_low": float("nan"),
                     "ci_high": float("nan"), "se": float("nan"), "method": "全员数据（未修正）"})
    ci = correction_inputs(town_reg, ingredients)
    keys = list(RATIOS)

    def metrics(w: np.ndarray) -> np.ndarray:
        total = corrected_matrix(ci, w)[0].sum(0)
        births, comp, male, female, married, la = (total[keys.index(k)] for k in
                                                   ("births", "comp", "male", "female", "married", "la"))
        div = lambda a, b: a / b if b else np.nan  # noqa: E731
        return np.array([births, div(comp, births), 100 * div(male, female), div(la, married)])

    position = {u: i for i, u in enumerate(ci.units)}
    order = np.array([position[u] for u in design.units.unit_code])
    base = np.zeros(len(ci.units))
    base[order] = design.units.weight.to_numpy(dtype=float)
    full, var = metrics(base), np.zeros(4)
    for n, weights in est.jackknife_replicates(design):
        w = np.zeros(len(ci.units))
        w[order] = weights
        var += (n - 1) / n * (metrics(w) - full) ** 2
    se = np.sqrt(var)
    method = (f"各乡镇按本乡镇样本比率修正后合计；分层删一 PSU 刀切法（JKn），每个重复样本内重新计算修正；"
              f"t 分布 95% 区间，自由度 {design.df}")
    for i, col in enumerate(("births", "compliance_rate", "sex_ratio", "longacting_rate")):
        rows.append({"metric": f"corrected_{col}", "estimate": full[i], "ci_low": full[i] - t * se[i],
                     "ci_high": full[i] + t * se[i], "se": se[i], "method": method})
    return pd.DataFrame(rows)


def rank_townships(table: pd.DataFrame, rules) -> pd.DataFrame:
    """Rank 1 = best: ascending by each `ranking.order` key (empty values last); flags when configured."""
    keys = list(rules.ranking.order)
    order = table.sort_values(keys, na_position="last", kind="stable")
    key_tuples = [tuple(-1 if pd.isna(v) else 0 for v in r) + tuple(0 if pd.isna(v) else v for v in r)
                  for r in order[keys].itertuples(index=False)]
    ranks, previous = [], None
    for i, k in enumerate(key_tuples, start=1):
        ranks.append(ranks[-1] if k == previous else i)
        previous = k
    order = order.assign(rank=ranks)
    flags = [""] * len(order)
    n = len(order)
    for i in range(min(rules.ranking.top_n, n)):
        flags[i] = "先进"
    for i in range(max(n - rules.ranking.bottom_n, 0), n):
        flags[i] = "重点管理"
    order["flag"] = flags
    return order.sort_values("township_code").reset_index(drop=True)


def county_summary_line(result: ScoreResult) -> str:
    row = result.county.set_index("metric").loc["birth_omission_rate"]
    return (f"全县出生漏报率 {100 * row.estimate:.2f}%（95% 置信区间 {100 * row.ci_low:.2f}%–"
            f"{100 * row.ci_high:.2f}%）")
