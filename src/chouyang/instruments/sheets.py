"""An instrument's repeats seen as the sheets of an entry workbook: the column tables the stages read.

The survey stages (ingest, keyed entry, scan review, the demo clerk) think in sheets and column
keys: which columns a sheet has, which of them the team fills in, their Chinese labels, the
values a column offers.  All of it is derived here from the definition (the built-in survey form
is chouyang.instruments.builtins/survey.toml), so no table of columns is written twice;
`chouyang.vocab` exposes the built-in survey's tables under their old names.

A sheet is a repeat group; its columns are the group's fields in order.  A printed field (a
register `prefill`, or `paper = "printed"`) is shown and locked; every other field is an entry
column.  The register columns of a sheet that repeats over a register table are its printed
fields other than the row key.
"""

from __future__ import annotations

from dataclasses import dataclass

from chouyang.instruments.model import ROWS_REGISTER, TOP_CONFIRM, Field, Group, Instrument


@dataclass(frozen=True)
class Sheet:
    name: str
    label: str
    fields: tuple[Field, ...]
    register: bool   # its rows are the records of a register table

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def entry(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.printed)


class Sheets:
    """The sheets of one instrument (its repeat groups, in order) and their column tables."""

    def __init__(self, instrument: Instrument):
        self.instrument = instrument
        self.sheets: dict[str, Sheet] = {g.name: _sheet(g) for g in instrument.repeats()}
        self._keys = {g.name: g.key for g in instrument.repeats()}
        self._fields = {(s, f.name): f for s, sheet in self.sheets.items() for f in sheet.fields}

    def field(self, sheet: str, key: str) -> Field | None:
        return self._fields.get((sheet, key))

    def columns(self, sheet: str) -> tuple[str, ...]:
        return self.sheets[sheet].columns

    def entry_columns(self) -> dict[str, tuple[str, ...]]:
        """What the team fills in, per sheet."""
        return {name: s.entry for name, s in self.sheets.items()}

    def register_labels(self) -> dict[str, dict[str, str]]:
        """The register columns shown on each sheet that repeats over a register table: key -> label."""
        return {name: {f.name: f.label for f in s.fields if f.printed and f.name != self._keys[name]}
                for name, s in self.sheets.items() if s.register}

    def entry_labels(self) -> dict[str, str]:
        """Label of every row key and entry column by key alone (one key has one label on every sheet)."""
        out: dict[str, str] = {}
        for name, s in self.sheets.items():
            for f in s.fields:
                if not f.printed or f.name == self._keys[name]:
                    out.setdefault(f.name, f.label)
        return out

    def label(self, sheet: str, key: str) -> str:
        f = self.field(sheet, key)
        if f is None:
            raise KeyError(f"{sheet}.{key}")
        return f.label

    def choices(self, sheet: str, key: str) -> tuple[str, ...] | None:
        """The codes a column offers as a list (a drop-down), or None: free text, or a count scale (entered as a number)."""
        f = self.field(sheet, key)
        clist = self.instrument.choice_list(f) if f is not None and not (f.is_scale or f.top) else None
        return clist.codes() if clist else None

    def options(self, sheet: str, key: str) -> tuple[tuple[str, str | int], ...] | None:
        """Every tick option of a column on paper: (printed label, value stored), or None for free text."""
        f = self.field(sheet, key)
        clist = self.instrument.choice_list(f) if f is not None else None
        if clist is None:
            return None
        return tuple((c.label, int(c.code) if f.is_scale or f.top else c.code) for c in clist.choices)

    def scales(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """Count scales by column key (the same key is the same scale on every sheet): (label, value)."""
        out: dict[str, tuple] = {}
        for (sheet, key), f in self._fields.items():
            if f.top is not None:
                out.setdefault(key, self.options(sheet, key))
        return out

    def confirm_top(self) -> tuple[str, ...]:
        """Count scales whose top option is confirmed by a person."""
        return tuple(dict.fromkeys(key for (_, key), f in self._fields.items() if f.top == TOP_CONFIRM))


def _sheet(g: Group) -> Sheet:
    fields = tuple(node for node in g.children if isinstance(node, Field))
    return Sheet(g.name, g.label, fields, g.rows == ROWS_REGISTER)
