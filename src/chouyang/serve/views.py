"""What every page formats the same way: "—" for an empty value, percentages, masked ID numbers, results in words.

Each page's own presenters (rows and cells the templates only print, the server-drawn SVG
charts) live with its routes in pages/; decisions live in none of them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from chouyang import vocab
from chouyang.entry import keyed
from chouyang.inputs.readers import mask_id

EMPTY = "—"


def text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def pct(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    return f"{100 * float(value):.2f}%"


def shown(key: str, value: str) -> str:
    """A keyed value as a page may show it: ID numbers masked, an empty value said."""
    if value == "":
        return "（空）"
    return mask_id(value) if key in keyed.ID_KEYS else value


_ID_LABELS = {vocab.label_for(sheet, key) for sheet in vocab.SHEETS for key in keyed.ID_KEYS
              if key in vocab.sheet_columns(sheet)}


def problem_text(problem) -> str:
    """A located problem as the CLI words it, but with an ID number masked (pages never show one whole)."""
    if problem.column in _ID_LABELS and problem.value:
        problem = replace(problem, value=mask_id(str(problem.value)))
    return str(problem)


def ingest_words(results) -> str:
    """Stored results in words, one clause per workbook or entry (as the review and entry pages flash them)."""
    words = {"new": "新录入", "unchanged": "内容相同，未改动", "replaced": "已替换"}
    return "；".join(f"{words[r.status]}，确认误差 {r.confirmed} 例，待核实 {r.pending} 例" for r in results)
