"""Score deductions (扣分, SPEC §3.4): every confirmed case gets a rule and points; caps apply per township.

Birth cases are scored by the true parity found in the field, else the
register parity (虚报 has its own rule: the register's birth did not happen);
procedure cases by the register's procedure type; benefit cases by what was
wrong (资格不符 -> eligibility_error, 发放不符 -> payment_error) with the points
of the benefit's programme (rules' [deductions.programmes]).  Pending (待核实)
cases carry their rule but 0 points.
"""

from __future__ import annotations

import pandas as pd

_PROCEDURE_RULES = {
    ("上环", "procedure_false"): "iud_false_or_wrong",
    ("上环", "procedure_wrong"): "iud_false_or_wrong",
    ("结扎", "procedure_false"): "sterilisation_false_or_wrong",
    ("结扎", "procedure_wrong"): "sterilisation_false_or_wrong",
    ("补救措施", "procedure_false"): "remedial_false",
    ("补救措施", "procedure_wrong"): "remedial_wrong",
    ("取环", "procedure_false"): "removal_false_or_wrong",
    ("取环", "procedure_wrong"): "removal_false_or_wrong",
}


# 核实结果 of a benefit case -> rule key ("资格确认误差" / "资金发放误差" in the seed)
_BENEFIT_RULES = {"资格不符": "eligibility_error", "发放不符": "payment_error"}


def rule_for(case: dict) -> str:
    kind = case["kind"]
    if kind == "birth_false":
        return "birth_false"
    if kind.startswith("birth_"):
        parity = int(case["parity"]) if str(case["parity"]).strip() else 1
        return "birth_parity_3plus" if parity >= 3 else "birth_parity_1_2"
    if kind.startswith("procedure_"):
        return _PROCEDURE_RULES[(case["procedure_type"], kind)]
    if kind == "benefit_error":
        return _BENEFIT_RULES.get(case.get("result", ""), "eligibility_error")
    return {"woman_missing": "woman_missing", "woman_false": "woman_false"}[kind]


def assign_points(cases: pd.DataFrame, rules) -> pd.DataFrame:
    """cases.csv: every case with its rule key and the points it deducts (0 when pending)."""
    out = cases.copy()
    out["rule"] = [rule_for(c) for c in cases.to_dict("records")]
    programmes = out["programme"] if "programme" in out.columns else [""] * len(out)
    out["points"] = [rules.deduction_points(r, p) if confirmed else 0.0
                     for r, p, confirmed in zip(out.rule, programmes, out.confirmed)]
    return out


def apply_cap(raw: float, cap: float) -> float:
    return min(raw, cap)


def township_deductions(cases: pd.DataFrame, townships: list[str], rules) -> pd.DataFrame:
    """deduction_raw (sum of points) and deduction (capped) per township; 0 for a clean township."""
    raw = cases.groupby("township_code").points.sum() if len(cases) else pd.Series(dtype=float)
    table = pd.DataFrame({"township_code": townships})
    table["deduction_raw"] = table.township_code.map(raw).fillna(0.0)
    table["deduction"] = table.deduction_raw.map(lambda r: apply_cap(r, float(rules.deductions.cap)))
    return table
