"""The checklist entry workbook of one township (issue 13): the one owner of its format.

`write_checklist_workbook` writes ROUND/checklist/<township_code>.xlsx (or any path):
four sheets named as facts.SHEETS — 综合治理清单 (one row per fact of facts.fact_fields:
item, rule, evidence to check, what to enter), 录入得分 (component scores entered from
elsewhere, and the "按主要工作数据" scores of a township the survey did not visit),
加减分 (every bonus and deduction item) and 否决与违纪 (flags) — with the printed
columns locked, the entry cells unlocked and yellow, drop-down or range validation on every
entry cell, and a very hidden `_meta` sheet naming the round, the township, the period and
the scheme's SHA-256 (so a workbook made from another scheme version is refused).

`read_checklist_workbook` reads a filled one back into `facts.Entries` rows carrying
source, sheet and row, plus the metadata and any structural problems; `identity_problems`
checks the metadata against the round; `facts.check_entries` checks the values.
`fill_checklist_workbook` writes entries into a workbook (the demo's simulated clerk, tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from chouyang import __version__, vocab
from chouyang.assessment.facts import ENTRY_COLUMNS, SHEETS, Entries, adjustment_fields, fact_fields, flag_fields, score_fields
from chouyang.assessment.scheme import PERIODS, SIGNS, Scheme, fmt_points
from chouyang.errors import ChouyangError, Problem
from chouyang.inputs.tables import _cell_text
from chouyang.xlsx import META_SHEET, open_for_reading, print_setup, read_meta, save_workbook, sheet_named

FORM_CODE = "assessment_checklist"
HEADER_ROW = 3
_UNLOCKED = Protection(locked=False)
_HEADER_FILL = PatternFill("solid", fgColor="DDDDDD")
_ENTRY_FILL = PatternFill("solid", fgColor="FFF9E0")
_DEFAULT_FILL = PatternFill("solid", fgColor="EEEEEE")

# sheet -> [(column key, header label, width)]; keys in ENTRY_COLUMNS are read back, the rest are printed only
_LAYOUT = {
    "facts": [("item", "编号", 9), ("title", "项目", 42), ("points", "分值", 6), ("rule", "计分规则", 40),
              ("evidence", "须查看的材料", 30), ("fact", "填报内容", 24), ("part", "部门", 9),
              ("value", "填报值", 10), ("reference", "文件名称或文号", 22), ("note", "备注", 20)],
    "scores": [("component", "编号", 12), ("title", "项目", 40), ("points", "满分", 6), ("when", "何时填写", 28),
               ("score", "得分", 9), ("evidence", "证据或依据", 36)],
    "adjustments": [("item", "编号", 20), ("group", "类别", 26), ("title", "项目", 44), ("rule", "计分", 18),
                    ("allowed", "填报内容", 20), ("value", "填报值", 10), ("reason", "事由", 26),
                    ("evidence", "证据或依据", 26)],
    "flags": [("flag", "编号", 18), ("title", "情形", 40), ("label", "后果", 12), ("value", "填报值", 10),
              ("reason", "事由", 28), ("evidence", "证据或依据", 28)],
}
_INSTRUCTIONS = {
    "facts": ("黄色单元格由考核组填写：是/否项选择“是”或“否”；数量填整数；比例填百分数（如 47.5）。"
              "须有正式文件的项目填写文件名称或文号。"),
    "scores": "本乡镇的这些得分来自其他考核，按满分填写得分并写明依据；抽样调查未抽到的乡镇填写按主要工作数据的得分。",
    "adjustments": "有加分或减分情形的填写：发生即计的选“是”，每起（例）计的填起数，录入分值的填分值；须写明事由和证据。",
    "flags": "发生下列情形的选“是”并写明事由和证据；未发生的留空或选“否”。",
}


def _header_keys(sheet: str) -> dict[str, str]:
    """Header text (Chinese label or English key) -> column key, for the columns read back."""
    out = {}
    for key, label, _ in _LAYOUT[sheet]:
        if key in ENTRY_COLUMNS[sheet]:
            out[label] = key
            out[key] = key
    return out


def _validation(kind: str, cells: list[str], *, maximum=None) -> DataValidation | None:
    if kind == "yes_no":
        dv = DataValidation(type="list", formula1='"' + ",".join(vocab.YES_NO) + '"', allow_blank=True)
        dv.error = f"只能填写：{'、'.join(vocab.YES_NO)}"
    elif kind == "count":
        top = str(maximum) if maximum is not None else "9999"
        dv = DataValidation(type="whole", operator="between", formula1="0", formula2=top, allow_blank=True)
        dv.error = f"请填写 0 到 {top} 之间的整数"
    elif kind == "score" and maximum is None:
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
        dv.error = "请填写不小于 0 的数字"
    elif kind in ("rate", "score"):
        top = "100" if kind == "rate" else fmt_points(maximum)
        dv = DataValidation(type="decimal", operator="between", formula1="0", formula2=top, allow_blank=True)
        dv.error = f"请填写 0 到 {top} 之间的数字"
    else:
        return None
    dv.errorTitle = "输入无效"
    dv.errorStyle = "stop"
    dv.showErrorMessage = True
    for cell in cells:
        dv.add(cell)
    return dv


def _rows(scheme: Scheme, period: str) -> dict[str, list[dict]]:
    """Printed rows of every sheet: printed values by column key, plus the entry kind of the value cell."""
    facts = []
    for f in fact_fields(scheme, period).to_dict("records"):
        rule = scheme.items[f["item"]].rules[period]
        text = f["rule_label"] + (f"：{f['quote']}" if f["quote"] else "")
        facts.append({"item": f["item"], "title": f["title"], "points": fmt_points(scheme.items[f["item"]].points),
                      "rule": text, "evidence": f["evidence"] + ("（须填写文件名称或文号）" if f["reference_required"] else ""),
                      "fact": f"{f['fact']}（{f['allowed']}）" if f["allowed"] else f["fact"], "part": f["part"],
                      "_kind": f["fact_kind"],
                      "_max": {"count": rule.max_count, "score": rule.points}.get(f["fact_kind"])})
    scores = [{"component": s["component"], "title": (s["path"] + " > " if s["path"] else "") + s["title"],
               "points": fmt_points(scheme.components[s["component"]].points),
               "when": "必填" if s["when"] == "always" else "仅当本乡镇未被抽样调查抽到时填写（按主要工作数据）",
               "_kind": "score", "_max": scheme.components[s["component"]].points}
              for s in score_fields(scheme).to_dict("records")]
    adjustments = []
    caps = {g.id: g.cap for g in scheme.groups}
    for a in adjustment_fields(scheme).to_dict("records"):
        cap = f"，累计不超过{fmt_points(caps[a['group']])}分" if caps[a["group"]] is not None else ""
        item = scheme.adjustment_items[a["item"]]
        adjustments.append({"item": a["item"], "group": f"{SIGNS[a['sign']]}：{a['group_title']}{cap}",
                            "title": a["title"], "rule": a["rule_label"], "allowed": a["allowed"],
                            "_kind": a["fact_kind"], "_max": item.max})
    flags = [{"flag": f["flag"], "title": f["title"], "label": f["label"], "_kind": "yes_no", "_max": None}
             for f in flag_fields(scheme).to_dict("records")]
    return {"facts": facts, "scores": scores, "adjustments": adjustments, "flags": flags}


def _checklist_heading(ws, sheet: str, title: str) -> None:
    """Title, instruction and the header row of labels."""
    ws.cell(1, 1, title).font = Font(bold=True, size=12)
    ws.cell(2, 1, _INSTRUCTIONS[sheet])
    for j, (_, label, width) in enumerate(_LAYOUT[sheet], start=1):
        c = ws.cell(HEADER_ROW, j, label)
        c.font = Font(bold=True)
        c.fill = _HEADER_FILL
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = width


def _checklist_rows(ws, sheet: str, rows: list[dict]) -> dict[tuple[str, object], list[str]]:
    """The printed rows with their entry cells open (grey and locked where the item scores full by default);
    returns the value cells by (entry kind, maximum), for one validation each."""
    layout = _LAYOUT[sheet]
    by_kind: dict[tuple[str, object], list[str]] = {}
    value_col = next(j for j, (k, _, _) in enumerate(layout, start=1) if k in ("value", "score"))
    for i, row in enumerate(rows, start=HEADER_ROW + 1):
        for j, (key, _, _) in enumerate(layout, start=1):
            cell = ws.cell(i, j)
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            if key in ENTRY_COLUMNS[sheet] and key not in ("item", "component", "flag", "part"):
                if row["_kind"] == "default":
                    cell.fill = _DEFAULT_FILL
                else:
                    cell.protection = _UNLOCKED
                    cell.fill = _ENTRY_FILL
            else:
                cell.value = row.get(key, "")
        if row["_kind"] != "default":
            by_kind.setdefault((row["_kind"], row["_max"]), []).append(f"{get_column_letter(value_col)}{i}")
    return by_kind


def write_checklist_workbook(path, scheme: Scheme, *, round_id: str, round_name: str, township_code: str,
                             township_name: str, period: str | None = None) -> None:
    """The entry workbook of one township, saved atomically with every text cell as text."""
    period = period or scheme.period
    wb = Workbook()
    wb.remove(wb.active)
    for sheet, rows in _rows(scheme, period).items():
        if not rows:
            continue
        ws = wb.create_sheet(SHEETS[sheet])
        _checklist_heading(ws, sheet, f"{round_name}　{township_name}（{township_code}）　{SHEETS[sheet]}（{PERIODS[period]}）")
        for (kind, maximum), cells in _checklist_rows(ws, sheet, rows).items():
            dv = _validation(kind, cells, maximum=maximum)
            if dv is not None:
                ws.add_data_validation(dv)
        ws.freeze_panes = ws.cell(HEADER_ROW + 1, 3)
        ws.protection.sheet = True
        ws.protection.formatColumns = False
        ws.protection.formatRows = False
        print_setup(ws, f"{HEADER_ROW}:{HEADER_ROW}")
    meta = wb.create_sheet(META_SHEET)
    for i, (k, v) in enumerate((("round_id", round_id), ("township_code", township_code), ("form_code", FORM_CODE),
                                ("period", period), ("scheme_sha256", scheme.sha256),
                                ("tool_version", __version__)), start=1):
        meta.cell(i, 1, k)
        meta.cell(i, 2, v)
    meta.sheet_state = "veryHidden"
    wb.active = 0
    save_workbook(wb, Path(path))


# --- reading a filled workbook ----------------------------------------------------

@dataclass
class ChecklistFile:
    """One filled checklist workbook as read (before `facts.check_entries`)."""

    source: str
    meta: dict[str, str]
    entries: Entries
    problems: list[Problem] = field(default_factory=list)


def read_checklist_workbook(path) -> ChecklistFile:
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ChouyangError(f"{path}：只能录入 .xlsx 工作簿")
    wb = open_for_reading(path)
    problems: list[Problem] = []
    meta = read_meta(wb)
    code = meta.get("township_code", "")
    tables: dict[str, list[dict]] = {name: [] for name in ENTRY_COLUMNS}
    for sheet, label in SHEETS.items():
        name = sheet_named(wb, sheet, label)
        if name is None:
            continue
        grid = [[_cell_text(v) for v in row] for row in wb[name].iter_rows(values_only=True)]
        tables[sheet] = _rows_from_grid(grid, sheet, path.name, name, code, problems)
    wb.close()
    return ChecklistFile(path.name, meta, Entries.from_records(**tables), problems)


def _rows_from_grid(grid, sheet, source, sheet_name, code, problems) -> list[dict]:
    names = _header_keys(sheet)
    first = ENTRY_COLUMNS[sheet][1]  # item / component / flag: the 编号 column
    header_at = next((i for i, row in enumerate(grid) if row and row[0] in ("编号", first)), None)
    if header_at is None:
        problems.append(Problem(source, "找不到表头行（第一列应为「编号」）", sheet=sheet_name))
        return []
    columns = {j: names[h] for j, h in enumerate(grid[header_at]) if h in names}
    missing = [label for key, label, _ in _LAYOUT[sheet] if key in ENTRY_COLUMNS[sheet] and key not in columns.values()]
    if missing:
        problems.append(Problem(source, f"缺少列：{'、'.join(missing)}", row=header_at + 1, sheet=sheet_name))
        return []
    rows = []
    for i in range(header_at + 1, len(grid)):
        values = {key: (grid[i][j] if j < len(grid[i]) else "") for j, key in columns.items()}
        if not values.get(first):
            continue
        rows.append({"township_code": code, **values, "source": source, "sheet": sheet_name, "row": i + 1})
    return rows


def identity_problems(checklist: ChecklistFile, *, round_id: str, townships, scheme: Scheme) -> list[Problem]:
    """Whether a workbook belongs to this round, one of its townships and this version of the scheme."""
    src, meta = checklist.source, checklist.meta
    if not meta or meta.get("form_code") != FORM_CODE:
        return [Problem(src, "缺少隐藏的元数据（_meta），或不是考核清单录入工作簿；请使用 chouyang checklist 生成的工作簿")]
    if meta.get("round_id") != round_id:
        return [Problem(src, f"这是另一轮次（{meta.get('round_id')}）的工作簿，本轮次是 {round_id}")]
    if meta.get("township_code") not in set(townships):
        return [Problem(src, f"乡镇 {meta.get('township_code')} 不是本轮次考核的乡镇")]
    if meta.get("scheme_sha256") != scheme.sha256:
        return [Problem(src, "工作簿是按另一版本的考核方案（scheme.toml）生成的，请重新生成考核清单")]
    return []


# --- filling (demo clerk, tests) ---------------------------------------------------------

def fill_checklist_workbook(path, entries: Entries, target=None) -> dict[str, dict[tuple[str, str], int]]:
    """Write entered values into a written workbook's entry cells (rows matched by 编号 and 部门), in place
    or saved as `target`; returns every sheet's row numbers by (编号, 部门) (部门 empty outside 综合治理清单)."""
    path = Path(path)
    wb = openpyxl.load_workbook(path)
    rows: dict[str, dict[tuple[str, str], int]] = {}
    for sheet, label in SHEETS.items():
        if label not in wb.sheetnames:
            continue
        ws = wb[label]
        layout = [k for k, _, _ in _LAYOUT[sheet]]
        first = ENTRY_COLUMNS[sheet][1]
        at = rows[sheet] = {}
        for i in range(HEADER_ROW + 1, ws.max_row + 1):
            key = (_cell_text(ws.cell(i, 1).value),
                   _cell_text(ws.cell(i, layout.index("part") + 1).value) if "part" in layout else "")
            at[key] = i
        for row in getattr(entries, sheet).to_dict("records"):
            i = at.get((row[first], row.get("part", "") if sheet == "facts" else ""))
            if i is None:
                raise ChouyangError(f"工作簿 {path.name} 的「{label}」中没有编号 {row[first]}")
            for key in ENTRY_COLUMNS[sheet][2:]:
                if key in layout and key != "part" and row.get(key):
                    ws.cell(i, layout.index(key) + 1).value = row[key]
    save_workbook(wb, Path(target) if target is not None else path)
    return rows


def is_checklist_workbook(path) -> bool:
    """Whether a file is a checklist entry workbook (by its hidden _meta), so ingest can tell it from a survey one."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx" or not path.is_file():
        return False
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # not a workbook at all: the survey reader reports it
        return False
    try:
        if META_SHEET not in wb.sheetnames:
            return False
        return any(r and len(r) > 1 and _cell_text(r[0]) == "form_code" and _cell_text(r[1]) == FORM_CODE
                   for r in wb[META_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()
