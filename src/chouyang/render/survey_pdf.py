"""Lay out and draw the survey form of one sample point (PDF), and its layout record (JSON).

Pagination is decided before drawing, so every page knows "i of n" for its
footer and QR code.  Page 1 starts with the unit's summary, the filling
instructions and the signature line, then the tables flow over the pages.
Every value that decides a case is a row of tick boxes under a two-line
header (the column's label, then one label per option); write-in boxes are
left only for free text.  Every box's position (mm from the page's top-left
corner), its kind and the value each option stores go into the layout
record, which is all the scan reader knows about the form.

Register text is shrunk or wrapped to fit its cell and never printed over a
neighbouring cell; a value that cannot fit even so is refused with its unit,
row and column named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from chouyang.errors import ChouyangError
from chouyang.render.layout import FormColumn, FormLayout, FormSection
from chouyang.render.pdf import ChinesePDF, FontFile
from chouyang.render.qr import PageId, draw_page_markers
from chouyang.survey.check_rows import UnitChecklist

# Which checklist column is printed for a register column (ID numbers masked).
_DISPLAY = {
    ("women_check", "person_id"): "masked_id",
    ("women_check", "birth_date"): "birth_date_text",
    ("births_check", "birth_date"): "birth_date_text",
    ("procedures_check", "date"): "date_text",
}
_NUMERALS = "一二三四五六七八九十"
_PT = 0.3528  # mm per point
_LINE = 1.12  # line height in font sizes
_THRESHOLD_FILL = 200  # grey of the header cells of witness counts that confirm a case
_INSTRUCTION_TOP = 37.0
_INSTRUCTION_LINE = 4.2


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
    number: int = 0  # the section's number as printed (一、二、…), consecutive over the sections present


@dataclass
class PagePlan:
    items: list[Placed] = field(default_factory=list)


def display_value(section: str, key: str, row: dict) -> str:
    value = row.get(_DISPLAY.get((section, key), key), "")
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:g}"
    return str(value)


def section_title(section: FormSection, number: int) -> str:
    return f"{_NUMERALS[number - 1]}、{section.title}"


def first_table_top(unit: UnitForm) -> float:
    return _INSTRUCTION_TOP + _INSTRUCTION_LINE * len(cover_lines(unit)) + 2.0


def paginate(unit: UnitForm, layout: FormLayout) -> list[PagePlan]:
    """Sections flow over the pages from below page 1's instructions; each page repeats the header."""
    f = layout.form
    top, bottom = float(f["table_top"]), float(f["table_bottom"])
    rh, hh, title_h = float(f["row_height"]), layout.header_height, float(f["section_title_height"])
    pages = [PagePlan()]
    y = first_table_top(unit)
    number = 0
    for section in layout.sections:
        if section.key not in unit.checklist.sections and not section.blank:
            continue
        number += 1
        if section.blank:
            rows = [None] * unit.blank_rows
            fit = int((bottom - y - title_h - hh) // rh)
            if fit < len(rows) <= fit + int(f["spare_blank_rows"]) and fit >= int(f["min_blank_rows"]):
                rows = rows[:fit]  # a few spare rows are not worth a page of their own
        else:
            rows = unit.checklist.sections[section.key].to_dict("records")
        if y + title_h + hh + rh > bottom:
            pages.append(PagePlan())
            y = top
        pages[-1].items.append(Placed(section.key, "title", y, number=number))
        y += title_h
        pages[-1].items.append(Placed(section.key, "header", y))
        y += hh
        if not rows:
            pages[-1].items.append(Placed(section.key, "empty", y))
            y += rh + 2
            continue
        for i, row in enumerate(rows):
            if y + rh > bottom:
                pages.append(PagePlan())
                y = top
                pages[-1].items.append(Placed(section.key, "title", y, continued=True, number=number))
                y += title_h
                pages[-1].items.append(Placed(section.key, "header", y))
                y += hh
            pages[-1].items.append(Placed(section.key, "row", y, row=row,
                                          blank_index=i + 1 if section.blank else None))
            y += rh
        y += 2
    return pages


class TextFitter:
    """Fits text into a cell: the largest size from `size` down to `smallest`, on up to 3 lines."""

    def __init__(self, pdf: ChinesePDF, size: float):
        self.pdf = pdf
        self.base = size
        self._char: dict[str, float] = {}

    def width(self, text: str, size: float) -> float:
        missing = [c for c in set(text) if c not in self._char]
        if missing:
            self.pdf.set_font(size=self.base)
            for c in missing:
                self._char[c] = self.pdf.get_string_width(c)
        return sum(self._char[c] for c in text) * size / self.base

    def line(self, pdf: ChinesePDF, text: str, x: float, y: float, w: float, size: float, smallest: float,
             centre: bool = False) -> None:
        """One line of text on `pdf` with its top at y, shrunk in half points (not below `smallest`) to fit width w."""
        while size > smallest and self.width(text, size) > w:
            size -= 0.5
        pdf.set_font(size=size)
        tw = self.width(text, size)
        pdf.text(x + ((w - tw) / 2 if centre else 0), y + size * _PT, text)

    def _wrap(self, text: str, width: float, size: float, lines: int) -> list[str] | None:
        out, line = [], ""
        for c in text:
            if line and self.width(line + c, size) > width:
                out.append(line)
                line = c
                if len(out) == lines:
                    return None
            else:
                line += c
        out.append(line)
        return out if len(out) <= lines else None

    def fit(self, text: str, width: float, height: float, size: float, smallest: float):
        """(size, lines) for the largest size that fits, or None."""
        s = size
        while s >= smallest - 1e-9:
            for n in (1, 2, 3):
                if n * s * _PT * _LINE > height:
                    break
                lines = [text] if n == 1 and self.width(text, s) <= width else \
                    self._wrap(text, width, s, n) if n > 1 else None
                if lines:
                    return s, lines
            s -= 0.5
        return None


class FormRenderer:
    """Draws units one after another, reusing one parsed (subset) font per document."""

    def __init__(self, layout: FormLayout, secret: bytes, font: FontFile):
        self.layout = layout
        self.secret = secret
        self.font = font

    def render(self, unit: UnitForm, path) -> dict:
        """Write the PDF; returns the layout record (JSON-ready dict)."""
        f = self.layout.form
        pdf = ChinesePDF(orientation=f["orientation"], font=self.font)
        pdf.set_auto_page_break(False)
        pdf.set_title(f"{unit.round_name} {unit.township_name} {unit.unit_name} 核查表")
        pdf.set_creator("chouyang")
        self.fitter = TextFitter(pdf, float(f["font_size"]))
        self.unit = unit
        plans = paginate(unit, self.layout)
        n = len(plans)
        record = {"format": 2, "form": self.layout.code, "round_id": unit.round_id, "unit_code": unit.unit_code,
                  "units": "mm", "page_size": f["page"], "table_x": [f["table_left"], f["table_right"]], "pages": []}
        for i, plan in enumerate(plans, start=1):
            pdf.add_page()
            page_id = PageId(unit.round_id, unit.unit_code, self.layout.code, i, n)
            page_record = self._frame(pdf, unit, page_id)
            if i == 1:
                self._instructions(pdf, unit)
            page_record["headers"], page_record["rows"] = self._table(pdf, plan)
            record["pages"].append(page_record)
        pdf.output(str(path))
        return record

    # -- page furniture --
    def _frame(self, pdf: ChinesePDF, unit: UnitForm, page: PageId) -> dict:
        f = self.layout.form
        width, height = f["page"]
        record = draw_page_markers(pdf, f, self.secret, page)
        left = float(f["corner_marks"][0][0]) + float(f["corner_mark"]) + 3
        text_w = record["qr"]["x"] - left - 4
        pdf.set_font(size=13)
        pdf.set_xy(left, 8)
        pdf.cell(text_w, 7, f["title"], align="C")
        pdf.set_font(size=9)
        pdf.set_xy(left, 15.5)
        pdf.cell(text_w, 5, unit.round_name, align="C")
        pdf.set_xy(left, 22)
        pdf.cell(text_w, 5, f"乡镇（街道）：{unit.township_name}　　样本点：{unit.unit_name}（{unit.unit_code}）")
        pdf.set_xy(left, 27.5)
        pdf.cell(text_w, 5, f"调查组：{unit.team}　　调查日期：{unit.days}　　调查时限：{unit.period}　　"
                            f"轮次：{unit.round_id}　　表号：{self.layout.code}")
        pdf.set_xy(0, height - 12)
        pdf.cell(width, 5, f"第 {page.page} 页 共 {page.pages} 页", align="C")
        return record

    def _instructions(self, pdf: ChinesePDF, unit: UnitForm) -> None:
        left = float(self.layout.form["table_left"])
        pdf.set_font(size=7.5)
        for i, line in enumerate(cover_lines(unit)):
            pdf.text(left, _INSTRUCTION_TOP + 3 + i * _INSTRUCTION_LINE, line)

    # -- tables --
    def _table(self, pdf: ChinesePDF, plan: PagePlan) -> tuple[list[dict], list[dict]]:
        f = self.layout.form
        x0 = float(f["table_left"])
        rh = float(f["row_height"])
        headers, rows = [], []
        run: list[Placed] = []  # consecutive table rows of one section: their grid is drawn at once
        for item in plan.items + [Placed("", "end", 0)]:
            if run and (item.kind != "row" or item.section != run[0].section):
                self._grid(pdf, self.layout.section(run[0].section), run[0].y, run[-1].y + rh, x0)
                run = []
            if item.kind == "end":
                break
            section = self.layout.section(item.section)
            if item.kind == "title":
                pdf.set_font(size=10)
                pdf.text(x0, item.y + 4.8, section_title(section, item.number) + ("（续）" if item.continued else ""))
            elif item.kind == "header":
                self._header(pdf, section, item.y, x0)
                headers.append({"section": section.key, "y": round(item.y, 3), "h": self.layout.header_height})
            elif item.kind == "empty":
                pdf.set_font(size=float(f["font_size"]))
                pdf.set_xy(x0, item.y)
                pdf.cell(sum(c.width for c in section.columns), rh, "（本样本点在调查时限内没有在册记录）",
                         border=1, align="C")
            else:
                rows.append(self._row(pdf, section, item, rh, x0) | {"header": len(headers) - 1})
                run.append(item)
        return headers, rows

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

    def _fit_cell(self, text: str, x: float, y: float, w: float, h: float, size: float, where=None) -> None:
        """Draw text centred in a cell, shrunk or wrapped to fit; `where` names the cell when it cannot fit."""
        if not text:
            return
        fitted = self.fitter.fit(text, w - 1.0, h - 0.8, size, float(self.layout.form["min_font_size"]))
        if fitted is None:
            if where is None:
                raise AssertionError(f"layout: label {text!r} does not fit its header cell")
            section, row, column = where
            raise ChouyangError(f"样本点 {self.unit.unit_code}：{section}，{row}，列「{column}」的内容太长，"
                                f"缩小字号、换行后仍印不下（{len(text)} 个字符：{text[:24]}…）。请在全员人口信息中核对。")
        s, lines = fitted
        pdf = self.fitter.pdf
        pdf.set_font(size=s)
        line_h = s * _PT * _LINE
        first = y + (h - line_h * len(lines)) / 2 + line_h * 0.78
        for i, line in enumerate(lines):
            pdf.text(x + (w - self.fitter.width(line, s)) / 2, first + i * line_h, line)

    def _header(self, pdf: ChinesePDF, section: FormSection, y: float, x: float) -> None:
        f = self.layout.form
        lh, oh = float(f["label_row_height"]), float(f["option_row_height"])
        pdf.set_fill_color(228, 228, 228)
        threshold = self.unit.min_witnesses
        for col in section.columns:
            if col.kind != "ticks":
                pdf.rect(x, y, col.width, lh + oh, style="DF")
                self._fit_cell(col.label, x, y, col.width, lh + oh, 7.0)
                x += col.width
                continue
            label = f"{col.label}（≥{threshold}人计入）" if col.key == "witnesses" else col.label
            pdf.rect(x, y, col.width, lh, style="DF")
            self._fit_cell(label, x, y, col.width, lh, 7.0)
            for i, option in enumerate(col.options):
                shaded = col.key == "witnesses" and int(option.value) >= threshold
                pdf.set_fill_color(*((_THRESHOLD_FILL,) * 3 if shaded else (228, 228, 228)))
                ox = x + i * col.option_width
                pdf.rect(ox, y + lh, col.option_width, oh, style="DF")
                self._fit_cell(option.label, ox, y + lh, col.option_width + 0.6, oh, 7.0)
            pdf.set_fill_color(228, 228, 228)
            x += col.width
        pdf.set_fill_color(0, 0, 0)

    def _row(self, pdf: ChinesePDF, section: FormSection, item: Placed, h: float, x: float) -> dict:
        f = self.layout.form
        tick = float(f["tick_box"])
        row = item.row or {}
        fields: dict = {}
        size = float(f["font_size"])
        for col in section.columns:
            if col.kind == "register":
                text = str(item.blank_index) if section.blank else display_value(section.key, col.key, row)
                where = (section_title(section, 1)[2:], f"编号 {row.get('ref')}", col.label)
                self._fit_cell(text, x, item.y, col.width, h, size, where)
            elif col.kind == "ticks":
                fields[col.key] = self._ticks(pdf, col, x, item.y + (h - tick) / 2, tick)
            else:  # write-in: the cell itself is the box
                fields[col.key] = {"kind": "write", "label": col.label, "x": round(x, 3), "y": round(item.y, 3),
                                   "w": col.width, "h": h}
            x += col.width
        return {"section": section.key, "ref": row.get("ref"), "blank_index": item.blank_index,
                "y": round(item.y, 3), "h": h, "fields": fields}

    @staticmethod
    def _ticks(pdf: ChinesePDF, col: FormColumn, x: float, y: float, tick: float) -> dict:
        options = []
        for i, option in enumerate(col.options):
            bx = x + i * col.option_width + (col.option_width - tick) / 2
            pdf.rect(bx, y, tick, tick)
            options.append({"label": option.label, "value": option.value, "x": round(bx, 3), "y": round(y, 3),
                            "w": tick, "h": tick})
        return {"kind": "ticks", "label": col.label, "options": options, "open_top": col.open_top,
                "confirm_top": col.confirm_top}


def cover_lines(unit: UnitForm) -> list[str]:
    """Page 1's summary, instructions and signature line."""
    c = unit.checklist
    confirm = f"经 {unit.min_witnesses} 名以上群众分别反映" + ("并经调查组查实" if unit.require_verified else "")
    return [
        f"本样本点在册育龄妇女 {c.count('women_check')} 人；调查时限内在册出生 {c.count('births_check')} 例、"
        f"手术 {c.count('procedures_check')} 例"
        + (f"；资格记录 {c.count('benefits_check')} 条。" if "benefits_check" in c.sections else "。"),
        "填表说明：在表头所列选项下的方框内打「√」或「×」，每组只选一项；选错时把选错的方框整个涂黑作废，再勾选正确的一项。"
        "每一行都必须勾选「核实结果」。",
        "属实＝确有其人其事且信息无误；查无此人＝本村没有此人；虚报＝实际没有发生；错报＝确有其事但性别、日期、孩次或手术类型不对，"
        "请勾选或填写实际情况。实际节育措施与在册相同时不勾。",
        f"误差须{confirm}才予确认：勾选「反映群众人数」（5 人及以上勾「5+」，灰底为计入确认的人数）和「调查组查实」。"
        "实际孩次 4 孩及以上勾「4+」。",
        "漏报出生、漏档妇女填写在最后两部分的空白行中；表中身份证号已隐去中间 8 位，漏档妇女请完整填写身份证号。",
        "调查结果须现场反馈。　调查组长（签字）：______________　　乡镇代表（签字）：______________　　"
        "日期：______________",
    ]


def blank_rows_for(women: int, layout: FormLayout) -> int:
    f = layout.form
    return int(f["min_blank_rows"]) + math.ceil(women / int(f["women_per_extra_blank_row"]))
