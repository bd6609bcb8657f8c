"""Form layout definitions from the top-level forms/ folder (package chouyang.formdefs)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files

from .. import vocab


@dataclass(frozen=True)
class FormColumn:
    key: str
    width: float
    kind: str  # register | ticks | write | digits
    digits: int = 0
    label: str = ""
    options: tuple[str, ...] = ()


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


def load_layout(name: str = "survey") -> FormLayout:
    data = tomllib.loads(files("chouyang.formdefs").joinpath(f"{name}.toml").read_text(encoding="utf-8"))
    sections = []
    for s in data["section"]:
        columns = []
        for c in s["columns"]:
            options = vocab.choices_for(s["key"], c["key"]) if c["kind"] == "ticks" else None
            columns.append(FormColumn(c["key"], float(c["width"]), c["kind"], int(c.get("digits", 0)),
                                      vocab.label_for(s["key"], c["key"]), tuple(options or ())))
        sections.append(FormSection(s["key"], s["title"], bool(s.get("blank", False)), tuple(columns)))
    return FormLayout(data["form"], tuple(sections))
