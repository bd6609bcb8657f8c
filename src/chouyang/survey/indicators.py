"""Corrected indicators (误差修正, SPEC §3.5).

Register-based indicators of each whole township (births in the period,
符合政策生育率, 出生人口性别比, 长效节育措施落实率 among married women) are
corrected by ratio estimators from the township's sample points:
corrected total = register total x (true total in sample / register total in
sample), with design weights.  A ratio whose sample denominator is 0 falls
back to the county's pooled ratio, and the township is flagged.  Only
confirmed cases change the "true" counts.

County totals use either the combined ratio (county register total x the
county-wide sample ratio; the default) or the separate ratio (the sum of the
townships' corrected totals).  With about two villages per township, each
township's ratio is biased upward when its villages have few births, and the
sum of ~28 such ratios keeps the bias (+2.4 % for the demo county's births
over 1,000 draws, `benchmarks/estimates.py`); the county-wide ratio does not
(-0.1 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chouyang.inputs.readers import Register, in_period
from chouyang.survey.cases import is_confirmed
from chouyang.vocab import ERROR_KINDS, LONG_ACTING, MARRIED

# correction ratio -> (register count, true count) columns of the ingredients
RATIOS = {"births": ("reg_births", "true_births"), "comp": ("reg_comp", "true_comp"),
          "male": ("reg_male", "true_male"), "female": ("reg_female", "true_female"),
          "married": ("reg_married", "true_married"), "la": ("reg_la", "true_la")}
_LABEL = {"births": "出生数", "comp": "政策内出生数", "male": "男婴数", "female": "女婴数",
          "married": "已婚育龄妇女数", "la": "长效措施数"}


def unit_ingredients(checklists: dict, entries: dict, rules) -> pd.DataFrame:
    """Per sample point: register and field-true counts behind each correction ratio."""
    rows = []
    for unit, cl in checklists.items():
        reg = _register_counts(cl)
        true = {k.replace("reg_", "true_"): v for k, v in reg.items()}
        confirmed = _confirmed_rows(entries.get(unit, {}), rules)
        _correct_births(true, cl.sections["births_check"], confirmed)
        _correct_women(true, cl.sections["women_check"], confirmed)
        rows.append({"unit_code": unit, **reg, **true})
    return pd.DataFrame(rows)


def _register_counts(cl) -> dict[str, int]:
    """The register's counts in one sample point (births in the period, married women, long-acting)."""
    births, women = cl.sections["births_check"], cl.sections["women_check"]
    sexes, policies = list(births.sex), list(births.policy)
    married = [m in MARRIED for m in women.marital_status]
    return {"reg_births": len(sexes), "reg_comp": policies.count("政策内"),
            "reg_male": sexes.count("男"), "reg_female": sexes.count("女"), "reg_married": sum(married),
            "reg_la": sum(m and c in LONG_ACTING for m, c in zip(married, women.contraception))}


def _confirmed_rows(e: dict, rules) -> dict[str, list[dict]]:
    """The entered rows that are confirmed cases: check-sheet errors (by the error-kind table) and new rows."""
    out = {}
    for sheet, rows in e.items():
        kinds = ERROR_KINDS.get(sheet)
        out[sheet] = [row for row in rows if (kinds is None or row.get("result") in kinds)
                      and is_confirmed(row.get("witnesses"), row.get("verified", ""), rules)]
    return out


def _correct_births(t: dict, births: pd.DataFrame, confirmed: dict) -> None:
    """虚报 removes a birth; 错报 of sex moves it; a missed birth (漏报) adds one."""
    birth_info = dict(zip(births.ref, zip(births.sex, births.policy)))
    for row in confirmed.get("births_check", []):
        sex, policy = birth_info[row["ref"]]
        sex_key = "true_male" if sex == "男" else "true_female"
        kind = ERROR_KINDS["births_check"][row["result"]]
        if kind == "birth_false":
            t["true_births"] -= 1
            t[sex_key] -= 1
            t["true_comp"] -= int(policy == "政策内")
        elif kind == "birth_wrong" and row.get("true_sex") and row["true_sex"] != sex:
            t[sex_key] -= 1
            t["true_male" if row["true_sex"] == "男" else "true_female"] += 1
    for row in confirmed.get("missed_births", []):
        t["true_births"] += 1
        t["true_male" if row["sex"] == "男" else "true_female"] += 1
        t["true_comp"] += int(row["policy"] == "政策内")


def _correct_women(t: dict, women: pd.DataFrame, confirmed: dict) -> None:
    """A married woman not found (查无此人) leaves the married count; a missed married woman joins it."""
    woman_info = dict(zip(women.ref, zip(women.marital_status, women.contraception)))
    for row in confirmed.get("women_check", []):
        marital, method = woman_info[row["ref"]]
        if marital in MARRIED:
            t["true_married"] -= 1
            t["true_la"] -= int(method in LONG_ACTING)
    for row in confirmed.get("missed_women", []):
        if row["marital_status"] in MARRIED:
            t["true_married"] += 1
            t["true_la"] += int(row["contraception"] in LONG_ACTING)


def township_register(register: Register, frame: pd.DataFrame, start, end) -> pd.DataFrame:
    """Register indicators of every whole township."""
    town = dict(zip(frame.unit_code, frame.township_code))
    b = register.births[in_period(register.births.birth_date, start, end)].assign(
        township_code=lambda t: t.unit_code.map(town))
    w = register.women.assign(township_code=lambda t: t.unit_code.map(town))
    married = w[w.marital_status.isin(MARRIED)]
    out = pd.DataFrame({"township_code": sorted(frame.township_code.unique())}).set_index("township_code")
    out["births"] = b.groupby("township_code").size()
    out["comp"] = b[b.policy == "政策内"].groupby("township_code").size()
    out["male"] = b[b.sex == "男"].groupby("township_code").size()
    out["female"] = b[b.sex == "女"].groupby("township_code").size()
    out["married"] = married.groupby("township_code").size()
    out["la"] = married[married.contraception.isin(LONG_ACTING)].groupby("township_code").size()
    return out.fillna(0).astype(float)


def _div(a, b):
    return a / b if b else float("nan")


@dataclass(frozen=True)
class CorrectionInputs:
    """Arrays for fast corrected totals: townships x ratios, and units x ratios."""

    townships: list[str]
    register: np.ndarray   # T x K register totals of whole townships
    unit_town: np.ndarray  # U township index of each sample point
    units: list[str]
    reg: np.ndarray        # U x K register counts in the sample point
    true: np.ndarray       # U x K field-true counts in the sample point


def correction_inputs(town_reg: pd.DataFrame, ingredients: pd.DataFrame) -> CorrectionInputs:
    towns = list(town_reg.index)
    pos = {t: i for i, t in enumerate(towns)}
    keys = list(RATIOS)
    return CorrectionInputs(towns, town_reg[keys].to_numpy(dtype=float),
                            ingredients.township_code.map(pos).to_numpy(dtype=int), list(ingredients.unit_code),
                            ingredients[[RATIOS[k][0] for k in keys]].to_numpy(dtype=float),
                            ingredients[[RATIOS[k][1] for k in keys]].to_numpy(dtype=float))


def pooled_ratios(ci: CorrectionInputs, w: np.ndarray) -> np.ndarray:
    """The county-wide sample ratio of each indicator (K); 1 (no correction) where the sample has no register count."""
    den = (w[:, None] * ci.reg).sum(0)
    return np.divide((w[:, None] * ci.true).sum(0), den, out=np.ones_like(den), where=den > 0)


def corrected_matrix(ci: CorrectionInputs, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corrected totals (T x K) under unit weights w, and a T x K mask of county fallbacks."""
    t = len(ci.townships)
    num = np.stack([np.bincount(ci.unit_town, w * ci.true[:, k], minlength=t) for k in range(ci.true.shape[1])], 1)
    den = np.stack([np.bincount(ci.unit_town, w * ci.reg[:, k], minlength=t) for k in range(ci.reg.shape[1])], 1)
    pooled = pooled_ratios(ci, w)
    fallback = den <= 0
    ratio = np.where(fallback, pooled[None, :], num / np.where(fallback, 1.0, den))
    return ci.register * ratio, fallback


def county_corrected(ci: CorrectionInputs, w: np.ndarray, ratio: str) -> np.ndarray:
    """County corrected totals (K) under unit weights w: `combined` or `separate` ratio (rules.COUNTY_RATIOS)."""
    if ratio == "combined":
        return ci.register.sum(0) * pooled_ratios(ci, w)
    if ratio == "separate":
        return corrected_matrix(ci, w)[0].sum(0)
    raise ValueError(f"unknown county ratio {ratio!r}")


def corrected_totals(town_reg: pd.DataFrame, ingredients: pd.DataFrame, weights: pd.Series
                     ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Corrected totals per township under the given unit weights, and the fallbacks used."""
    ci = correction_inputs(town_reg, ingredients)
    w = ingredients.unit_code.map(weights).fillna(0.0).to_numpy(dtype=float)
    totals, fallback = corrected_matrix(ci, w)
    out = pd.DataFrame(totals, index=town_reg.index, columns=list(RATIOS))
    labels = [_LABEL[k] for k in RATIOS]
    flags = {t: [labels[k] for k in np.flatnonzero(fallback[i])] for i, t in enumerate(ci.townships)
             if fallback[i].any()}
    return out, flags


def indicator_rates(totals: pd.DataFrame) -> pd.DataFrame:
    """births, 符合政策生育率, 出生人口性别比 (boys per 100 girls), 长效节育措施落实率."""
    return pd.DataFrame({
        "births": totals.births,
        "compliance_rate": [_div(a, b) for a, b in zip(totals.comp, totals.births)],
        "sex_ratio": [100 * _div(a, b) for a, b in zip(totals.male, totals.female)],
        "longacting_rate": [_div(a, b) for a, b in zip(totals.la, totals.married)],
    }, index=totals.index)
