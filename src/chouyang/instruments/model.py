"""The instrument model: one declarative definition of a questionnaire (issue 18).

An instrument is what a survey team fills in: the survey form of a sample point, the 综合治理
checklist of a township, a satisfaction questionnaire.  One definition (read from TOML or from an
XLSForm) drives the printed pages, the layout record the scanner reads, the entry workbook, ingest
validation, the web entry page and the XLSForm exchanged with ODK/Kobo phones.

The tree mirrors XLSForm: fields and groups in order; a group is a section (asked once) or a repeat
(asked once per row).  A repeat's rows come from a register table at the sample point (prefilled
columns printed and locked, in the register's order), from blank rows for what the team finds that
the register lacks, or from a fixed list (a checklist's items).  Expressions (`relevant`,
`constraint`, `required`) are XLSForm text, parsed by `chouyang.instruments.expr`, never `eval`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

# XLSForm field types the project supports (the subset plus `decimal` and `calculate`,
# which a phone form needs for the preloaded unit_code).
FIELD_TYPES = ("select_one", "select_multiple", "integer", "decimal", "date", "text", "note", "calculate")
SELECT_TYPES = ("select_one", "select_multiple")
# Numbers that may be printed as a tick scale (`paper = "ticks"` with a choice list): witnesses 0 … 5+, a
# checklist count 0 … n+, a rate's bands ≥65% / <65%.  The field keeps its type everywhere else (a phone
# keys a number, a workbook takes any number within the constraint); the list only says what is printed
# and what a tick stores (its code: "5+" stores 5).
SCALE_TYPES = ("integer", "decimal")

# What one response is about: once per sample point, per township, per household or per person.
PER = ("point", "township", "household", "person")

# Where the rows of a repeat come from.
ROWS_REGISTER = "register"   # one row per register record of `table` at the sample point
ROWS_BLANK = "blank"         # blank rows for what the team finds that the register lacks
ROWS_FIXED = "fixed"         # a fixed list of rows (`fixed`), e.g. the checklist's items
ROW_SOURCES = (ROWS_REGISTER, ROWS_BLANK, ROWS_FIXED)

# How a value is written on paper.  A decision never rests on a handwritten digit: counts are a
# tick scale (small counts) or one 0-9 tick row per digit.
PAPER_TICKS = "ticks"        # one tick box per choice (selects, yes/no, count scales)
PAPER_DIGITS = "digits"      # one 0-9 tick row per digit (counts)
PAPER_WRITE = "write"        # a write-in box: a filled one always goes to review when scanned
PAPER_PRINTED = "printed"    # a prefilled register value, printed and locked
PAPER_NONE = "none"          # not on paper: asked in the workbook, on the web and the phone only (a checklist's 备注)
PAPER_KINDS = (PAPER_TICKS, PAPER_DIGITS, PAPER_WRITE, PAPER_PRINTED, PAPER_NONE)

# A count scale is a select_one whose choice codes are whole numbers (stored as numbers) and whose
# last choice means "this many or more" (5+ stored as 5).  `top` says how its top choice is read.
TOP_OPEN = "open"            # a tick on the top choice stores the top value
TOP_CONFIRM = "confirm"      # ... and is confirmed by a person (4+ may stand for a register 5)
TOP_KINDS = (TOP_OPEN, TOP_CONFIRM)


@dataclass(frozen=True)
class Choice:
    """One option of a choice list: `code` is what is stored (XLSForm `name`), `label` what is printed."""

    code: str
    label: str


@dataclass(frozen=True)
class ChoiceList:
    name: str
    choices: tuple[Choice, ...]

    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.choices)

    def label_of(self, code: str) -> str | None:
        return next((c.label for c in self.choices if c.code == code), None)


@dataclass(frozen=True)
class Field:
    """One question (or a prefilled register column, or a note) of an instrument."""

    name: str                        # XLSForm name: stored key, CSV column of `chouyang export`
    type: str                        # one of FIELD_TYPES
    label: str                       # Chinese label (XLSForm `label` or `label::中文`)
    choices: str | None = None       # choice list name: select_one / select_multiple, or a number's tick scale
    required: str | None = None      # 'yes' or an expression (XLSForm `required`)
    relevant: str | None = None      # skip logic (XLSForm `relevant`); on paper "否 → 跳至 …"
    constraint: str | None = None    # XLSForm `constraint`, `.` is the field's own value
    constraint_message: str | None = None  # Chinese
    hint: str | None = None
    calculation: str | None = None   # for `calculate` fields
    # chouyang-only properties (XLSForm columns `chouyang::prefill`, `chouyang::verifies`, …)
    prefill: str | None = None       # register column printed and locked (read-only on every medium)
    verifies: str | None = None      # register column this field verifies: error cases derive from it
    scores: str | None = None        # scheme item id this field scores
    paper: str | None = None         # one of PAPER_KINDS; None: derived from the type
    width: float | None = None       # printed column width, mm
    option_width: float | None = None  # printed width of one tick option, mm
    digits: int | None = None        # PAPER_DIGITS: how many digit rows
    top: str | None = None           # a count scale: one of TOP_KINDS (added last: positional order kept)

    @property
    def is_select(self) -> bool:
        return self.type in SELECT_TYPES

    @property
    def printed(self) -> bool:
        """Printed and locked on every medium: a register value, or a row number the form prints itself."""
        return self.prefill is not None or self.paper == PAPER_PRINTED

    @property
    def is_scale(self) -> bool:
        """A number printed as a tick scale: its choice list is the printed boxes, not the allowed values."""
        return self.type in SCALE_TYPES and self.choices is not None and self.paper == PAPER_TICKS

    @property
    def readonly(self) -> bool:
        return self.prefill is not None or self.type in ("note", "calculate")


@dataclass(frozen=True)
class Group:
    """A section (asked once) or a repeat (asked once per row) of fields and groups."""

    name: str
    label: str
    repeat: bool = False
    rows: str | None = None          # repeats: one of ROW_SOURCES
    table: str | None = None         # ROWS_REGISTER: the register table (women, births, procedures, benefits)
    key: str | None = None           # the field holding the row's key (the register row's `ref`)
    blank_rows: int = 0              # ROWS_BLANK: how many blank rows to print at least
    fixed: tuple[tuple[str, str], ...] = ()   # ROWS_FIXED: (row key, row label) in print order
    relevant: str | None = None
    children: tuple[Field | Group, ...] = ()


@dataclass(frozen=True)
class Instrument:
    """A whole questionnaire."""

    name: str                        # ASCII form id (XLSForm settings `form_id`); file names, `--instrument`
    title: str                       # Chinese title (XLSForm settings `form_title`)
    code: str                        # form code in the QR payload of its pages (e.g. HC2, ZL1)
    version: str
    per: str                         # one of PER
    children: tuple[Field | Group, ...]
    choices: dict[str, ChoiceList] = field(default_factory=dict)
    layout: dict = field(default_factory=dict)   # print geometry (page, margins, row heights), mm
    source: str = ""                 # where it was read from, for messages

    def walk(self) -> Iterator[tuple[tuple[Group, ...], Field]]:
        """Every field in order, with the groups it sits in (outermost first)."""
        yield from _walk(self.children, ())

    def fields(self) -> list[Field]:
        return [f for _, f in self.walk()]

    def groups(self) -> list[Group]:
        found: list[Group] = []
        stack = list(self.children)
        while stack:
            node = stack.pop(0)
            if isinstance(node, Group):
                found.append(node)
                stack[:0] = list(node.children)
        return found

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups() if g.name == name), None)

    def repeats(self) -> list[Group]:
        return [g for g in self.groups() if g.repeat]

    def choice_list(self, f: Field) -> ChoiceList | None:
        return self.choices.get(f.choices) if f.choices else None


def _walk(nodes, parents: tuple[Group, ...]) -> Iterator[tuple[tuple[Group, ...], Field]]:
    for node in nodes:
        if isinstance(node, Group):
            yield from _walk(node.children, parents + (node,))
        else:
            yield parents, node
