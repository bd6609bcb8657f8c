"""The cases pages' steps (个案与反馈): cases with their status and points, a township's deduction, its 现场反馈单.

Case statuses change only through `steps.set_case_status` (the same function as `chouyang case`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chouyang import steps
from chouyang.errors import ChouyangError
from chouyang.render.report import write_feedback_pdf
from chouyang.round import store as db
from chouyang.round.folder import Round
from chouyang.serve.workstation.core import entered_units, round_register
from chouyang.survey import feedback
from chouyang.survey.deductions import assign_points, township_deductions


@dataclass
class TownshipCases:
    township_code: str
    township_name: str
    cases: pd.DataFrame  # with rule, points, status, status_note, unit_name
    deduction: float | None
    deduction_raw: float | None


def case_table(rnd: Round) -> pd.DataFrame:
    """Every case with its feedback status, rule and points (the points the score would give)."""
    rnd.require_unchanged_since_draw()
    found = assign_points(feedback.with_default_status(steps.cases(rnd, register=round_register(rnd))), rnd.rules())
    names = rnd.primaries().set_index("unit_code").unit_name
    return found.assign(unit_name=found.unit_code.map(names))


def township_cases(rnd: Round, township_code: str) -> TownshipCases:
    primary = rnd.primaries()
    towns = primary.drop_duplicates("township_code").set_index("township_code").township_name
    if township_code not in towns.index:
        raise ChouyangError(f"本轮没有乡镇 {township_code}")
    table = case_table(rnd)
    table = table[table.township_code == township_code].reset_index(drop=True)
    deduction = raw = None
    if entered_units(rnd) & set(primary[primary.township_code == township_code].unit_code):
        # the score's own deduction functions, on the confirmed cases (a withdrawn case is not confirmed)
        ded = township_deductions(table[table.confirmed == 1], [township_code], rnd.rules()).iloc[0]
        deduction, raw = float(ded.deduction), float(ded.deduction_raw)
    return TownshipCases(township_code, towns[township_code], table, deduction, raw)


def case_history(rnd: Round) -> dict[tuple[str, str], list[feedback.StatusChange]]:
    with rnd.store() as con:
        changes = db.case_history(con)
    out: dict[tuple[str, str], list[feedback.StatusChange]] = {}
    for c in changes:
        out.setdefault((c.unit_code, c.ref), []).append(c)
    return out


def feedback_pdf(rnd: Round, township_code: str) -> bytes:
    """The township's 现场反馈单 as PDF bytes (scored as far as results are in)."""
    result = steps.score_round(rnd, partial=True)
    if township_code not in set(result.townships.township_code):
        raise ChouyangError(f"乡镇 {township_code} 还没有录入结果，无法打印现场反馈单")
    with tempfile.TemporaryDirectory(prefix="chouyang-feedback-") as folder:
        path = Path(folder) / "feedback.pdf"
        write_feedback_pdf(result, rnd.rules(), township_code, path)
        return path.read_bytes()
