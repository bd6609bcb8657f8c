"""The one reader of TOML: rules.toml, scheme.toml, form layouts and instrument definitions.

`read_toml(path, what)` and `loads_toml(data, source, what)` return the parsed table.
`what` names the kind of file in messages ("规则文件", "考核方案"), `source` the file
itself.  The text must be UTF-8 (a leading BOM is dropped, as Windows editors write
one); anything else is refused naming the file, the line and the byte offset of the
first bad byte, rather than read with replacement characters that would end up in
printed titles.  A syntax error names the file, line and column in Chinese.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from chouyang.errors import ChouyangError

BOM = "\ufeff"

# tomllib's English messages (Python 3.11) -> Chinese; an unknown one is shown as it is
_MESSAGES = (
    ("Cannot overwrite a value", "同一个键赋值了两次"),
    ("Cannot declare", "同一个表或键声明了两次"),
    ("Cannot mutate immutable namespace", "不能修改已写成行内表或数组的键"),
    ("Cannot redefine namespace", "不能重新定义已有的表"),
    ("Duplicate inline table key", "行内表中有重复的键"),
    ("Escaped character is not a Unicode scalar value", "转义字符不是有效的 Unicode 字符"),
    ("Expected '=' after a key in a key/value pair", "键后面应为等号「=」"),
    ("Expected ']' at the end of a table declaration", "表头应以「]」结束"),
    ("Expected ']]' at the end of an array declaration", "表数组的表头应以「]]」结束"),
    ("Expected", "缺少应有的字符"),
    ("Found invalid character", "出现了不允许的字符"),
    ("Illegal character", "出现了不允许的字符"),
    ("Invalid date or datetime", "日期或时间写法不对"),
    ("Invalid hex value", "十六进制转义写法不对"),
    ("Invalid initial character for a key part", "键名的第一个字符不合法"),
    ("Invalid statement", "这一行不是「键 = 值」也不是表头（不加引号的键名只能用英文字母、数字、_ 和 -）"),
    ("Invalid value", "值的写法不对（文本须加引号）"),
    ("Unclosed array", "数组缺少结尾的「]」"),
    ("Unclosed inline table", "行内表缺少结尾的「}」"),
    ("Unescaped '\\' in a string", "文本中的反斜杠「\\」须写成「\\\\」"),
    ("Unterminated string", "文本缺少结尾的引号"),
)
_WHERE = re.compile(r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$", re.S)


def read_toml(path: Path, what: str) -> dict:
    """The table of the TOML file at `path`; a missing, unreadable, non-UTF-8 or malformed file is refused."""
    path = Path(path)
    return loads_toml(read_bytes(path, what), str(path), what)


def loads_toml(data: bytes | str, source: str, what: str) -> dict:
    """The table of TOML text (bytes must be UTF-8, a BOM is dropped); `source` names the file in messages."""
    text = decode_toml(data, source, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChouyangError(f"{what} {source} 不是有效的 TOML：{syntax_message(str(exc))}") from None


def read_bytes(path: Path, what: str) -> bytes:
    """The bytes of a file, or a Chinese message naming it (kept for callers that hash the bytes)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ChouyangError(f"无法读取{what} {path}：{exc.strerror}") from None


def decode_toml(data: bytes | str, source: str, what: str) -> str:
    """The text of a TOML file: strict UTF-8, without a leading BOM."""
    if isinstance(data, str):
        return data.removeprefix(BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ChouyangError(f"{what} {source} 不是 UTF-8 编码的文本（第 {line} 行，第 {exc.start + 1} 个字节"
                            f" 0x{data[exc.start]:02X} 起无法按 UTF-8 读取）；请用文本编辑器另存为 UTF-8 编码") from None
    return text.removeprefix(BOM)


def syntax_message(english: str) -> str:
    """tomllib's message in Chinese, with its place: "第 3 行第 7 列：键后面应为等号「=」"."""
    match = _WHERE.match(english)
    message = match.group("message") if match else english
    chinese = next((zh for prefix, zh in _MESSAGES if message.startswith(prefix)), None)
    text = f"{chinese}（{message}）" if chinese else message
    if match is None:
        return text
    if match.group("line") is None:
        return f"文件末尾：{text}"
    return f"第 {match.group('line')} 行第 {match.group('column')} 列：{text}"
