"""Scoring (SPEC §3.3-§3.6), pure: cases -> deductions, rates, corrected indicators, county estimates, ranking.

The score step (steps.py) loads the round and writes the report (report.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from chouyang.config.rules import COUNTY_RATIOS
from chouyang.survey import estimate as est
from chouyang.survey.check_rows import unit_checklists
from chouyang.survey.deductions import assign_points, township_deductions
from chouyang.survey.feedback import WITHDRAWN, with_default_status
from chouyang.survey.indicators import (
    RATIOS,
    corrected_totals,
    correction_inputs,
    county_corrected,
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
WARNING_COLUMNS = ["unit_code", "sheet", "row", "column", "value", "message"]
CONDITIONAL = "Clopper-Pearson 精确区间，仅以被抽中的样本点为条件（不代表全乡镇的抽样误差）"


@dataclass
class ScoreResult:
    cases: pd.DataFrame
    townships: pd.DataFrame
    county: pd.DataFrame
    township_intervals: pd.DataFrame
    unit_counts: pd.DataFrame
    missing_units: list[str]
    missing: pd.DataFrame = None  # the missing points with names (township_code/name, unit_code/name)
    warnings: pd.DataFrame = None  # values to verify (ID check digits): unit_code, sheet, row, column, value, message
    assessment: object = None  # the composite assessment (assessment.Assessment) when the round has a scheme
    assessment_note: str = ""  # why there is no composite assessment (nothing entered yet, …)

    @property
    def partial(self) -> bool:
        return bool(self.missing_units)

    @property
    def capped(self) -> bool:
        """Whether any township's deduction was cut by the cap (the report's footnote says so only then)."""
        t = self.townships
        return bool((t.deduction_raw > t.deduction).any())


COMPLETE, INCOMPLETE = "完成", "未完成"


def score_data(rules, frame, sample, register, entries, cases) -> ScoreResult:
    """Pure scoring from tables; the score step feeds it from a round folder."""
    planned = sample[sample.role == "primary"].reset_index(drop=True)
    scored = [u for u in planned.unit_code if u in entries]
    missing = [u for u in planned.unit_code if u not in entries]
    primary = planned[planned.unit_code.isin(scored)].reset_index(drop=True)
    checklists = unit_checklists(register, primary.unit_code, rules.round.reference_start, rules.round.reference_end)
    cases = assign_points(with_default_status(cases), rules)
    counts = est.unit_counts(checklists, cases)
    counts = counts.merge(primary[["unit_code", "township_code"]], on="unit_code")

    # every township with planned points stays in the tables; a partial one is marked 未完成
    towns = frame.drop_duplicates("township_code")[["township_code", "township_name"]]
    towns = towns[towns.township_code.isin(planned.township_code)].reset_index(drop=True)
    table = towns.copy()
    table["points"] = table.township_code.map(planned.groupby("township_code").size()).astype(int)
    table["points_entered"] = table.township_code.map(primary.groupby("township_code").size()).fillna(0).astype(int)
    table["status"] = np.where(table.points_entered == table.points, COMPLETE, INCOMPLETE)
    towns = towns[towns.township_code.isin(primary.township_code)].reset_index(drop=True)
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
    nothing = table.points_entered == 0  # no result entered: unknown, not zero
    table.loc[nothing, ["cases_confirmed", "cases_pending"]] = 0
    table.loc[nothing, ["deduction_raw", "deduction", "corrected_births", "corrected_compliance_rate",
                        "corrected_sex_ratio", "corrected_longacting_rate"]] = np.nan
    table.loc[nothing, "correction_note"] = "未录入任何样本点"
    table = rank_townships(table, rules)

    county = county_estimates(counts, ingredients, town_reg, primary, list(towns.township_code), rules)
    missing_table = planned[planned.unit_code.isin(missing)][["township_code", "township_name", "unit_code",
                                                              "unit_name"]].reset_index(drop=True)
    return ScoreResult(cases, table, county, intervals, counts, missing, missing_table,
                       pd.DataFrame(columns=WARNING_COLUMNS))


def county_estimates(counts, ingredients, town_reg, primary, frame_order, rules) -> pd.DataFrame:
    """county.csv rows: design-based rates, then register and corrected indicators (pure, tables in memory).

    `counts` and `ingredients` may hold more units than `primary`: only the primary units are used.
    `town_reg` holds the register indicators of the townships the county totals cover.
    """
    design = est.make_design(primary, frame_order, rules.sampling.method)
    rates = est.county_rates(counts, design, rules.estimation.korn_graubard)
    indicators = county_indicators(town_reg, ingredients[ingredients.unit_code.isin(primary.unit_code)], design,
                                   rules.estimation.county_ratio)
    return pd.concat([rates, indicators], ignore_index=True)


def county_indicators(town_reg, ingredients, design, ratio: str) -> pd.DataFrame:
    """County corrected indicators, recomputed inside every jackknife replicate (no delta formulas).

    `ratio` is the county estimator (rules.COUNTY_RATIOS); the jackknife applies
    each stratum's fpc, so strata taken whole, and a census, give SE 0.
    """
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
        total = county_corrected(ci, w, ratio)
        births, comp, male, female, married, la = (total[keys.index(k)] for k in
                                                   ("births", "comp", "male", "female", "married", "la"))
        div = lambda a, b: a / b if b else np.nan  # noqa: E731
        return np.array([births, div(comp, births), 100 * div(male, female), div(la, married)])

    position = {u: i for i, u in enumerate(ci.units)}
    order = np.array([position[u] for u in design.units.unit_code])
    base = np.zeros(len(ci.units))
    base[order] = design.units.weight.to_numpy(dtype=float)
    full, var = metrics(base), np.zeros(4)
    for coef, weights in est.jackknife_replicates(design):
        w = np.zeros(len(ci.units))
        w[order] = weights
        var += coef * (metrics(w) - full) ** 2
    se = np.sqrt(var)
    method = f"全县修正值：{COUNTY_RATIOS[ratio]}；各乡镇的修正值用本乡镇样本比率；"
    if design.census:
        method += "全部样本单位均为必然入样（全查），无抽样误差，区间即估计值"
    else:
        method += ("分层删一 PSU 刀切法（JKn，含有限总体校正），每个重复样本内重新计算修正；"
                   f"t 分布 95% 区间，自由度 {design.df}")
    method += est.design_notes(design)
    for i, col in enumerate(("births", "compliance_rate", "sex_ratio", "longacting_rate")):
        rows.append({"metric": f"corrected_{col}", "estimate": full[i], "ci_low": full[i] - t * se[i],
                     "ci_high": full[i] + t * se[i], "se": se[i], "method": method})
    return pd.DataFrame(rows)


def rank_townships(table: pd.DataFrame, rules) -> pd.DataFrame:
    """Rank 1 = best: ascending by each `ranking.order` key (empty values last); flags when configured.

    Only complete townships are ranked: one with points still missing gets no rank and the flag 未完成.
    """
    keys = list(rules.ranking.order)
    complete = table[table.status == COMPLETE] if "status" in table.columns else table
    order = complete.sort_values(keys, na_position="last", kind="stable")
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
    rest = table.drop(index=order.index).assign(rank=pd.NA, flag=INCOMPLETE)
    out = pd.concat([order, rest]) if len(rest) else order
    out["rank"] = out["rank"].astype("Int64")
    return out.sort_values("township_code").reset_index(drop=True)


def county_summary_line(result: ScoreResult) -> str:
    row = result.county.set_index("metric").loc["birth_omission_rate"]
    return (f"全县出生漏报率 {100 * row.estimate:.2f}%（95% 置信区间 {100 * row.ci_low:.2f}%–"
            f"{100 * row.ci_high:.2f}%）")
