"""End to end: an instrument written only as a test fixture, an XLSForm built here as a KoboToolbox user would,
goes through `instrument add` → draw → forms → simulated fill → scan → review → ingest → export, through its
entry workbook, and through an ODK Central CSV; every refusal of `instrument add` and of a bad phone CSV leaves
the round as it was (issue 18 points 1-3, 7 and "Bad input")."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from chouyang.demo import scansim
from chouyang.render.pdf import full_font

FORM = "satisfaction"
SURVEY_HEADER = ["type", "name", "label::Chinese (zh)", "hint::Chinese (zh)", "required", "relevant", "constraint",
                 "constraint_message::Chinese (zh)", "read_only", "chouyang::prefill", "$kuid", "$autoname"]
SURVEY_ROWS = [
    ["text", "unit_code", "样本点编码", "", "", "", "", "", "yes", "unit_code"],
    ["begin_group", "s1", "服务评价"],
    ["select_one sat", "q1", "您对本村计划生育服务总体是否满意？", "按最接近的一项勾选", "yes"],
    ["select_multiple services", "q2", "过去一年您接受过哪些服务？"],
    ["select_one yesno", "q3", "是否有工作人员上门宣传过政策？", "", "yes"],
    ["integer", "q4", "上门宣传过几次？", "", "", "selected(${q3}, 'yes')", ". >= 0 and . <= 3", "次数应在 0—3 之间"],
    ["note", "n1", "以下意见请如实填写。"],
    ["text", "q5", "您对计划生育工作有什么意见或建议？"],
    ["end_group", ""],
]
CHOICES = [("sat", "1", "非常满意"), ("sat", "2", "比较满意"), ("sat", "3", "一般"), ("sat", "4", "不满意"),
           ("services", "a", "孕前优生检查"), ("services", "b", "避孕药具发放"), ("services", "c", "生育登记"),
           ("yesno", "yes", "是"), ("yesno", "no", "否")]


def xlsform(path: Path, form_id: str = FORM, rows=None) -> Path:
    """The XLSForm a KoboToolbox user downloads: labels in Chinese (zh), `$kuid`/`$autoname` bookkeeping columns."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(SURVEY_HEADER)
    for i, row in enumerate(rows or SURVEY_ROWS):
        cells = list(row) + [""] * (10 - len(row))
        ws.append(cells + [f"k{i:04x}", row[1]])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label::Chinese (zh)", "$kuid"])
    for i, c in enumerate(CHOICES):
        ch.append([*c, f"c{i:04x}"])
    st = wb.create_sheet("settings")
    st.append(["form_title", "form_id", "version", "default_language"])
    st.append(["计划生育服务满意度调查", form_id, "2016070101", "Chinese (zh)"])
    wb.save(path)
    return path
