"""XLSForm ↔ Instrument: the exchange format users design in (Excel) and ODK Collect / KoboToolbox read.

`export(instrument, path)` writes the sheets `survey`, `choices` and `settings` with Chinese
labels (`label::中文 (zh)`, the form's default language).  chouyang-only properties go in
`chouyang::…` columns, which pyxform ignores: `chouyang::prefill`, `verifies`, `scores`, `paper`,
`width`, `option_width`, `digits`, `top` on fields, and `chouyang::choices` on a number printed as a tick
scale (the field stays `integer`/`decimal` in `type`, so a phone keys any number; its list is on the
choices sheet for the printed boxes); `chouyang::rows`, `table`, `key`, `blank_rows`,
`fixed` (JSON: [[row key, label], …]) on `begin repeat` rows; `chouyang::code`, `chouyang::per`,
`chouyang::layout` (JSON) in settings.  Every cell is written as a plain string, never a formula.
An instrument asked once per sample point gets a first field `unit_code` (text, read_only,
`chouyang::prefill = unit_code`) unless it has one, so phone submissions carry the sample point.

References: pyxform refuses `${name}` when the name occurs more than once in the form (the six
sheets of the survey form all have `result`, `witnesses`, …).  Such a reference is exported as
the relative XPath from the referring node to the field it resolves to (`../result`), which
pyxform passes through; `read` turns a relative path back into `${name}` when `${name}` resolves
to the same field by the rule of chouyang.instruments.definition, and refuses it otherwise.

`read(path)` imports an XLSForm (see chouyang.instruments.xlsform_read for what is accepted).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl

from chouyang.atomic import atomic_path
from chouyang.instruments.checks import names_index, node_paths, resolve
from chouyang.instruments.model import Field, Group, Instrument
from chouyang.instruments.xlsform_read import FIELD_EXTRAS, GROUP_EXTRAS, LANGUAGE, UNIT_CODE, UNIT_CODE_LABEL, read

__all__ = ["export", "read", "with_unit_code", "SURVEY_COLUMNS", "FIELD_EXTRAS", "GROUP_EXTRAS", "LANGUAGE"]

SURVEY_COLUMNS = ("type", "name", f"label::{LANGUAGE}", f"hint::{LANGUAGE}", "required", "relevant", "constraint",
                  f"constraint_message::{LANGUAGE}", "calculation", "appearance", "read_only") + \
    tuple(f"chouyang::{k}" for k in FIELD_EXTRAS + GROUP_EXTRAS)
CHOICES_COLUMNS = ("list_name", "name", f"label::{LANGUAGE}")
SETTINGS_COLUMNS = ("form_title", "form_id", "version", "default_language", "chouyang::code", "chouyang::per",
                    "chouyang::layout")

# ${name} outside string literals (a reference inside '…' is text, not a reference).
_TOKENS = re.compile(r"'[^']*'|\"[^\"]*\"|\$\{([^}]*)\}")


def export(instrument: Instrument, path: Path) -> None:
    """Write the instrument as an XLSForm workbook (atomically)."""
    inst = with_unit_code(instrument)
    writer = _SurveyWriter(inst)
    wb = openpyxl.Workbook()
    _sheet(wb.active, "survey", SURVEY_COLUMNS, writer.rows())
    choices = [{"list_name": name, "name": c.code, f"label::{LANGUAGE}": c.label}
               for name, clist in inst.choices.items() for c in clist.choices]
    _sheet(wb.create_sheet(), "choices", CHOICES_COLUMNS, choices)
    settings = {"form_title": inst.title, "form_id": inst.name, "version": inst.version, "default_language": LANGUAGE,
                "chouyang::code": inst.code, "chouyang::per": inst.per,
                "chouyang::layout": json.dumps(inst.layout, ensure_ascii=False) if inst.layout else ""}
    _sheet(wb.create_sheet(), "settings", SETTINGS_COLUMNS, [settings])
    with atomic_path(Path(path)) as tmp:
        wb.save(tmp)


def with_unit_code(inst: Instrument) -> Instrument:
    """A point-level instrument with its first field `unit_code` (prefilled), so every response names its point."""
    if inst.per != "point" or any(c.name == UNIT_CODE for c in inst.children):
        return inst
    unit = Field(UNIT_CODE, "text", UNIT_CODE_LABEL, prefill=UNIT_CODE)
    return Instrument(inst.name, inst.title, inst.code, inst.version, inst.per, (unit,) + inst.children,
                      inst.choices, inst.layout, inst.source)


def _sheet(ws, title: str, columns, rows: list[dict]) -> None:
    ws.title = title
    ws.append(list(columns))
    for r, row in enumerate(rows, start=2):
        for c, column in enumerate(columns, start=1):
            text = row.get(column)
            if text is None or text == "":
                continue
            cell = ws.cell(r, c)
            cell.value = str(text)
            cell.data_type = "s"   # text that happens to start with '=' stays text, never a formula


def _number(value) -> str | None:
    if value is None:
        return None
    text = repr(float(value)) if isinstance(value, float) else str(value)
    return text[:-2] if text.endswith(".0") else text


class _SurveyWriter:
    """The survey sheet's rows, with references rewritten where pyxform needs a path."""

    def __init__(self, inst: Instrument):
        self.inst = inst
        self.by_name = names_index(inst)
        self.nodes = dict(node_paths(inst))

    def rows(self) -> list[dict]:
        out: list[dict] = []
        self._children(self.inst.children, (), out)
        return out

    def _children(self, children, prefix, out: list[dict]) -> None:
        for i, node in enumerate(children):
            path = prefix + (i,)
            if isinstance(node, Group):
                out.append(self._group(node, path))
                self._children(node.children, path, out)
                out.append({"type": "end repeat" if node.repeat else "end group"})
            else:
                out.append(self._field(node, path))

    def _group(self, g: Group, path) -> dict:
        row = {"type": "begin repeat" if g.repeat else "begin group", "name": g.name, f"label::{LANGUAGE}": g.label,
               "relevant": self.expression(g.relevant, path), "chouyang::rows": g.rows, "chouyang::table": g.table,
               "chouyang::key": g.key, "chouyang::blank_rows": str(g.blank_rows) if g.blank_rows else None}
        if g.fixed:
            row["chouyang::fixed"] = json.dumps([list(p) for p in g.fixed], ensure_ascii=False)
        return row

    def _field(self, f: Field, path) -> dict:
        row = {"type": f"{f.type} {f.choices}" if f.is_select else f.type, "name": f.name, f"label::{LANGUAGE}": f.label,
               f"hint::{LANGUAGE}": f.hint, f"constraint_message::{LANGUAGE}": f.constraint_message,
               "read_only": "yes" if f.prefill else None}
        for key in ("required", "relevant", "constraint", "calculation"):
            value = getattr(f, key)
            row[key] = value if key == "required" and value == "yes" else self.expression(value, path)
        for key in FIELD_EXTRAS:
            value = getattr(f, key)
            row[f"chouyang::{key}"] = _number(value) if key in ("width", "option_width", "digits") else value
        if f.is_select:   # a select's list is in its type; a number keeps `integer` (phones key a number)
            row["chouyang::choices"] = None
        return row

    def expression(self, text: str | None, path) -> str | None:
        if not text:
            return text

        def swap(m: re.Match) -> str:
            name = m.group(1)
            if name is None or len(self.by_name.get(name, ())) < 2:
                return m.group(0)
            found = resolve(self.inst, path, name, self.by_name)
            return self.relative(path, found[0]) if len(found) == 1 else m.group(0)

        return _TOKENS.sub(swap, text)

    def relative(self, start, target) -> str:
        """XPath from the node at `start` to the node at `target` (`.` itself, `../x` a sibling)."""
        if start == target:
            return "."
        names = lambda p: [self.nodes[p[:d]].name for d in range(1, len(p) + 1)]
        a, b = names(start), names(target)
        common = 0
        while common < min(len(a), len(b)) and start[:common + 1] == target[:common + 1]:
            common += 1
        return "/".join([".."] * (len(a) - common) + b[common:])
