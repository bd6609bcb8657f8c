"""One stored form of responses, and their validation against the instrument's definition (issue 18).

A response is one filled instrument for one subject: the top-level answers (`values`, fields outside
any repeat, sections included) and, per repeat group, its rows in order.  Every medium (entry
workbook, scan, web entry, ODK/Kobo CSV) builds a raw `Response` of text and hands it to `validate`,
which checks and normalises every value by the field's type and applies `relevant`, `required` and
`constraint` exactly as the phone would, so later stages read one shape by instrument and field name.

Decisions (an audit needs to see what was written, not what a tool guessed):
- A value in a question whose `relevant` is false is **refused**, not dropped: on paper or in a
  workbook it means either the skip was misread or the answer it depends on is wrong, and silently
  dropping it would hide exactly the kind of inconsistency an audit is for.  The message shows the
  condition in words (`expr.describe`: field labels, 为/不为, 且/或).
- `note` fields hold no answer: whatever is given for them is dropped.  `calculate` fields are what
  the phone computed or preloaded (the point's `unit_code`): kept as stripped text, not type-checked
  (control characters still refused), so expressions that refer to them see the same value again.
- A value that fails its type check stays in the normalised response as the stripped text (for
  review screens) and counts as empty for every expression, so one wrong cell does not make every
  question depending on it fail too.
- Text keeps line breaks (a phone's multi-line answer) but refuses every other control character,
  and more than `TEXT_LIMIT` characters; it is stored, never executed.
- A repeat's rows are unique by its `key` (one register row is checked once) and, for a fixed
  list, are rows of that list.  A repeat inside a repeat is flattened: its fields belong to the
  innermost repeat and its rows are not linked to a parent row (not supported yet).
Where a problem sits is the caller's business (`Where`: a workbook sheet and row, a CSV line and
header); `sheet_where` is the default for workbooks.
"""

from __future__ import annotations

import decimal
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from chouyang.errors import ChouyangError, Problem
from chouyang.inputs.readers import parse_date
from chouyang.instruments import expr
from chouyang.instruments.model import Field, Group, Instrument

TEXT_LIMIT = 2000             # characters of one text answer; more is a pasted document, not an answer
_SHOWN_CHOICES = 12           # how many choices a message lists before "…"
_ALWAYS = ("yes", "true", "true()")
_NEVER = ("", "no", "false", "false()")


@dataclass(frozen=True)
class Response:
    """One filled instrument for one subject (sample point / township / household / person)."""

    instrument: str
    unit_code: str
    key: str                                   # '' for a point-level response, else the subject's key
    values: dict[str, str]                     # top-level fields (outside repeats): name -> stored text
    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)   # repeat name -> rows in order
    source: str = ""                           # the file it came from
    submission: str = ""                       # ODK instanceID (uuid:...) when from a phone


@dataclass(frozen=True)
class Place:
    """Where a value sits in the caller's file, for a `Problem`."""

    file: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None


# where(field, repeat, index): the place of `field` (None: the response or row as a whole) at top
# level (repeat None, index None) or in row `index` (0-based) of `repeat`.
Where = Callable[[Field | None, Group | None, int | None], Place]


def column_name(f: Field) -> str:
    """How a message names a field: its label and name, e.g. 核实结果（result）."""
    return f"{f.label}（{f.name}）" if f.label and f.label != f.name else f.name


def sheet_where(file: str, top_row: int | None = None, first_row: int = 2) -> Where:
    """The default place: sheet = the repeat's label (or 'survey'), row = `first_row` + index for a
    repeat's rows and `top_row` for top-level fields, column = the field's label and name."""
    def where(f: Field | None, repeat: Group | None, index: int | None) -> Place:
        row = top_row if index is None else first_row + index
        return Place(file, repeat.label if repeat is not None else "survey", row, column_name(f) if f else None)
    return where


# --- the compiled plan of an instrument: expressions parsed once ---------------------------------

@dataclass(frozen=True)
class _Cond:
    """One parsed expression, with the fields it reads (known once, checked for every response)."""

    text: str
    node: expr.Node
    refs: frozenset[str]


@dataclass(frozen=True)
class _Item:
    field: Field
    repeat: Group | None            # innermost repeat holding the field
    relevant: tuple[_Cond, ...]     # enclosing groups' then the field's own, outermost first
    required: bool | _Cond
    constraint: _Cond | None


@dataclass(frozen=True)
class _Plan:
    top: tuple[_Item, ...]
    repeats: tuple[tuple[Group, tuple[_Item, ...]], ...]
    labels: dict[str, str]


_PLANS: dict[int, tuple[Instrument, _Plan]] = {}


def _plan(instrument: Instrument) -> _Plan:
    """The instrument's fields with their expressions parsed, built once per instrument object."""
    hit = _PLANS.get(id(instrument))
    if hit is not None and hit[0] is instrument:
        return hit[1]
    plan = _build_plan(instrument)
    if len(_PLANS) > 256:   # instruments are few; a long-running server must not keep every copy
        _PLANS.clear()
    _PLANS[id(instrument)] = (instrument, plan)
    return plan


def _build_plan(instrument: Instrument) -> _Plan:
    parser = _Parser(instrument)
    items = [parser.item(groups, f) for groups, f in instrument.walk()]
    if parser.problems:
        raise ChouyangError(f"调查表「{instrument.title or instrument.name}」的条件表达式有误", parser.problems)
    repeats = tuple((g, tuple(i for i in items if i.repeat is g)) for g in instrument.repeats())
    return _Plan(tuple(i for i in items if i.repeat is None), repeats, {f.name: f.label for f in instrument.fields()})


@dataclass
class _Parser:
    """Parses one instrument's expressions, collecting every one that does not parse."""

    instrument: Instrument
    problems: list[Problem] = field(default_factory=list)

    def parsed(self, f: Field, text: str, what: str) -> _Cond | None:
        try:
            node = expr.parse(text)
            return _Cond(text, node, frozenset(expr.references(node)))
        except expr.ExprError as exc:
            self.problems.append(Problem(self.instrument.source or self.instrument.name, f"{what}无法解析：{exc}",
                                         column=column_name(f)))
            return None

    def item(self, groups: tuple[Group, ...], f: Field) -> _Item:
        relevant = [self.parsed(f, g.relevant, f"分组「{g.label}」的 relevant ") for g in groups if g.relevant]
        if f.relevant:
            relevant.append(self.parsed(f, f.relevant, "relevant "))
        constraint = self.parsed(f, f.constraint, "constraint ") if f.constraint else None
        repeat = next((g for g in reversed(groups) if g.repeat), None)
        return _Item(f, repeat, tuple(r for r in relevant if r), self.required(f), constraint)

    def required(self, f: Field) -> bool | _Cond:
        """XLSForm `required`: yes/true() or no/false()/empty, or an expression."""
        text = (f.required or "").strip()
        if text.lower() in _ALWAYS + _NEVER:
            return text.lower() in _ALWAYS
        return self.parsed(f, text, "required ") or False


# --- values by type -----------------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_MIDNIGHT = re.compile(r"0?0:00(?::00(?:\.0+)?)?")
_DATE_HINT = "日期应写成 YYYY-MM-DD（也接受 YYYY/M/D、YYYYMMDD 或 Excel 日期）"


def _choices_hint(instrument: Instrument, f: Field) -> str:
    cl = instrument.choice_list(f)
    shown = [f"{c.code} {c.label}" if c.label != c.code else c.code for c in (cl.choices if cl else ())]
    more = "…" if len(shown) > _SHOWN_CHOICES else ""
    return "、".join(shown[:_SHOWN_CHOICES]) + more


def _code_of(instrument: Instrument, f: Field, token: str) -> str | None:
    cl = instrument.choice_list(f)
    if cl is None:
        return None
    if token in cl.codes():
        return token
    return next((c.code for c in cl.choices if c.label == token), None)


def _select_one(instrument: Instrument, f: Field, text: str) -> tuple[str, str | None]:
    code = _code_of(instrument, f, text)
    if code is None:
        return text, f"「{text}」不是可选的选项（可选：{_choices_hint(instrument, f)}）"
    return code, None


def _select_multiple(instrument: Instrument, f: Field, text: str) -> tuple[str, str | None]:
    tokens = text.split()
    codes = {_code_of(instrument, f, t) for t in tokens}
    unknown = [t for t in tokens if _code_of(instrument, f, t) is None]
    if unknown:
        return text, f"「{'、'.join(unknown)}」不是可选的选项（可选：{_choices_hint(instrument, f)}；多选用空格分隔）"
    cl = instrument.choice_list(f)
    return " ".join(c for c in cl.codes() if c in codes), None


def _scale_label(instrument: Instrument, f: Field, text: str) -> str:
    """A tick scale's printed label ("5+", "≥65%") as its code; a code or any other text unchanged."""
    cl = instrument.choice_list(f)
    if cl is None or text in cl.codes():
        return text
    return next((c.code for c in cl.choices if c.label == text), text)


def _integer(text: str) -> tuple[str, str | None]:
    number = unicodedata.normalize("NFKC", text)
    if not _INTEGER.fullmatch(number):
        return text, "应为整数"
    return str(int(number.split(".")[0])), None


def _decimal(text: str) -> tuple[str, str | None]:
    number = unicodedata.normalize("NFKC", text)
    if not _DECIMAL.fullmatch(number):
        return text, "应为数字"
    d = decimal.Decimal(number)
    shown = format(d.normalize(), "f") if d != 0 else "0"
    return shown, None


def _date(text: str) -> tuple[str, str | None]:
    text = unicodedata.normalize("NFKC", text)
    if " " in text and not _MIDNIGHT.fullmatch(text.split(" ", 1)[1].strip()):
        return text, _DATE_HINT   # a spreadsheet's "2026/3/5 0:00" is a date; any other time or word is not
    day = parse_date(text)
    if day is None:
        return text, _DATE_HINT
    if not 1900 <= day.year <= 2100:
        return text, "日期不在 1900—2100 年之间"
    return day.isoformat(), None


def _text(text: str) -> tuple[str, str | None]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        return text, "含有控制字符（不可见字符），请删除后重填"
    if len(text) > TEXT_LIMIT:
        return text, f"文字超过 {TEXT_LIMIT} 个字符"
    return text, None


def normalise(instrument: Instrument, f: Field, value: str) -> tuple[str, str | None]:
    """(stored text, None) or (the stripped text, a Chinese reason) for one value of field `f`."""
    text = (value or "").strip()
    if text == "":
        return "", None
    if f.type == "select_one":
        return _select_one(instrument, f, text)
    if f.type == "select_multiple":
        return _select_multiple(instrument, f, text)
    if f.is_scale:   # "5+" typed as printed is the tick's stored value; any other number stands as typed
        text = _scale_label(instrument, f, text)
    if f.type == "integer":
        return _integer(text)
    if f.type == "decimal":
        return _decimal(text)
    if f.type == "date":
        return _date(text)
    return _text(text)   # text, calculate


# --- validation ---------------------------------------------------------------------------------

@dataclass
class _Scope:
    """One set of answers checked together: the top level, or one repeat row over the top level."""

    items: tuple[_Item, ...]
    given: Mapping[str, str]
    outer: Mapping[str, object]
    repeat: Group | None
    index: int | None
    invalid: set[str] = field(default_factory=set)   # names whose value failed its type check


@dataclass
class _Run:
    instrument: Instrument
    plan: _Plan
    today: date
    where: Where
    problems: list[Problem] = field(default_factory=list)

    def problem(self, f: Field | None, scope: _Scope, message: str, value: object = None, column: str | None = None):
        place = self.where(f, scope.repeat, scope.index)
        self.problems.append(Problem(place.file, message, place.row, column or place.column, value, place.sheet))

    def truth(self, item: _Item, scope: _Scope, what: _Cond, context, dot=None) -> bool | None:
        """The condition's truth; None when it cannot be known (it rests on a refused value) or fails."""
        if what.refs & scope.invalid:
            return None
        try:
            return expr.truthy(expr.evaluate(what.node, context, dot=dot, today=self.today))
        except expr.ExprError as exc:
            self.problem(item.field, scope, f"条件「{what.text}」无法计算：{getattr(exc, 'reason', exc)}")
            return None


def validate(instrument: Instrument, raw: Response, today: date, where: Where) -> tuple[Response, list[Problem]]:
    """The response with every value checked and normalised, and every problem found (never only the first).

    Types: select_one (a code of its list; a label is accepted and stored as its code), select_multiple
    (space-separated codes, each known, stored in list order), integer ("3.0" -> "3"; a tick scale's list
    is what paper prints, not what is allowed: any integer passes, "5+" typed as printed is stored 5),
    decimal (likewise), date
    (stored YYYY-MM-DD), text (stripped, no control characters).  Then, in the context of the normalised
    values (a repeat row's values over the top-level ones, the row winning): a skipped question
    (`relevant` false, its own or a group's) must be empty; a relevant empty question whose `required`
    holds is missing; a relevant answered question whose `constraint` is false gets `constraint_message`.
    """
    run = _Run(instrument, _plan(instrument), today, where)
    # top-level expressions see a repeat's field as the list of its rows' values (what count() counts)
    lists = {i.field.name: [(row.get(i.field.name) or "").strip() for row in raw.rows.get(g.name, [])]
             for g, items in run.plan.repeats for i in items}
    top = _Scope(run.plan.top, raw.values, lists, None, None)
    values, context = _check(run, top)
    rows: dict[str, list[dict[str, str]]] = {}
    for group, items in run.plan.repeats:
        given_rows = raw.rows.get(group.name, [])
        rows[group.name] = [_check(run, _Scope(items, row, context, group, i, set(top.invalid)))[0]
                            for i, row in enumerate(given_rows)]
        _row_keys(run, group, items, rows[group.name])
    for name in raw.rows:
        if name not in rows:
            run.problem(None, top, f"调查表中没有重复组「{name}」", column=name)
    return replace(raw, values=values, rows=rows), run.problems


def _row_keys(run: _Run, group: Group, items: tuple[_Item, ...], rows: list[dict[str, str]]) -> None:
    """A repeat's row keys are unique (one register row is checked once), and a fixed list's are its own."""
    if not group.key:
        return
    key_field = next((i.field for i in items if i.field.name == group.key), None)
    column = None if key_field else group.key
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = row.get(group.key, "")
        message = _key_problem(run, group, key_field, key, first)
        if message:
            run.problem(key_field, _Scope(items, row, {}, group, i), message, key, column)
        first.setdefault(key, i)


def _key_problem(run: _Run, group: Group, key_field: Field | None, key: str, first: dict[str, int]) -> str | None:
    if key and key in first:
        return f"与第 {run.where(key_field, group, first[key]).row} 行的编号相同：同一条记录只能核对一次"
    if group.fixed and key not in {k for k, _ in group.fixed}:
        return f"编号不是「{group.label}」固定列出的行之一"
    return None


def _check(run: _Run, scope: _Scope) -> tuple[dict[str, str], dict[str, object]]:
    """Normalise and check one scope; returns (stored values, the context later scopes evaluate in)."""
    scope.invalid -= {i.field.name for i in scope.items}   # the row's own values win over the top level's
    _unknown_names(run, scope)
    stored, usable, reasons = _normalised(run, scope)
    context = {**scope.outer, **usable}
    for item in scope.items:
        if item.field.type not in ("note", "calculate"):
            _rules(run, scope, item, stored[item.field.name], reasons[item.field.name], context)
    return stored, context


def _unknown_names(run: _Run, scope: _Scope) -> None:
    known = {i.field.name for i in scope.items}
    if scope.repeat is not None and scope.repeat.key:
        known.add(scope.repeat.key)
    for name in scope.given:
        if name not in known:
            run.problem(None, scope, f"调查表中没有字段「{name}」（或它不属于这一部分）", scope.given[name], column=name)


def _normalised(run: _Run, scope: _Scope) -> tuple[dict[str, str], dict[str, str], dict[str, str | None]]:
    """(stored text, the value expressions see: '' when refused, the type's reason or None) per field."""
    stored: dict[str, str] = {}
    usable: dict[str, str] = {}
    reasons: dict[str, str | None] = {}
    for item in scope.items:
        name = item.field.name
        if item.field.type == "note":
            continue
        stored[name], reasons[name] = normalise(run.instrument, item.field, scope.given.get(name, ""))
        usable[name] = stored[name] if reasons[name] is None else ""
        if reasons[name] is not None:
            scope.invalid.add(name)
            if item.field.type == "calculate":   # its other rules are the phone's business
                run.problem(item.field, scope, reasons[name], stored[name])
    key = scope.repeat.key if scope.repeat is not None else None
    if key and key not in stored:
        stored[key] = (scope.given.get(key) or "").strip()
    return stored, usable, reasons


def _rules(run: _Run, scope: _Scope, item: _Item, text: str, reason: str | None, context: Mapping[str, object]) -> None:
    """relevant, then the type, then required, then constraint, for one field."""
    f = item.field
    if not _relevant(run, scope, item, text, context):
        return
    if reason is not None:
        run.problem(f, scope, reason, text)
    elif not text:
        needed = item.required if isinstance(item.required, bool) else run.truth(item, scope, item.required, context)
        if needed:
            run.problem(f, scope, "必填，未填写")
    elif item.constraint is not None and run.truth(item, scope, item.constraint, context, dot=text) is False:
        message = f.constraint_message or f"不符合要求（{expr.describe(item.constraint.node, run.plan.labels)}）"
        run.problem(f, scope, message, text)


def _answers(run: _Run, cond: _Cond, context: Mapping[str, object]) -> str:
    """What the condition's fields hold, e.g. '：是否入户填的是“2”（否）'."""
    fields = {f.name: f for f in run.instrument.fields()}
    said = []
    for name in sorted(cond.refs):
        value = context.get(name, "")
        if name in fields and isinstance(value, str):
            f = fields[name]
            cl = run.instrument.choice_list(f)
            label = cl.label_of(value) if cl is not None and f.type == "select_one" else None
            said.append(f"{f.label}填的是“{value}”" + (f"（{label}）" if label else "") if value else f"{f.label}未填写")
    return "：" + "，".join(said) if said else ""


def _relevant(run: _Run, scope: _Scope, item: _Item, text: str, context: Mapping[str, object]) -> bool:
    """Whether the field is asked; a value in a skipped field is refused here.  Unknown truth: not asked."""
    for cond in item.relevant:
        truth = run.truth(item, scope, cond, context)
        if truth is None:
            return False
        if not truth:
            if text:
                run.problem(item.field, scope, f"此题应跳过（条件「{expr.describe(cond.node, run.plan.labels)}」不成立"
                            f"{_answers(run, cond, context)}），却填了值；为留痕不自动删除，请核对前面的回答，或清空此题", text)
            return False
    return True
