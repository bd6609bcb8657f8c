"""The entry workbook of one sample point (ROUND/entry/<unit_code>.xlsx): the one owner of its format.

One sheet per section with the contract's sheet names and header labels;
register rows pre-filled (ID numbers masked) and locked; entry cells unlocked
with drop-down validation holding exactly the contract's vocabularies; a very
hidden `_meta` sheet says which round, unit and register the workbook belongs to.

This module writes the workbook (`write_entry_workbook`), reads a filled one or
a folder of CSV files with the same sheets (`read_entry`), and fills rows for the
scan reader and the demo's simulated clerk (`column_of`, `ref_rows`, `set_values`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from chouyang import __version__, vocab
from chouyang.errors import ChouyangError, Problem
from chouyang.inputs.tables import _cell_text, decode_csv_bytes
from chouyang.render.survey_pdf import display_value
from chouyang.survey.check_rows import UnitChecklist
from chouyang.xlsx import META_SHEET, open_for_reading, print_setup, read_meta, save_workbook, sheet_named

HEADER_ROW = 3
FIRST_ROW = HEADER_ROW + 1
META_FILE = "_meta.csv"  # the metadata of a CSV folder
# No sample point has this many rows on one sheet (a village has a few hundred women at most);
# a sheet beyond it is refused before it is read whole.  ingest.py sets the limits relative to the register.
MAX_SHEET_ROWS = 5000
_UNLOCKED = Protection(locked=False)
_HEADER_FILL = PatternFill("solid", fgColor="DDDDDD")
_ENTRY_FILL = PatternFill("solid", fgColor="FFF9E0")
_WIDTH = {"ref": 8, "person_id": 22, "mother_id": 22, "name": 10, "note": 20, "result": 12,
          "witnesses": 13, "verified": 12, "birth_date": 12, "true_birth_date": 13}


def _validation(section: str, key: str, first: int, last: int, col: str) -> DataValidation | None:
    cells = f"{col}{first}:{col}{last}"
    choices = vocab.choices_for(section, key)
    if choices:
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True)
        dv.error = f"只能填写：{'、'.join(choices)}"
    elif key in vocab.SCALES:   # a count scale is typed as a number: from its lowest value up
        low = vocab.SCALES[key][0][1]
        dv = DataValidation(type="whole", operator="between", formula1=str(low), formula2="99", allow_blank=True)
        dv.error = f"请填写 {low} 到 99 之间的整数"
    else:
        return None
    dv.errorTitle = "输入无效"
    dv.errorStyle = "stop"
    dv.showErrorMessage = True
    dv.add(cells)
    return dv


def _unlock(ws, i: int, j: int) -> None:
    """An entry cell: unlocked in the protected sheet, and yellow."""
    c = ws.cell(i, j)
    c.protection = _UNLOCKED
    c.fill = _ENTRY_FILL


def _sheet_heading(ws, section: str, keys: list[str], title: str) -> None:
    """Title, instruction and the header row of labels."""
    ws.cell(1, 1, f"{title}　{vocab.SHEETS[section]}").font = Font(bold=True, size=12)
    ws.cell(2, 1, "黄色单元格由调查组填写；误差须填写反映群众人数并选择调查组是否查实。"
                  if section in vocab.CHECK_SHEETS else
                  "每发现一例填写一行（编号留空）；须填写反映群众人数并选择调查组是否查实。")
    for j, key in enumerate(keys, start=1):
        c = ws.cell(HEADER_ROW, j, vocab.label_for(section, key))
        c.font = Font(bold=True)
        c.fill = _HEADER_FILL
        c.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(j)].width = _WIDTH.get(key, 11)


def _register_rows(ws, section: str, keys: list[str], entry: set[str], rows: list[dict]) -> int:
    """The register's rows, shown (IDs masked) with their entry cells open; returns the last row."""
    for i, row in enumerate(rows, start=HEADER_ROW + 1):
        for j, key in enumerate(keys, start=1):
            if key in entry:
                _unlock(ws, i, j)
            else:
                ws.cell(i, j, row["ref"] if key == "ref" else display_value(section, key, row))
    return HEADER_ROW + max(len(rows), 1)


def _blank_rows(ws, keys: list[str], n: int) -> int:
    """`n` open rows for newly found cases (the ref column stays locked); returns the last row."""
    last = HEADER_ROW + n
    for i in range(HEADER_ROW + 1, last + 1):
        for j, key in enumerate(keys, start=1):
            if key != "ref":
                _unlock(ws, i, j)
    return last


def _entry_sheet(wb, section: str, title: str, checklist: UnitChecklist, blank_rows: int) -> None:
    ws = wb.create_sheet(vocab.SHEETS[section])
    keys = vocab.sheet_columns(section)
    entry = set(vocab.ENTRY_COLUMNS[section])
    _sheet_heading(ws, section, keys, title)
    if section in vocab.CHECK_SHEETS:
        last = _register_rows(ws, section, keys, entry, checklist.sections[section].to_dict("records"))
    else:
        last = _blank_rows(ws, keys, blank_rows)
    for j, key in enumerate(keys, start=1):
        if key in entry:
            dv = _validation(section, key, HEADER_ROW + 1, last, get_column_letter(j))
            if dv is not None:
                ws.add_data_validation(dv)
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 2)
    print_setup(ws, f"{HEADER_ROW}:{HEADER_ROW}")
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False


def write_entry_workbook(path, *, round_id: str, round_name: str, unit_code: str, unit_name: str,
                         township_name: str, register_fingerprint: str, form_code: str,
                         checklist: UnitChecklist, blank_rows: int) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    sections = [s for s in vocab.CHECK_SHEETS if s in checklist.sections] + list(vocab.MISSED_SHEETS)
    for section in sections:
        _entry_sheet(wb, section, f"{round_name}　{township_name} {unit_name}（{unit_code}）", checklist, blank_rows)
    meta = wb.create_sheet(META_SHEET)
    for i, (k, v) in enumerate((("round_id", round_id), ("unit_code", unit_code), ("form_code", form_code),
                                ("register_fingerprint", register_fingerprint),
                                ("tool_version", __version__)), start=1):
        meta.cell(i, 1, k)
        meta.cell(i, 2, v)
    meta.sheet_state = "veryHidden"
    wb.active = 0
    save_workbook(wb, path)


# --- filling rows (scan reader, demo clerk) ------------------------------------

def column_of(ws, sheet: str) -> dict[str, int]:
    """Column number of every column key of a sheet, from its header row."""
    by_label = {c.value: c.column for c in ws[HEADER_ROW]}
    return {key: by_label[vocab.label_for(sheet, key)] for key in vocab.sheet_columns(sheet)
            if vocab.label_for(sheet, key) in by_label}


def ref_rows(ws) -> dict[str, int]:
    """Spreadsheet row of every register ref (first column) below the header."""
    return {ws.cell(i, 1).value: i for i in range(FIRST_ROW, ws.max_row + 1) if ws.cell(i, 1).value}


def set_values(ws, columns: dict[str, int], row: int, values: dict) -> None:
    """Write values (column key -> value) into one row; empty values are left alone."""
    for key, value in values.items():
        if value != "" and value is not None:
            ws.cell(row, columns[key]).value = value


# --- reading a filled workbook or CSV folder ------------------------------------

@dataclass
class EntryFile:
    """One filled workbook or CSV folder, as read (before validation)."""

    source: str
    meta: dict[str, str]
    sheets: dict[str, list[tuple[int, dict[str, str]]]]  # key -> [(spreadsheet row, {key: text})]
    problems: list[Problem] = field(default_factory=list)


def _header_map(section: str) -> dict[str, str]:
    out = {}
    for key in vocab.sheet_columns(section):
        out[vocab.label_for(section, key)] = key
        out[key] = key
    return out


def _grid_columns(header: list[str], section: str, source: str, sheet_name: str, row: int,
                  problems: list[Problem]) -> dict[int, str] | None:
    """Grid column -> column key from the header row; None (with a problem) when a column repeats or is missing."""
    names = _header_map(section)
    columns = {j: names[h] for j, h in enumerate(header) if h in names}
    first: dict[str, int] = {}
    for j, key in columns.items():
        if key in first:
            problems.append(Problem(source, f"列名重复：第 {first[key] + 1} 列和第 {j + 1} 列都是「{vocab.label_for(section, key)}」，"
                                            "无法确定用哪一列", row=row, sheet=sheet_name))
            return None
        first[key] = j
    missing = [vocab.label_for(section, k) for k in vocab.ENTRY_COLUMNS[section] if k not in columns.values()]
    if missing:
        problems.append(Problem(source, f"缺少列：{'、'.join(missing)}", row=row, sheet=sheet_name))
        return None
    return columns


def _rows_from_grid(grid: list[list[str]], section: str, source: str, sheet_name: str,
                    problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    label = vocab.ENTRY_LABELS["ref"]
    header_at = next((i for i, row in enumerate(grid) if label in row or "ref" in row), None)
    if header_at is None:
        problems.append(Problem(source, "找不到表头行（第一列应为「编号」）", sheet=sheet_name))
        return []
    columns = _grid_columns(grid[header_at], section, source, sheet_name, header_at + 1, problems)
    if columns is None:
        return []
    rows = []
    for i in range(header_at + 1, len(grid)):
        values = {key: (grid[i][j] if j < len(grid[i]) else "") for j, key in columns.items()}
        entry_values = [values.get(k, "") for k in vocab.ENTRY_COLUMNS[section]]
        if not any(entry_values) and not values.get("ref"):
            continue  # a blank template row
        rows.append((i + 1, values))
    return rows


def read_entry(path: Path) -> EntryFile:
    """A filled entry workbook (.xlsx) or a folder of CSV files with the same sheets."""
    path = Path(path)
    if path.is_dir():
        return _read_csv_folder(path)
    if path.suffix.lower() != ".xlsx":
        raise ChouyangError(f"{path}：只能录入 .xlsx 工作簿或 CSV 文件夹")
    wb = open_for_reading(path)
    problems: list[Problem] = []
    meta = read_meta(wb)
    sheets = {}
    for key, label in vocab.SHEETS.items():
        name = sheet_named(wb, key, label)
        if name is None:
            continue
        grid = []
        for row in wb[name].iter_rows(values_only=True):
            if len(grid) > MAX_SHEET_ROWS:
                break  # a sheet this long is refused below; reading the rest would only cost time
            grid.append([_cell_text(v) for v in row])
        if len(grid) > MAX_SHEET_ROWS:
            problems.append(Problem(path.name, f"工作表有超过 {MAX_SHEET_ROWS} 行，一个样本点不可能有这么多记录；"
                                               "请检查是否粘贴了其他数据", sheet=name))
            continue
        sheets[key] = _rows_from_grid(grid, key, path.name, name, problems)
    wb.close()
    return EntryFile(path.name, meta, sheets, problems)


def _read_csv_folder(folder: Path) -> EntryFile:
    problems: list[Problem] = []
    meta = {}
    meta_path = folder / META_FILE
    if meta_path.exists():
        text, _ = decode_csv_bytes(meta_path.read_bytes(), META_FILE)
        for line in text.splitlines():
            if "," in line:
                k, v = line.split(",", 1)
                meta[k.strip()] = v.strip()
    sheets = {}
    for key, label in vocab.SHEETS.items():
        path = next((p for p in (folder / f"{label}.csv", folder / f"{key}.csv") if p.exists()), None)
        if path is None:
            continue
        text, _ = decode_csv_bytes(path.read_bytes(), path.name)
        grid = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
        if len(grid) > MAX_SHEET_ROWS:
            problems.append(Problem(f"{folder.name}/{path.name}", f"有 {len(grid)} 行，超过 {MAX_SHEET_ROWS} 行，"
                                    "一个样本点不可能有这么多记录；请检查是否粘贴了其他数据", sheet=label))
            continue
        sheets[key] = _rows_from_grid(grid, key, f"{folder.name}/{path.name}", label, problems)
    return EntryFile(folder.name, meta, sheets, problems)


def write_csv_folder(folder: Path, meta: dict[str, str], entries: dict[str, list[dict]]) -> Path:
    """Stored entries as a CSV folder that `read_entry` accepts (column keys as headers)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META_FILE).write_text("".join(f"{k},{v}\n" for k, v in meta.items()), encoding="utf-8")
    for sheet, rows in entries.items():
        keys = vocab.sheet_columns(sheet)
        with open(folder / f"{sheet}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(keys)
            for r in rows:
                writer.writerow([r.get(k, "") for k in keys])
    return folder
