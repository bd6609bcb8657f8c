"""Error rates: per sample point counts, township rates, and county design-based estimates (SPEC §3.3).

Every rate is a ratio of two linear combinations of per-point counts, defined
once in `RATES`.  County rates are design-weighted ratio estimates
(weight = 1 / inclusion probability) with a stratified Taylor-linearisation
variance (townships are strata, sample points are PSUs, finite population
correction 1 - n_h/N_h under equal-probability sampling), t quantile with
df = #points - #strata, and a Korn-Graubard interval, which never leaves
[0, 1].  A township with one point is collapsed with its neighbour in frame
order into a pseudo-stratum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
    confirmed = cases[cases.confirmed == 1]
    rows = []
    for unit, cl in checklists.items():
        c = confirmed[confirmed.unit_code == unit]
        kind = c.kind.value_counts()
        row = {"unit_code": unit, "B_reg": cl.count("births_check"), "W_reg": cl.count("women_check"),
               "Z_reg": cl.count("benefits_check"),
               "B_false": kind.get("birth_false", 0), "B_wrong": kind.get("birth_wrong", 0),
               "B_miss": kind.get("birth_missed", 0), "W_false": kind.get("woman_false", 0),
               "W_miss": kind.get("woman_missing", 0), "Z_err": kind.get("benefit_error", 0)}
        procs = cl.sections["procedures_check"]
        for name, code in PROCEDURE_CODES.items():
            row[f"P_reg_{code}"] = int((procs.type == name).sum()) if len(procs) else 0
            row[f"P_false_{code}"] = int(((c.kind == "procedure_false") & (c.procedure_type == name)).sum())
            row[f"P_wrong_{code}"] = int(((c.kind == "procedure_wrong") & (c.procedure_type == name)).sum())
        row["records_checked"] = row["B_reg"] + row["W_reg"] + row["Z_reg"] + len(procs)
        row["found_missing"] = row["B_miss"] + row["W_miss"]
        row["all_cases"] = len(c)
        rows.append(row)
    return pd.DataFrame(rows, columns=["unit_code"] + COUNT_COLUMNS).fillna(0)


def combine(counts: pd.DataFrame, coefs: dict[str, int]) -> np.ndarray:
    return sum(coef * counts[col].to_numpy(dtype=float) for col, coef in coefs.items())


def rate(num: float, den: float) -> float:
    """A ratio, or NaN (reported empty) when the denominator is 0."""
    return num / den if den else float("nan")


def township_rates(counts: pd.DataFrame) -> dict[str, float]:
    return {name: rate(combine(counts, n).sum(), combine(counts, d).sum()) for name, (n, d, _) in RATES.items()}


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

    units: pd.DataFrame  # unit_code, stratum, weight, fpc (1 - f_h)
    collapsed: tuple[tuple[str, ...], ...]  # township names collapsed together

    @property
    def df(self) -> int:
        return len(self.units) - self.units.stratum.nunique()


def make_design(primary: pd.DataFrame, frame_order: list[str], method: str) -> Design:
    """Strata = townships; a one-point township joins its neighbour in frame order.

    Under equal-probability draws N_h = n_h / pi (the units the township drew
    from) and the fpc is 1 - sum(n_h) / sum(N_h) per (pseudo-)stratum; under
    pps it is dropped (with-replacement approximation).
    """
    sizes = primary.groupby("township_code").size().to_dict()
    towns = [t for t in frame_order if t in sizes]
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
    units = primary[["unit_code", "township_code", "weight", "inclusion_prob"]].copy()
    units["stratum"] = units.township_code.map(stratum)
    if method == "srs":
        by = units.groupby("stratum")
        f = by.size() / by.weight.sum()  # sum of 1/pi over the stratum's points = N_h under srs
        units["fpc"] = units.stratum.map(1 - f)
    else:
        units["fpc"] = 1.0
    return Design(units.drop(columns="inclusion_prob").reset_index(drop=True), tuple(collapsed))


def taylor_ratio(y, x, weight, stratum, psu, fpc) -> tuple[float, float]:
    """Ratio estimate sum(w y) / sum(w x) and its linearised standard error.

    fpc is 1 - f_h per row (constant within a stratum).  Rows of one PSU are
    summed first; strata with a single PSU contribute nothing.
    """
    y, x, w = (np.asarray(a, dtype=float) for a in (y, x, weight))
    big_y, big_x = (w * y).sum(), (w * x).sum()
    if big_x == 0:
        return float("nan"), float("nan")
    r = big_y / big_x
    z = w * (y - r * x) / big_x
    frame = pd.DataFrame({"z": z, "h": np.asarray(stratum), "psu": np.asarray(psu), "fpc": np.asarray(fpc)})
    per_psu = frame.groupby(["h", "psu"], sort=False).agg(z=("z", "sum"), fpc=("fpc", "first")).reset_index()
    var = 0.0
    for _, g in per_psu.groupby("h"):
        n = len(g)
        if n > 1:
            var += g.fpc.iloc[0] * n / (n - 1) * ((g.z - g.z.mean()) ** 2).sum()
    return float(r), float(np.sqrt(var))


def korn_graubard(p: float, se: float, n: float, df: int, level: float = 0.95) -> tuple[float, float]:
    """Korn-Graubard interval for a proportion from a complex sample (stays within [0, 1])."""
    if np.isnan(p) or n <= 0:
        return float("nan"), float("nan")
    n_eff = p * (1 - p) / se ** 2 if se > 0 else n
    n_eff = min(n_eff, n) if se > 0 else n
    if df > 0 and n > 1:
        n_eff *= (stats.t.ppf(1 - (1 - level) / 2, n - 1) / stats.t.ppf(1 - (1 - level) / 2, df)) ** 2
    return clopper_pearson(p * n_eff, n_eff, level)


def county_rates(counts: pd.DataFrame, design: Design) -> pd.DataFrame:
    """county.csv rows for every rate: metric, estimate, ci_low, ci_high, method."""
    d = design.units.merge(counts, on="unit_code")
    method = ("设计加权比率估计；泰勒线性化方差（分层，PSU=样本点，含有限总体校正）；"
              f"Korn-Graubard 95% 区间，自由度 {design.df}")
    if design.collapsed:
        method += "；单样本点乡镇合并为伪层：" + "，".join(f"{a}并入{b}" for a, b in design.collapsed)
    rows = []
    for name, (num, den, _) in RATES.items():
        y, x = combine(d, num), combine(d, den)
        est, se = taylor_ratio(y, x, d.weight, d.stratum, d.unit_code, d.fpc)
        low, high = korn_graubard(est, se, float(x.sum()), design.df)
        rows.append({"metric": name, "estimate": est, "ci_low": low, "ci_high": high, "se": se,
                     "method": method})
    return pd.DataFrame(rows)


def jackknife_replicates(design: Design):
    """Stratified delete-one-PSU (JKn) replicate weights: yields (stratum n_h, weights Series)."""
    base = design.units.set_index("unit_code").weight
    strata = design.units.groupby("stratum").unit_code.apply(list)
    for _, members in strata.items():
        n = len(members)
        if n < 2:
            continue
        for drop in members:
            w = base.copy()
            w[members] = w[members] * n / (n - 1)
            w[drop] = 0.0
            yield n, w


def jackknife_se(estimate_fn, design: Design) -> tuple[float, float]:
    """Full-sample estimate and JKn standard error of any function of the unit weights."""
    full = estimate_fn(design.units.set_index("unit_code").weight)
    var = 0.0
    for n, w in jackknife_replicates(design):
        var += (n - 1) / n * (estimate_fn(w) - full) ** 2
    return float(full), float(np.sqrt(var))
