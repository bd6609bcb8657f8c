"""Error rates: per sample point counts, township rates, and county design-based estimates (SPEC §3.3).

Every rate is a ratio of two linear combinations of per-point counts, defined
once in `RATES`.  County rates are design-weighted ratio estimates
(weight = 1 / inclusion probability) with a stratified Taylor-linearisation
variance (townships are strata, sample points are PSUs, finite population
correction 1 - n_h/N_h under equal-probability sampling), t quantile with
df = #points - #strata, and a Korn-Graubard interval, which never leaves
[0, 1].  A township with one point is collapsed with its neighbour in frame
order into a pseudo-stratum.

A township whose every point was taken with certainty (all its villages
drawn) is a certainty stratum: it has no sampling error, so its fpc is 0,
it is never collapsed, and it adds nothing to the degrees of freedom.  A
round where every township is taken whole is a census: SE 0 and intervals
that shrink to the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from chouyang.config.rules import KORN_GRAUBARD

# name -> (numerator {count: coef}, denominator {count: coef}, Chinese label)
RATES: dict[str, tuple[dict[str, int], dict[str, int], str]] = {
    "birth_omission_rate": ({"B_miss": 1}, {"B_reg": 1, "B_false": -1, "B_miss": 1}, "出生漏报率"),
    "birth_false_rate": ({"B_false": 1}, {"B_reg": 1}, "出生虚报率"),
    "birth_wrong_rate": ({"B_wrong": 1}, {"B_reg": 1}, "出生错报率"),
    "birth_error_rate": ({"B_miss": 1, "B_false": 1, "B_wrong": 1}, {"B_reg": 1, "B_miss": 1}, "出生误差率"),
    "woman_missing_rate": ({"W_miss": 1}, {"W_reg": 1, "W_false": -1, "W_miss": 1}, "育龄妇女漏档率"),
    "iud_false_rate": ({"P_false_iud": 1}, {"P_reg_iud": 1}, "上环虚报率"),
    "iud_wrong_rate": ({"P_wrong_iud": 1}, {"P_reg_iud": 1}, "上环错报率"),
    "sterilisation_false_rate": ({"P_false_steril": 1}, {"P_reg_steril": 1}, "结扎虚报率"),
    "sterilisation_wrong_rate": ({"P_wrong_steril": 1}, {"P_reg_steril": 1}, "结扎错报率"),
    "remedial_false_rate": ({"P_false_remedial": 1}, {"P_reg_remedial": 1}, "补救措施虚报率"),
    "statistical_error_rate": ({"all_cases": 1}, {"records_checked": 1, "found_missing": 1}, "统计误差率"),
}

PROCEDURE_CODES = {"上环": "iud", "结扎": "steril", "补救措施": "remedial", "取环": "removal"}
COUNT_COLUMNS = (["B_reg", "B_false", "B_wrong", "B_miss", "W_reg", "W_false", "W_miss", "Z_reg", "Z_err",
                  "records_checked", "found_missing", "all_cases"]
                 + [f"P_{k}_{c}" for c in PROCEDURE_CODES.values() for k in ("reg", "false", "wrong")])


def unit_counts(checklists: dict, cases: pd.DataFrame) -> pd.DataFrame:
    """Per sample point: register records checked and confirmed cases of each kind."""
    units = list(checklists)
    out = pd.DataFrame({"unit_code": units})
    out["B_reg"] = [cl.count("births_check") for cl in checklists.values()]
    out["W_reg"] = [cl.count("women_check") for cl in checklists.values()]
    out["Z_reg"] = [cl.count("benefits_check") for cl in checklists.values()]
    procs = pd.concat([cl.sections["procedures_check"][["unit_code", "type"]] for cl in checklists.values()])
    confirmed = cases[cases.confirmed == 1]

    def table(frame: pd.DataFrame, column: pd.Series) -> pd.DataFrame:
        """Counts per unit (rows, in `units` order) and label (columns)."""
        counts = frame.groupby([frame.unit_code, column]).size().unstack(fill_value=0)
        return counts.reindex(index=units, fill_value=0)

    kinds = table(confirmed, confirmed.kind)
    reg_types = table(procs, procs.type)
    proc_cases = table(confirmed, confirmed.kind + "|" + confirmed.procedure_type)

    def col(frame: pd.DataFrame, label: str) -> np.ndarray:
        return frame[label].to_numpy(dtype=int) if label in frame.columns else np.zeros(len(units), dtype=int)

    for name, kind in (("B_false", "birth_false"), ("B_wrong", "birth_wrong"), ("B_miss", "birth_missed"),
                       ("W_false", "woman_false"), ("W_miss", "woman_missing"), ("Z_err", "benefit_error")):
        out[name] = col(kinds, kind)
    for name, code in PROCEDURE_CODES.items():
        out[f"P_reg_{code}"] = col(reg_types, name)
        out[f"P_false_{code}"] = col(proc_cases, f"procedure_false|{name}")
        out[f"P_wrong_{code}"] = col(proc_cases, f"procedure_wrong|{name}")
    out["records_checked"] = out.B_reg + out.W_reg + out.Z_reg + [cl.count("procedures_check")
                                                                  for cl in checklists.values()]
    out["found_missing"] = out.B_miss + out.W_miss
    out["all_cases"] = out.unit_code.map(confirmed.groupby("unit_code").size()).fillna(0).astype(int)
    return out[["unit_code"] + COUNT_COLUMNS]


def combine(counts, coefs: dict[str, int]) -> np.ndarray:
    """sum of coef x count column; `counts` is a table or a mapping of column -> array."""
    return sum(coef * np.asarray(counts[col], dtype=float) for col, coef in coefs.items())


def rate(num: float, den: float) -> float:
    """A ratio, or NaN (reported empty) when the denominator is 0."""
    return num / den if den else float("nan")


def clopper_pearson(x: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval; (nan, nan) when n is 0."""
    if n <= 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    low = 0.0 if x <= 0 else stats.beta.ppf(a, x, n - x + 1)
    high = 1.0 if x >= n else stats.beta.ppf(1 - a, x + 1, n - x)
    return float(low), float(high)


def clopper_pearson_arrays(x, n, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Clopper-Pearson; NaN where n is 0."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x <= 0, 0.0, stats.beta.ppf(a, np.maximum(x, 1e-12), n - x + 1))
        high = np.where(x >= n, 1.0, stats.beta.ppf(1 - a, x + 1, np.maximum(n - x, 1e-12)))
    bad = n <= 0
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


# --- design ------------------------------------------------------------------

@dataclass(frozen=True)
class Design:
    """PSUs with weights, (pseudo-)strata and finite population corrections."""

    units: pd.DataFrame  # unit_code, township_code, weight, stratum, fpc (1 - f_h; 0 for a certainty stratum)
    collapsed: tuple[tuple[str, ...], ...]  # township names collapsed together
    certain: tuple[str, ...]  # names of the townships taken whole (certainty strata)

    @property
    def df(self) -> int:
        """PSUs minus strata, over the strata with sampling error: a certainty stratum adds no variance,
        so it adds no degrees of freedom either (Taylor and jackknife alike)."""
        sampled = self.units[self.units.fpc > 0]
        return len(sampled) - sampled.stratum.nunique()

    @property
    def census(self) -> bool:
        """Every stratum taken whole: the estimates have no sampling error at all."""
        return bool(len(self.units)) and bool((self.units.fpc == 0).all())


def make_design(primary: pd.DataFrame, frame_order: list[str], method: str) -> Design:
    """Strata = townships; a one-point township joins its neighbour in frame order.

    Under equal-probability draws N_h = n_h / pi (the units the township drew
    from) and the fpc is 1 - sum(n_h) / sum(N_h) per (pseudo-)stratum; under
    pps it is dropped (with-replacement approximation).  A township whose
    points all have inclusion probability 1 is a certainty stratum (fpc 0)
    under either method and is never collapsed.
    """
    sizes = primary.groupby("township_code").size().to_dict()
    certain = set(primary.groupby("township_code").inclusion_prob.min().loc[lambda p: p >= 1].index)
    towns = [t for t in frame_order if t in sizes and t not in certain]
    stratum = {t: t for t in towns}
    names = dict(zip(primary.township_code, primary.township_name))
    collapsed = []
    for i, t in enumerate(towns):
        if sizes[t] == 1 and len(towns) > 1:
            neighbour = towns[i - 1] if i > 0 else towns[i + 1]
            target = stratum[neighbour]
            for k, v in stratum.items():
                if v == t:
                    stratum[k] = target
            collapsed.append((names[t], names[neighbour]))
    stratum.update({t: t for t in certain})
    units = primary[["unit_code", "township_code", "weight", "inclusion_prob"]].copy()
    units["stratum"] = units.township_code.map(stratum)
    if method == "srs":
        by = units.groupby("stratum")
        f = by.size() / by.weight.sum()  # sum of 1/pi over the stratum's points = N_h under srs
        units["fpc"] = units.stratum.map(1 - f)
    else:
        units["fpc"] = 1.0
    units.loc[units.township_code.isin(certain), "fpc"] = 0.0
    taken_whole = tuple(names[t] for t in frame_order if t in certain)
    return Design(units.drop(columns="inclusion_prob").reset_index(drop=True), tuple(collapsed), taken_whole)


def taylor_ratio(y, x, weight, stratum, psu, fpc) -> tuple[float, float]:
    """Ratio estimate sum(w y) / sum(w x) and its linearised standard error.

    fpc is 1 - f_h per row (constant within a stratum).  Rows of one PSU are
    summed first; strata with a single PSU contribute nothing.
    """
    h_codes = pd.factorize(np.asarray(stratum))[0]
    psu_codes = pd.factorize(pd.MultiIndex.from_arrays([h_codes, np.asarray(psu)]))[0]
    return _taylor_ratio(y, x, weight, h_codes, psu_codes, fpc)


def _taylor_ratio(y, x, weight, h_codes: np.ndarray, psu_codes: np.ndarray, fpc) -> tuple[float, float]:
    """taylor_ratio with strata and PSUs already numbered 0, 1, ... (codes shared by every rate of a design)."""
    y, x, w = (np.asarray(a, dtype=float) for a in (y, x, weight))
    big_y, big_x = (w * y).sum(), (w * x).sum()
    if big_x == 0:
        return float("nan"), float("nan")
    r = big_y / big_x
    z = w * (y - r * x) / big_x
    fpc = np.asarray(fpc, dtype=float)
    z_psu = np.bincount(psu_codes, z)                  # PSU totals
    h_psu = np.zeros(len(z_psu), dtype=int)
    h_psu[psu_codes] = h_codes                         # stratum of each PSU
    fpc_h = np.zeros(h_codes.max() + 1)
    fpc_h[h_codes] = fpc
    n_h = np.bincount(h_psu)
    mean_h = np.bincount(h_psu, z_psu) / n_h
    ss_h = np.bincount(h_psu, (z_psu - mean_h[h_psu]) ** 2)
    factor = np.divide(n_h, n_h - 1, out=np.zeros(len(n_h)), where=n_h > 1)
    return float(r), float(np.sqrt((fpc_h * factor * ss_h).sum()))


def korn_graubard(p: float, se: float, n: float, df: int, level: float = 0.95,
                  truncate: bool = True) -> tuple[float, float]:
    """Korn-Graubard interval for a proportion from a complex sample (stays within [0, 1]).

    Effective sample size n* = p(1 - p) / SE^2 (n when SE is 0), truncated at n
    unless `truncate` is False, times (t_{n-1} / t_df)^2 at the interval's
    level; then the Clopper-Pearson interval of p * n* successes in n* trials.
    """
    if np.isnan(p) or n <= 0:
        return float("nan"), float("nan")
    n_eff = p * (1 - p) / se ** 2 if se > 0 else n
    if truncate:
        n_eff = min(n_eff, n)
    if df > 0 and n > 1:
        n_eff *= (stats.t.ppf(1 - (1 - level) / 2, n - 1) / stats.t.ppf(1 - (1 - level) / 2, df)) ** 2
    return clopper_pearson(p * n_eff, n_eff, level)


def design_notes(design: Design) -> str:
    """The method text's notes on certainty strata and collapsed townships."""
    notes = ""
    if design.certain:
        notes += "；全部村（居）入样的乡镇为必然入样层（方差为 0，不计自由度）：" + "、".join(design.certain)
    if design.collapsed:
        notes += "；单样本点乡镇合并为伪层：" + "，".join(f"{a}并入{b}" for a, b in design.collapsed)
    return notes


def county_rates(counts: pd.DataFrame, design: Design, kg: str) -> pd.DataFrame:
    """county.csv rows for every rate: metric, estimate, ci_low, ci_high, method.

    `kg` is the Korn-Graubard convention of rules `[estimation] korn_graubard`: the design
    effect truncated at 1 (effective n never above the actual n, Korn & Graubard 1998) or not.
    A census (every township taken whole) has no sampling error: SE 0 and the
    interval is the estimate itself.
    """
    d = design.units.merge(counts, on="unit_code")
    df = design.df
    if design.census:
        method = "设计加权比率估计；全部样本单位均为必然入样（全查），无抽样误差，区间即估计值"
    else:
        method = ("设计加权比率估计；泰勒线性化方差（分层，PSU=样本点，含有限总体校正）；"
                  f"Korn-Graubard 95% 区间（{KORN_GRAUBARD[kg]}），自由度 {df}")
    method += design_notes(design)
    h_codes = pd.factorize(d.stratum)[0]
    psu_codes = np.arange(len(d))  # one row per sample point
    weight, fpc = d.weight.to_numpy(dtype=float), d.fpc.to_numpy(dtype=float)
    columns = {c: d[c].to_numpy(dtype=float) for c in COUNT_COLUMNS}
    rows = []
    for name, (num, den, _) in RATES.items():
        y, x = combine(columns, num), combine(columns, den)
        est, se = _taylor_ratio(y, x, weight, h_codes, psu_codes, fpc)
        if design.census:
            low, high = est, est
        else:
            low, high = korn_graubard(est, se, float(x.sum()), df, truncate=kg == "truncated")
        rows.append({"metric": name, "estimate": est, "ci_low": low, "ci_high": high, "se": se,
                     "method": method})
    return pd.DataFrame(rows)


def jackknife_replicates(design: Design):
    """Stratified delete-one-PSU (JKn) replicates with the finite population correction.

    Yields (coefficient, weights array in design.units order) with coefficient
    (1 - f_h)(n_h - 1)/n_h, so that var = sum coefficient * (theta_r - theta)^2.
    Certainty strata (fpc 0) and one-PSU strata yield no replicate.
    """
    base = design.units.weight.to_numpy(dtype=float)
    fpc = design.units.fpc.to_numpy(dtype=float)
    for _, idx in design.units.groupby("stratum", sort=False).indices.items():
        n = len(idx)
        if n < 2 or fpc[idx[0]] <= 0:
            continue
        for drop in idx:
            w = base.copy()
            w[idx] *= n / (n - 1)
            w[drop] = 0.0
            yield fpc[idx[0]] * (n - 1) / n, w
