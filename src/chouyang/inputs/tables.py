"""Reading text tables (SPEC §2.2): CSV in any encoding a Chinese office produces, or XLSX, as text.

CSV files may be UTF-8 (with or without BOM) or GBK/GB18030; the encoding is
detected and reported, never guessed silently (a Big5 file is refused with an
example of its garbled reading).  XLSX is read with openpyxl.  Every value is
read as text, stripped, so codes keep their leading zeros; inputs.readers checks
and converts the columns.  A header that names a column twice is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
from charset_normalizer import from_bytes

from chouyang.errors import ChouyangError, Problem

_CHINESE_ENCODINGS = {"gb18030", "gbk", "gb2312", "hz", "cp936"}


def _hanzi(text: str) -> list[str]:
    return [c for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"]


def _common_share(chars: list[str], encoding: str, lead_low: int, lead_high: int) -> float:
    """Share of characters whose two-byte code in `encoding` has its lead byte in [low, high]:
    the everyday characters of that code page (GB2312 hanzi B0-F7, Big5 常用字 A4-C6)."""
    common = 0
    for c in chars:
        try:
            code = c.encode(encoding)
        except UnicodeEncodeError:
            continue
        common += len(code) == 2 and lead_low <= code[0] <= lead_high
    return common / len(chars) if chars else 1.0


def _looks_like_big5(raw: bytes, gb_text: str) -> str | None:
    """A Big5 file decodes as GB18030 without error but into nonsense (城關鎮 -> 闽马 and a private-use
    character).  Returns a sample of the garbled text when the Big5 reading is clearly the sensible one."""
    try:
        big5_text = raw.decode("big5")
    except UnicodeDecodeError:
        return None
    gb_chars = _hanzi(gb_text)
    odd = [c for c in gb_text if "\ue000" <= c <= "\uf8ff" or "\u3040" <= c <= "\u30ff" or "\u0370" <= c <= "\u04ff"]
    gb_share = _common_share(gb_chars, "gb2312", 0xB0, 0xF7) if gb_chars else 1.0
    big5_share = _common_share(_hanzi(big5_text), "big5", 0xA4, 0xC6)
    if big5_share >= 0.9 and (odd or gb_share < min(0.8, big5_share)):
        sample = next((line for line in gb_text.splitlines()[1:] if any(c in line for c in odd + gb_chars)), "")
        return sample[:30]
    return None


def decode_csv_bytes(raw: bytes, name: str) -> tuple[str, str]:
    """Return (text, encoding name) or raise a Chinese error naming the file."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "UTF-8（带BOM）"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "UTF-16"
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        garbled = _looks_like_big5(raw, text)
        if garbled is not None:
            raise ChouyangError(
                f"{name}：文件看起来是 Big5（繁体中文）编码，按 GB18030 读出来是乱码（如「{garbled}」）。"
                "请在 Excel/WPS 中另存为「CSV UTF-8」后重试（繁体字可以保留）。")
        chars = _hanzi(text)
        if chars and _common_share(chars, "gb2312", 0xB0, 0xF7) >= 0.8:
            return text, "GB18030/GBK"  # reads as everyday Chinese: a detector's guess would only add noise
        best = from_bytes(raw).best()
        guess = (best.encoding if best else "").lower().replace("-", "")
        if not best or guess in _CHINESE_ENCODINGS or guess.startswith("gb"):
            return text, "GB18030/GBK"
        raise ChouyangError(
            f"{name}：文件既不是 UTF-8 也不像 GBK/GB18030 编码（检测结果更像 {best.encoding}）。"
            "请在 Excel/WPS 中另存为「CSV UTF-8」后重试。")
    raise ChouyangError(f"{name}：无法识别文件编码（不是 UTF-8，也不是 GBK/GB18030）。"
                        "请在 Excel/WPS 中另存为「CSV UTF-8」后重试。")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def duplicate_columns(header: list[str], file: str, sheet: str | None = None) -> list[Problem]:
    """One problem per column name that appears more than once (pandas would silently rename it)."""
    seen: dict[str, int] = {}
    problems = []
    for j, name in enumerate(header, start=1):
        if not name:
            continue
        if name in seen:
            problems.append(Problem(file, f"列名重复：第 {seen[name]} 列和第 {j} 列都叫「{name}」，无法确定用哪一列",
                                    1, name, sheet=sheet))
        else:
            seen[name] = j
    return problems


def _check_header(header: list[str], name: str) -> None:
    duplicated = duplicate_columns(header, name)
    if duplicated:
        raise ChouyangError(f"{name} 的表头有错误", duplicated)


def _read_xlsx(path: Path, sheet: str | None) -> pd.DataFrame:
    """A sheet (the first by default) as text; rows without any value dropped, short rows padded."""
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ChouyangError(f"{path.name}：无法作为 Excel 工作簿打开（{type(exc).__name__}）") from None
    ws = wb[sheet] if sheet else wb.worksheets[0]
    rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    wb.close()
    rows = [r for r in rows if any(r)]
    if not rows:
        return pd.DataFrame()
    header = [h.strip() for h in rows[0]]
    _check_header(header, path.name)
    width = len(header)
    body = [(r + [""] * width)[:width] for r in rows[1:]]
    return pd.DataFrame(body, columns=header, dtype=str)


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    text, encoding = decode_csv_bytes(path.read_bytes(), path.name)
    if not text.strip():
        return pd.DataFrame(), encoding
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))), [])
    _check_header([h.strip() for h in header], path.name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise ChouyangError(f"{path.name}：CSV 格式错误（{exc}）") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda col: col.str.strip()), encoding


def read_table(path: Path, sheet: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read a CSV or XLSX file as a frame of stripped strings; returns (frame, encoding)."""
    path = Path(path)
    if not path.exists():
        raise ChouyangError(f"找不到文件：{path}")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet), "XLSX"
    return _read_csv(path)
