"""What the printed pages of any instrument hold, decided before anything is drawn (issue 18).

`print_plan(instrument)` turns a definition into a flat list of printed items: section titles,
notes, numbered questions (each with how it is answered on paper) and repeat tables (their
columns), and writes the skip instructions.  `render.instrument_pdf` lays the items out and draws
them; `scan.instrument` and `render.instrument_workbook` use the same answers (`answer_for`), so
paper, scan and workbook never disagree about a field.

How a field is answered on paper (a decision never rests on a handwritten digit):
- select_one / select_multiple: one tick box per choice (select_multiple: several may be ticked);
  a yes/no question is a select_one over a two-choice list;
- integer: a tick scale when the field has a choice list (`paper="ticks"`: the list's options as
  printed, "5+" storing 5; any integer within the constraint is still valid on other media), or its
  constraint bounds it to a small range (`. >= 0 and . <= 5`, at most MAX_SCALE values; `paper="ticks"`
  asks for it), else one 0-9 tick row per digit (`paper="digits"`, `digits=N`; N from the constraint's
  upper bound, else 3); unticked leading digit rows read as 0;
- date: a write-in box (a filled one always goes to review) - a date decides nothing on the forms
  we print, and 8 rows of 10 boxes would take a third of a page; `paper="digits"` prints the 8
  digit rows YYYY MM DD for an instrument that does decide on a date;
- decimal: a tick scale of its choice list with `paper="ticks"` (a rate's bands "≥65%" storing 65),
  else a write-in box;
- text: a write-in box; note: printed text; a prefilled register value: printed, locked;
  calculate: not printed (the phone computes it; on paper the point is in the header);
- `paper="none"`: not printed (asked in the workbook, on the web and on the phone only), so neither
  the layout record nor the scan knows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from chouyang.instruments import expr
from chouyang.instruments.model import (
    PAPER_DIGITS,
    PAPER_NONE,
    PAPER_TICKS,
    PAPER_WRITE,
    ROWS_BLANK,
    ROWS_FIXED,
    Field,
    Group,
    Instrument,
)

MAX_SCALE = 11           # most values of an integer's tick scale (0-10)
DEFAULT_DIGITS = 3
ROOT = "_top"            # the layout section of fields outside any group
DATE_DIGITS = ("年", "年", "年", "年", "月", "月", "日", "日")
_PLACES = ("个位", "十位", "百位", "千位", "万位", "十万位")
_NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class Answer:
    """How one field is answered on paper."""

    kind: str                                   # ticks | digits | write | printed | note | none
    options: tuple[tuple[str, str], ...] = ()   # ticks: (printed label, stored value)
    multiple: bool = False                      # ticks: several may be ticked
    digits: int = 0                             # digits: how many 0-9 rows
    digit_labels: tuple[str, ...] = ()          # digits: printed beside each row, most significant first


def _bounds(constraint: str | None) -> list[tuple[str, int]]:
    try:
        parts = _conjuncts(expr.parse(constraint)) if constraint else []
    except expr.ExprError:
        return []
    return [b for b in map(_bound, parts) if b is not None]


def integer_range(constraint: str | None) -> tuple[int, int] | None:
    """(lowest, highest) an integer's constraint allows when it bounds `.` on both sides, else None."""
    bounds = _bounds(constraint)
    lows = [v for side, v in bounds if side == "low"]
    highs = [v for side, v in bounds if side == "high"]
    if not lows or not highs or max(lows) > min(highs):
        return None
    return max(lows), min(highs)


def _conjuncts(node) -> list:
    if isinstance(node, expr.Binary) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
_INTEGER_BOUND = {">=": ("low", math.ceil, 0), ">": ("low", math.floor, 1),
                  "<=": ("high", math.floor, 0), "<": ("high", math.ceil, -1)}


def _bound(node) -> tuple[str, int] | None:
    """('low' | 'high', integer bound) of a comparison of `.` with a number, else None."""
    if not isinstance(node, expr.Binary) or node.op not in _FLIP:
        return None
    op, left, right = node.op, node.left, node.right
    if isinstance(right, expr.Dot):
        op, left, right = _FLIP[op], right, left
    v = _number(right)
    if not isinstance(left, expr.Dot) or v is None or not math.isfinite(v):
        return None
    side, rounding, step = _INTEGER_BOUND[op]
    return side, int(rounding(v)) + step


def _number(node) -> float | None:
    """A numeric literal, or minus one."""
    if isinstance(node, expr.Unary) and node.op == "-":
        inner = _number(node.operand)
        return None if inner is None else -inner
    return node.value if isinstance(node, expr.Lit) and isinstance(node.value, float) else None


def _digit_labels(n: int) -> tuple[str, ...]:
    return tuple(_PLACES[i] if i < len(_PLACES) else f"第{n - i}位" for i in reversed(range(n)))


def _scale(f: Field) -> tuple[int, int] | None:
    """An integer's tick scale: its constraint's range when small enough and not asked for as digits."""
    span = integer_range(f.constraint)
    small = span is not None and span[1] - span[0] < MAX_SCALE
    return span if small and f.paper in (None, PAPER_TICKS) else None


def _digit_count(f: Field) -> int:
    span = integer_range(f.constraint)
    return f.digits or (len(str(span[1])) if span and span[0] >= 0 and span[1] > 0 else DEFAULT_DIGITS)


def _integer_answer(instrument: Instrument, f: Field) -> Answer:
    cl = instrument.choice_list(f)
    if cl is not None and f.paper != PAPER_DIGITS:
        return Answer("ticks", tuple((c.label, c.code) for c in cl.choices))
    scale = _scale(f)
    if scale is not None:
        return Answer("ticks", tuple((str(v), str(v)) for v in range(scale[0], scale[1] + 1)))
    n = _digit_count(f)
    return Answer("digits", digits=n, digit_labels=_digit_labels(n))


def _scale_answer(instrument: Instrument, f: Field) -> Answer:
    """A number's tick scale: the options of its choice list, each storing its code."""
    return Answer("ticks", tuple((c.label, c.code) for c in instrument.choice_list(f).choices))


def _select_answer(instrument: Instrument, f: Field) -> Answer:
    cl = instrument.choice_list(f)
    options = tuple((c.label, c.code) for c in cl.choices) if cl else ()
    return Answer("ticks", options, multiple=f.type == "select_multiple") if options else Answer("write")


_FIXED_ANSWERS = {"note": Answer("note"), "calculate": Answer("none")}


def _fixed_answer(f: Field) -> Answer | None:
    """The answer of a field whose printing its kind alone decides (not printed, printed, a note, a write-in)."""
    if f.paper == PAPER_NONE:
        return Answer("none")
    if f.prefill is not None:
        return Answer("printed")
    if f.type in _FIXED_ANSWERS or f.paper == PAPER_WRITE:
        return _FIXED_ANSWERS.get(f.type, Answer("write"))
    return None


def answer_for(instrument: Instrument, f: Field) -> Answer:
    """How field `f` is answered on paper (see the module docstring)."""
    fixed = _fixed_answer(f)
    if fixed is not None:
        return fixed
    if f.is_select:
        return _select_answer(instrument, f)
    if f.is_scale and instrument.choice_list(f) is not None:
        return _scale_answer(instrument, f)
    if f.type == "integer":
        return _integer_answer(instrument, f)
    if f.type == "date" and f.paper == PAPER_DIGITS:
        return Answer("digits", digits=8, digit_labels=DATE_DIGITS)
    return Answer("write")


def digits_value(digits: list[int | None], date: bool) -> str:
    """The stored text of ticked digit rows (None: a row left empty, allowed only before the first tick)."""
    text = "".join(str(d) for d in digits)
    if date:
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return str(int(text))


# --- the printed items ----------------------------------------------------------------------------

@dataclass
class Question:
    field: Field
    answer: Answer
    section: str
    number: int = 0
    skip: str = ""          # printed under the question: the skip instruction


@dataclass
class Title:
    text: str
    section: str
    relevant: str = ""      # the condition of the section, in words
    numbered: bool = False  # a top-level section: 一、二、… as printed (sections left out are not counted)


@dataclass
class NoteItem:
    text: str
    section: str


@dataclass(frozen=True)
class Column:
    """One column of a repeat table."""

    key: str                 # field name ('#' index column, '=' fixed row label)
    label: str
    kind: str                # index | label | printed | ticks | digits | write
    field: Field | None = None
    answer: Answer = Answer("none")


@dataclass
class Table:
    group: Group
    title: str
    columns: list[Column]
    notes: list[str] = field(default_factory=list)   # skip conditions of columns, in words


Item = Question | Title | NoteItem | Table


def print_plan(instrument: Instrument) -> list[Item]:
    """Every printed item in order, questions numbered, skip instructions written."""
    items: list[Item] = []
    _walk(instrument, instrument.children, ROOT, items, [0, 0], top=True)
    questions = [q for q in items if isinstance(q, Question) and q.number]
    _skips(instrument, questions)
    return items


def _walk(instrument: Instrument, nodes, section: str, items: list[Item], counter: list[int], top: bool) -> None:
    """Items of `nodes` appended to `items`; counter = [unused, questions numbered so far] (sections are numbered
    when printed: render.instrument_pdf numbers those a subject has)."""
    for node in nodes:
        if isinstance(node, Group):
            _group_items(instrument, node, items, counter, top)
            continue
        item = _field_item(instrument, node, section)
        if isinstance(item, Question) and item.answer.kind != "printed":
            counter[1] += 1
            item.number = counter[1]
        if item is not None:
            items.append(item)


def _group_items(instrument: Instrument, g: Group, items: list[Item], counter: list[int], top: bool) -> None:
    if g.repeat:
        items.append(table_for(instrument, g, g.label))
        return
    items.append(Title(g.label, g.name, _said(instrument, g.relevant) if g.relevant else "", numbered=top))
    _walk(instrument, g.children, g.name, items, counter, top=False)


def _field_item(instrument: Instrument, f: Field, section: str) -> Question | NoteItem | None:
    answer = answer_for(instrument, f)
    if answer.kind == "note":
        return NoteItem(f.label, section)
    return None if answer.kind == "none" else Question(f, answer, section)


def condition_text(instrument: Instrument, text: str) -> str:
    """A `relevant` condition in Chinese words, choices by their labels (for printed and workbook notes)."""
    return _said(instrument, text)


def numeral(n: int) -> str:
    return _NUMERALS[n - 1] if n <= len(_NUMERALS) else str(n)


def table_for(instrument: Instrument, g: Group, title: str = "") -> Table:
    """The printed table of repeat `g`."""
    columns: list[Column] = []
    if g.rows == ROWS_BLANK:
        columns.append(Column("#", "序号", "index"))
    elif g.rows == ROWS_FIXED:
        columns.append(Column("=", "项目", "label"))
    notes = []
    for _, f in _walk_fields(g.children):
        answer = answer_for(instrument, f)
        if answer.kind in ("note", "none"):
            continue
        columns.append(Column(f.name, f.label, answer.kind, f, answer))
        if f.relevant:
            notes.append(f"「{f.label}」仅当{_said(instrument, f.relevant)}时填写。")
    if g.relevant:
        notes.insert(0, f"本部分仅当{_said(instrument, g.relevant)}时填写。")
    return Table(g, title, columns, notes)


def _walk_fields(nodes):
    for node in nodes:
        if isinstance(node, Group):
            yield from _walk_fields(node.children)
        else:
            yield (), node


# --- skip instructions ------------------------------------------------------------------------------

def _said(instrument: Instrument, text: str, negate: bool = False, names: dict[str, str] | None = None) -> str:
    """A condition in words, choices named by their labels ('否', not 'no'); `names` overrides how a field is
    called (a numbered question: 第3题; the question the instruction stands under: 本题)."""
    try:
        node = expr.parse(text)
    except expr.ExprError:
        return text
    node = _readable(instrument, node)
    if negate:
        node = _negated(instrument, node)
    return expr.describe(node, {f.name: f.label for f in instrument.fields()} | (names or {}))


def _readable(instrument: Instrument, node):
    """The tree with choice codes compared with (or selected in) a select field replaced by their labels."""
    if isinstance(node, expr.Binary):
        left, right = _readable(instrument, node.left), _readable(instrument, node.right)
        if node.op in ("=", "!=") and isinstance(node.left, expr.Ref) and isinstance(node.right, expr.Lit):
            right = expr.Lit(_label(instrument, node.left.name, node.right.value))
        return expr.Binary(node.op, left, right)
    if isinstance(node, expr.Call):
        args = tuple(_readable(instrument, a) for a in node.args)
        if node.name == "selected" and isinstance(node.args[0], expr.Ref) and isinstance(node.args[1], expr.Lit):
            args = (args[0], expr.Lit(_label(instrument, node.args[0].name, node.args[1].value)))
        return expr.Call(node.name, args)
    return node


def _label(instrument: Instrument, name: str, code):
    f = next((f for f in instrument.fields() if f.name == name), None)
    cl = instrument.choice_list(f) if f is not None else None
    label = cl.label_of(expr.format_number(code) if isinstance(code, float) else str(code)) if cl else None
    return label if label is not None else code


def _is_label_test(node) -> bool:
    """`${x} = '…'`"""
    return isinstance(node, expr.Binary) and node.op == "=" and isinstance(node.left, expr.Ref) \
        and isinstance(node.right, expr.Lit)


def _two_choice_list(instrument: Instrument, node):
    """The choice list of a two-choice select_one that `node` (`${x} = 'label'`) compares with a label of, else None."""
    if not _is_label_test(node):
        return None
    f = next((f for f in instrument.fields() if f.name == node.left.name and f.type == "select_one"), None)
    cl = instrument.choice_list(f) if f is not None else None
    labels = [c.label for c in cl.choices] if cl is not None else []
    return cl if len(labels) == 2 and node.right.value in labels else None


def _negated(instrument: Instrument, node):
    """not(node), said positively where a two-choice question makes that exact: not(是否在家为“是”) → 为“否”."""
    cl = _two_choice_list(instrument, node)
    if cl is None:
        return expr.Call("not", (node,))
    other = next(c.label for c in cl.choices if c.label != node.right.value)
    return expr.Binary("=", node.left, expr.Lit(other))


def _run_end(questions: list[Question], i: int) -> int:
    """The last question of the run of consecutive questions that share question i's `relevant`."""
    j = i
    while j + 1 < len(questions) and questions[j + 1].field.relevant == questions[i].field.relevant:
        j += 1
    return j


def _skips(instrument: Instrument, questions: list[Question]) -> None:
    """Runs of consecutive questions with one `relevant`: the question before the run, when the condition
    rests on it, says where to go when it fails ("若 …为“否” → 跳至 第5题"); otherwise each question of
    the run says when it is asked ("仅当 … 时回答")."""
    names = {q.field.name: f"第{q.number}题" for q in questions}
    i = 0
    while i < len(questions):
        j = _run_end(questions, i) if questions[i].field.relevant else i
        if questions[i].field.relevant:
            _skip_run(instrument, questions, i, j, names)
        i = j + 1


def _skip_run(instrument: Instrument, questions: list[Question], i: int, j: int, names: dict[str, str]) -> None:
    rel = questions[i].field.relevant
    before = questions[i - 1] if i > 0 else None
    if before is not None and before.field.name in _refs(rel):
        target = f"跳至 第{questions[j + 1].number}题" if j + 1 < len(questions) else "本表结束"
        said = _said(instrument, rel, negate=True, names=names | {before.field.name: "本题"})
        before.skip = _join(before.skip, f"（若{said} → {target}）")
        return
    for q in questions[i:j + 1]:
        q.skip = _join(q.skip, f"（仅当{_said(instrument, rel, names=names)}时回答）")


def _refs(text: str) -> set[str]:
    try:
        return expr.references(expr.parse(text))
    except expr.ExprError:
        return set()


def _join(a: str, b: str) -> str:
    return f"{a}{b}" if a else b


def plan_text(instrument: Instrument, items: list[Item]) -> str:
    """Every character the items print (for the font subset)."""
    parts = [instrument.title]
    for item in items:
        if isinstance(item, Question):
            parts += [item.field.label, item.field.hint or "", item.skip, *(o[0] for o in item.answer.options),
                      *item.answer.digit_labels]
        elif isinstance(item, Table):
            parts += [item.title, *item.notes, *(lbl for _, lbl in item.group.fixed)]
            for c in item.columns:
                parts += [c.label, *(o[0] for o in c.answer.options), *c.answer.digit_labels]
        else:
            parts += [item.text, getattr(item, "relevant", "")]
    return "".join(parts)
