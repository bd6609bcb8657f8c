"""Drawing one subject's instrument pages: page furniture, questions, tables (see render/instrument_pdf.py).

Every tick box drawn is recorded with its position (mm from the page's top-left corner) and the
value a tick on it stores; tick boxes stay `label_gap` clear of their labels and `box_pad` clear of
any border, as the reader needs (scan/marks.py looks for circles 1.9 mm around a box and registers
each group on outlines within 1 mm).
"""

from __future__ import annotations

from chouyang.errors import ChouyangError
from chouyang.render.instrument_items import ROOT, Question, Table
from chouyang.render.pdf import ChinesePDF
from chouyang.render.qr import PageId, draw_page_markers

_PT = 0.3528
_HEADER_FILL = (228, 228, 228)
_EMPTY_TABLE = "（本样本点没有在册记录）"


def _open_top(options: list[dict]) -> bool:
    """The last option means "this value or more" (a scale printed 0 1 2 3 4 5+)."""
    return str(options[-1]["label"]).endswith("+")


class PageDrawer:
    def __init__(self, renderer, pdf: ChinesePDF, subject: dict):
        self.r = renderer
        self.g = renderer.g
        self.pdf = pdf
        self.fitter = renderer.fitter
        self.subject = subject

    # -- page furniture --
    def frame(self, page: PageId, round_title: str) -> dict:
        g, pdf, s = self.g, self.pdf, self.subject
        width, height = g["page"]
        record = draw_page_markers(pdf, g, self.r.secret, page)
        left = float(g["corner_marks"][0][0]) + float(g["corner_mark"]) + 3
        text_w = record["qr"]["x"] - left - 4
        self.line(self.r.instrument.title, left, 11.5, text_w, 14.0, centre=True)
        self.line(round_title, left, 20, text_w, 9.0, centre=True)
        township = f"乡镇（街道）：{s['township_name']}　　" if s.get("township_name") else ""
        self.line(f"{township}样本点：{s.get('unit_name', '')}（{s['unit_code']}）", left, 25.5, text_w, 9.0)
        self.line(f"轮次：{page.round_id}　　表号：{page.form_code}　　版本：{self.r.instrument.version}",
                  left, 30.5, text_w, 8.0)
        pdf.set_font(size=8)
        pdf.set_xy(0, height - 11)
        pdf.cell(width, 5, f"第 {page.page} 页 共 {page.pages} 页", align="C")
        return record

    def line(self, text: str, x: float, y: float, w: float, size: float, centre: bool = False) -> None:
        """One line of text at (x, top y), shrunk to width `w`."""
        self.fitter.line(self.pdf, text, x, y, w, size, float(self.g["min_font_size"]), centre)

    def centred(self, text: str, x: float, y: float, w: float, h: float, size: float, where: str = "") -> None:
        """Text centred in a cell, shrunk or wrapped to fit (up to 3 lines)."""
        if not text:
            return
        fitted = self.fitter.fit(text, w - 1.0, h - 0.6, size, float(self.g["min_font_size"]))
        if fitted is None:
            raise ChouyangError(f"调查表「{self.r.instrument.title}」：{where or '表头'}的内容「{text[:24]}」太长，"
                                "缩小字号、换行后仍印不下")
        s, lines = fitted
        line_h = s * _PT * 1.12
        first = y + (h - line_h * len(lines)) / 2 + line_h * 0.8
        self.pdf.set_font(size=s)
        for i, ln in enumerate(lines):
            self.pdf.text(x + (w - self.fitter.width(ln, s)) / 2, first + i * line_h, ln)

    # -- blocks --
    def blocks(self, placed) -> tuple[list[dict], list[dict]]:
        """Draw a page's blocks; its layout record's headers and rows."""
        headers: list[dict] = []
        rows: list[dict] = []
        run: list = []   # consecutive rows of one table: their grid is drawn at once
        for b, y in placed + [(None, 0.0)]:
            if run and (b is None or b.kind != "row" or b.item is not run[0][0].item):
                self.grid(run[0][0].item, [y for _, y in run] + [run[-1][1] + run[-1][0].h])
                run = []
            if b is None:
                break
            if b.kind == "row":
                rows.append(self.table_row(b, y) | {"header": len(headers) - 1})
                run.append((b, y))
            elif b.kind == "question":
                rows.append(self.question(b, y, headers))
            else:
                self.furniture(b, y, headers)
        return headers, rows

    def furniture(self, b, y: float, headers: list[dict]) -> None:
        """A block with nothing to fill: a note, a title, a table's header, an empty table."""
        if b.kind in ("intro", "note"):
            self.note(b.shape["lines"], y)
        elif b.kind == "title":
            self.title(b, y, headers)
        elif b.kind == "header":
            self.header(b.item, y)
            headers.append({"section": b.item.group.name, "y": round(y, 3), "h": round(b.h, 3)})
        else:
            self.pdf.set_font(size=float(self.g["text_size"]))
            self.pdf.set_xy(float(self.g["table_left"]), y)
            self.pdf.cell(sum(self.r.shapes[id(b.item)].widths), b.h, _EMPTY_TABLE, border=1, align="C")

    def note(self, lines: list[str], y: float) -> None:
        size = float(self.g["small_size"])
        self.pdf.set_font(size=size)
        x = float(self.g["table_left"])
        for i, ln in enumerate(lines):
            self.pdf.text(x, y + (i + 0.8) * size * _PT * 1.25, ln)

    def title(self, b, y: float, headers: list[dict]) -> None:
        text = self.r.titles[id(b.item)] + ("（续）" if b.continued else "")
        self.pdf.set_font(size=10)
        self.pdf.text(float(self.g["table_left"]), y + 5.0, text)
        if not isinstance(b.item, Table):
            headers.append({"section": b.item.section, "y": round(y, 3), "h": round(b.h, 3)})

    # -- a question --
    def question(self, b, y: float, headers: list[dict]) -> dict:
        g, pdf, q = self.g, self.pdf, b.item
        x0, x1 = float(g["table_left"]), float(g["table_right"])
        xa = x0 + float(g["text_width"])
        pdf.rect(x0, y, x1 - x0, b.h)
        pdf.line(xa, y, xa, y + b.h)
        ty = y + float(g["pad"])
        for text, size in b.shape["text"]:
            pdf.set_font(size=size)
            ty += size * _PT * 1.25
            pdf.text(x0 + 1.0, ty - size * _PT * 0.3, text)
        if not headers or headers[-1]["section"] != q.section:
            headers.append({"section": q.section, "y": round(y, 3), "h": 0.0})
        ax = xa + 2.0
        top = y + float(g["pad"])
        kind = q.answer.kind
        fields = (self.ticks(q, b.shape, ax, top) if kind == "ticks" else self.digits(q, b.shape, ax, top)
                  if kind == "digits" else self.write_box(q, ax, top) if kind == "write" else self.printed(q, ax, top))
        return {"section": q.section or ROOT, "ref": q.field.name, "blank_index": None, "kind": "question",
                "number": q.number, "y": round(y, 3), "h": round(b.h, 3), "header": len(headers) - 1,
                "fields": fields}

    def _box(self, x: float, y: float, label: str, value) -> dict:
        tick = float(self.g["tick_box"])
        self.pdf.rect(x, y, tick, tick)
        return {"label": label, "value": value, "x": round(x, 3), "y": round(y, 3), "w": tick, "h": tick}

    def _group(self, q_label: str, name: str, options: list[dict], pitch: float, extra: dict) -> dict:
        tick = float(self.g["tick_box"])
        first, last = options[0], options[-1]
        pad = (pitch - tick) / 2
        cell = {"x": round(first["x"] - pad, 3), "w": round(last["x"] - first["x"] + pitch, 3),
                "y": round(first["y"] - 1.9, 3), "h": round(tick + 3.8, 3)}
        return {"kind": "ticks", "label": q_label, "options": options, "open_top": _open_top(options),
                "confirm_top": False, "field": name, "cell": cell} | extra

    def ticks(self, q: Question, shape: dict, x: float, top: float) -> dict:
        g = self.g
        tick, gap = float(g["tick_box"]), float(g["label_gap"])
        size = float(g["label_size"])
        lh = size * _PT * 1.25
        pitch, chunks, lines = shape["pitch"], shape["chunks"], shape["lines"]
        fields = {}
        for k, chunk in enumerate(chunks, start=1):
            box_y = top + lines * lh + gap
            options = []
            for j, i in enumerate(chunk):
                label, value = q.answer.options[i]
                ox = x + j * pitch
                for n, ln in enumerate(self.r._wrap(label, pitch - 0.6, size)[:lines]):
                    self.line(ln, ox, top + n * lh, pitch, size, centre=True)
                options.append(self._box(ox + (pitch - tick) / 2, box_y, label, value))
            key = q.field.name if len(chunks) == 1 else f"{q.field.name}@{k}"
            fields[key] = self._group(q.field.label, q.field.name, options, pitch, {"multiple": q.answer.multiple})
            top = box_y + tick + float(g["chunk_gap"])
        return fields

    def digits(self, q: Question, shape: dict, x: float, top: float) -> dict:
        g = self.g
        tick, pitch = float(g["tick_box"]), shape["pitch"]
        size = float(g["label_size"])
        bx = x + float(g["digit_label_width"])
        for d in range(10):
            self.line(str(d), bx + d * pitch, top, pitch, size, centre=True)
        box_y = top + size * _PT * 1.25 + float(g["label_gap"])
        fields = {}
        for i, place in enumerate(q.answer.digit_labels, start=1):
            self.line(place, x, box_y + tick / 2 - size * _PT * 0.55, float(g["digit_label_width"]) - 1.5, size)
            options = [self._box(bx + d * pitch + (pitch - tick) / 2, box_y, str(d), d) for d in range(10)]
            fields[f"{q.field.name}#{i}"] = self._group(f"{q.field.label}（{place}）", q.field.name, options, pitch,
                                                        {"digit": i, "digits": q.answer.digits})
            box_y += tick + float(g["digit_gap"])
        return fields

    def write_box(self, q: Question, x: float, top: float) -> dict:
        g = self.g
        right = float(g["table_right"]) - 2.0
        w = min(float(q.field.width), right - x) if q.field.width else right - x
        h = float(g["write_height"])
        self.pdf.rect(x, top, w, h)
        return {q.field.name: {"kind": "write", "label": q.field.label, "x": round(x, 3), "y": round(top, 3),
                               "w": round(w, 3), "h": h, "field": q.field.name}}

    def printed(self, q: Question, x: float, top: float) -> dict:
        value = str(self.subject.get(q.field.prefill, "")) if q.field.prefill else ""
        self.line(value, x, top + 0.5, float(self.g["table_right"]) - 2.0 - x, float(self.g["text_size"]))
        return {}

    # -- a table --
    def header(self, t: Table, y: float) -> None:
        g, pdf = self.g, self.pdf
        shape = self.r.shapes[id(t)]
        lh, oh = float(g["header_label_height"]), float(g["option_row_height"])
        x = float(g["table_left"])
        pdf.set_fill_color(*_HEADER_FILL)
        for c, w, pitch in zip(t.columns, shape.widths, shape.pitches):
            if c.kind not in ("ticks", "digits"):
                pdf.rect(x, y, w, lh + oh, style="DF")
                self.centred(c.label, x, y, w, lh + oh, 7.0, f"「{t.group.label}」的表头")
            elif c.kind == "ticks":
                self._tick_header(c.label, [o[0] for o in c.answer.options], x, y, pitch, t)
            else:
                for i, place in enumerate(c.answer.digit_labels):
                    self._tick_header(f"{c.label}（{place}）", [str(d) for d in range(10)], x + i * 10 * pitch, y,
                                      pitch, t)
            x += w
        pdf.set_fill_color(0, 0, 0)

    def _tick_header(self, label: str, options: list[str], x: float, y: float, pitch: float, t: Table) -> None:
        g, pdf = self.g, self.pdf
        lh, oh = float(g["header_label_height"]), float(g["option_row_height"])
        pdf.rect(x, y, pitch * len(options), lh, style="DF")
        self.centred(label, x, y, pitch * len(options), lh, 7.0, f"「{t.group.label}」的表头")
        for i, text in enumerate(options):
            pdf.rect(x + i * pitch, y + lh, pitch, oh, style="DF")
            self.centred(text, x + i * pitch, y + lh, pitch + 0.6, oh, 6.5, f"「{t.group.label}」的表头")

    def grid(self, t: Table, edges: list[float]) -> None:
        """Cell borders of a block of rows (`edges`: each row's top, then the last one's bottom) as whole lines;
        digit groups get their own borders."""
        shape = self.r.shapes[id(t)]
        x = float(self.g["table_left"])
        width = sum(shape.widths)
        top, bottom = edges[0], edges[-1]
        for y in edges:
            self.pdf.line(x, y, x + width, y)
        for c, w, pitch in zip(t.columns, shape.widths, shape.pitches):
            self.pdf.line(x, top, x, bottom)
            for i in range(1, c.answer.digits if c.kind == "digits" else 0):
                self.pdf.line(x + i * 10 * pitch, top, x + i * 10 * pitch, bottom)
            x += w
        self.pdf.line(x, top, x, bottom)

    def label_cell(self, text: str, x: float, y: float, w: float, h: float) -> None:
        """A fixed row's label, flush left on as many lines as its row was made tall for."""
        size = float(self.g["text_size"]) - 1.0
        lines = self.r._wrap(text, w - 1.0, size)
        line_h = size * _PT * 1.12
        first = y + (h - line_h * len(lines)) / 2 + line_h * 0.8
        self.pdf.set_font(size=size)
        for i, ln in enumerate(lines):
            self.pdf.text(x + 0.8, first + i * line_h, ln)

    def table_row(self, b, y: float) -> dict:
        g, t, row = self.g, b.item, b.row
        shape = self.r.shapes[id(t)]
        tick, h = float(g["tick_box"]), b.h
        box_y = y + (h - tick) / 2
        x = float(g["table_left"])
        fields: dict = {}
        for c, w, pitch in zip(t.columns, shape.widths, shape.pitches):
            if c.kind == "label":
                self.label_cell(row["label"], x, y, w, h)
            elif c.kind in ("index", "printed"):
                text = row["values"].get(c.key, "") if c.kind == "printed" else row["label"]
                self.centred(text, x, y, w, h, float(g["text_size"]) - 1.0,
                             f"「{t.group.label}」编号 {row['ref']} 的「{c.label}」")
            elif c.kind == "ticks":
                options = [self._box(x + i * pitch + (pitch - tick) / 2, box_y, label, value)
                           for i, (label, value) in enumerate(c.answer.options)]
                fields[c.key] = {"kind": "ticks", "label": c.label, "options": options, "open_top": _open_top(options),
                                 "confirm_top": False, "field": c.key, "multiple": c.answer.multiple}
            elif c.kind == "digits":
                for i, place in enumerate(c.answer.digit_labels, start=1):
                    dx = x + (i - 1) * 10 * pitch
                    options = [self._box(dx + d * pitch + (pitch - tick) / 2, box_y, str(d), d) for d in range(10)]
                    fields[f"{c.key}#{i}"] = {"kind": "ticks", "label": f"{c.label}（{place}）", "options": options,
                                              "open_top": False, "confirm_top": False, "field": c.key, "digit": i,
                                              "digits": c.answer.digits}
            else:
                fields[c.key] = {"kind": "write", "label": c.label, "x": round(x, 3), "y": round(y, 3),
                                 "w": round(w, 3), "h": h, "field": c.key}
            x += w
        return {"section": t.group.name, "ref": row["ref"], "blank_index": row["blank_index"], "index": row["index"],
                "kind": "repeat", "y": round(y, 3), "h": h, "fields": fields}
