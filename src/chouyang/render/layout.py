"""Form layout definitions from the top-level forms/ folder (package chouyang.formdefs).

Columns, their order and their kinds come from the vocabulary (`chouyang.vocab`), the
definition file only adds geometry, so the printed form and the entry workbook always
have the same columns in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from chouyang import vocab
from chouyang.config.toml import loads_toml


@dataclass(frozen=True)
class Option:
    label: str          # printed in the column header
    value: str | int    # what a tick on it stores in the workbook


@dataclass(frozen=True)
class FormColumn:
    key: str
    width: float
    kind: str  # register | ticks | write
    label: str = ""
    options: tuple[Option, ...] = ()
    option_width: float = 0.0
    open_top: bool = False       # the last option means "this value or more" (5+, 4+)
    confirm_top: bool = False    # ... and a tick on it is confirmed by a person


@dataclass(frozen=True)
class FormSection:
    key: str
    title: str
    blank: bool
    columns: tuple[FormColumn, ...]


@dataclass(frozen=True)
class FormLayout:
    form: dict
    sections: tuple[FormSection, ...]

    @property
    def code(self) -> str:
        return self.form["code"]

    def section(self, key: str) -> FormSection:
        return next(s for s in self.sections if s.key == key)

    @property
    def header_height(self) -> float:
        return float(self.form["label_row_height"]) + float(self.form["option_row_height"])


def _column(section: dict, key: str, form: dict) -> FormColumn:
    sheet = section["key"]
    label = vocab.label_for(sheet, key)
    is_register = key == "ref" or key in vocab.REGISTER_LABELS.get(sheet, {}) and sheet in vocab.CHECK_SHEETS
    options = None if is_register else vocab.options_for(sheet, key)
    if options:
        pitch = float(section.get("option_widths", {}).get(key, form["option_width"]))
        return FormColumn(key, pitch * len(options), "ticks", label, tuple(Option(*o) for o in options), pitch,
                          open_top=key in vocab.SCALES, confirm_top=key in vocab.CONFIRM_TOP)
    kind = "register" if is_register else "write"
    return FormColumn(key, float(section["widths"].get(key, 0)), kind, label)


def load_layout(name: str = "survey") -> FormLayout:
    data = loads_toml(files("chouyang.formdefs").joinpath(f"{name}.toml").read_bytes(), f"forms/{name}.toml", "表格版式")
    form = data["form"]
    table_width = float(form["table_right"]) - float(form["table_left"])
    sections = []
    for s in data["section"]:
        columns = [_column(s, key, form) for key in vocab.sheet_columns(s["key"])]
        rest = table_width - sum(c.width for c in columns)
        if rest < 10:
            raise ValueError(f"layout {name}: section {s['key']} is {-rest + 10:.1f} mm too wide")
        columns = [FormColumn(c.key, rest, c.kind, c.label) if c.key == "note" else c for c in columns]
        missing = [c.key for c in columns if c.width <= 0]
        if missing:
            raise ValueError(f"layout {name}: section {s['key']} has no width for {missing}")
        sections.append(FormSection(s["key"], s["title"], bool(s.get("blank", False)), tuple(columns)))
    return FormLayout(form, tuple(sections))
