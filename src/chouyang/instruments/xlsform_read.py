"""Reading an XLSForm (.xlsx) into an Instrument: what is accepted, and the located refusal of the rest.

Accepted on the survey sheet: the types `select_one X`, `select_multiple X`, `integer`, `decimal`,
`date`, `text`, `note`, `calculate`, `begin group`/`end group`, `begin repeat`/`end repeat` (also
spelled `begin_group` …); the columns `type`, `name`, `label`, `hint`, `constraint_message` (plain
or with a language: `label::中文 (zh)`, `label::Chinese (zh)`, `label::zh`, …; a Chinese one wins,
then the plain one, then any other), `required`, `relevant`, `constraint`, `calculation`,
`appearance` and `read_only` (display hints: accepted, not kept) and the `chouyang::` columns of
chouyang.instruments.xlsform (`chouyang::choices`: the tick scale of an `integer` or `decimal`
printed with `chouyang::paper = ticks`; a select's list stays in its type). A `begin repeat` without
`chouyang::rows` is a repeat of blank rows (the phone adds rows). Device metadata rows (`start`,
`end`, `today`, `deviceid`, …) are not questions and are skipped; their columns in a submissions
export are metadata too. Columns whose header starts with `$` (KoboToolbox's `$kuid`, `$autoname`,
…) are KoboToolbox's bookkeeping and are ignored.  choices: `list_name`, `name`, labels.  settings: `form_id`,
`form_title`, `version`, `default_language` (ignored: labels are read as above) and the
`chouyang::` settings.

Refused, each with the sheet, row and column in Chinese: not an xlsx, a file over 5 MB, a cell
over 10,000 characters, a formula in any cell, no survey sheet, an unknown column with a value,
unbalanced begin/end, and everything `checks.check` refuses (unknown type, duplicate name, a
missing choice list, an expression that does not parse or names an unknown field, a relevant
that refers to itself, a label only in English, a form_id that is not ASCII, …).
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl

from chouyang.errors import ChouyangError, Problem
from chouyang.instruments.checks import Locator, check, node_paths, resolve
from chouyang.instruments.model import ROWS_BLANK, Choice, ChoiceList, Field, Group, Instrument

LANGUAGE = "中文 (zh)"
UNIT_CODE = "unit_code"
UNIT_CODE_LABEL = "样本点编码"
MAX_FILE = 5 * 1024 * 1024
MAX_CELL = 10_000
MAX_ROWS = 10_000
FIELD_EXTRAS = ("prefill", "verifies", "scores", "paper", "width", "option_width", "digits", "choices", "top")
GROUP_EXTRAS = ("rows", "table", "key", "blank_rows", "fixed")
METADATA_TYPES = ("start", "end", "today", "deviceid", "username", "phonenumber", "simserial", "subscriberid", "audit", "email")
_PLAIN = ("type", "name", "required", "relevant", "constraint", "calculation", "appearance", "read_only")
_LANGUAGED = ("label", "hint", "constraint_message")
_GROUP_KEYS = {"type", "name", "label", "relevant", "appearance"} | set(GROUP_EXTRAS)
_SETTINGS = ("form_title", "form_id", "version", "default_language", "chouyang::code", "chouyang::per", "chouyang::layout")
_BEGIN_END = re.compile(r"(begin|end)[ _](group|repeat)")
_SELECT = re.compile(r"(select_one|select_multiple|select one|select multiple)(?: +(\S+))?( +.*)?")
_PATHS = re.compile(r"'[^']*'|\"[^\"]*\"|(?<![\w.}])(\.\.(?:/\.\.)*(?:/[^\W\d][\w.\-]*)*)")


def _is_chinese_language(lang: str) -> bool:
    low = lang.lower()
    return "中文" in lang or "汉" in lang or "chinese" in low or re.search(r"\bzh\b", low) is not None


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _Sheet:
    """One sheet's non-empty cells as text, by header; cell-level refusals recorded."""

    def __init__(self, ws, reader: _Reader):
        self.title = ws.title
        rows = ws.iter_rows()
        header = next(rows, ())
        self.headers = [reader.cell_text(self.title, 1, _letter(i), cell) for i, cell in enumerate(header)]
        self.rows: list[tuple[int, dict[str, str]]] = []
        for r, cells in enumerate(rows, start=2):
            if r > MAX_ROWS + 1:
                reader.bad(self.title, r, None, f"工作表超过 {MAX_ROWS} 行，不像是调查表")
                break
            values = self.row_values(reader, r, cells)
            if values:
                self.rows.append((r, values))

    def row_values(self, reader: _Reader, r: int, cells) -> dict[str, str]:
        values = {}
        for i, cell in enumerate(cells):
            column = self.headers[i] if i < len(self.headers) and self.headers[i] else _letter(i)
            if column.startswith("$"):   # KoboToolbox's bookkeeping ($kuid, $autoname, …)
                continue
            text = reader.cell_text(self.title, r, column, cell)
            if text:
                values[column] = text
        return values


def _letter(i: int) -> str:
    return openpyxl.utils.get_column_letter(i + 1) + " 列"


class XlsLocator(Locator):
    """Places in an XLSForm: sheet, row and column header of what `check` found."""

    def __init__(self, source: str):
        super().__init__(source)
        self.places: dict[tuple[int, ...], tuple[int, dict[str, str]]] = {}
        self.choice_rows: dict[tuple[str, int | None], int] = {}
        self.choice_label = "label"
        self.settings_row = 2

    def node(self, path, key, instrument=None) -> dict:
        row, headers = self.places.get(path, (None, {}))
        default = "type" if key == "choices" else f"chouyang::{key}" if key in FIELD_EXTRAS + GROUP_EXTRAS else key
        return {"sheet": "survey", "row": row, "column": headers.get(key, default)}

    def choice(self, list_name, index=None, key=None) -> dict:
        row = self.choice_rows.get((list_name, index)) or self.choice_rows.get((list_name, None))
        return {"sheet": "choices", "row": row, "column": self.choice_label if key == "label" else key or "list_name"}

    def instrument(self, key) -> dict:
        column = {"name": "form_id", "title": "form_title"}.get(key) or ("version" if key == "version" else f"chouyang::{key}")
        return {"sheet": "settings", "row": self.settings_row, "column": column}


def read(path: Path) -> Instrument:
    """Import an XLSForm; every problem of the file is listed, located, in Chinese."""
    return _Reader(Path(path)).instrument()


class _Reader:
    def __init__(self, path: Path):
        self.path, self.source = path, path.name
        self.problems: list[Problem] = []
        self.loc = XlsLocator(self.source)

    def bad(self, sheet: str | None, row: int | None, column: str | None, message: str, value=None) -> None:
        self.problems.append(Problem(self.source, message, row, column, value, sheet))

    def cell_text(self, sheet: str, row: int, column: str, cell) -> str:
        value = cell.value
        if value is None:
            return ""
        if cell.data_type == "f" or (isinstance(value, str) and value.lstrip().startswith("=")):
            self.bad(sheet, row, column, "单元格中有公式；调查表只接受文字，请把公式换成它的结果或文字", str(value)[:50])
            return ""
        text = _text(value)
        if len(text) > MAX_CELL:
            self.bad(sheet, row, column, f"单元格有 {len(text)} 个字符，超过上限 {MAX_CELL} 个")
            return ""
        return text

    def fail(self, message: str) -> ChouyangError:
        return ChouyangError(f"{self.source}：{message}")

    def open(self):
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise self.fail(f"无法读取文件（{exc.strerror}）") from None
        if size > MAX_FILE:
            raise self.fail(f"文件有 {size / 1024 / 1024:.1f} MB，超过上限 5 MB；调查表不应这么大")
        if not zipfile.is_zipfile(self.path):
            raise self.fail("不是 Excel 工作簿（.xlsx）；请用 Excel 另存为 .xlsx 格式")
        try:
            return openpyxl.load_workbook(self.path, read_only=True, data_only=False)
        except Exception as exc:  # a broken or foreign zip
            raise self.fail(f"无法作为 Excel 工作簿打开（{type(exc).__name__}）") from None

    def instrument(self) -> Instrument:
        wb = self.open()
        try:
            sheets = {ws.title.strip().lower(): ws for ws in wb.worksheets}
            if "survey" not in sheets:
                missing = Problem(self.source, "缺少 survey 工作表", sheet="survey")
                raise ChouyangError(f"{self.source} 不是 XLSForm，没有导入", [missing])
            survey = _Sheet(sheets["survey"], self)
            choices = _Sheet(sheets["choices"], self) if "choices" in sheets else None
            settings = _Sheet(sheets["settings"], self) if "settings" in sheets else None
        finally:
            wb.close()
        children = _SurveyReader(self, survey).children()
        inst = self.head(settings, children, self.choice_lists(choices))
        inst = self.relative_paths(inst)
        problems = self.problems + check(inst, self.loc)
        if problems:
            order = {"survey": 0, "choices": 1, "settings": 2}   # the sheets in the order a user reads them
            unique = sorted({str(p): p for p in problems}.values(), key=lambda p: (order.get(p.sheet, 3), p.row or 0))
            raise ChouyangError(f"{self.source}：XLSForm 有错误，没有导入", unique)
        return inst

    def columns(self, sheet: _Sheet, known: tuple[str, ...]) -> dict[str, str]:
        """Header → known key (lower case); an unknown header with a value is refused."""
        keys = {h: h.lower() for h in sheet.headers if h.lower() in known}
        ignored = lambda h: h in keys or _languaged(h)
        for row, values in sheet.rows:
            for header in [h for h in values if not ignored(h)]:
                self.bad(sheet.title, row, header, "不支持的列（chouyang 不认识这一列，不能忽略其中的内容）", values[header][:50])
        return keys

    def choice_lists(self, sheet: _Sheet | None) -> dict[str, ChoiceList]:
        if sheet is None:
            return {}
        keys = self.columns(sheet, ("list_name", "list name", "name"))
        lists: dict[str, list[Choice]] = {}
        for row, values in sheet.rows:
            named = {keys[h]: v for h, v in values.items() if h in keys}
            list_name = named.get("list_name") or named.get("list name")
            label, header = _pick(values, "label")
            self.loc.choice_label = header or self.loc.choice_label
            if not list_name:
                self.bad(sheet.title, row, "list_name", "缺少选项列表名称（list_name）")
                continue
            self.loc.choice_rows.setdefault((list_name, None), row)
            self.loc.choice_rows[(list_name, len(lists.get(list_name, [])))] = row
            lists.setdefault(list_name, []).append(Choice(named.get("name", ""), label))
        return {name: ChoiceList(name, tuple(c)) for name, c in lists.items()}

    def head(self, sheet: _Sheet | None, children, choices) -> Instrument:
        values: dict[str, str] = {}
        if sheet is not None:
            keys = self.columns(sheet, _SETTINGS)
            if sheet.rows:
                self.loc.settings_row, row = sheet.rows[0]
                values = {keys[h]: v for h, v in row.items() if h in keys}
        name = values.get("form_id") or self.path.stem
        layout = self.layout(values.get("chouyang::layout"))
        code = values.get("chouyang::code") or re.sub(r"[^A-Za-z0-9_\-]", "", name)[:16]
        return Instrument(name=name, title=values.get("form_title", ""), code=code, version=values.get("version") or "1",
                          per=values.get("chouyang::per") or "point", children=children, choices=choices, layout=layout,
                          source=self.source)

    def layout(self, text: str | None) -> dict:
        try:
            layout = json.loads(text) if text else {}
        except ValueError:
            layout = None
        if not isinstance(layout, dict):
            self.bad("settings", self.loc.settings_row, "chouyang::layout", "不是有效的 JSON 对象", text[:50])
            return {}
        return layout

    def relative_paths(self, inst: Instrument) -> Instrument:
        """`../x` written by `export` (or by hand) back to `${x}`, when `${x}` resolves to the same field."""
        nodes = dict(node_paths(inst))
        by_names = {}
        for path in nodes:
            by_names.setdefault(tuple(nodes[path[:d]].name for d in range(1, len(path) + 1)), path)

        def convert(text: str, path, key: str) -> str:
            def swap(m: re.Match) -> str:
                if m.group(1) is None:
                    return m.group(0)
                steps = m.group(1).split("/")
                ups = steps.count("..")
                names = tuple(nodes[path[:d]].name for d in range(1, len(path) + 1))
                target = by_names.get(names[:max(len(names) - ups, 0)] + tuple(steps[ups:])) if ups <= len(names) else None
                if target is None or resolve(inst, path, nodes[target].name) != [target]:
                    where = self.loc.node(path, key)
                    self.bad("survey", where["row"], where["column"],
                             f"相对路径 {m.group(1)} 无法对应到唯一的题目，请改用 ${{题目名称}}", text)
                    return m.group(0)
                return "${" + nodes[target].name + "}"
            return _PATHS.sub(swap, text)

        def rebuild(children, prefix):
            out = []
            for i, node in enumerate(children):
                path = prefix + (i,)
                keys = ("relevant",) if isinstance(node, Group) else ("relevant", "constraint", "required", "calculation")
                changes = {k: convert(getattr(node, k), path, k) for k in keys if getattr(node, k) and ".." in getattr(node, k)}
                if isinstance(node, Group):
                    changes["children"] = rebuild(node.children, path)
                out.append(replace(node, **changes))
            return tuple(out)

        return replace(inst, children=rebuild(inst.children, ()))


def _languaged(header: str) -> bool:
    """`label`, `label::中文 (zh)`, `hint::English (en)`, … (a language is any text after `::`)."""
    return header.partition("::")[0].lower() in _LANGUAGED


def _pick(values: dict[str, str], base: str) -> tuple[str, str | None]:
    """A languaged column's text: a Chinese language first, then the plain column, then any other."""
    headers = [h for h in values if h.partition("::")[0].lower() == base]
    rank = lambda h: 0 if "::" in h and _is_chinese_language(h.partition("::")[2]) else 1 if "::" not in h else 2
    headers.sort(key=rank)
    return (values[headers[0]], headers[0]) if headers else ("", None)


def _required(text: str | None) -> str | None:
    """XLSForm's spellings of yes and no; anything else is an expression."""
    low = (text or "").lower()
    return "yes" if low in ("yes", "true", "true()") else None if low in ("", "no", "false", "false()") else text


class _SurveyReader:
    """The survey sheet's rows → the tree of fields and groups; places recorded for the locator."""

    def __init__(self, reader: _Reader, sheet: _Sheet):
        self.r, self.sheet = reader, sheet
        known = _PLAIN + tuple(f"chouyang::{k}" for k in FIELD_EXTRAS + GROUP_EXTRAS)
        self.keys = reader.columns(sheet, known)
        self.present = {v: h for h, v in self.keys.items()}

    def children(self) -> tuple:
        root: list = []
        stack: list[tuple[str, int, dict, list, tuple[int, ...]]] = []
        for row, values in self.sheet.rows:
            self.row(row, values, root, stack)
        for kind, row, *_ in reversed(stack):
            self.r.bad("survey", row, self.present.get("type", "type"), f"begin {kind} 没有对应的 end {kind}")
        return tuple(root) if not stack else ()

    def row(self, row: int, values: dict[str, str], root: list, stack: list) -> None:
        named = {self.keys[h]: v for h, v in values.items() if h in self.keys}
        kind = re.sub(r"\s+", " ", named.get("type", "")).strip()
        siblings, prefix = (stack[-1][3], stack[-1][4]) if stack else (root, ())
        path = prefix + (len(siblings),)
        m = _BEGIN_END.fullmatch(kind.lower())
        if m and m.group(1) == "begin":
            self.place(path, row, values)
            stack.append((m.group(2), row, values, [], path))
        elif m:
            self.end(m.group(2), row, stack, root)
        elif not kind:
            self.r.bad("survey", row, self.present.get("type", "type"), "缺少题型（type）")
        elif kind.lower() not in METADATA_TYPES:
            self.place(path, row, values)
            siblings.append(self.field(kind, row, values, named))

    def place(self, path, row: int, values: dict[str, str]) -> None:
        headers = {v.removeprefix("chouyang::"): h for h, v in self.keys.items()}
        for base in _LANGUAGED:
            headers[base] = _pick(values, base)[1] or next((h for h in self.sheet.headers if h.lower() == base), base)
        # a select's list is in its type; a number's tick scale in chouyang::choices
        scale = self.present.get("chouyang::choices")
        headers["choices"] = scale if scale in values else headers.get("type", "type")
        self.r.loc.places[path] = (row, headers)

    def end(self, kind: str, row: int, stack: list, root: list) -> None:
        if not stack:
            self.r.bad("survey", row, self.present.get("type", "type"), f"end {kind} 前面没有对应的 begin {kind}")
            return
        begun, begin_row, values, children, path = stack[-1]
        if begun != kind:
            self.r.bad("survey", row, self.present.get("type", "type"),
                       f"end {kind} 与第 {begin_row} 行的 begin {begun} 不匹配")
            return
        stack.pop()
        (stack[-1][3] if stack else root).append(self.group(kind == "repeat", begin_row, values, tuple(children)))

    def extras(self, row: int, named: dict[str, str], allowed: set[str]) -> None:
        for key, value in named.items():
            if key.removeprefix("chouyang::") not in allowed and key not in allowed:
                self.r.bad("survey", row, self.present[key], "这一列不适用于这一行的题型", value[:50])

    def number(self, row: int, named: dict, key: str, kind=float):
        text = named.get(f"chouyang::{key}")
        if not text:
            return None
        try:
            return kind(text)
        except ValueError:
            self.r.bad("survey", row, self.present[f"chouyang::{key}"], "应为" + ("数字" if kind is float else "整数"), text)
            return None

    def group(self, repeat: bool, row: int, values: dict, children: tuple) -> Group:
        named = {self.keys[h]: v for h, v in values.items() if h in self.keys}
        self.extras(row, named, _GROUP_KEYS)
        fixed: tuple = ()
        if named.get("chouyang::fixed"):
            try:
                fixed = tuple((str(k), str(v)) for k, v in json.loads(named["chouyang::fixed"]))
            except (ValueError, TypeError):
                self.r.bad("survey", row, self.present["chouyang::fixed"], "应为 JSON：[[行编码, 行标签], …]",
                           named["chouyang::fixed"][:50])
        rows = named.get("chouyang::rows") or (ROWS_BLANK if repeat else None)
        return Group(name=named.get("name", ""), label=_pick(values, "label")[0], repeat=repeat, rows=rows,
                     table=named.get("chouyang::table"), key=named.get("chouyang::key"),
                     blank_rows=self.number(row, named, "blank_rows", int) or 0, fixed=fixed,
                     relevant=named.get("relevant"), children=children)

    def field(self, kind: str, row: int, values: dict, named: dict) -> Field:
        self.extras(row, named, set(_PLAIN) | set(FIELD_EXTRAS))
        choices = None
        m = _SELECT.fullmatch(kind)
        if m:
            if m.group(3) or not m.group(2):
                self.r.bad("survey", row, self.present["type"], "选择题应写成 select_one 列表名 或 select_multiple 列表名", kind)
            kind, choices = m.group(1).replace(" ", "_"), m.group(2)
            if named.get("chouyang::choices"):
                self.r.bad("survey", row, self.present["chouyang::choices"],
                           "选择题的选项列表写在 type 列（select_one 列表名）；chouyang::choices 只用于印成勾选刻度的整数、小数题",
                           named["chouyang::choices"])
        else:
            choices = named.get("chouyang::choices")
        required = _required(named.get("required"))
        extras = {k: named.get(f"chouyang::{k}") for k in ("prefill", "verifies", "scores", "paper", "top")}
        return Field(name=named.get("name", ""), type=kind, label=_pick(values, "label")[0], choices=choices,
                     required=required, relevant=named.get("relevant"), constraint=named.get("constraint"),
                     constraint_message=_pick(values, "constraint_message")[0] or None,
                     hint=_pick(values, "hint")[0] or None, calculation=named.get("calculation"), **extras,
                     width=self.number(row, named, "width"), option_width=self.number(row, named, "option_width"),
                     digits=self.number(row, named, "digits", int))
