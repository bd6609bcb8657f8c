"""Register vs field: turn stored entries into error cases (SPEC §3.3, report/cases.csv).

A case is confirmed only when `witnesses >= min_witnesses` and, when the rules
require it, the team verified it (调查组查实 = 是); otherwise it is pending
(待核实) and counts nowhere.
"""

from __future__ import annotations

import pandas as pd

from chouyang.survey.check_rows import UnitChecklist
from chouyang.vocab import ERROR_KINDS, MISSED_KINDS

CASE_COLUMNS = ["township_code", "unit_code", "kind", "ref", "parity", "procedure_type", "witnesses",
                "verified", "confirmed", "result", "programme"]
# `result` (the entered 核实结果) and `programme` (a benefit's 项目) choose a benefit case's rule;
# they are not columns of report/cases.csv.

MISSED_REF_PREFIX = {"missed_births": "MB", "missed_women": "MW"}


def missed_ref(sheet: str, i: int) -> str:
    """The case ref of the i-th (from 1) new row of a missed sheet: MB001, MW002, …"""
    return f"{MISSED_REF_PREFIX[sheet]}{i:03d}"


def is_confirmed(witnesses, verified: str, rules) -> bool:
    try:
        w = int(witnesses)
    except (TypeError, ValueError):
        return False
    return w >= rules.confirmation.min_witnesses and (
        verified == "是" or not rules.confirmation.require_verified)


def unit_cases(township_code: str, checklist: UnitChecklist, entries: dict[str, list[dict]],
               rules) -> list[dict]:
    """Error cases of one unit from its entries (sheet key -> rows of key -> text)."""
    cases = []
    for sheet, kinds in ERROR_KINDS.items():
        register = checklist.sections.get(sheet)
        if register is None:
            continue
        by_ref = {r["ref"]: r for r in register.to_dict("records")}
        for row in entries.get(sheet, []):
            kind = kinds.get(row.get("result", ""))
            if not kind:
                continue
            reg = by_ref[row["ref"]]
            parity = procedure_type = ""
            if sheet == "births_check":
                parity = row.get("true_parity") or str(int(reg["parity"]))
            if sheet == "procedures_check":
                procedure_type = reg["type"]
            case = _case(township_code, checklist.unit_code, kind, row["ref"], parity, procedure_type, row, rules)
            if sheet == "benefits_check":
                case["programme"] = reg["program"]
            cases.append(case)
    for i, row in enumerate(entries.get("missed_births", []), start=1):
        cases.append(_case(township_code, checklist.unit_code, MISSED_KINDS["missed_births"],
                           missed_ref("missed_births", i), str(row.get("parity", "")), "", row, rules))
    for i, row in enumerate(entries.get("missed_women", []), start=1):
        cases.append(_case(township_code, checklist.unit_code, MISSED_KINDS["missed_women"],
                           missed_ref("missed_women", i), "", "", row, rules))
    return cases


def _case(township_code, unit_code, kind, ref, parity, procedure_type, row, rules) -> dict:
    return {"township_code": township_code, "unit_code": unit_code, "kind": kind, "ref": ref,
            "parity": parity, "procedure_type": procedure_type, "witnesses": row.get("witnesses", ""),
            "verified": row.get("verified", ""),
            "confirmed": int(is_confirmed(row.get("witnesses"), row.get("verified", ""), rules)),
            "result": row.get("result", ""), "programme": ""}


def cases_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=CASE_COLUMNS)
