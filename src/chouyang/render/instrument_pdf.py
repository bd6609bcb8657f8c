"""The printed pages of any instrument, and their layout record for the scan reader (issue 18).

`render_instrument` (or `InstrumentRenderer.render`, which keeps one font for many subjects) lays out
the items of `render.instrument_items.print_plan` on A4 pages and draws them:
- every page: corner marks and the QR page id with its MAC (render.qr, form code = instrument.code),
  the instrument's title, the round's title and id, and the point (unit code and name); page i of n;
- page 1: how to fill the form in;
- a section: its title, then one bordered row per question: number, label, hint and skip
  instruction on the left; on the right the answer: tick boxes labelled above (one line of boxes
  per tick group: a long list wraps into several groups `name@2`, `name@3` …), one 0-9 tick row per
  digit (`name#1` … most significant first), or a write-in box; a note is printed text;
- a repeat: a table as the survey form's (render/survey_pdf.py): a two-line header (label, then one
  label per option), prefilled register columns printed and locked in the register's order, blank
  rows numbered, fixed-list rows labelled; a table running over a page repeats its title and header.
  A register repeat is printed when `rows_by_group` has its group (an empty list: one line saying the
  point has no such records), and left out when it has not (a round without that register table).
Nothing is split across pages but a table between its rows.

The layout record is format 2, the survey form's, which `scan.pages.read_page` reads unchanged:
rows carry `section` (the group's name, `_top` outside any group), `ref` (a question's field name,
a register or fixed row's key, None for a blank row), `blank_index`, `y`, `h`, `header`, and fields
keyed as above, each naming its `field`; a question's tick groups carry their `cell` (the boxes'
strip, without the option labels above it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from chouyang.errors import ChouyangError
from chouyang.instruments.model import ROWS_BLANK, ROWS_FIXED, ROWS_REGISTER, Instrument
from chouyang.render import instrument_items as items_module
from chouyang.render.instrument_items import ROOT, Answer, Column, Item, NoteItem, Question, Table, Title, numeral, print_plan
from chouyang.render.pdf import ChinesePDF, FontFile, data_font, write_split
from chouyang.render.qr import PageId
from chouyang.render.survey_pdf import TextFitter

_PT = 0.3528       # mm per point
_LINE = 1.25       # line height in font sizes

_COMMON = {
    "tick_box": 3.4, "option_width": 6.5, "max_option_width": 26.0, "digit_pitch": 5.5, "label_gap": 2.8,
    "label_size": 6.5, "text_size": 8.0, "small_size": 6.5, "min_font_size": 4.5, "pad": 1.5, "box_pad": 2.6,
    "chunk_gap": 2.6, "digit_gap": 3.6, "digit_label_width": 10.0, "write_height": 9.0, "row_height": 8.0,
    "header_label_height": 9.0, "option_row_height": 6.5, "title_height": 7.0, "corner_mark": 5,
    "index_width": 9.0, "fixed_width": 40.0, "printed_width": 20.0, "write_width": 24.0, "gap": 1.5,
}
PORTRAIT = _COMMON | {
    "orientation": "P", "page": [210, 297], "corner_marks": [[13.5, 12], [191.5, 12], [13.5, 280], [191.5, 280]],
    "qr_size": 24, "qr_position": [162, 11.5], "table_left": 13.5, "table_right": 196.5, "table_top": 40,
    "table_bottom": 276, "text_width": 72.0,
}
LANDSCAPE = _COMMON | {
    "orientation": "L", "page": [297, 210],
    "corner_marks": [[11.5, 13.5], [280.5, 13.5], [11.5, 191.5], [280.5, 191.5]],
    "qr_size": 25, "qr_position": [250, 13], "table_left": 11, "table_right": 286, "table_top": 42,
    "table_bottom": 189, "text_width": 100.0,
}

# Names the survey form's geometry (the built-in survey definition's [layout]) gives them.
# A repeat of blank rows that does not say how many to print (an XLSForm's plain `begin repeat`, where the phone
# adds rows as it goes) still needs lines on paper to write what the team finds.
DEFAULT_BLANK_ROWS = 5
_ALIASES = {"label_row_height": "header_label_height", "section_title_height": "title_height"}

INSTRUCTIONS = (
    "填表说明：在选项上方标注的方框内打「√」或「×」；单选题每题只选一项，多选题（注明“可多选”）可选多项；选错时把选错的方框整个涂黑作废，"
    "再勾选正确的一项。",
    "数字逐位勾选（每一位勾一个 0–9），高位为 0 的可以不勾；文字和日期写在方框内，由录入员核对录入。"
    "按题后括号中的说明跳过不需回答的题。",
)


@dataclass
class Block:
    """One unbreakable piece of a page: a title, a note, a question, a table's header or one of its rows."""

    kind: str                   # intro | title | note | question | header | row | empty
    h: float
    item: Item | None = None
    row: dict | None = None     # a table row: ref, blank_index, index, label, values
    keep: bool = False          # kept on one page with the next block
    continued: bool = False
    shape: dict = field(default_factory=dict)   # a question's measured layout


@dataclass(frozen=True)
class TableShape:
    widths: tuple[float, ...]
    pitches: tuple[float, ...]   # per column: the tick pitch (0 for text columns)


class InstrumentRenderer:
    """Draws subjects' pages of one instrument one after another with one (subset) font."""

    def __init__(self, instrument: Instrument, secret: bytes, font: FontFile):
        self.instrument = instrument
        self.secret = secret
        self.font = font
        self.items = print_plan(instrument)
        self.fitter = TextFitter(ChinesePDF(font=font), 8.0)
        self._wrapped: dict[tuple[str, float, float], list[str]] = {}
        self.g = self._geometry()
        self.shapes = {id(t): self._table_shape(t) for t in self.items if isinstance(t, Table)}

    # -- geometry --
    def _geometry(self) -> dict:
        layout = {_ALIASES.get(k, k): v for k, v in self.instrument.layout.items()}
        orientation = layout.get("orientation")
        if orientation is None:  # portrait unless a table is too wide for it
            self.g = PORTRAIT | layout
            fits = all(self._table_width(t) <= self._width() for t in self.items if isinstance(t, Table))
            orientation = "P" if fits else "L"
        return (PORTRAIT if orientation == "P" else LANDSCAPE) | layout

    def _width(self) -> float:
        return float(self.g["table_right"]) - float(self.g["table_left"])

    def _table_width(self, t: Table) -> float:
        return sum(self._column_width(c)[0] for c in t.columns)

    def _column_width(self, c: Column) -> tuple[float, float]:
        """(width, tick pitch) of a table column; a write-in column without a width gets what is left (0 here)."""
        g = self.g
        if c.kind in ("ticks", "digits"):
            pitch = self._pitch(c.answer, c.field.option_width if c.field else None, g["label_size"])
            n = len(c.answer.options) if c.kind == "ticks" else 10 * c.answer.digits
            return n * pitch, pitch
        width = c.field.width if c.field is not None and c.field.width else None
        default = {"index": g["index_width"], "label": g["fixed_width"], "printed": g["printed_width"]}.get(c.kind, 0.0)
        return float(width or default), 0.0

    def _pitch(self, answer: Answer, given: float | None, size: float) -> float:
        if answer.kind == "digits":
            return float(given or self.g["digit_pitch"])
        if given:
            return float(given)
        widest = max((self.fitter.width(label, size) for label, _ in answer.options), default=0.0)
        return min(max(float(self.g["option_width"]), math.ceil((widest + 2.0) * 2) / 2),
                   float(self.g["max_option_width"]))

    def _table_shape(self, t: Table) -> TableShape:
        measured = [self._column_width(c) for c in t.columns]
        flexible = [i for i, c in enumerate(t.columns) if c.kind == "write" and measured[i][0] == 0]
        rest = self._width() - sum(w for w, _ in measured)
        short = 10 * len(flexible) - rest   # a write-in column gets at least 10 mm
        if short > 1e-6:
            raise ChouyangError(f"调查表「{self.instrument.title}」：「{t.group.label}」的表格比纸面宽 {short:.0f} 毫米，"
                                "请减少栏目、缩小 width / option_width，或在 layout 中设 orientation = \"L\"（横向）")
        share = rest / max(len(flexible), 1)
        widths = tuple(share if i in flexible else w for i, (w, _) in enumerate(measured))
        return TableShape(widths, tuple(p for _, p in measured))

    def _line_h(self, size: float) -> float:
        return size * _PT * _LINE

    def _wrap(self, text: str, width: float, size: float) -> list[str]:
        key = (text, width, size)
        if key not in self._wrapped:  # every subject prints the same questions
            out, line = [], ""
            for c in text:
                if line and self.fitter.width(line + c, size) > width:
                    out.append(line)
                    line = c
                else:
                    line += c
            self._wrapped[key] = out + ([line] if line else [])
        return self._wrapped[key]

    # -- measuring --
    def _question_text(self, q: Question) -> list[tuple[str, float]]:
        g = self.g
        width = float(g["text_width"]) - 2.0
        label = (f"{q.number}. " if q.number else "") + q.field.label
        if q.answer.multiple:
            label += "（可多选）"
        block = [(ln, float(g["text_size"])) for ln in self._wrap(label, width, float(g["text_size"]))]
        for extra in (q.field.hint or "", q.skip):
            block += [(ln, float(g["small_size"])) for ln in self._wrap(extra, width, float(g["small_size"])) if extra]
        return block

    def _answer_x(self) -> tuple[float, float]:
        x0 = float(self.g["table_left"])
        return x0 + float(self.g["text_width"]) + 2.0, float(self.g["table_right"]) - 2.0

    def _tick_chunks(self, answer: Answer, given: float | None) -> tuple[float, list[range], int]:
        """(pitch, options per line, label lines) of a question's tick boxes."""
        ax, bx = self._answer_x()
        size = float(self.g["label_size"])
        pitch = self._pitch(answer, given, size)
        per_line = max(2, int((bx - ax) // pitch))
        n = len(answer.options)
        chunks = [range(i, min(i + per_line, n)) for i in range(0, n, per_line)]
        lines = max((len(self._wrap(label, pitch - 0.6, size)) for label, _ in answer.options), default=1)
        return pitch, chunks, min(lines, 3)

    def _answer_height(self, q: Question) -> tuple[float, dict]:
        g = self.g
        tick, gap, lh = float(g["tick_box"]), float(g["label_gap"]), self._line_h(float(g["label_size"]))
        a = q.answer
        if a.kind == "ticks":
            pitch, chunks, lines = self._tick_chunks(a, q.field.option_width)
            h = len(chunks) * (lines * lh + gap + tick) + (len(chunks) - 1) * float(g["chunk_gap"])
            return h + float(g["box_pad"]), {"pitch": pitch, "chunks": chunks, "lines": lines}
        if a.kind == "digits":
            h = lh + gap + a.digits * tick + (a.digits - 1) * float(g["digit_gap"])
            return h + float(g["box_pad"]), {"pitch": self._pitch(a, q.field.option_width, lh)}
        if a.kind == "write":
            return float(g["write_height"]) + float(g["pad"]), {}
        return self._line_h(float(g["text_size"])), {}

    def _question_block(self, q: Question) -> Block:
        text = self._question_text(q)
        text_h = sum(self._line_h(s) for _, s in text)
        answer_h, shape = self._answer_height(q)
        shape["text"] = text
        return Block("question", max(text_h, answer_h) + 2 * float(self.g["pad"]), q, shape=shape)

    def _note_block(self, text: str, kind: str = "note", item: Item | None = None) -> Block:
        size = float(self.g["small_size"])
        lines = self._wrap(text, self._width(), size)
        return Block(kind, len(lines) * self._line_h(size) + 1.5, item, shape={"lines": lines}, keep=kind == "intro")

    # -- what goes on the pages --
    def _blocks(self, rows_by_group: dict[str, list[dict]]) -> list[Block]:
        blocks = [self._note_block(line, "intro") for line in INSTRUCTIONS]
        blocks[-1].keep = False
        self.titles: dict[int, str] = {}   # this subject's printed section titles, numbered over those printed
        self.numbered = 0
        for item in self.items:
            if isinstance(item, Title):
                self._number(item, item.text, item.numbered)
                blocks.append(Block("title", float(self.g["title_height"]), item, keep=True))
                if item.relevant:
                    blocks.append(self._note_block(f"本部分仅当{item.relevant}时填写。", item=item))
                    blocks[-1].keep = True
            elif isinstance(item, NoteItem):
                blocks.append(self._note_block(item.text, item=item))
            elif isinstance(item, Question):
                blocks.append(self._question_block(item))
            elif item.group.rows != ROWS_REGISTER or item.group.name in rows_by_group:
                self._number(item, item.title, True)
                blocks += self._table_blocks(item, rows_by_group.get(item.group.name, []))
        return blocks

    def _number(self, item: Title | Table, label: str, numbered: bool) -> None:
        self.numbered += numbered
        self.titles[id(item)] = f"{numeral(self.numbered)}、{label}" if numbered else label

    def _table_blocks(self, t: Table, given: list[dict]) -> list[Block]:
        g = self.g
        out = [Block("title", float(g["title_height"]), t, keep=True)]
        out += [Block("note", nb.h, t, shape=nb.shape, keep=True) for nb in map(self._note_block, t.notes)]
        out.append(Block("header", self._header_height(t), t, keep=True))
        rows = table_rows(t, given)
        if not rows:
            out.append(Block("empty", float(g["row_height"]), t))
        out += [Block("row", self._row_height(t, r), t, row=r) for r in rows]
        return out

    def _row_height(self, t: Table, row: dict) -> float:
        """A table row's height: `row_height`, or more for a fixed row whose label needs more lines (up to 5)."""
        base = float(self.g["row_height"])
        if not row["label"] or t.group.rows != ROWS_FIXED:
            return base
        size = float(self.g["text_size"]) - 1.0
        width = self.shapes[id(t)].widths[0] - 1.0
        lines = min(len(self._wrap(row["label"], width, size)), 5)
        return max(base, lines * size * _PT * 1.12 + 2.4)

    def _header_height(self, t: Table) -> float:
        return float(self.g["header_label_height"]) + float(self.g["option_row_height"])

    def _chain(self, blocks: list[Block], i: int) -> float:
        """The height of block i and the blocks kept on its page with it."""
        need, j = blocks[i].h, i
        while blocks[j].keep and j + 1 < len(blocks):
            j += 1
            need += blocks[j].h + float(self.g["gap"])
        return need

    def _continued(self, b: Block) -> list[Block]:
        """What a page starting with a table's row repeats first: the table's title and header."""
        if b.kind != "row":
            return []
        return [Block("title", float(self.g["title_height"]), b.item, continued=True),
                Block("header", self._header_height(b.item), b.item)]

    def paginate(self, blocks: list[Block]) -> list[list[tuple[Block, float]]]:
        """Blocks placed (block, y) on pages; a kept chain never split, a table's header repeated."""
        top, bottom = float(self.g["table_top"]), float(self.g["table_bottom"])
        pages: list[list[tuple[Block, float]]] = [[]]
        y = top
        for i, b in enumerate(blocks):
            if y + self._chain(blocks, i) > bottom and pages[-1]:
                pages.append([])
                y = top
                for cont in self._continued(b):
                    pages[-1].append((cont, y))
                    y += cont.h
            if y + b.h > bottom:
                what = b.item.field.label if isinstance(b.item, Question) else getattr(b.item, "title", "")
                raise ChouyangError(f"调查表「{self.instrument.title}」：「{what}」一页印不下，请拆分或缩短")
            pages[-1].append((b, y))
            y += b.h + (0.0 if b.kind in ("title", "header", "row") else float(self.g["gap"]))
        return pages

    # -- drawing --
    def _document(self, title: str) -> ChinesePDF:
        pdf = ChinesePDF(orientation=self.g["orientation"], font=self.font)
        pdf.set_auto_page_break(False)
        pdf.set_title(title)
        pdf.set_creator("chouyang")
        pdf.set_line_width(0.2)
        return pdf

    def _draw(self, pdf: ChinesePDF, subject: dict, rows_by_group: dict[str, list[dict]], round_id: str,
              round_title: str) -> dict:
        """Add the subject's pages to `pdf`; their layout record."""
        from chouyang.render.instrument_draw import PageDrawer

        g = self.g
        drawer = PageDrawer(self, pdf, subject)
        plans = self.paginate(self._blocks(rows_by_group))
        unit = str(subject["unit_code"])
        record = {"format": 2, "form": self.instrument.code, "instrument": self.instrument.name,
                  "version": self.instrument.version, "round_id": round_id, "unit_code": unit, "units": "mm",
                  "page_size": g["page"], "table_x": [g["table_left"], g["table_right"]], "pages": []}
        for i, placed in enumerate(plans, start=1):
            pdf.add_page()
            page = drawer.frame(PageId(round_id, unit, self.instrument.code, i, len(plans)), round_title)
            page["headers"], page["rows"] = drawer.blocks(placed)
            record["pages"].append(page)
        return record

    def render(self, subject: dict, rows_by_group: dict[str, list[dict]], round_id: str, round_title: str,
               out_pdf) -> dict:
        """Write the subject's PDF; returns its layout record (format 2, JSON-ready)."""
        pdf = self._document(f"{round_title} {subject.get('unit_name', '')} {self.instrument.title}")
        record = self._draw(pdf, subject, rows_by_group, round_id, round_title)
        pdf.output(str(out_pdf))
        return record

    def render_many(self, jobs: list[tuple[dict, dict[str, list[dict]]]], round_id: str, round_title: str
                    ) -> tuple[bytes, list[tuple[int, int]], list[dict]]:
        """Many subjects into one PDF (fpdf2 cuts the font again at every output, which costs more than drawing
        a subject's pages); the PDF, each subject's page range [first, end) and its layout record."""
        pdf = self._document(f"{round_title} {self.instrument.title}")
        spans, records = [], []
        for subject, rows in jobs:
            start = pdf.page
            records.append(self._draw(pdf, subject, rows, round_id, round_title))
            spans.append((start, pdf.page))
        return bytes(pdf.output()), spans, records


def _cell_text(value) -> str:
    if value is None or isinstance(value, float) and math.isnan(value):
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def table_rows(t: Table, given: list[dict]) -> list[dict]:
    """The printed rows of a repeat: register rows in their order, blank rows numbered, fixed rows labelled."""
    g = t.group
    printed = [c for c in t.columns if c.kind == "printed"]
    if g.rows == ROWS_FIXED:
        return [{"ref": key, "blank_index": None, "index": i, "label": label, "values": {}}
                for i, (key, label) in enumerate(g.fixed)]
    if g.rows == ROWS_BLANK:
        n = max(_blank_count(g), len(given))
        return [{"ref": None, "blank_index": i + 1, "index": i, "label": str(i + 1), "values": {}} for i in range(n)]
    if g.rows not in (ROWS_REGISTER, None):
        return []
    column = register_key_column(t)
    return [{"ref": _cell_text(row.get(column)), "blank_index": None, "index": i, "label": "",
             "values": {c.key: _cell_text(row.get(c.field.prefill)) for c in printed}} for i, row in enumerate(given)]


def _blank_count(g) -> int:
    return g.blank_rows or DEFAULT_BLANK_ROWS


def register_key_column(t: Table) -> str:
    """The register column holding a row's key: the key field's prefill column, else `ref`."""
    key = next((c.field for c in t.columns if c.field is not None and c.field.name == t.group.key), None)
    return key.prefill if key is not None and key.prefill else "ref"


def instrument_font(instrument: Instrument, subjects: list[dict] = (), rows: list[dict[str, list[dict]]] = (),
                    round_title: str = "") -> FontFile:
    """The font cut once to every character the pages of these subjects can print."""
    texts = [items_module.plan_text(instrument, print_plan(instrument)), round_title, *INSTRUCTIONS]
    for s in subjects:
        texts += [_cell_text(v) for v in s.values()]
    for by_group in rows:
        for group_rows in by_group.values():
            texts += [_cell_text(v) for r in group_rows for v in r.values()]
    from chouyang.instruments import expr_describe
    from chouyang.render import instrument_draw

    sources = [Path(__file__), Path(items_module.__file__), Path(instrument_draw.__file__),
               Path(expr_describe.__file__)]
    return data_font(texts, sources)


def render_instrument(instrument: Instrument, subject: dict, rows_by_group: dict[str, list[dict]], secret: bytes,
                      round_id: str, round_title: str, out_pdf, font: FontFile | None = None) -> dict:
    """One subject's pages (PDF at `out_pdf`) and their layout record; `font` from `instrument_font` for many."""
    font = font or instrument_font(instrument, [subject], [rows_by_group], round_title)
    return InstrumentRenderer(instrument, secret, font).render(subject, rows_by_group, round_id, round_title, out_pdf)


_WORKER: dict = {}


def _init_worker(instrument: Instrument, secret: bytes, font: FontFile, folder: str, round_id: str,
                 round_title: str) -> None:
    _WORKER.update(renderer=InstrumentRenderer(instrument, secret, font), folder=Path(folder), round_id=round_id,
                   round_title=round_title)


def _write_chunk(jobs: list[tuple[dict, dict[str, list[dict]]]]) -> int:
    """Worker: some subjects drawn into one document, split into one PDF and layout record each."""
    data, spans, records = _WORKER["renderer"].render_many(jobs, _WORKER["round_id"], _WORKER["round_title"])
    return write_split(data, [(r["unit_code"], span, r) for r, span in zip(records, spans)], _WORKER["folder"])


def write_instrument_pdfs(instrument: Instrument, jobs: list[tuple[dict, dict[str, list[dict]]]], folder: Path,
                          secret: bytes, round_id: str, round_title: str, font: FontFile | None = None,
                          workers: int | None = None, chunk: int = 25) -> int:
    """<unit_code>.pdf and <unit_code>.layout.json of every (subject, rows_by_group) into `folder`; the pages
    written.  Each worker draws `chunk` subjects into one document and splits it (pypdfium2); every file
    appears whole or not at all."""
    from chouyang.pool import map_in_workers

    if not jobs:
        return 0
    Path(folder).mkdir(parents=True, exist_ok=True)
    font = font or instrument_font(instrument, [s for s, _ in jobs], [r for _, r in jobs], round_title)
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    workers = min(workers or 1, len(chunks))
    initargs = (instrument, secret, font, str(folder), round_id, round_title)
    return sum(map_in_workers(_write_chunk, chunks, _init_worker, initargs, workers))


__all__ = ["ROOT", "InstrumentRenderer", "instrument_font", "render_instrument", "table_rows", "write_instrument_pdfs"]
