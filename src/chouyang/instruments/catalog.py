"""Where instruments come from: the built-in definitions, a round's own, and Instrument → TOML text.

A round may carry its own definitions in `ROUND/instruments/<name>.toml` (written by
`add_to_round` from an XLSForm, with a copy of the workbook beside it); they extend the built-ins
and a round file of a built-in's name overrides it for that round.  Once the round is drawn
(`ROUND/draw.json` exists) its instruments are fixed.
"""

from __future__ import annotations

import math
import re
from functools import cache
from importlib.resources import files
from pathlib import Path

from chouyang.atomic import write_many
from chouyang.errors import ChouyangError
from chouyang.instruments.checks import GROUP_TYPE, array_name
from chouyang.instruments.definition import FIELD_KEYS, load, loads
from chouyang.instruments.model import Field, Group, Instrument

BUILTIN_PACKAGE = "chouyang.instruments.builtins"
ROUND_FOLDER = "instruments"


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in files(BUILTIN_PACKAGE).iterdir() if p.name.endswith(".toml"))


@cache
def builtin(name: str) -> Instrument:
    if name not in builtin_names():
        raise ChouyangError(f"没有名为 {name} 的内置调查表（内置：{'、'.join(builtin_names())}）")
    text = files(BUILTIN_PACKAGE).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return loads(text, f"内置调查表 {name}")


def round_instruments(round_dir: Path) -> dict[str, Instrument]:
    """The instruments of a round: the built-ins, then `ROUND/instruments/*.toml` (which may override one)."""
    found = {name: builtin(name) for name in builtin_names()}
    folder = Path(round_dir) / ROUND_FOLDER
    # a name starting with "." is a temporary file an interrupted write left behind (chouyang.atomic)
    for path in sorted(p for p in folder.glob("*.toml") if not p.name.startswith(".")) if folder.is_dir() else []:
        instrument = load(path)
        if instrument.name != path.stem:
            raise ChouyangError(f"{path}：文件名应与调查表名称（instrument.name = {instrument.name}）一致")
        found[instrument.name] = instrument
    return found


def add_to_round(round_dir: Path, xlsx_path: Path) -> Instrument:
    """Import an XLSForm into a round that is not drawn yet: ROUND/instruments/<name>.toml and a copy of the xlsx."""
    # the XLSForm reader needs openpyxl: load it only for this command
    from chouyang.instruments.xlsform import read, with_unit_code

    round_dir, xlsx_path = Path(round_dir), Path(xlsx_path)
    if not round_dir.is_dir():
        raise ChouyangError(f"{round_dir}：轮次文件夹不存在")
    if (round_dir / "draw.json").exists():
        raise ChouyangError(f"{round_dir}：已抽样的轮次不能再添加调查表")
    # an office designs questions, not bookkeeping: a point-level form without unit_code gets it, so paper, phone
    # and workbook responses all name their sample point (the XLSForm export carries it the same way)
    instrument = with_unit_code(read(xlsx_path))
    if instrument.name in builtin_names():
        raise ChouyangError(f"{xlsx_path.name}：调查表名称（form_id）{instrument.name} 是内置调查表的名称，请换一个名称")
    folder = round_dir / ROUND_FOLDER
    toml_path = folder / f"{instrument.name}.toml"
    text = f"# 由 {xlsx_path.name} 导入（chouyang instrument add），原表格见同名 .xlsx\n" + dumps(instrument)
    stored = loads(text, str(toml_path))   # what the round will read back must be what was read
    try:
        folder.mkdir(parents=True, exist_ok=True)
        data = xlsx_path.read_bytes()
    except OSError as exc:
        raise ChouyangError(f"无法写入 {folder}：{exc.strerror}") from None
    write_many({toml_path: text.encode("utf-8"), folder / f"{instrument.name}.xlsx": data})
    return stored


# --- Instrument → TOML --------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _float(value) if isinstance(value, float) else _string(value)


def _value(value) -> str:
    if isinstance(value, (bool, int, float, str)):
        return _scalar(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise ChouyangError(f"无法写成 TOML 的值：{value!r}")


def _table(lines: list[str], header: str, table: dict) -> None:
    """A table whose dict values become sub-tables (`[layout.page]`), everything else key = value."""
    lines.append(f"[{header}]")
    subs = {k: v for k, v in table.items() if isinstance(v, dict) and v}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items() if k not in subs]
    for k, v in subs.items():
        lines.append("")
        _table(lines, f"{header}.{_key(k)}", v)


def dumps(instrument: Instrument) -> str:
    """The definition as TOML text; `loads(dumps(i), i.source) == i`."""
    lines = ["[instrument]"]
    lines += [f"{k} = {_string(getattr(instrument, k))}" for k in ("name", "title", "code", "version", "per")]
    if instrument.layout:
        lines.append("")
        _table(lines, "layout", instrument.layout)
    if instrument.choices:
        lines += ["", "[choices]"]
        for name, clist in instrument.choices.items():
            lines.append(f"{_key(name)} = " + _value([[c.code, c.label] for c in clist.choices]))
    _children(lines, instrument.children, "")
    return "\n".join(lines) + "\n"


def _children(lines: list[str], children, prefix: str) -> None:
    array = array_name(children)
    for node in children:
        lines += ["", f"[[{prefix}{array}]]"]
        if isinstance(node, Group):
            _group(lines, node, in_field_array=array == "field")
            _children(lines, node.children, f"{prefix}{array}.")
        else:
            _field(lines, node)


def _group(lines: list[str], g: Group, in_field_array: bool) -> None:
    if in_field_array:
        lines.append(f"type = {_string(GROUP_TYPE)}")
    lines += [f"name = {_string(g.name)}", f"label = {_string(g.label)}"]
    if g.repeat:
        lines.append("repeat = true")
    for key in ("rows", "table", "key"):
        if getattr(g, key) is not None:
            lines.append(f"{key} = {_string(getattr(g, key))}")
    if g.blank_rows:
        lines.append(f"blank_rows = {g.blank_rows}")
    if g.fixed:
        lines.append(f"fixed = {_value([list(p) for p in g.fixed])}")
    if g.relevant is not None:
        lines.append(f"relevant = {_string(g.relevant)}")


def _field(lines: list[str], f: Field) -> None:
    for key in FIELD_KEYS:
        value = getattr(f, key)
        if value is not None and (value != "" or key in ("name", "type", "label")):
            lines.append(f"{key} = {_value(value)}")
