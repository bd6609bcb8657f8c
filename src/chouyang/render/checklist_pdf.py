"""The printed assessment checklist of one township (PDF), and its layout record for the scan reader.

What is printed (the rows, their tick boxes and write-in boxes, the cover instructions) is
decided in render/checklist_content.py; this module draws it.
`ChecklistRenderer.render` draws townships' pages (A4 portrait: corner marks, the QR code of
forms/qr.py with the township's code in the unit slot, page i/n) and returns each one's
layout record in format 2, the survey forms' (forms/render.py), so chouyang.scan reads both;
`write_checklist_pdfs` writes <township>.pdf and <township>.layout.json.
Layout fields carry, besides what the reader needs, the checklist workbook column they fill
(`column`), the department (`part`) and whether a value is required (`required`).
Nothing personal is printed.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

from chouyang.assessment.facts import SHEETS
from chouyang.assessment.scheme import PERIODS
from chouyang.errors import ChouyangError
from chouyang.instruments import checklist as checklist_definition
from chouyang.pool import default_workers, map_in_workers
from chouyang.render import checklist_content
from chouyang.render.checklist_content import (
    ChecklistForm,
    PrintedRow,
    WriteSpec,
    checklist_rows,
    cover_lines,
    load_checklist_layout,
    printed_text,
)
from chouyang.render.pdf import ChinesePDF, FontFile, subset_font, write_split
from chouyang.render.qr import PageId, draw_page_markers
from chouyang.render.survey_pdf import TextFitter

# steps and the tests name the checklist's public functions here, where the PDF is written
__all__ = ["ChecklistForm", "ChecklistRenderer", "checklist_font", "checklist_rows", "load_checklist_layout",
           "write_checklist_pdfs"]

_PT = 0.3528  # mm per point
_LINE = 1.25  # line height in font sizes
_NUMERALS = "一二三四五六七八九十"
_GROUP_FILL = (238, 238, 238)
_HEADER_FILL = (225, 225, 225)
_GUIDE_GREY = 150  # digit guides of write-in boxes
_MIN_PER_WORKER = 6  # townships: fewer are drawn faster than a worker process starts


# --- drawing ----------------------------------------------------------------------------------

@dataclass
class _Placed:
    kind: str  # title | header | group | item
    y: float
    h: float
    row: PrintedRow | None = None
    section: str = ""
    number: int = 0
    continued: bool = False


@dataclass
class _Page:
    items: list[_Placed] = field(default_factory=list)


class ChecklistRenderer:
    """Draws townships' checklists one after another with one (subset) font."""

    def __init__(self, secret: bytes, font: FontFile, form: dict | None = None):
        self.secret = secret
        self.font = font
        self.f = form or load_checklist_layout()
        self._wrapped: dict[tuple[str, float, float], list[str]] = {}

    # -- geometry --
    @property
    def code(self) -> str:
        return self.f["code"]

    def _columns(self) -> tuple[float, float, float, float, float]:
        """x of: number, text, points, choice column, table right."""
        x0 = float(self.f["table_left"])
        w = [float(v) for v in self.f["column_widths"]]
        return x0, x0 + w[0], x0 + w[0] + w[1], x0 + sum(w), float(self.f["table_right"])

    def _line_h(self, size: float) -> float:
        return size * _PT * _LINE

    def _wrap(self, text: str, width: float, size: float) -> list[str]:
        key = (text, width, size)
        if key not in self._wrapped:  # every township prints the same rows
            self._wrapped[key] = self._wrap_text(text, width, size)
        return self._wrapped[key]

    def _wrap_text(self, text: str, width: float, size: float) -> list[str]:
        out, line = [], ""
        for c in text:
            if line and self.fitter.width(line + c, size) > width:
                out.append(line)
                line = c
            else:
                line += c
        return out + ([line] if line else [])

    def _text_block(self, row: PrintedRow, width: float) -> list[tuple[str, float]]:
        """(line, size) of an item's text cell."""
        size, small = float(self.f["text_size"]), float(self.f["small_size"])
        block = [(ln, size) for ln in self._wrap(row.title, width, size)]
        for text in row.lines:
            block += [(ln, small) for ln in self._wrap(text, width, small)]
        return block

    def _tick_height(self, row: PrintedRow) -> float:
        f = self.f
        label_lines = 2 if any(t.part for t in row.ticks) else 1
        return (float(f["pad"]) + label_lines * self._line_h(float(f["label_size"])) + float(f["label_gap"])
                + float(f["tick_box"]) + float(f["box_bottom_pad"]))

    def _value_height(self) -> float:
        f = self.f
        return float(f["pad"]) * 2 + self._line_h(float(f["small_size"])) + float(f["write_height"])

    def _write_line_height(self, row: PrintedRow) -> float:
        return float(self.f["write_height"]) + 2 * float(self.f["write_gap"]) if row.writes else 0.0

    def _main_height(self, row: PrintedRow) -> float:
        _, xt, xp, _, _ = self._columns()
        pad = float(self.f["pad"])
        text_h = 2 * pad + sum(self._line_h(s) for _, s in self._text_block(row, xp - xt - 2))
        choice_h = self._tick_height(row) if row.ticks else self._value_height() if row.value else 0.0
        return max(text_h, choice_h, float(self.f["min_row_height"]))

    def _row_height(self, row: PrintedRow) -> float:
        if row.kind == "group":
            x0, xt, _, _, x1 = self._columns()
            lines = self._wrap(row.title + (f"（{row.points}分）" if row.points else ""), x1 - xt - 2,
                               float(self.f["text_size"]))
            extra = [ln for t in row.lines for ln in self._wrap(t, x1 - xt - 2, float(self.f["small_size"]))]
            return max(float(self.f["group_title_height"]), 2 * float(self.f["pad"]) + len(lines)
                       * self._line_h(float(self.f["text_size"])) + len(extra) * self._line_h(float(self.f["small_size"])))
        return self._main_height(row) + self._write_line_height(row)

    def _first_top(self, period: str) -> float:
        f = self.f
        return float(f["cover_top"]) + float(f["cover_line"]) * len(cover_lines(period)) + 2.0

    def paginate(self, form: ChecklistForm) -> list[_Page]:
        """Sections flow over the pages; a row never splits; each page repeats its section's header."""
        f = self.f
        top, bottom = float(f["table_top"]), float(f["table_bottom"])
        title_h, header_h = float(f["section_title_height"]), float(f["header_height"])
        pages = [_Page()]
        y = self._first_top(form.period)
        for number, (section, rows) in enumerate(form.rows.items(), start=1):
            first = True
            for row in rows:
                h = self._row_height(row)
                if h > bottom - top - title_h - header_h:
                    raise ChouyangError(f"考核方案中「{row.ref} {row.title}」的文字太长，一页印不下；请在 scheme.toml 中缩短")
                need = h + (title_h + header_h if first else 0)
                if y + need > bottom:
                    pages.append(_Page())
                    y = top
                    if not first:
                        pages[-1].items.append(_Placed("title", y, title_h, section=section, number=number,
                                                       continued=True))
                        y += title_h
                        pages[-1].items.append(_Placed("header", y, header_h, section=section))
                        y += header_h
                if first:
                    pages[-1].items.append(_Placed("title", y, title_h, section=section, number=number))
                    y += title_h
                    pages[-1].items.append(_Placed("header", y, header_h, section=section))
                    y += header_h
                    first = False
                pages[-1].items.append(_Placed(row.kind, y, h, row=row, section=section))
                y += h
            y += 3.0
        return pages

    # -- drawing --
    def render(self, forms: list[ChecklistForm]) -> tuple[bytes, list[tuple[int, int]], list[dict]]:
        """Draw every township into one PDF (one font subset for all: fpdf2 cuts it again at each
        output, which costs more than drawing a township).  Returns the PDF, each township's page
        range [first, end) and its layout record (format 2, JSON-ready)."""
        f = self.f
        pdf = ChinesePDF(orientation=f["orientation"], font=self.font)
        pdf.set_auto_page_break(False)
        pdf.set_title(f["title"])
        pdf.set_creator("chouyang")
        pdf.set_line_width(0.2)
        self.pdf = pdf
        self.fitter = TextFitter(pdf, float(f["text_size"]))
        spans, records = [], []
        for form in forms:
            start = pdf.page
            records.append(self._draw(form))
            spans.append((start, pdf.page))
        return bytes(pdf.output()), spans, records

    def _draw(self, form: ChecklistForm) -> dict:
        f, pdf = self.f, self.pdf
        plans = self.paginate(form)
        n = len(plans)
        x0, *_, x1 = self._columns()
        record = {"format": 2, "form": self.code, "round_id": form.round_id, "unit_code": form.township_code,
                  "units": "mm", "page_size": f["page"], "table_x": [x0, x1], "pages": []}
        for i, plan in enumerate(plans, start=1):
            pdf.add_page()
            page = self._frame(form, PageId(form.round_id, form.township_code, self.code, i, n))
            if i == 1:
                self._cover(form)
            page["headers"], page["rows"] = [], []
            for placed in plan.items:
                if placed.kind == "title":
                    self._section_title(placed)
                elif placed.kind == "header":
                    self._header(placed)
                    page["headers"].append({"section": placed.section, "y": round(placed.y, 3), "h": placed.h})
                elif placed.kind == "group":
                    self._group(placed)
                else:
                    fields = self._item(placed)
                    if fields:
                        page["rows"].append({"section": placed.section, "ref": placed.row.ref, "blank_index": None,
                                             "y": round(placed.y, 3), "h": round(placed.h, 3),
                                             "header": len(page["headers"]) - 1, "fields": fields})
            record["pages"].append(page)
        return record

    def _frame(self, form: ChecklistForm, page: PageId) -> dict:
        f, pdf = self.f, self.pdf
        width, height = f["page"]
        record = draw_page_markers(pdf, f, self.secret, page)
        left = float(f["corner_marks"][0][0]) + float(f["corner_mark"]) + 3
        text_w = record["qr"]["x"] - left - 4
        pdf.set_font(size=14)
        pdf.set_xy(left, 12)
        pdf.cell(text_w, 7, f"{f['title']}（{PERIODS[form.period]}）", align="C")
        self._fit_line(form.round_name, left, 20, text_w, 9.0, centre=True)
        self._fit_line(f"乡镇（街道）：{form.township_name}（{form.township_code}）", left, 25.5, text_w, 9.0)
        self._fit_line(f"轮次：{form.round_id}　　表号：{self.code}", left, 30.5, text_w, 8.0)
        pdf.set_font(size=8)
        pdf.set_xy(0, height - 11)
        pdf.cell(width, 5, f"第 {page.page} 页 共 {page.pages} 页", align="C")
        return record

    def _fit_line(self, text: str, x: float, y: float, w: float, size: float, centre: bool = False) -> None:
        self.fitter.line(self.pdf, text, x, y, w, size, float(self.f["min_font_size"]), centre)

    def _cover(self, form: ChecklistForm) -> None:
        x0, *_, x1 = self._columns()
        for i, line in enumerate(cover_lines(form.period)):
            self._fit_line(line, x0, float(self.f["cover_top"]) + i * float(self.f["cover_line"]), x1 - x0, 7.0)

    def _section_title(self, placed: _Placed) -> None:
        x0, *_ = self._columns()
        self.pdf.set_font(size=10)
        title = f"{_NUMERALS[placed.number - 1]}、{SHEETS[placed.section]}" + ("（续）" if placed.continued else "")
        self.pdf.text(x0, placed.y + 5.0, title)

    def _header(self, placed: _Placed) -> None:
        pdf = self.pdf
        x0, xt, xp, xc, x1 = self._columns()
        labels = {"facts": "项目、计分规则、须查看的材料、填报内容", "scores": "项目、何时填写",
                  "adjustments": "项目、计分、须查看的材料", "flags": "情形、后果"}
        pdf.set_fill_color(*_HEADER_FILL)
        for a, b, label in ((x0, xt, "编号"), (xt, xp, labels[placed.section]), (xp, xc, "分值"),
                            (xc, x1, "勾选或填写")):
            pdf.rect(a, placed.y, b - a, placed.h, style="DF")
            self._centred(label, a, placed.y, b - a, placed.h, 7.5)

    def _centred(self, text: str, x: float, y: float, w: float, h: float, size: float) -> None:
        fitted = self.fitter.fit(text, w - 1.0, h - 0.6, size, float(self.f["min_font_size"]))
        if fitted is None:
            raise AssertionError(f"checklist layout: {text!r} does not fit its cell")
        s, lines = fitted
        line_h = s * _PT * 1.12
        first = y + (h - line_h * len(lines)) / 2 + line_h * 0.8
        self.pdf.set_font(size=s)
        for i, line in enumerate(lines):
            self.pdf.text(x + (w - self.fitter.width(line, s)) / 2, first + i * line_h, line)

    def _number(self, ref: str, x: float, y: float, w: float, h: float) -> None:
        """An id in the number column, broken after "_" or "." when it is too wide (routine_sterilisation)."""
        tokens = re.findall(r"[^_.]+[_.]?|[_.]", ref)
        size = float(self.f["text_size"])
        while True:
            lines, line = [], ""
            for t in tokens:
                if line and self.fitter.width(line + t, size) > w - 1.0:
                    lines.append(line)
                    line = t
                else:
                    line += t
            lines.append(line)
            if all(self.fitter.width(ln, size) <= w - 1.0 for ln in lines) or size <= float(self.f["min_font_size"]):
                break
            size -= 0.5
        line_h = size * _PT * 1.12
        first = y + (h - line_h * len(lines)) / 2 + line_h * 0.8
        self.pdf.set_font(size=size)
        for i, line in enumerate(lines):
            self.pdf.text(x + (w - self.fitter.width(line, size)) / 2, first + i * line_h, line)

    def _lines_at(self, block: list[tuple[str, float]], x: float, y: float) -> None:
        for text, size in block:
            self.pdf.set_font(size=size)
            y += self._line_h(size)
            self.pdf.text(x, y - size * _PT * 0.3, text)

    def _group(self, placed: _Placed) -> None:
        pdf, row = self.pdf, placed.row
        x0, xt, _, _, x1 = self._columns()
        pdf.set_fill_color(*_GROUP_FILL)
        pdf.rect(x0, placed.y, x1 - x0, placed.h, style="DF")
        size, small = float(self.f["text_size"]), float(self.f["small_size"])
        title = row.title + (f"（{row.points}分）" if row.points else "")
        block = [(ln, size) for ln in self._wrap(title, x1 - xt - 2, size)]
        block += [(ln, small) for t in row.lines for ln in self._wrap(t, x1 - xt - 2, small)]
        if row.section == "facts":
            self._centred(row.ref, x0, placed.y, xt - x0, placed.h, size)
        self._lines_at(block, xt + 1, placed.y + float(self.f["pad"]))

    def _item(self, placed: _Placed) -> dict:
        """Draw one item row; returns its layout fields (empty for an item with nothing to fill)."""
        pdf, row, f = self.pdf, placed.row, self.f
        x0, xt, xp, xc, x1 = self._columns()
        y, h = placed.y, placed.h
        main = self._main_height(row)
        pdf.rect(x0, y, x1 - x0, h)
        pdf.line(xt, y, xt, y + h)
        for x in (xp, xc):
            pdf.line(x, y, x, y + main)
        self._number(row.ref, x0, y, xt - x0, main)
        if row.points:
            self._centred(row.points, xp, y, xc - xp, main, float(f["text_size"]))
        self._lines_at(self._text_block(row, xp - xt - 2), xt + 1, y + float(f["pad"]))
        fields: dict = {}
        if row.note:
            self._centred(row.note, xc, y, x1 - xc, main, float(f["small_size"]))
        if row.ticks:
            fields |= self._tick_groups(row, xc + 2.0, y)
        if row.value:
            fields[row.value.key] = self._value_box(row.value, xc + 2.0, y)
        if row.writes:
            pdf.line(xt, y + main, x1, y + main)
            fields |= self._write_line(row.writes, xt, x1, y + main + float(f["write_gap"]))
        return fields

    def _tick_groups(self, row: PrintedRow, x: float, y: float) -> dict:
        f, pdf = self.f, self.pdf
        tick, label_size = float(f["tick_box"]), float(f["label_size"])
        line = self._line_h(label_size)
        label_lines = 2 if any(t.part for t in row.ticks) else 1
        label_top = y + float(f["pad"])
        box_y = label_top + label_lines * line + float(f["label_gap"])
        fields = {}
        for t in row.ticks:
            pitch = float(f["band_option_width"] if t.band else f["option_width"])
            if t.part:
                self._label(t.part, x, label_top, pitch * len(t.options), label_size)
            options = []
            for i, (label, value) in enumerate(t.options):
                ox = x + i * pitch
                self._label(label, ox, label_top + (label_lines - 1) * line, pitch, label_size)
                bx = ox + (pitch - tick) / 2
                pdf.rect(bx, box_y, tick, tick)
                options.append({"label": label, "value": value, "x": round(bx, 3), "y": round(box_y, 3),
                                "w": tick, "h": tick})
            fields[t.key] = {"kind": "ticks", "label": t.part or t.label, "options": options, "open_top": t.open_top,
                             "confirm_top": False, "column": t.column, "part": t.part, "required": t.required}
            x += pitch * len(t.options) + (float(f["department_gap"]) if t.part else 0.0)
        return fields

    def _label(self, text: str, x: float, top: float, w: float, size: float) -> None:
        while size > float(self.f["min_font_size"]) and self.fitter.width(text, size) > w - 0.4:
            size -= 0.5
        self.pdf.set_font(size=size)
        self.pdf.text(x + (w - self.fitter.width(text, size)) / 2, top + size * _PT * 0.95, text)

    def _value_box(self, spec: WriteSpec, x: float, y: float) -> dict:
        f = self.f
        small = float(f["small_size"])
        self._label(f"{spec.label}（写数字）" if spec.digits else spec.label, x, y + float(f["pad"]),
                    float(f["rate_write_width"]) + 6, small)
        by = y + float(f["pad"]) + self._line_h(small) + 0.8
        return self._write_box(spec, x, by, float(f["rate_write_width"]))

    def _write_box(self, spec: WriteSpec, x: float, y: float, w: float) -> dict:
        f, pdf = self.f, self.pdf
        h = float(f["write_height"])
        pdf.rect(x, y, w, h)
        if spec.digits:  # digit guides on the bottom border, inside the margin the reader leaves out
            pdf.set_draw_color(_GUIDE_GREY)
            step = float(f["digit_width"])
            gx = x + step
            while gx < x + w - 1:
                pdf.line(gx, y + h - 0.9, gx, y + h)
                gx += step
            pdf.set_draw_color(0)
        if spec.unit:
            pdf.set_font(size=float(f["text_size"]))
            pdf.text(x + w + 1.0, y + h / 2 + 1.2, spec.unit)
        return {"kind": "write", "label": spec.label, "x": round(x, 3), "y": round(y, 3), "w": w, "h": h,
                "column": spec.column, "part": "", "required": spec.required}

    def _write_line(self, writes: tuple[WriteSpec, ...], xa: float, xb: float, y: float) -> dict:
        """Labelled write-in boxes side by side across [xa, xb]."""
        small = float(self.f["small_size"])
        labels = [self.fitter.width(w.label + "：", small) + 1.5 for w in writes]
        gap = 3.0
        room = (xb - xa - 1.0 - sum(labels) - gap * (len(writes) - 1)) / len(writes)
        x = xa + 1.0
        fields = {}
        h = float(self.f["write_height"])
        for spec, lw in zip(writes, labels):
            self.pdf.set_font(size=small)
            self.pdf.text(x, y + h / 2 + small * _PT * 0.35, spec.label + "：")
            fields[spec.key] = self._write_box(spec, x + lw, y, room - 1.0)
            x += lw + room + gap
        return fields


def checklist_font(forms: list[ChecklistForm]) -> FontFile:
    """The font cut once to every character the checklists print (data) and this module's wording."""
    text = printed_text(forms[0].rows) + "".join(f.round_name + f.township_name for f in forms)
    text += load_checklist_layout()["title"] + "".join(PERIODS.values())
    # the wording of both modules (the drawing's labels here, the cover's in checklist_content) and of the rules in
    # words, which the checklist definition owns (instruments.checklist: rule_summary and its helpers)
    wording = Path(__file__).read_text(encoding="utf-8") + Path(checklist_content.__file__).read_text(encoding="utf-8")
    wording += "".join(inspect.getsource(f) for f in RULE_WORDING)
    return subset_font(text, wording + "".join(SHEETS.values()))


RULE_WORDING = (checklist_definition.rule_summary, checklist_definition._slope_summary, checklist_definition.count_scale,
                checklist_definition.rate_bands)
_WORKER: dict = {}


def _init_worker(secret: bytes, font: FontFile, folder: str) -> None:
    _WORKER.update(renderer=ChecklistRenderer(secret, font), folder=Path(folder))


def _write_chunk(forms: list[ChecklistForm]) -> int:
    """Worker: draw some townships into one document, split it into one PDF each, write their layout records."""
    data, spans, records = _WORKER["renderer"].render(forms)
    return write_split(data, [(f.township_code, span, r) for f, span, r in zip(forms, spans, records)], _WORKER["folder"])


def write_checklist_pdfs(forms: list[ChecklistForm], folder: Path, secret: bytes, font: FontFile | None = None,
                         workers: int | None = None) -> int:
    """Write <township>.pdf and <township>.layout.json of every form into `folder`; returns the pages written.

    Each worker process draws its share of the townships into one document (one font subset) and
    splits it into one file per township (pypdfium2); each file appears whole or not at all.
    """
    if not forms:
        return 0
    workers = 1 if len(forms) < _MIN_PER_WORKER * 2 else min(workers or default_workers(),
                                                                len(forms) // _MIN_PER_WORKER)
    size = -(-len(forms) // workers)
    chunks = [forms[i:i + size] for i in range(0, len(forms), size)]
    font = font or checklist_font(forms)
    return sum(map_in_workers(_write_chunk, chunks, _init_worker, (secret, font, str(folder)), workers))
