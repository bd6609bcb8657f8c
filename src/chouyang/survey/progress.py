"""The round's progress (进度), pure: one row per sample point, then sums per team, day and township.

Inputs are tables the workstation loads through the Round: the primary points,
the plan, which units have stored results, the cases (with their feedback
status), scan pages received and expected per unit, and open review items.
"""

from __future__ import annotations

import pandas as pd

from chouyang.survey.feedback import OPEN, WITHDRAWN

COUNT_COLUMNS = ["points", "entered", "pages_received", "pages_expected", "pages_missing", "review_open",
                 "cases_confirmed", "cases_pending", "cases_withdrawn", "objections_open"]
LABELS = {"team_id": "调查组", "date": "日期", "township_name": "乡镇", "points": "样本点", "entered": "已录入",
          "pages_received": "扫描页", "pages_missing": "缺页", "review_open": "待核对",
          "cases_confirmed": "确认误差", "cases_pending": "待核实", "cases_withdrawn": "撤销",
          "objections_open": "异议未结"}


def unit_progress(primary: pd.DataFrame, plan: pd.DataFrame | None, entered: set[str], cases: pd.DataFrame,
                  pages: dict[str, tuple[int, int | None]], review_open: dict[str, int]) -> pd.DataFrame:
    """One row per primary point: team, day, township and every count of the dashboard."""
    units = primary[["township_code", "township_name", "unit_code", "unit_name"]].copy()
    if plan is not None and len(plan):
        first = plan.sort_values("date").groupby("unit_code", as_index=False)[["team_id", "date"]].first()
        units = units.merge(first, on="unit_code", how="left")
    units["team_id"] = units.get("team_id", pd.Series(dtype=object)).fillna("")
    units["date"] = units.get("date", pd.Series(dtype=object)).fillna("")
    units["points"] = 1
    units["entered"] = units.unit_code.isin(entered).astype(int)
    received = {u: p[0] for u, p in pages.items()}
    expected = {u: p[1] for u, p in pages.items() if p[1] is not None}
    units["pages_received"] = units.unit_code.map(received).fillna(0).astype(int)
    units["pages_expected"] = units.unit_code.map(expected).astype("Int64")
    # Missing pages of a point whose scans have started (one not scanned yet is not "missing" pages).
    units["pages_missing"] = (units.pages_expected - units.pages_received).clip(lower=0).where(
        units.pages_received > 0, 0).astype("Int64")
    units["review_open"] = units.unit_code.map(review_open).fillna(0).astype(int)
    status = cases["status"] if "status" in cases.columns else pd.Series("", index=cases.index)
    withdrawn = status == WITHDRAWN
    per_unit = pd.DataFrame({
        "cases_confirmed": cases.confirmed.astype(int),
        "cases_pending": ((cases.confirmed == 0) & ~withdrawn).astype(int),
        "cases_withdrawn": withdrawn.astype(int),
        "objections_open": status.isin(OPEN).astype(int),
        "unit_code": cases.unit_code}).groupby("unit_code").sum()
    for col in per_unit.columns:
        units[col] = units.unit_code.map(per_unit[col]).fillna(0).astype(int)
    return units.sort_values(["team_id", "date", "township_code", "unit_code"]).reset_index(drop=True)


def rollup(units: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sums of the dashboard counts per group (pages expected stay empty when no form layout is known)."""
    keys = by + (["township_name"] if "township_code" in by and "township_name" not in by else [])
    table = units.groupby(keys, sort=True, dropna=False)[COUNT_COLUMNS].sum(min_count=1).reset_index()
    table["pages_expected"] = table.pages_expected.astype("Int64")
    return table


def totals(units: pd.DataFrame) -> dict[str, int]:
    return {col: int(units[col].sum()) for col in COUNT_COLUMNS}
