"""What a team checks in one sample point: register rows with stable `ref` keys.

Forms, entry workbooks, ingestion and scoring all build the check rows with
this one function, so a `ref` printed on paper always joins back to the same
register row without the full ID number.  Refs are per unit and section:
W001… (育龄妇女), B001… (出生), S001… (手术), Z001… (资格), in a stable order
(household, then name, then register id).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chouyang.inputs.readers import Register, in_period, mask_id

REF_PREFIX = {"women_check": "W", "births_check": "B", "procedures_check": "S", "benefits_check": "Z"}
REGISTER_KEY = {"women_check": "person_id", "births_check": "birth_id",
                "procedures_check": "procedure_id", "benefits_check": "benefit_id"}


@dataclass(frozen=True)
class UnitChecklist:
    unit_code: str
    sections: dict[str, pd.DataFrame]  # section key -> rows with `ref` and display columns

    def count(self, key: str) -> int:
        table = self.sections.get(key)
        return 0 if table is None else len(table)


def _with_refs(table: pd.DataFrame, key: str, sort: list[str]) -> pd.DataFrame:
    """Sort by unit then `sort`, and number the rows of each unit W001, W002, … (vectorised)."""
    table = table.sort_values(["unit_code"] + sort, kind="stable").reset_index(drop=True)
    numbers = table.groupby("unit_code", sort=False).cumcount() + 1
    table.insert(0, "ref", pd.Series([f"{REF_PREFIX[key]}{n:03d}" for n in numbers], index=table.index,
                                     dtype=object))
    return table


def _fmt_date(d) -> str:
    return "" if d is None or (isinstance(d, float) and pd.isna(d)) else d.isoformat()


def unit_checklists(register: Register, unit_codes, start, end) -> dict[str, UnitChecklist]:
    """Check rows for each unit: women of the unit, births and procedures in the period, benefits."""
    unit_codes = list(unit_codes)
    names = dict(zip(register.women.person_id, register.women.name))
    women = register.women[register.women.unit_code.isin(unit_codes)]
    births = register.births[register.births.unit_code.isin(unit_codes)
                             & in_period(register.births.birth_date, start, end)]
    procs = register.procedures[register.procedures.unit_code.isin(unit_codes)
                                & in_period(register.procedures.date, start, end)]
    benefits = register.benefits
    if benefits is not None:
        benefits = benefits[benefits.unit_code.isin(unit_codes)]
    lookup = names.get
    women = _with_refs(women, "women_check", ["household_no", "name", "person_id"]).assign(
        masked_id=lambda t: t.person_id.map(mask_id), birth_date_text=lambda t: t.birth_date.map(_fmt_date))
    births = _with_refs(births.assign(mother_name=births.mother_id.map(lambda m: lookup(m, "（不在册）"))),
                        "births_check", ["birth_date", "birth_id"]).assign(
        birth_date_text=lambda t: t.birth_date.map(_fmt_date))
    procs = _with_refs(procs.assign(name=procs.person_id.map(lambda m: lookup(m, "（不在册）"))),
                       "procedures_check", ["date", "procedure_id"]).assign(
        date_text=lambda t: t.date.map(_fmt_date))
    tables = {"women_check": women, "births_check": births, "procedures_check": procs}
    if benefits is not None:
        tables["benefits_check"] = _with_refs(
            benefits.assign(name=benefits.person_id.map(lambda m: lookup(m, "（不在册）"))),
            "benefits_check", ["program", "benefit_id"])
    groups = {key: {u: g.reset_index(drop=True) for u, g in table.groupby("unit_code", sort=False)}
              for key, table in tables.items()}
    empty = {key: table.iloc[0:0] for key, table in tables.items()}
    return {code: UnitChecklist(code, {key: groups[key].get(code, empty[key]) for key in tables})
            for code in unit_codes}
