"""Lay out and draw the survey form of one sample point (PDF), and its layout record (JSON).

Pagination is decided before drawing, so every page knows "i of n" for its
footer and QR code.  Every tick box, digit box and write-in box is drawn on
a fixed grid and its position (mm from the page's top-left corner) goes into
the layout record, for reading the form back from a scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fpdf.enums import WrapMode

from ..checklist import UnitChecklist
from ..pdf import ChinesePDF, FontFile
from .layout import FormLayout, FormSection
from .qr import PageId, draw_qr, payload

# Which checklist column is printed for a register column (ID numbers masked).
_DISPLAY = {
    ("women_check", "person_id"): "masked_id",
    ("women_check", "birth_date"): "birth_date_text",
    ("births_check", "birth_date"): "birth_date_text",
    ("procedures_check", "date"): "date_text",
}


@dataclass(frozen=True)
class UnitForm:
    """Everything printed for one sample point."""

    round_id: str
    round_name: str
    township_name: str
    unit_code: str
    unit_name: str
    period: str
    team: str
    days: str
    min_witnesses: int
    require_verified: bool
    checklist: UnitChecklist
    blank_rows: int


@dataclass
class Placed:
    section: str
    kind: str  # title | header | row | empty
    y: float
    row: dict | None = None
    blank_index: int | None = None
    continued: bool = False


@dataclass
class PagePlan:
    items: list[Placed] = field(default_factory=list)


def display_value(section: str, key: str, row: dict) -> str:
    value = row.get(_DISPLAY.get((section, key), key), "")
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def paginate(unit: UnitForm, layout: FormLayout) -> list[PagePlan]:
    """Page 1 is the cover; the sections flow over the following pages."""
    f = layout.form
    top, bottom = float(f["table_top"]), float(f["table_bottom"])
    rh, hh = float(f["row_height"]), float(f["header_row_height"])
    title_h = 7.0
    pages = [PagePlan(), PagePlan()]
    y = top
    for section in layout.sections:
        if section.key not in unit.checklist.sections and not section.blank:
            continue
        if section.blank:
            rows = [None] * unit.blank_rows
        else:
            rows = unit.checklist.sections[section.key].to_dict("records")
        if y + title_h + hh + rh > bottom:
            pages.append(PagePlan())
            y = top
        pages[-1].items.append(Placed(section.key, "title", y))
        y += title_h
        pages[-1].items.append(Placed(section.key, "header", y))
        y += hh
        if not rows:
            pages[-1].items.append(Placed(section.key, "empty", y))
            y += rh + 3
            continue
        for i, row in enumerate(rows):
            if y + rh > bottom:
                pages.append(PagePlan())
                y = top
                pages[-1].items.append(Placed(section.key, "title", y, continued=True))
                y += title_h
                pages[-1].items.append(Placed(section.key, "header", y))
                y += hh
            pages[-1].items.append(Placed(section.key, "row", y, row=row,
                                          blank_index=i + 1 if section.blank else None))
            y += rh
        y += 3
    return pages


class FormRenderer:
    """Draws units one after another, reusing one parsed (subset) font per document."""

    def __init__(self, layout: FormLayout, secret: bytes, font: FontFile):
        self.layout = layout
        self.secret = secret
        self.font = font
        self._label_widths: dict[str, float] = {}

    def render(self, unit: UnitForm, path) -> dict:
        """Write the PDF; returns the layout record (JSON-ready dict)."""
        f = self.layout.form
        pdf = ChinesePDF(orientation=f["orientation"], font=self.font)
        pdf.set_auto_page_break(False)
        pdf.set_title(f"{unit.round_name} {unit.township_name} {unit.unit_name} 核查表")
        pdf.set_creator("chouyang")
        plans = paginate(unit, self.layout)
        n = len(plans)
        record = {"form": self.layout.code, "round_id": unit.round_id, "unit_code": unit.unit_code,
                  "units": "mm", "page_size": f["page"], "pages": []}
        for i, plan in enumerate(plans, start=1):
            pdf.add_page()
            page_id = PageId(unit.round_id, unit.unit_code, self.layout.code, i, n)
            page_record = self._frame(pdf, unit, page_id)
            if i == 1:
                self._cover(pdf, unit)
            else:
                page_record["rows"] = self._table(pdf, plan)
            record["pages"].append(page_record)
        pdf.output(str(path))
        return record

    # -- page furniture --
    def _frame(self, pdf: ChinesePDF, unit: UnitForm, page: PageId) -> dict:
        f = self.layout.form
        width, height = f["page"]
        size = float(f["corner_mark"])
        pdf.set_fill_color(0, 0, 0)
        marks = []
        for x, y in f["corner_marks"]:
            pdf.rect(x, y, size, size, style="F")
            marks.append({"x": x, "y": y, "w": size, "h": size})
        qx, qy = f["qr_position"]
        qs = float(f["qr_size"])
        text = payload(self.secret, page)
        draw_qr(pdf, text, qx, qy, qs)
        m = float(f["margin"])
        pdf.set_font(size=13)
        pdf.set_xy(m, 9)
        pdf.cell(qx - m - 4, 7, f["title"], align="C")
        pdf.set_font(size=9)
        pdf.set_xy(m, 17)
        pdf.cell(qx - m - 4, 5, unit.round_name, align="C")
        pdf.set_xy(m, 24)
        pdf.cell(qx - m - 4, 5, f"乡镇（街道）：{unit.township_name}　　样本点：{unit.unit_name}（{unit.unit_code}）"
                                f"　　调查组：{unit.team}　　调查日期：{unit.days}")
        pdf.set_xy(m, 30)
        pdf.cell(qx - m - 4, 5, f"调查时限：{unit.period}　　轮次：{unit.round_id}　　表号：{self.layout.code}")
        pdf.set_xy(m, height - 11)
        pdf.cell(width - 2 * m, 5, f"第 {page.page} 页 共 {page.pages} 页", align="C")
        return {"page": page.page, "qr": {"x": qx, "y": qy, "w": qs, "h": qs, "payload": text},
                "corner_marks": marks, "rows": []}

    def _cover(self, pdf: ChinesePDF, unit: UnitForm) -> None:
        m = float(self.layout.form["margin"])
        pdf.set_xy(m, 42)
        pdf.set_font(size=11)
        lines = cover_lines(unit)
        for line in lines:
            pdf.set_x(m)
            pdf.multi_cell(250, 7, line, align="L", wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.set_x(m)
        pdf.cell(0, 8, "调查组长（签字）：________________　　　乡镇代表（签字）：________________　　　"
                       "日期：________________")

    # -- tables --
    def _label_width(self, pdf: ChinesePDF, text: str) -> float:
        """String width at the table font size, cached (names and labels repeat a lot)."""
        if text not in self._label_widths:
            if len(self._label_widths) > 50_000:
                self._label_widths.clear()
            self._label_widths[text] = pdf.get_string_width(text)
        return self._label_widths[text]

    def _table(self, pdf: ChinesePDF, plan: PagePlan) -> list[dict]:
        f = self.layout.form
        m = float(f["margin"])
        rh, hh = float(f["row_height"]), float(f["header_row_height"])
        font_size = float(f["font_size"])
        rows = []
        run: list[Placed] = []  # consecutive table rows of one section: their grid is drawn at once
        for item in plan.items + [Placed("", "end", 0)]:
            if run and (item.kind != "row" or item.section != run[0].section):
                self._grid(pdf, self.layout.section(run[0].section), run[0].y, run[-1].y + rh, m)
                run = []
            if item.kind == "end":
                break
            section = self.layout.section(item.section)
            if item.kind == "title":
                pdf.set_font(size=10)
                pdf.set_xy(m, item.y)
                pdf.cell(0, 7, section.title + ("（续）" if item.continued else ""))
            elif item.kind == "header":
                self._header(pdf, section, item.y, hh, m)
            elif item.kind == "empty":
                pdf.set_font(size=font_size)
                pdf.set_xy(m, item.y)
                pdf.cell(sum(c.width for c in section.columns), rh, "（本样本点在调查时限内没有在册记录）",
                         border=1, align="C")
            else:
                rows.append(self._row(pdf, section, item, rh, m, font_size))
                run.append(item)
        return rows

    def _grid(self, pdf: ChinesePDF, section: FormSection, top: float, bottom: float, x: float) -> None:
        """Cell borders of a block of rows as whole lines (far fewer drawing calls than a rect per cell)."""
        rh = float(self.layout.form["row_height"])
        width = sum(c.width for c in section.columns)
        y = top
        while y <= bottom + 1e-6:
            pdf.line(x, y, x + width, y)
            y += rh
        for col in section.columns:
            pdf.line(x, top, x, bottom)
            x += col.width
        pdf.line(x, top, x, bottom)

    def _header(self, pdf: ChinesePDF, section: FormSection, y: float, h: float, x: float) -> None:
        pdf.set_font(size=7.5)
        pdf.set_fill_color(225, 225, 225)
        for col in section.columns:
            pdf.set_xy(x, y)
            pdf.cell(col.width, h, col.label, border=1, align="C", fill=True)
            x += col.width
        pdf.set_fill_color(0, 0, 0)

    def _row(self, pdf: ChinesePDF, section: FormSection, item: Placed, h: float, x: float,
             font_size: float) -> dict:
        f = self.layout.form
        tick, digit = float(f["tick_box"]), float(f["digit_box"])
        row = item.row or {}
        fields: dict = {}
        pdf.set_font(size=font_size)
        # text() is far cheaper than cell(); the baseline centres 8 pt text in the row
        baseline = item.y + h / 2 + font_size * 0.3528 * 0.36
        for col in section.columns:
            if col.kind == "register":
                text = display_value(section.key, col.key, row)
                if text:
                    pdf.text(x + (col.width - self._label_width(pdf, text)) / 2, baseline, text)
            elif col.kind == "ticks":
                boxes = []
                cx = x + 1.2
                by = item.y + (h - tick) / 2
                for option in col.options:
                    pdf.rect(cx, by, tick, tick)
                    boxes.append({"value": option, "x": round(cx, 3), "y": round(by, 3), "w": tick, "h": tick})
                    label_w = self._label_width(pdf, option)
                    pdf.text(cx + tick + 0.6, baseline, option)
                    cx += tick + label_w + 2.0
                if cx - x > col.width + 0.5:
                    raise AssertionError(f"layout: column {col.key} of {section.key} is too narrow")
                fields[col.key] = boxes
            elif col.kind == "digits":
                total = col.digits * digit
                dx = x + (col.width - total) / 2
                dy = item.y + (h - digit) / 2
                boxes = []
                for k in range(col.digits):
                    pdf.rect(dx + k * digit, dy, digit, digit)
                    boxes.append({"digit": k, "x": round(dx + k * digit, 3), "y": round(dy, 3),
                                  "w": digit, "h": digit})
                fields[col.key] = boxes
            else:  # write-in: the cell itself is the box
                fields[col.key] = {"x": round(x, 3), "y": round(item.y, 3), "w": col.width, "h": h}
            x += col.width
        return {"section": section.key, "ref": row.get("ref"), "blank_index": item.blank_index,
                "y": round(item.y, 3), "h": h, "fields": fields}


def cover_lines(unit: UnitForm) -> list[str]:
    """The cover page's summary, instructions and signature wording."""
    c = unit.checklist
    lines = [
        f"本样本点在册育龄妇女 {c.count('women_check')} 人；调查时限内在册出生 {c.count('births_check')} 例、"
        f"手术 {c.count('procedures_check')} 例"
        + (f"；资格记录 {c.count('benefits_check')} 条。" if "benefits_check" in c.sections else "。"),
        "",
        "填表说明：",
        "1. 逐户逐人核对，每一行都必须勾选「核实结果」，不得空项。",
        "2. 育龄妇女：属实＝本人在本村，信息无误；查无此人＝本村没有此人（虚报）；迁出、死亡按实际勾选。",
        "3. 出生、手术：属实＝确有其事且信息正确；虚报＝实际没有发生；错报＝确有其事但性别、日期、孩次或手术类型不对，"
        "请在右侧填写实际情况。",
        "4. 漏报出生＝现场发现、在册中没有的出生；漏档妇女＝现场发现、在册中没有的育龄妇女。填写在最后两部分的空白行中。",
        f"5. 误差只有经 {unit.min_witnesses} 名以上群众分别反映"
        + ("并经调查组查实" if unit.require_verified else "")
        + "才予确认：请填写「反映群众人数」，并勾选「调查组查实」是或否。未确认的列为待核实，不扣分。",
        "6. 表中身份证号已隐去中间 8 位；漏档妇女请完整填写身份证号。",
        "7. 调查结果须现场反馈：调查组长和乡镇代表在下方签字。",
    ]
    return lines


def blank_rows_for(women: int, layout: FormLayout) -> int:
    f = layout.form
    return int(f["min_blank_rows"]) + math.ceil(women / int(f["women_per_extra_blank_row"]))
