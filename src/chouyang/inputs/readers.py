"""Read the sampling frame, the teams and the register extract (SPEC §2.2).

Files are read as text by inputs.tables (CSV in UTF-8 or GBK/GB18030, detected
and reported; or XLSX), so codes keep their leading zeros; then each column is
checked and converted.  All problems of a file are collected and raised
together, each naming file, row, column and value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from chouyang import vocab
from chouyang.errors import ChouyangError, Problem
from chouyang.inputs.tables import read_table

# --- value parsers -----------------------------------------------------------

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{1,5}(\.0+)?$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(text: str) -> dt.date | None:
    """Parse YYYY-MM-DD, YYYY/M/D, YYYYMMDD or an Excel serial; None when impossible."""
    text = str(text).strip()
    if " " in text:  # "2016-01-05 00:00:00" from a spreadsheet
        text = text.split(" ", 1)[0]
    for pattern in (_ISO, _SLASH, _COMPACT):
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    if _SERIAL.match(text):
        serial = int(float(text))
        if 1 <= serial <= 2958465:
            return _EXCEL_EPOCH + dt.timedelta(days=serial)
    return None


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a mainland ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


ID_FORMAT = "身份证号应为 18 位（前 17 位数字，末位数字或 X，含有效出生日期）"
ID_CHECK_WARNING = "身份证号校验位不正确（请核对）"


def id_problem(person_id: str) -> str | None:
    """None for a valid ID number; "id_check" when only the check digit is wrong; else the Chinese problem."""
    pid = str(person_id).upper()
    if not re.fullmatch(r"\d{17}[\dX]", pid) or parse_date(pid[6:14]) is None:
        return ID_FORMAT
    return None if id_check_digit(pid[:17]) == pid[17] else "id_check"


def id_is_valid(person_id: str) -> bool:
    return id_problem(person_id) is None


def mask_id(person_id: str) -> str:
    """411381199001011234 -> 411381********1234 (region and last four kept)."""
    pid = str(person_id)
    if len(pid) != 18:
        return "*" * len(pid)
    return pid[:6] + "*" * 8 + pid[-4:]


# --- column schemas ----------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # code9 code12 text int date enum id18 flag
    required: bool = True
    choices: tuple[str, ...] = ()
    allow_empty: bool = False


@dataclass(frozen=True)
class Schema:
    file: str
    columns: tuple[Column, ...]
    key: str | None = None

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


FRAME = Schema("frame.csv", (
    Column("township_code", "code9"), Column("township_name", "text"),
    Column("unit_code", "code12"), Column("unit_name", "text"),
    Column("households", "int"), Column("population", "int"), Column("wcba", "int"),
    Column("exclude", "flag", required=False), Column("exclude_reason", "text", False, allow_empty=True),
), key="unit_code")

TEAMS = Schema("teams.csv", (
    Column("team_id", "text"), Column("leader", "text"), Column("members", "text"),
    Column("home_townships", "text", required=True, allow_empty=True),
), key="team_id")

WOMEN = Schema("women.csv", (
    Column("person_id", "id18"), Column("name", "text"), Column("birth_date", "date"),
    Column("unit_code", "code12"), Column("household_no", "text", allow_empty=True),
    Column("marital_status", "enum", choices=vocab.MARITAL_STATUS),
    Column("contraception", "enum", choices=vocab.CONTRACEPTION),
    Column("contraception_date", "date", allow_empty=True),
), key="person_id")

BIRTHS = Schema("births.csv", (
    Column("birth_id", "text"), Column("mother_id", "id18"), Column("child_name", "text", allow_empty=True),
    Column("sex", "enum", choices=vocab.SEX), Column("birth_date", "date"),
    Column("parity", "pos_int"), Column("policy", "enum", choices=vocab.POLICY),
    Column("unit_code", "code12"),
), key="birth_id")

PROCEDURES = Schema("procedures.csv", (
    Column("procedure_id", "text"), Column("person_id", "id18"),
    Column("type", "enum", choices=vocab.PROCEDURE_TYPES), Column("date", "date"),
    Column("unit_code", "code12"),
), key="procedure_id")

BENEFITS = Schema("benefits.csv", (
    Column("benefit_id", "text"), Column("person_id", "id18"), Column("program", "text"),
    Column("amount", "number"), Column("unit_code", "code12"),
), key="benefit_id")

REGISTER_SCHEMAS = {"women": WOMEN, "births": BIRTHS, "procedures": PROCEDURES, "benefits": BENEFITS}

_KIND_TEXT = {
    "code9": "应为 9 位数字代码", "code12": "应为 12 位数字代码", "int": "应为不小于 0 的整数",
    "pos_int": "应为不小于 1 的整数", "number": "应为数字",
    "date": "不是有效日期（可用 YYYY-MM-DD、YYYY/M/D、YYYYMMDD 或 Excel 日期）",
    "flag": "应为 0 或 1（或留空）",
}


_NUMERIC = ("date", "int", "pos_int", "number")  # kinds whose empty cell is None, not ""


def _convert_column(values: list[str], col: Column, file: str, problems: list[Problem],
                    warnings: list[Problem]) -> list:
    """Every cell of one column converted; a bad cell adds a problem (a wrong ID check digit only a warning)."""
    converted = []
    for i, text in enumerate(values):
        row = i + 2
        if text == "":
            if col.allow_empty or col.kind == "flag":
                converted.append(None if col.kind in _NUMERIC else "")
                continue
            problems.append(Problem(file, "不能为空", row, col.name))
            converted.append(None)
            continue
        value, message = _convert(text, col)
        if message == "id_check":
            warnings.append(Problem(file, ID_CHECK_WARNING, row, col.name, mask_id(text)))
            message = None
        if message:
            problems.append(Problem(file, message, row, col.name, text))
        converted.append(value)
    return converted


def _duplicate_keys(frame: pd.DataFrame, key: str, file: str) -> list[Problem]:
    """One problem per row whose (non-empty) key an earlier row has, naming that earlier row."""
    problems = []
    dup = frame[key].duplicated(keep="first") & (frame[key] != "")
    for i in frame.index[dup]:
        first = frame.index[(frame[key] == frame.at[i, key])][0]
        problems.append(Problem(file, f"重复的编号（与第 {first + 2} 行相同）", i + 2, key, frame.at[i, key]))
    return problems


def validate_columns(frame: pd.DataFrame, schema: Schema, file: str,
                     warnings: list[Problem]) -> tuple[pd.DataFrame, list[Problem]]:
    """Check and convert columns; returns (typed frame, problems).  Bad ID check digits are warnings."""
    problems: list[Problem] = []
    missing = [c for c in schema.required if c not in frame.columns]
    if missing:
        problems.append(Problem(file, f"缺少必需的列：{'、'.join(missing)}；"
                                      f"现有列：{'、'.join(map(str, frame.columns)) or '（无）'}"))
        return frame, problems
    out = frame.copy()
    for col in schema.columns:
        if col.name not in frame.columns:
            continue
        # .tolist(): iterating an arrow-backed Series is 10x slower
        converted = _convert_column(frame[col.name].tolist(), col, file, problems, warnings)
        out[col.name] = pd.Series(converted, index=frame.index, dtype=object)
    if schema.key and schema.key in frame.columns:
        problems += _duplicate_keys(frame, schema.key, file)
    return out, problems


def _as_code(text: str, col: Column):
    width = 9 if col.kind == "code9" else 12
    return text, None if (len(text) == width and text.isdigit()) else _KIND_TEXT[col.kind]


def _as_int(text: str, col: Column):
    t = text[:-2] if text.endswith(".0") else text
    if not t.isdigit() or (col.kind == "pos_int" and int(t) < 1):
        return None, _KIND_TEXT[col.kind]
    return int(t), None


def _as_number(text: str, col: Column):
    try:
        return float(text), None
    except ValueError:
        return None, _KIND_TEXT[col.kind]


def _as_flag(text: str, col: Column):
    if text in ("0", "1"):
        return int(text), None
    return 0, _KIND_TEXT[col.kind]


def _as_date(text: str, col: Column):
    value = parse_date(text)
    return value, None if value else _KIND_TEXT[col.kind]


def _as_enum(text: str, col: Column):
    if text in col.choices:
        return text, None
    return text, f"不在允许的取值中（{'/'.join(col.choices)}）"


def _as_id18(text: str, col: Column):
    pid = text.upper()
    return pid, id_problem(pid)


# Column.kind -> (text, column) -> (value, None or the Chinese problem, or "id_check" for a wrong check digit)
_CONVERTERS = {
    "text": lambda text, col: (text, None), "code9": _as_code, "code12": _as_code, "int": _as_int,
    "pos_int": _as_int, "number": _as_number, "flag": _as_flag, "date": _as_date, "enum": _as_enum, "id18": _as_id18,
}


def _convert(text: str, col: Column):
    converter = _CONVERTERS.get(col.kind)
    if converter is None:
        raise AssertionError(col.kind)  # pragma: no cover
    return converter(text, col)


# --- loaders -----------------------------------------------------------------

@dataclass
class Loaded:
    frame: pd.DataFrame
    encoding: str
    warnings: list[Problem] = field(default_factory=list)


def load_frame(path: Path) -> Loaded:
    raw, encoding = read_table(path)
    warnings: list[Problem] = []
    frame, problems = validate_columns(raw, FRAME, Path(path).name, warnings)
    if not problems:
        if "exclude" not in frame.columns:
            frame["exclude"] = 0
        if "exclude_reason" not in frame.columns:
            frame["exclude_reason"] = ""
        names = frame.groupby("township_code")["township_name"].nunique()
        for code in names.index[names > 1]:
            rows = [i + 2 for i in frame.index[frame.township_code == code]]
            problems.append(Problem(Path(path).name, f"同一乡镇代码对应多个名称（第 {rows[0]} 等行）",
                                    rows[0], "township_name", code))
    if problems:
        raise ChouyangError(f"抽样框 {Path(path).name} 有错误", problems)
    if frame.empty:
        raise ChouyangError(f"抽样框 {Path(path).name} 没有任何样本单位")
    return Loaded(frame.reset_index(drop=True), encoding, warnings)


def _split_list(text: str) -> list[str]:
    """"张三；李四, 王五" -> the names (any of ; ； , ， separates them)."""
    return [p.strip() for p in re.split(r"[;；,，]", text or "") if p.strip()]


def _home_township_problems(homes: pd.Series, name: str, township_codes: set[str] | None) -> list[Problem]:
    problems = []
    for i, codes in homes.items():
        for code in codes:
            if not (len(code) == 9 and code.isdigit()):
                problems.append(Problem(name, "乡镇代码应为 9 位数字", i + 2, "home_townships", code))
            elif township_codes is not None and code not in township_codes:
                problems.append(Problem(name, "抽样框中没有这个乡镇代码", i + 2, "home_townships", code))
    return problems


def load_teams(path: Path, township_codes: set[str] | None = None) -> Loaded:
    raw, encoding = read_table(path)
    warnings: list[Problem] = []
    name = Path(path).name
    frame, problems = validate_columns(raw, TEAMS, name, warnings)
    if "home_townships" in raw.columns and "members" in raw.columns:
        frame["members"] = raw["members"].map(_split_list)
        frame["home_townships"] = raw["home_townships"].map(_split_list)
        problems += _home_township_problems(frame["home_townships"], name, township_codes)
    if problems:
        raise ChouyangError(f"调查组名单 {name} 有错误", problems)
    if frame.empty:
        raise ChouyangError(f"调查组名单 {name} 没有任何调查组")
    return Loaded(frame.reset_index(drop=True), encoding, warnings)


@dataclass
class Register:
    women: pd.DataFrame
    births: pd.DataFrame
    procedures: pd.DataFrame
    benefits: pd.DataFrame | None
    encodings: dict[str, str]
    warnings: list[Problem]


def find_register_file(directory: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".xlsx", ".CSV", ".XLSX"):
        candidate = Path(directory) / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    return None


def _unknown_units(raw: pd.DataFrame, unit_codes: set[str], file: str) -> list[Problem]:
    """Rows whose (well-formed) unit_code is not in the frame."""
    return [Problem(file, "抽样框中没有这个村/社区代码", i + 2, "unit_code", code)
            for i, code in raw["unit_code"].items()
            if code and len(code) == 12 and code.isdigit() and code not in unit_codes]


def _load_register_table(path: Path, schema: Schema, unit_codes: set[str] | None, problems: list[Problem],
                         warnings: list[Problem]) -> tuple[pd.DataFrame | None, str | None]:
    """(typed table or None when it has problems, encoding or None when unreadable); problems added to `problems`."""
    try:
        raw, encoding = read_table(path)
    except ChouyangError as exc:
        problems += as_problems(exc, path.name)
        return None, None
    typed, found = validate_columns(raw, schema, path.name, warnings)
    problems += found
    if unit_codes is not None and "unit_code" in raw.columns:
        # checked even when other columns have errors, so one run lists every problem
        problems += _unknown_units(raw, unit_codes, path.name)
    return (typed.reset_index(drop=True) if not found else None), encoding


def load_register(directory: Path, unit_codes: set[str] | None = None) -> Register:
    """Read women/births/procedures (required) and benefits (optional) from a folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ChouyangError(f"找不到全员人口信息文件夹：{directory}")
    problems: list[Problem] = []
    warnings: list[Problem] = []
    tables: dict[str, pd.DataFrame | None] = {}
    encodings: dict[str, str] = {}
    for stem, schema in REGISTER_SCHEMAS.items():
        path = find_register_file(directory, stem)
        if path is None:
            if stem != "benefits":
                problems.append(Problem(f"{stem}.csv", f"在 {directory} 中找不到 {stem}.csv（或 .xlsx）"))
            tables[stem] = None
            continue
        tables[stem], encoding = _load_register_table(path, schema, unit_codes, problems, warnings)
        if encoding is not None:
            encodings[stem] = encoding
    if problems:
        raise ChouyangError(f"全员人口信息（{directory}）有错误", problems)
    return Register(tables["women"], tables["births"], tables["procedures"], tables["benefits"],
                    encodings, warnings)


def as_problems(exc: ChouyangError, file: str) -> list[Problem]:
    """An error's problems, or the error itself as one problem of `file` (for collecting many files' errors)."""
    if exc.problems:
        return exc.problems
    return [Problem(file, exc.headline.removeprefix(f"{file}：").removeprefix(file))]


@dataclass
class Inputs:
    frame: Loaded
    teams: Loaded
    register: Register


def _codes(path: Path, column: str, width: int) -> set[str] | None:
    """Valid-looking codes of one column of a file that failed validation (to check other files against)."""
    try:
        raw, _ = read_table(path)
    except ChouyangError:
        return None
    if column not in raw.columns:
        return None
    return {c for c in raw[column] if len(c) == width and c.isdigit()}


def load_inputs(frame: Path, teams: Path, register: Path) -> Inputs:
    """Frame, teams and register, with every problem of every file listed in one error.

    Cross-file checks (a register row's unit_code in the frame, a team's home township in
    the frame) run even when the frame itself has errors, against the frame's valid-looking codes.
    """
    problems: list[Problem] = []
    loaded_frame = loaded_teams = loaded_register = None
    try:
        loaded_frame = load_frame(frame)
        unit_codes, township_codes = set(loaded_frame.frame.unit_code), set(loaded_frame.frame.township_code)
    except ChouyangError as exc:
        problems += as_problems(exc, Path(frame).name)
        unit_codes, township_codes = _codes(frame, "unit_code", 12), _codes(frame, "township_code", 9)
    try:
        loaded_teams = load_teams(teams, township_codes)
    except ChouyangError as exc:
        problems += as_problems(exc, Path(teams).name)
    try:
        loaded_register = load_register(register, unit_codes)
    except ChouyangError as exc:
        problems += as_problems(exc, Path(register).name)
    if problems:
        raise ChouyangError("输入文件有错误，没有建立考核轮次。请改正以下全部问题后重试", problems)
    return Inputs(loaded_frame, loaded_teams, loaded_register)


def in_period(dates: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    """Mask of rows dated inside the reference period (both ends inclusive)."""
    return dates.map(lambda d: d is not None and start <= d <= end).astype(bool)
