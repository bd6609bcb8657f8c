"""The one exception type users can cause, and the problem records it carries.

Every message is Simplified Chinese: the CLI prints it as it is and exits
non-zero.  Stages never print or exit themselves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one place of one input file."""

    file: str
    message: str
    row: int | None = None  # 1-based, as a spreadsheet shows it (header is row 1)
    column: str | None = None
    value: object = None
    sheet: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"工作表「{self.sheet}」")
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column:
            where.append(f"列「{self.column}」")
        text = "，".join(where) + "：" + self.message
        if self.value is not None and str(self.value) != "":
            text += f"（值：{self.value}）"
        return text


class ChouyangError(Exception):
    """An error the user can fix; `str()` is a complete Chinese message."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        self.headline = message
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.problems:
            return self.headline
        lines = [f"{self.headline}（共 {len(self.problems)} 处）："]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)
