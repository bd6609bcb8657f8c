"""Markdown XLSForm fixtures (tests/fixtures/xlsforms/*.md) → .xlsx workbooks, for tests.

The format: a line `## survey` (or `## choices`, `## settings`) starts a sheet; the markdown table
under it is the sheet (its first row the header, the `|---|` line skipped, `\\|` a literal bar);
every other line is a comment.  Cells are written as the text they hold; an empty cell stays empty.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl

FIXTURES = Path(__file__).parent / "fixtures" / "xlsforms"
_SEPARATOR = re.compile(r"\|?\s*:?-{3,}.*")


def sheets(text: str) -> dict[str, list[list[str]]]:
    """{sheet name: rows of cells} of a markdown fixture."""
    out: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("## "):
            current = out.setdefault(stripped[3:].strip(), [])
        elif current is not None and stripped.startswith("|") and not _SEPARATOR.fullmatch(stripped):
            cells = re.split(r"(?<!\\)\|", stripped.strip("|"))
            current.append([c.strip().replace("\\|", "|") for c in cells])
    return out


def to_xlsx(md: Path, out: Path) -> Path:
    """The workbook of fixture `md`, sheets in the fixture's order."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets(md.read_text(encoding="utf-8")).items():
        ws = wb.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, text in enumerate(row, start=1):
                if text:
                    ws.cell(r, c).value = text
                    ws.cell(r, c).data_type = "s"
    wb.save(out)
    return out
