"""Reading a filled instrument workbook into a raw Response, every place remembered (see instrument_workbook.py)."""

from __future__ import annotations

from chouyang.errors import Problem
from chouyang.instruments.model import ROWS_BLANK, Field, Group, Instrument
from chouyang.instruments.responses import Place, Response, column_name
from chouyang.render.instrument_sheets import QUESTION_COLUMNS, table_columns

_SEPARATORS = str.maketrans({c: " " for c in "、，,;；"})
_SCAN_HEADER = 10   # the header row is looked for in the first rows of a sheet


class WorkbookReader:
    """Collects the answers of one workbook sheet by sheet, with the cell each came from."""

    def __init__(self, instrument: Instrument, file: str, meta: dict[str, str],
                 formulas: dict[tuple[str, int, int], str]):
        self.instrument = instrument
        self.file = file
        self.meta = meta
        self.formulas = formulas
        self.problems: list[Problem] = []
        self.values: dict[str, str] = {}
        self.rows: dict[str, list[dict[str, str]]] = {}
        self.top_places: dict[str, Place] = {}
        self.row_places: dict[tuple[str, int], tuple[str, int, dict[str, str]]] = {}   # (repeat, index) -> sheet, row, labels
        if meta.get("instrument") and meta["instrument"] != instrument.name:
            self.problems.append(Problem(file, f"这是调查表「{meta['instrument']}」的工作簿，不是「{instrument.name}」的"))
        elif not meta.get("unit_code"):
            self.problems.append(Problem(file, "工作簿缺少隐藏的 _meta 工作表（样本点编码）；请用 chouyang 生成的工作簿填写"))

    def _text(self, sheet: str, grid: list[list[str]], r: int, c: int) -> str:
        formula = self.formulas.get((sheet, r + 1, c + 1))
        if formula is not None:
            return formula.strip()
        return grid[r][c] if c < len(grid[r]) else ""

    def _header_at(self, grid: list[list[str]], names: set[str]) -> int | None:
        for i, row in enumerate(grid[:_SCAN_HEADER]):
            if names & {cell for cell in row if cell}:
                return i
        return None

    def _columns(self, plan, sheet: str, grid: list[list[str]], wanted: list[tuple[str, str]]) -> tuple[int, dict[str, int]] | None:
        """(header row index, column index per name) from headers that are labels or names; None after a problem."""
        lookup = {}
        for name, label in wanted:
            lookup[label] = lookup.get(label, name)
            lookup[name] = name
        at = self._header_at(grid, set(lookup))
        if at is None:
            self.problems.append(Problem(self.file, "找不到表头行", sheet=sheet))
            return None
        found: dict[str, int] = {}
        for j, cell in enumerate(grid[at]):
            name = lookup.get(cell)
            if name is None:
                continue
            if name in found:
                self.problems.append(Problem(self.file, f"列名重复：第 {found[name] + 1} 列和第 {j + 1} 列都是「{cell}」，"
                                                        "无法确定用哪一列", row=at + 1, sheet=sheet))
                return None
            found[name] = j
        missing = [label for name, label in wanted if name not in found]
        if missing:
            self.problems.append(Problem(self.file, f"缺少列：{'、'.join(missing)}", row=at + 1, sheet=sheet))
            return None
        return at, found

    def sheet(self, plan, sheet: str, grid: list[list[str]]) -> None:
        if plan.table:
            self._table(plan, sheet, grid)
        else:
            self._questions(plan, sheet, grid)

    def _questions(self, plan, sheet: str, grid: list[list[str]]) -> None:
        wanted = [QUESTION_COLUMNS[0], QUESTION_COLUMNS[3]]
        found = self._columns(plan, sheet, grid, wanted)
        if found is None:
            return
        at, cols = found
        by_name = {f.name: f for f in plan.fields}
        answer_label = QUESTION_COLUMNS[3][1]
        for r in range(at + 1, len(grid)):
            name = self._text(sheet, grid, r, cols["name"])
            value = self._text(sheet, grid, r, cols["value"])
            if not name and not value:
                continue
            f = by_name.get(name)
            if f is None:
                self.problems.append(Problem(self.file, f"「字段」列的「{name}」不是这一部分的题目" if name else
                                             "这一行没有「字段」，无法确定是哪一题", row=r + 1,
                                             column=QUESTION_COLUMNS[0][1], value=value, sheet=sheet))
                continue
            self.top_places[name] = Place(self.file, sheet, r + 1, f"{answer_label}（{column_name(f)}）")
            if f.prefill is None:
                self.values[name] = _answer(f, value)

    def _table(self, plan, sheet: str, grid: list[list[str]]) -> None:
        columns = [(n, lb) for n, lb in table_columns(plan) if n != "="]
        found = self._columns(plan, sheet, grid, columns)
        if found is None:
            return
        at, cols = found
        entry = {f.name: f for f in plan.fields if f.prefill is None}
        out = self.rows.setdefault(plan.group.name, [])
        for r in range(at + 1, len(grid)):
            row = self._table_row(plan.group, entry, {name: self._text(sheet, grid, r, j) for name, j in cols.items()})
            if row is not None:
                self.row_places[(plan.group.name, len(out))] = (sheet, r + 1, dict(columns))
                out.append(row)

    @staticmethod
    def _table_row(group: Group, entry: dict[str, Field], cells: dict[str, str]) -> dict[str, str] | None:
        """A sheet row's raw answers (with the row's key), or None for a row with nothing in it."""
        row = {n: _answer(f, cells.get(n, "")) for n, f in entry.items() if n in cells}
        ref = cells.get(group.key or "ref", "") if group.rows != ROWS_BLANK else ""
        if not ref and not any(row.values()):
            return None
        if ref and group.key:
            row[group.key] = ref
        return row

    def response(self) -> Response:
        return Response(self.instrument.name, self.meta.get("unit_code", ""), self.meta.get("key", ""), self.values,
                        self.rows, source=self.file)

    def where(self, f: Field | None, repeat: Group | None, index: int | None) -> Place:
        """The cell of `f` (or its row) for responses.validate's problems."""
        if repeat is None:
            place = self.top_places.get(f.name) if f is not None else None
            return place or Place(self.file, None, None, column_name(f) if f else None)
        sheet, row, labels = self.row_places.get((repeat.name, index), (repeat.label, None, {}))
        column = f"{labels.get(f.name, f.label)}（{f.name}）" if f is not None else None
        return Place(self.file, sheet, row, column)


def _answer(f: Field, value: str) -> str:
    """A cell's text as the raw answer: several choices may be separated by 、 or commas."""
    return value.translate(_SEPARATORS) if f.type == "select_multiple" else value
