"""What a unit's read pages become: values in its entry workbook, the rows a clerk must check
(ReviewItem: CSV row for people, JSON for the workstation; format in the `chouyang.scan` docstring)
and each such row's crop, straightened and right side up under its column headers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from chouyang import vocab
from chouyang.render.survey_workbook import FIRST_ROW, column_of, ref_rows, set_values
from chouyang.scan.geometry import warp
from chouyang.scan.pages import PageRead, load_page
from chouyang.scan.rows import interpret_row

REVIEW_COLUMNS = ["工作表", "行", "编号", "页", "问题", "截图"]


@dataclass
class ReviewItem:
    """A row a clerk must check: where it is in the workbook and on paper, why, and its crop's file name."""

    read: PageRead
    row: dict
    sheet: str
    workbook_row: int
    issues: list[str]
    values: dict
    sheet_label: str = ""  # a sheet of another workbook than the survey's (vocab.SHEETS by default)

    @property
    def label(self) -> str:
        return self.sheet_label or vocab.SHEETS[self.sheet]

    @property
    def crop_name(self) -> str:
        return f"{self.read.page_id.unit_code}_p{self.read.page_id.page}_" \
               f"{self.row['ref'] or 'new' + str(self.row['blank_index'])}.png"

    def as_row(self) -> dict:
        return {"工作表": self.label, "行": self.workbook_row, "编号": self.row["ref"] or "",
                "页": self.read.page_id.page, "问题": "；".join(self.issues), "截图": self.crop_name}

    def as_json(self) -> dict:
        fields = []
        for key, f in self.row["fields"].items():
            item = {"key": key, "label": f.label, "kind": f.kind, "confidence": round(f.confidence, 3)}
            if f.kind == "ticks":
                value = self.values.get(key, "")
                item |= {"options": [{"label": o["label"], "value": o["value"]} for o in f.options],
                         "value": None if value == "" else value, "marks": f.states}
            else:
                item |= {"value": None, "written": f.written}
            fields.append(item)
        return {"sheet": self.sheet, "sheet_label": self.label, "workbook_row": self.workbook_row,
                "ref": self.row["ref"], "blank_index": self.row["blank_index"], "page": self.read.page_id.page,
                "crop": self.crop_name, "issues": self.issues, "fields": fields}


def fill_workbook(wb, reads: list[PageRead]) -> list[ReviewItem]:
    """Write what was read on a unit's pages into its entry workbook; returns the rows to review."""
    items = []
    blank_next = {s: FIRST_ROW for s in vocab.MISSED_SHEETS}
    for read in reads:
        for row in read.rows:
            values, issues = interpret_row(row)
            sheet = row["section"]
            ws = wb[vocab.SHEETS[sheet]]
            if row["ref"] is None:
                if not issues:
                    continue
                r = blank_next[sheet]
                blank_next[sheet] += 1
            else:
                r = ref_rows(ws)[row["ref"]]
            set_values(ws, column_of(ws, sheet), r, {k: v for k, v in values.items() if v != ""})
            if issues:
                items.append(ReviewItem(read, row, sheet, r, issues, values))
    return items


def review_json(round_id: str, unit: str, items: list[ReviewItem]) -> str:
    return json.dumps({"format": 1, "round_id": round_id, "unit_code": unit,
                       "items": [item.as_json() for item in items]}, ensure_ascii=False, indent=1)


# --- review crops -------------------------------------------------------------------

def crop_row(page: PageRead, row: dict, x0: float, x1: float) -> Image.Image:
    """The row under its column headers, straightened and right side up (for the review list)."""
    header = page.headers[row["header"]]
    top = warp(page.image, page.h, x0, header["y"] - 1, x1 - x0, header["h"] + 1.5)
    body = warp(page.image, page.h, x0, row["y"] - 0.5, x1 - x0, row["h"] + 1)
    out = Image.new("L", (top.width, top.height + body.height + 4), 160)
    out.paste(top, (0, 0))
    out.paste(body, (0, top.height + 4))
    return out


def save_review_crop(item: ReviewItem, table_x: tuple[float, float], folder: Path) -> None:
    """The row's straightened strip of the scan with its headers, as folder/<crop name>."""
    from chouyang.atomic import atomic_path

    read = item.read
    if read.image is None:
        read.image = load_page(Path(read.path), read.index).image
    with atomic_path(folder / item.crop_name) as tmp:
        crop_row(read, item.row, *table_x).save(tmp, format="PNG", optimize=False)
