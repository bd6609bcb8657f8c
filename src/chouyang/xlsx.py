"""Saving workbooks people open in Excel/WPS: text stays text, pages print whole, files appear whole.

openpyxl turns any string that begins with "=" into a live formula.  A name in
the register or a township name in the frame is data, never a formula
(`=HYPERLINK(...)`, `=cmd|...`), and chouyang writes no formulas of its own, so
`save_workbook` stores every such cell as plain text before saving.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl

from chouyang.atomic import atomic_path
from chouyang.errors import ChouyangError
from chouyang.inputs.tables import _cell_text

META_SHEET = "_meta"  # the hidden key/value sheet of every workbook chouyang writes for entry


def neutralise_formulas(wb) -> int:
    """Store every formula-looking cell of every sheet as text; returns how many were changed."""
    changed = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
                    changed += 1
    return changed


def print_setup(ws, header_rows: str | None = None, landscape: bool = True) -> None:
    """A4, landscape, every column on one page width, header rows repeated on every printed page.

    `header_rows` is a row range such as "1:3".
    """
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if header_rows:
        ws.print_title_rows = header_rows


def save_workbook(wb, path: Path) -> None:
    """Formulas neutralised, then written to a temporary file and renamed into place."""
    neutralise_formulas(wb)
    with atomic_path(Path(path)) as tmp:
        wb.save(tmp)


def open_for_reading(path: Path):
    """A filled workbook to read (read-only, the values Excel cached: a formula is never evaluated);
    a message naming the file when it is not an Excel workbook.  The caller closes it."""
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a broken or foreign file
        raise ChouyangError(f"{Path(path).name}：无法作为 Excel 工作簿打开（{type(exc).__name__}）") from None


def read_meta(wb) -> dict[str, str]:
    """The key/value rows of the workbook's META_SHEET as text ({} without one; a row without a value is skipped)."""
    if META_SHEET not in wb.sheetnames:
        return {}
    return {_cell_text(r[0]): _cell_text(r[1]) for r in wb[META_SHEET].iter_rows(values_only=True)
            if r and r[0] is not None and len(r) > 1}


def sheet_named(wb, key: str, label: str) -> str | None:
    """The sheet holding `key`'s table: its Chinese label, else the key itself, else None."""
    return label if label in wb.sheetnames else key if key in wb.sheetnames else None
