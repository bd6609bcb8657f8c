"""The entry workbook of one sample point (ROUND/entry/<unit_code>.xlsx).

One sheet per section with the contract's sheet names and header labels;
register rows pre-filled (ID numbers masked) and locked; entry cells unlocked
with drop-down validation holding exactly the contract's vocabularies; a very
hidden `_meta` sheet says which round, unit and register the workbook belongs to.
"""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .. import __version__, vocab
from ..checklist import UnitChecklist
from .render import display_value

HEADER_ROW = 3
META_SHEET = "_meta"
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
    elif key in ("witnesses", "true_parity", "parity"):
        low = 1 if key != "witnesses" else 0
        dv = DataValidation(type="whole", operator="between", formula1=str(low), formula2="99", allow_blank=True)
        dv.error = f"请填写 {low} 到 99 之间的整数"
    else:
        return None
    dv.errorTitle = "输入无效"
    dv.errorStyle = "stop"
    dv.showErrorMessage = True
    dv.add(cells)
    return dv


def write_entry_workbook(path, *, round_id: str, round_name: str, unit_code: str, unit_name: str,
                         township_name: str, register_fingerprint: str, form_code: str,
                         checklist: UnitChecklist, blank_rows: int) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    sections = [s for s in vocab.CHECK_SHEETS if s in checklist.sections] + list(vocab.MISSED_SHEETS)
    for section in sections:
        ws = wb.create_sheet(vocab.SHEETS[section])
        keys = vocab.sheet_columns(section)
        entry = set(vocab.ENTRY_COLUMNS[section])
        ws.cell(1, 1, f"{round_name}　{township_name} {unit_name}（{unit_code}）　{vocab.SHEETS[section]}").font = \
            Font(bold=True, size=12)
        ws.cell(2, 1, "黄色单元格由调查组填写；误差须填写反映群众人数并选择调查组是否查实。"
                      if section in vocab.CHECK_SHEETS else
                      "每发现一例填写一行（编号留空）；须填写反映群众人数并选择调查组是否查实。")
        for j, key in enumerate(keys, start=1):
            c = ws.cell(HEADER_ROW, j, vocab.label_for(section, key))
            c.font = Font(bold=True)
            c.fill = _HEADER_FILL
            c.alignment = Alignment(horizontal="center")
            ws.column_dimensions[get_column_letter(j)].width = _WIDTH.get(key, 11)
        if section in vocab.CHECK_SHEETS:
            rows = checklist.sections[section].to_dict("records")
            for i, row in enumerate(rows, start=HEADER_ROW + 1):
                for j, key in enumerate(keys, start=1):
                    if key in entry:
                        c = ws.cell(i, j)
                        c.protection = _UNLOCKED
                        c.fill = _ENTRY_FILL
                    else:
                        value = row["ref"] if key == "ref" else display_value(section, key, row)
                        ws.cell(i, j, value)
            last = HEADER_ROW + max(len(rows), 1)
        else:
            last = HEADER_ROW + blank_rows
            for i in range(HEADER_ROW + 1, last + 1):
                for j, key in enumerate(keys, start=1):
                    if key != "ref":
                        c = ws.cell(i, j)
                        c.protection = _UNLOCKED
                        c.fill = _ENTRY_FILL
        for j, key in enumerate(keys, start=1):
            if key in entry:
                dv = _validation(section, key, HEADER_ROW + 1, last, get_column_letter(j))
                if dv is not None:
                    ws.add_data_validation(dv)
        ws.freeze_panes = ws.cell(HEADER_ROW + 1, 2)
        ws.protection.sheet = True
        ws.protection.formatColumns = False
        ws.protection.formatRows = False
    meta = wb.create_sheet(META_SHEET)
    for i, (k, v) in enumerate((("round_id", round_id), ("unit_code", unit_code), ("form_code", form_code),
                                ("register_fingerprint", register_fingerprint),
                                ("tool_version", __version__)), start=1):
        meta.cell(i, 1, k)
        meta.cell(i, 2, v)
    meta.sheet_state = "veryHidden"
    wb.active = 0
    wb.save(path)


def read_meta(wb) -> dict[str, str]:
    if META_SHEET not in wb.sheetnames:
        return {}
    ws = wb[META_SHEET]
    return {str(r[0]): str(r[1]) for r in ws.iter_rows(values_only=True) if r and r[0] is not None}
