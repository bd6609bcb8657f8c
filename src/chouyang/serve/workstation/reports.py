"""The score page's steps (计分与报告): the last written report and its files (scores only through `steps.score`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chouyang.errors import ChouyangError
from chouyang.round.folder import Round

REPORT_FILES = ("report.pdf", "report.xlsx", "townships.csv", "cases.csv", "county.csv", "township_intervals.csv")


@dataclass
class Report:
    townships: pd.DataFrame
    county: pd.DataFrame
    files: list[str]
    time: str


def report_view(rnd: Round) -> Report | None:
    """The last written report (report/*.csv), or None before the first score."""
    folder = rnd.report_dir
    if not (folder / "townships.csv").exists():
        return None
    towns = pd.read_csv(folder / "townships.csv", dtype={"township_code": str})
    county = pd.read_csv(folder / "county.csv")
    scores = rnd.log_entries("score")
    return Report(towns.sort_values(["rank", "township_code"]).reset_index(drop=True), county,
                  [f for f in REPORT_FILES if (folder / f).exists()], scores[-1]["time"] if scores else "")


def report_file(rnd: Round, name: str) -> Path:
    if name not in REPORT_FILES or not (rnd.report_dir / name).exists():
        raise ChouyangError(f"没有报告文件 {name}（请先计分）")
    return rnd.report_dir / name
