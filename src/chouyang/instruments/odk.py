"""Submissions exported as CSV by ODK Central or KoboToolbox, read into `Response`s (issue 18).

What the two tools write (ODK Central `submissions.csv`, Kobo "CSV" with "XML values and headers"):
- Encoding: Central writes UTF-8 with a BOM; a file re-saved by Excel/WPS in China is GB18030.
  Both are read (`chouyang.inputs.tables.decode_csv_bytes`); every cell is text and stays text, a
  cell like `=1+2` is a string, never a formula.  Kobo separates cells with `;` by default,
  Central with `,`: the separator is taken from the header row.
- Header: one column per field, named by the field with its groups' names in front — Central
  `group-field` (nested `g1-g2-field`), Kobo `group/field` — or the bare name when the export
  leaves groups out.  A header matches a field when it is the field's name with any tail of its
  group path in front, with either separator.  A select_multiple may also come as one 0/1 column
  per choice (`field/code`, Central's "split select multiples", Kobo's default): when the
  space-separated column is there too, both must agree (someone editing one of them in Excel is
  refused, not guessed); when it is missing, the value is built from the 0/1 columns.
- Metadata columns (`METADATA`, and every column starting with `_`, `meta-`, `meta/` or
  `formhub/`, Kobo's and the form's own bookkeeping) are ignored unless the instrument has a
  field of that name.  Any other column is refused: it is a question the instrument does not have.
- The submission's id becomes `Response.submission`: Central's `KEY` (the instanceID of the
  first version, which stays the same when the submission is edited in Central, so a later export
  of an edited submission is recognised as the same one), else Kobo's `meta/rootUuid`, else the
  instanceID (`meta-instanceID`, `meta/instanceID`, `_uuid`), always with its `uuid:` prefix.  The
  same id twice in one file is a duplicate submission and refused, naming both rows.
- Review: a submission Central's reviewers marked `rejected` (ReviewState) or Kobo's marked
  "not approved" (_validation_status) is skipped, and the returned `notes` say which rows; a
  reviewer rejected it, and importing it would overrule them.  `hasIssues` is imported (the data is
  what was sent) and noted.  A Central `Status` (e.g. missingEncryptedFormData: exported without
  the passphrase) is refused: the row has no data.
- Repeats: Central and Kobo export every repeat as its own CSV joined by PARENT_KEY/_parent_index.
  Reading those is not supported yet: a repeat file given alone is refused with a message that says
  so, a main file of an instrument with repeats is read with its repeats left empty (and a note).
Problems are located as `Problem(file, message, row, column=header)`, `row` as a spreadsheet shows
it (header row 1); the whole file is refused when there is any.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chouyang.errors import ChouyangError, Problem
from chouyang.inputs.tables import decode_csv_bytes
from chouyang.instruments.model import Field, Group, Instrument
from chouyang.instruments.responses import Place, Response, Where, column_name, validate

# Documented export columns of ODK Central (submissions.csv) and KoboToolbox (CSV export), and the
# XLSForm metadata question names both tools' forms commonly carry.
METADATA = frozenset({
    "SubmissionDate", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected",
    "Status", "ReviewState", "DeviceID", "Edits", "FormVersion", "instanceID", "instanceName", "isValidated",
    "start", "end", "today", "deviceid", "username", "simserial", "subscriberid", "phonenumber", "audit",
    "email", "start-geopoint", "background-audio",
})
_META_PREFIXES = ("_", "meta-", "meta/", "formhub/")
_ID_COLUMNS = ("KEY", "meta/rootUuid", "meta-instanceID", "meta/instanceID", "instanceID", "_uuid")
_REPEAT_MARKERS = ("PARENT_KEY", "_parent_index", "_parent_table_name", "_submission__uuid", "_submission__id")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TRUE = ("1", "true")
_FALSE = ("0", "false", "")


class Submissions(list):
    """The responses of one file (a list of `Response`), with `notes` on what was skipped and why."""

    def __init__(self, responses=(), notes: list[str] | None = None):
        super().__init__(responses)
        self.notes: list[str] = list(notes or [])


@dataclass
class _Columns:
    """What each column of the header holds."""

    fields: dict[str, int] = field(default_factory=dict)                    # field name -> column
    expansions: dict[str, dict[str, int]] = field(default_factory=dict)     # select_multiple -> code -> column
    meta: dict[str, int] = field(default_factory=dict)                      # metadata header -> column
    header: list[str] = field(default_factory=list)

    def header_of(self, name: str) -> str | None:
        j = self.fields.get(name)
        return self.header[j] if j is not None else None


def read_submissions(instrument: Instrument, path: Path, today: date | None = None,
                     units: set[str] | None = None) -> Submissions:
    """Every submission of an ODK Central / KoboToolbox CSV export, validated; ChouyangError with every problem.

    `today` is what `today()` gives in the instrument's expressions (default: the computer's date);
    `units`, when given, are the sample points a submission may be for (another unit_code is refused).
    """
    path = Path(path)
    file = path.name
    rows = _csv_rows(path)
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ChouyangError(f"{file}：文件是空的，没有表头行")
    header = [cell.strip() for cell in rows[0]]
    _refuse_repeat_file(header, file)
    problems: list[Problem] = []
    columns = _columns(instrument, header, rows[1:], file, problems)
    if problems:
        raise ChouyangError(f"{file}：表头与调查表「{instrument.title}」不符，整份文件未导入", problems)
    reader = _Reader(instrument, file, columns, today or date.today(), units)
    for line, cells in enumerate(rows[1:], start=2):
        reader.row(line, cells)
    if reader.problems:
        raise ChouyangError(f"{file}：提交数据有问题，整份文件未导入", reader.problems)
    return Submissions(reader.responses, reader.finish_notes())


def _csv_rows(path: Path) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ChouyangError(f"无法读取 {path}：{exc.strerror or exc}") from None
    text, _ = decode_csv_bytes(raw, path.name)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ChouyangError(f"{path.name}：不是有效的 CSV 文件（{exc}）") from None


def _refuse_repeat_file(header: list[str], file: str) -> None:
    marker = next((h for h in header if h in _REPEAT_MARKERS), None)
    if marker is not None:
        raise ChouyangError(
            f"{file}：这是一个重复组（repeat）的导出文件（有「{marker}」列）。暂不支持导入重复组文件，"
            "请导入表单的主文件（ODK Central 导出压缩包中与表单同名的那个 CSV）。")


# --- the header -----------------------------------------------------------------------------------

def _names(groups: tuple[Group, ...], name: str) -> list[str]:
    """Every header that may name `name` inside `groups`: bare, and with any tail of the group path."""
    path = [g.name for g in groups]
    return [sep.join(path[k:] + [name]) for k in range(len(path) + 1) for sep in ("-", "/")]


def _header_map(instrument: Instrument) -> tuple[dict[str, tuple[Field, Group | None]], dict[str, tuple[Field, str]]]:
    """(header -> (field, its repeat or None), header -> (select_multiple field, code) of a 0/1 column)."""
    fields: dict[str, tuple[Field, Group | None]] = {}
    expansions: dict[str, tuple[Field, str]] = {}
    for groups, f in instrument.walk():
        repeat = next((g for g in reversed(groups) if g.repeat), None)
        for name in _names(groups, f.name):
            fields.setdefault(name, (f, repeat))
        cl = instrument.choice_list(f) if f.type == "select_multiple" else None
        for code in cl.codes() if cl else ():
            for name in _names(groups, f.name):
                for sep in ("/", "-"):
                    expansions.setdefault(f"{name}{sep}{code}", (f, code))
    return fields, expansions


def _columns(instrument: Instrument, header: list[str], body: list[list[str]], file: str,
             problems: list[Problem]) -> _Columns:
    fields, expansions = _header_map(instrument)
    labels = {f.label: f for f in instrument.fields()}
    columns = _Columns(header=header)
    for j, name in enumerate(header):
        if name in fields:
            _field_column(columns, fields[name], j, file, problems)
        elif name in expansions:
            f, code = expansions[name]
            columns.expansions.setdefault(f.name, {})[code] = j
        elif name in METADATA or name.startswith(_META_PREFIXES):
            columns.meta[name] = j
        else:
            problem = _stray_column(instrument, labels, name, j, body)
            if problem:
                problems.append(Problem(file, problem, 1, name or f"第 {j + 1} 列"))
    _missing_columns(instrument, columns, file, problems)
    return columns


def _stray_column(instrument: Instrument, labels: dict[str, Field], name: str, j: int, body: list[list[str]]) -> str | None:
    """Why a column that is neither a field nor metadata is refused (None: an empty nameless column)."""
    if name == "":
        return "这一列没有列名，却有数据" if any(j < len(cells) and cells[j].strip() for cells in body) else None
    if name in labels:
        return f"表头是题目的标签，不是字段名（应为「{labels[name].name}」）。KoboToolbox 导出时请选「XML values and headers」"
    return f"调查表「{instrument.title}」中没有这个字段"


def _field_column(columns: _Columns, found: tuple[Field, Group | None], j: int, file: str, problems: list[Problem]) -> None:
    f, repeat = found
    name = columns.header[j]
    if repeat is not None:
        problems.append(Problem(file, f"这是重复组「{repeat.label}」中的题；重复组须从单独的文件导入，暂不支持", 1, name))
    elif f.name in columns.fields:
        problems.append(Problem(file, f"与第 {columns.fields[f.name] + 1} 列是同一个字段「{f.name}」", 1, name))
    else:
        columns.fields[f.name] = j


def _missing_columns(instrument: Instrument, columns: _Columns, file: str, problems: list[Problem]) -> None:
    """Every top-level answer needs its column: a missing one means the phones used another version."""
    if "unit_code" not in {f.name for f in instrument.fields()}:
        problems.append(Problem(file, f"调查表「{instrument.title}」没有 unit_code 字段，提交无法对应到抽样点"))
        return
    for groups, f in instrument.walk():
        if _expects_column(groups, f) and f.name not in columns.fields and f.name not in columns.expansions:
            problems.append(Problem(file, "文件中没有这一列（手机上用的调查表版本与本调查表不一致？）", 1, column_name(f)))


def _expects_column(groups: tuple[Group, ...], f: Field) -> bool:
    """Top-level answers and unit_code; not notes, other calculations or repeats (their own files)."""
    if any(g.repeat for g in groups) or f.type == "note":
        return False
    return f.type != "calculate" or f.name == "unit_code"


# --- the rows ---------------------------------------------------------------------------------------

@dataclass
class _Reader:
    instrument: Instrument
    file: str
    columns: _Columns
    today: date
    units: set[str] | None = None
    responses: list[Response] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)

    def cell(self, cells: list[str], j: int | None) -> str:
        return cells[j] if j is not None and j < len(cells) else ""

    def meta(self, cells: list[str], name: str) -> str:
        return self.cell(cells, self.columns.meta.get(name)).strip()

    def problem(self, line: int, message: str, column: str | None = None, value: object = None) -> None:
        self.problems.append(Problem(self.file, message, line, column, value))

    def row(self, line: int, cells: list[str]) -> None:
        if not any(c.strip() for c in cells) or self._review(line, cells):
            return   # a blank line Excel left at the end, or a rejected submission
        extra = cells[len(self.columns.header):]
        if any(c.strip() for c in extra):
            self.problem(line, f"这一行比表头多出 {len(extra)} 个单元格")
        submission = self._submission(line, cells)
        values = {name: self.cell(cells, j) for name, j in self.columns.fields.items()}
        for name, codes in self.columns.expansions.items():
            self._expanded(line, cells, name, codes, values)
        unit = values.get("unit_code", "").strip()
        self._unit(line, unit)
        raw = Response(self.instrument.name, unit, "", values, {}, self.file, submission)
        response, found = validate(self.instrument, raw, self.today, self._where(line))
        self.problems += found
        self.responses.append(response)

    def _unit(self, line: int, unit: str) -> None:
        column = self.columns.header_of("unit_code") or "unit_code"
        if not unit:
            self.problem(line, "缺少 unit_code（抽样点代码），无法对应到抽样点", column)
        elif self.units is not None and unit not in self.units:
            self.problem(line, "不是本轮的样本点（见 sample.csv 中 role 为 primary 的村/社区）", column, unit)

    def _where(self, line: int) -> Where:
        def where(f: Field | None, repeat: Group | None, index: int | None) -> Place:
            return Place(self.file, None, line, (self.columns.header_of(f.name) or column_name(f)) if f else None)
        return where

    def _review(self, line: int, cells: list[str]) -> bool:
        """True when a reviewer rejected the submission (it is skipped); a Central Status is refused."""
        status = self.meta(cells, "Status")
        if status:
            self.problem(line, f"ODK Central 标记此提交为「{status}」，没有数据（加密表单须输入密码后再导出）", "Status", status)
        kobo = self.meta(cells, "_validation_status").lower()
        if self.meta(cells, "ReviewState") == "rejected" or "not_approved" in kobo or kobo == "not approved":
            self.skipped.append(line)
            return True
        if self.meta(cells, "ReviewState") == "hasIssues":
            self.flagged.append(line)
        return False

    def _submission(self, line: int, cells: list[str]) -> str:
        ident = next((self.meta(cells, c) for c in _ID_COLUMNS if self.meta(cells, c)), "")
        if _UUID.fullmatch(ident):
            ident = "uuid:" + ident
        if ident:
            if ident in self.seen:
                self.problem(line, f"与第 {self.seen[ident]} 行是同一份提交（instanceID 相同），重复提交",
                             next(c for c in _ID_COLUMNS if self.meta(cells, c)), ident)
            else:
                self.seen[ident] = line
        return ident

    def _expanded(self, line: int, cells: list[str], name: str, codes: dict[str, int], values: dict[str, str]) -> None:
        """A select_multiple's 0/1 columns: the value when the main column is absent, else checked against it."""
        chosen: list[str] = []
        for code, j in codes.items():
            mark = self.cell(cells, j).strip().lower()
            if mark in _TRUE:
                chosen.append(code)
            elif mark not in _FALSE:
                self.problem(line, "选项列只能是 1（选了）或 0（没选）", self.columns.header[j], mark)
        if name not in self.columns.fields:
            values[name] = " ".join(chosen)
        elif set(values[name].split()) != set(chosen) and any(self.cell(cells, j).strip() for j in codes.values()):
            self.problem(line, f"与各选项的 0/1 列不一致（0/1 列选的是「{' '.join(chosen) or '无'}」）",
                         self.columns.header_of(name), values[name])

    def finish_notes(self) -> list[str]:
        notes = []
        if self.skipped:
            notes.append(f"第 {_lines(self.skipped)} 行的提交已被审核人拒绝（rejected / not approved），未导入。")
        if self.flagged:
            notes.append(f"第 {_lines(self.flagged)} 行的提交在 ODK Central 中标为「有问题」（hasIssues），已照常导入。")
        repeats = self.instrument.repeats()
        if repeats:
            notes.append("重复组" + "、".join(f"「{g.label}」" for g in repeats) + "的数据不在主文件中，暂不支持导入，已留空。")
        return notes


def _lines(lines: list[int]) -> str:
    return "、".join(str(n) for n in lines)
