"""The semantic check of an instrument, shared by the TOML reader and the XLSForm reader.

`check(instrument, locator)` lists every problem as a located `Problem`: the locator turns a place
in the tree (a node's index path and a key) into the reader's terms — a TOML key path in
`column`, or an XLSForm sheet, row and column header.  Reference resolution (see
chouyang.instruments.definition) is `resolve`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chouyang.errors import Problem
from chouyang.instruments.expr import ExprError, evaluate, parse, references, truthy, uses_dot
from chouyang.instruments.model import (
    FIELD_TYPES,
    PAPER_KINDS,
    PAPER_TICKS,
    PER,
    ROW_SOURCES,
    ROWS_FIXED,
    ROWS_REGISTER,
    SCALE_TYPES,
    TOP_KINDS,
    Field,
    Group,
    Instrument,
)

GROUP_TYPE = "group"   # a nested group's `type` in a TOML `field` array
MAX_LABEL = 2000
MAX_FIELDS = 2000
MAX_CODE = 100
# XML element names in ASCII: pyxform turns every name into one.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
_LATIN = re.compile(r"[A-Za-z]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # no cell, page or phone shows these
# A scale's codes are what a tick stores: numbers as responses.normalise reads them.
_INTEGER_CODE = re.compile(r"[+-]?\d+")
_DECIMAL_CODE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_NAME_RULE = "名称只能使用 ASCII 字母、数字、_、-、.（以字母或 _ 开头，不超过 64 个字符）"

Path_ = tuple[int, ...]


def has_chinese(text: str | None) -> bool:
    return bool(text) and bool(_CJK.search(text))


def not_english_only(text: str | None) -> bool:
    """Choice labels, hints and messages: Chinese, or no Latin letters at all ("0", "5+")."""
    return has_chinese(text) or not _LATIN.search(text or "")


class Locator:
    """Turns a place in the tree into Problem keyword arguments (row, column, sheet)."""

    def __init__(self, source: str):
        self.source = source

    def node(self, path: Path_, key: str | None, instrument: Instrument | None = None) -> dict:
        return {}

    def choice(self, list_name: str, index: int | None = None, key: str | None = None) -> dict:
        return {}

    def instrument(self, key: str) -> dict:
        return {}


class TomlLocator(Locator):
    """Places in a definition file: the key path (`group[1].field[3].relevant`) in Problem.column."""

    def __init__(self, source: str, prefixes: dict[Path_, str] | None = None):
        super().__init__(source)
        self.prefixes = prefixes or {}

    def node(self, path, key, instrument=None) -> dict:
        prefix = self.prefixes.get(path) or (canonical_prefix(instrument, path) if instrument is not None else "")
        return {"column": f"{prefix}.{key}" if key else prefix}

    def choice(self, list_name, index=None, key=None) -> dict:
        return {"column": f"choices.{list_name}" + (f"[{index + 1}]" if index is not None else "")}

    def instrument(self, key) -> dict:
        return {"column": f"instrument.{key}"}


def array_name(children) -> str:
    """The TOML array a container's children are written in: `group` when all are groups, else `field`."""
    return "group" if children and all(isinstance(c, Group) for c in children) else "field"


def canonical_prefix(instrument: Instrument, path: Path_) -> str:
    parts, children = [], instrument.children
    for i in path:
        parts.append(f"{array_name(children)}[{i + 1}]")
        node = children[i]
        children = node.children if isinstance(node, Group) else ()
    return ".".join(parts)


def node_paths(instrument: Instrument) -> Iterator[tuple[Path_, Field | Group]]:
    """Every field and group in order with its index path (indices into `children`, outermost first)."""
    def walk(nodes, prefix):
        for i, node in enumerate(nodes):
            yield prefix + (i,), node
            if isinstance(node, Group):
                yield from walk(node.children, prefix + (i,))
    yield from walk(instrument.children, ())


def resolve(instrument: Instrument, referrer: Path_, name: str,
            by_name: dict[str, list[Path_]] | None = None) -> list[Path_]:
    """Candidates for `${name}` seen from the node at `referrer`: one is resolved, none unknown, more ambiguous."""
    if by_name is None:
        by_name = names_index(instrument)
    found = by_name.get(name, [])
    for depth in range(len(referrer) - 1, -1, -1):
        scope = referrer[:depth]
        here = [p for p in found if p[:depth] == scope]
        if here:
            return here
    return []


def names_index(instrument: Instrument) -> dict[str, list[Path_]]:
    index: dict[str, list[Path_]] = {}
    for path, node in node_paths(instrument):
        index.setdefault(node.name, []).append(path)
    return index


def check(instrument: Instrument, locator: Locator | None = None) -> list[Problem]:
    """Every semantic problem of an instrument, located by `locator` (default: TOML key paths)."""
    checker = _Checker(instrument, locator or TomlLocator(instrument.source))
    checker.run()
    return checker.problems


class _Checker:
    def __init__(self, instrument: Instrument, locator: Locator):
        self.inst, self.loc = instrument, locator
        self.problems: list[Problem] = []
        self.nodes = dict(node_paths(instrument))
        self.by_name = names_index(instrument)
        self.relevant_edges: dict[Path_, set[Path_]] = {}

    # -- recording ----------------------------------------------------------------
    def _add(self, where: dict, message: str, value=None) -> None:
        self.problems.append(Problem(self.loc.source, message, value=value, **where))

    def at_node(self, path: Path_, key: str | None, message: str, value=None) -> None:
        self._add(self.loc.node(path, key, self.inst), message, value)

    def at_top(self, key: str, message: str, value=None) -> None:
        self._add(self.loc.instrument(key), message, value)

    def at_choice(self, list_name: str, index: int | None, key: str | None, message: str, value=None) -> None:
        self._add(self.loc.choice(list_name, index, key), message, value)

    # -- the checks ------------------------------------------------------------------
    def run(self) -> None:
        self.head()
        self.choice_lists()
        self.siblings((), self.inst.children)
        for path, node in self.nodes.items():
            if isinstance(node, Group):
                self.group(path, node)
            else:
                self.field(path, node)
        self.cycles()
        self.control_characters()

    def control_characters(self) -> None:
        """Invisible characters in printed text: openpyxl cannot even write them into a workbook cell."""
        message = "含有不可见的控制字符，请删除"
        if _CONTROL.search(self.inst.title or ""):
            self.at_top("title", message, repr(self.inst.title[:30]))
        for path, node in self.nodes.items():
            for key in ("label", "hint", "constraint_message"):
                value = getattr(node, key, None)
                if value and _CONTROL.search(value):
                    self.at_node(path, key, message, repr(value[:30]))
        for name, clist in self.inst.choices.items():
            for i, choice in enumerate(clist.choices):
                if _CONTROL.search(choice.label + choice.code):
                    self.at_choice(name, i, "label", message, repr(choice.label[:30]))

    def head(self) -> None:
        inst = self.inst
        if not NAME_RE.fullmatch(inst.name or ""):
            self.at_top("name", "调查表" + _NAME_RULE, inst.name)
        if not has_chinese(inst.title):
            self.at_top("title", "调查表标题缺失或不含中文（填写人员读中文）", inst.title)
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,16}", inst.code or ""):
            self.at_top("code", "表单编码应为 1 至 16 个 ASCII 字母、数字、_ 或 -（如 HC2）", inst.code)
        self.head_rest()

    def head_rest(self) -> None:
        inst = self.inst
        if not (inst.version or "").strip():
            self.at_top("version", "缺少版本号")
        if inst.per not in PER:
            self.at_top("per", f"填报单位（per）应为 {'、'.join(PER)} 之一", inst.per)
        count = sum(1 for node in self.nodes.values() if isinstance(node, Field))
        if count > MAX_FIELDS:
            self.at_top("name", f"调查表有 {count} 个题目，超过上限 {MAX_FIELDS} 个")

    def choice_lists(self) -> None:
        for name, clist in self.inst.choices.items():
            if not NAME_RE.fullmatch(name):
                self.at_choice(name, None, "list_name", "选项列表" + _NAME_RULE, name)
            if not clist.choices:
                self.at_choice(name, None, "list_name", "选项列表没有任何选项", name)
            seen: dict[str, int] = {}
            for i, choice in enumerate(clist.choices):
                self.choice(name, i, choice, seen)

    def choice(self, list_name: str, i: int, choice, seen: dict[str, int]) -> None:
        code, label = choice.code, choice.label
        if not code or len(code) > MAX_CODE or any(c.isspace() for c in code):
            self.at_choice(list_name, i, "name", f"选项编码不能为空、不能含空格，且不超过 {MAX_CODE} 个字符", code)
        elif code in seen:
            self.at_choice(list_name, i, "name", f"选项编码重复（与第 {seen[code] + 1} 个选项相同）", code)
        seen.setdefault(code, i)
        if not label:
            self.at_choice(list_name, i, "label", "选项缺少标签", code)
        elif not not_english_only(label):
            self.at_choice(list_name, i, "label", "选项标签只有英文，请用中文", label)
        elif len(label) > MAX_LABEL:
            self.at_choice(list_name, i, "label", f"选项标签超过 {MAX_LABEL} 个字符（{len(label)} 个）")

    def siblings(self, path: Path_, children) -> None:
        seen: dict[str, int] = {}
        for i, node in enumerate(children):
            key = node.name.lower()   # ODK compares names without case
            if key in seen:
                self.at_node(path + (i,), "name", f"名称重复：同一层第 {seen[key] + 1} 项已使用这个名称", node.name)
            seen.setdefault(key, i)
            if isinstance(node, Group):
                if node.repeat and len(self.by_name.get(node.name, ())) > 1:
                    self.at_node(path + (i,), "name", "重复组的名称在整个调查表中必须唯一（ODK、Kobo 的要求）", node.name)
                self.siblings(path + (i,), node.children)

    def name_and_label(self, path: Path_, node, label_needed: bool = True) -> None:
        if not NAME_RE.fullmatch(node.name or ""):
            self.at_node(path, "name", _NAME_RULE, node.name)
        if not node.label:
            if label_needed:
                self.at_node(path, "label", "缺少中文标签")
        elif not has_chinese(node.label):
            self.at_node(path, "label", "标签不含中文（只有英文的标签不接受：填写人员读中文）", node.label)
        elif len(node.label) > MAX_LABEL:
            self.at_node(path, "label", f"标签超过 {MAX_LABEL} 个字符（{len(node.label)} 个）")

    def group(self, path: Path_, group: Group) -> None:
        self.name_and_label(path, group)
        if group.repeat:
            self.repeat_rows(path, group)
        else:
            for key in ("rows", "table", "key"):
                if getattr(group, key):
                    self.at_node(path, key, f"{key} 只能用于重复组（repeat = true）", getattr(group, key))
            if group.blank_rows or group.fixed:
                self.at_node(path, "blank_rows" if group.blank_rows else "fixed", "空白行和固定行只能用于重复组（repeat = true）")
        self.expression(path, "relevant", group.relevant)

    def repeat_rows(self, path: Path_, group: Group) -> None:
        if group.rows not in ROW_SOURCES:
            self.at_node(path, "rows", f"重复组的行来源（rows）应为 {'、'.join(ROW_SOURCES)} 之一", group.rows)
        if group.rows == ROWS_REGISTER and not NAME_RE.fullmatch(group.table or ""):
            self.at_node(path, "table", "按在册名单重复的组必须写明登记表（table，如 women）", group.table)
        if group.rows == ROWS_FIXED:
            self.fixed_rows(path, group)
        self.row_key(path, group)

    def row_key(self, path: Path_, group: Group) -> None:
        if group.blank_rows < 0:
            self.at_node(path, "blank_rows", "空白行数不能为负数", group.blank_rows)
        names = [c.name for c in group.children if isinstance(c, Field)]
        if group.key is not None and group.key not in names:
            self.at_node(path, "key", "行键（key）应为本组中的一个题目名称", group.key)

    def fixed_rows(self, path: Path_, group: Group) -> None:
        if not group.fixed:
            self.at_node(path, "fixed", "固定行（rows = fixed）的组必须列出各行（fixed）")
        keys = [k for k, _ in group.fixed]
        for k, label in group.fixed:
            if not k or keys.count(k) > 1 or not has_chinese(label):
                self.at_node(path, "fixed", "固定行的编码不能为空或重复，标签必须含中文", k)
                break

    def field(self, path: Path_, f: Field) -> None:
        self.name_and_label(path, f, label_needed=f.type != "calculate")
        self.field_kind(path, f)
        self.field_print(path, f)
        self.field_texts(path, f)
        if f.required not in (None, "yes"):
            self.expression(path, "required", f.required)
        for key in ("relevant", "constraint", "calculation"):
            self.expression(path, key, getattr(f, key))

    def field_kind(self, path: Path_, f: Field) -> None:
        if f.type not in FIELD_TYPES:
            self.at_node(path, "type", f"不支持的题型（支持：{'、'.join(FIELD_TYPES)}）", f.type)
        if f.is_select and f.choices not in self.inst.choices:
            self.at_node(path, "choices", "选择题的选项列表不存在" if f.choices else "选择题缺少选项列表", f.choices)
        if not f.is_select and f.choices:
            self.scale(path, f)
        if f.type == "calculate" and not f.calculation:
            self.at_node(path, "calculation", "计算题（calculate）必须有 calculation")

    def scale(self, path: Path_, f: Field) -> None:
        """A number printed as a tick scale (`paper = "ticks"`: witnesses 0 … 5+, a rate's bands): its choice
        list gives the printed boxes and the value a tick stores; any number within the constraint is valid."""
        if f.type not in SCALE_TYPES:
            self.at_node(path, "choices", "只有选择题（select_one、select_multiple）以及印成勾选刻度的整数、小数题"
                         "才有选项列表；请删除 choices，或把题型改为 select_one", f.choices)
        elif f.paper != PAPER_TICKS:
            self.at_node(path, "choices", f"{f.type} 题的选项列表只用于纸面的勾选刻度（如 0 1 2 3 4 5+）："
                         f"请同时写 paper = \"{PAPER_TICKS}\"，或删除 choices", f.choices)
        elif f.choices not in self.inst.choices:
            self.at_node(path, "choices", "勾选刻度的选项列表不存在", f.choices)
        else:
            self.scale_codes(path, f)

    def scale_codes(self, path: Path_, f: Field) -> None:
        """Every option of a scale stores a value its field accepts: a number of its type, within the constraint."""
        pattern = _INTEGER_CODE if f.type == "integer" else _DECIMAL_CODE
        constraint = _own_constraint(f.constraint)
        for choice in self.inst.choices[f.choices].choices:
            if not pattern.fullmatch(choice.code):
                kind = "整数" if f.type == "integer" else "数字"
                self.at_node(path, "choices", f"勾选刻度「{f.choices}」的选项「{choice.label}」的编码应为{kind}"
                             "（勾选后存入的就是编码）", choice.code)
            elif constraint is not None and not _holds(constraint, choice.code):
                self.at_node(path, "choices", f"勾选刻度「{f.choices}」的选项「{choice.label}」（编码 {choice.code}）"
                             "不符合本题的约束（constraint），勾选后会被拒收", choice.code)

    def field_print(self, path: Path_, f: Field) -> None:
        if f.paper is not None and f.paper not in PAPER_KINDS:
            self.at_node(path, "paper", f"纸面形式（paper）应为 {'、'.join(PAPER_KINDS)} 之一", f.paper)
        if f.digits is not None and not 1 <= f.digits <= 12:
            self.at_node(path, "digits", "位数（digits）应为 1 至 12", f.digits)
        for key in ("width", "option_width"):
            value = getattr(f, key)
            if value is not None and not 0 < value < 1000:
                self.at_node(path, key, "宽度应为大于 0、小于 1000 的毫米数", value)
        if f.top is not None:
            self.field_top(path, f)

    def field_top(self, path: Path_, f: Field) -> None:
        """A count scale: stored as whole numbers, so its codes must be them, in increasing order."""
        if f.top not in TOP_KINDS:
            self.at_node(path, "top", f"计数刻度的最高项（top）应为 {'、'.join(TOP_KINDS)} 之一", f.top)
            return
        clist = self.inst.choices.get(f.choices or "")
        if not (f.is_scale or f.type == "select_one") or clist is None:
            self.at_node(path, "top", "只有印成勾选刻度的数字题（integer 带 choices 且 paper = \"ticks\"）"
                         "或单选题才能有最高项（top）", f.top)
            return
        codes = clist.codes()
        numbers = [int(c) for c in codes if re.fullmatch(r"[0-9]{1,4}", c)]
        if len(numbers) != len(codes) or numbers != sorted(set(numbers)):
            self.at_node(path, "top", f"计数刻度（top）的选项编码应为从小到大的整数（选项列表 {clist.name}：{'、'.join(codes)}）",
                         f.top)

    def field_texts(self, path: Path_, f: Field) -> None:
        for key in ("prefill", "verifies", "scores"):
            value = getattr(f, key)
            if value is not None and not NAME_RE.fullmatch(value):
                self.at_node(path, key, _NAME_RULE, value)
        for key in ("hint", "constraint_message"):
            value = getattr(f, key)
            if value and (not not_english_only(value) or len(value) > MAX_LABEL):
                self.at_node(path, key, f"{'提示' if key == 'hint' else '约束提示'}只有英文或超过 {MAX_LABEL} 个字符，请用中文", value)

    def expression(self, path: Path_, key: str, text: str | None) -> None:
        if not text:
            return
        try:
            tree = parse(text)
        except ExprError as exc:
            reason, position = getattr(exc, "reason", str(exc)), getattr(exc, "position", None)
            self.at_node(path, key, f"表达式有误：{reason}" + (f"（第 {position} 个字符处）" if position else ""), text)
            return
        if key == "relevant" and uses_dot(tree):
            self.at_node(path, key, "relevant 引用了自身（. 是本题自己的值）", text)
        targets = set()
        for name in sorted(references(tree)):
            found = resolve(self.inst, path, name, self.by_name)
            if not found:
                self.at_node(path, key, f"表达式引用了不存在的题目 ${{{name}}}", text)
            elif len(found) > 1:
                self.at_node(path, key, f"表达式中的 ${{{name}}} 有歧义：最近的一层中有 {len(found)} 个同名题目", text)
            else:
                targets.add(found[0])
        if key == "relevant":
            self.relevant_edges[path] = targets

    def cycles(self) -> None:
        """A relevant that depends on itself: directly, through other relevants, or through its groups'."""
        edges = self.dependency_edges()
        reported: set[frozenset[Path_]] = set()
        for start in sorted(self.relevant_edges):
            cycle = _cycle_from(start, edges)
            if cycle and frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                self.report_cycle(start, cycle)

    def dependency_edges(self) -> dict[Path_, set[Path_]]:
        edges = {p: set(t) for p, t in self.relevant_edges.items()}
        for path in self.nodes:
            for depth in range(1, len(path)):
                if path[:depth] in self.relevant_edges:   # a node is shown only when its groups are
                    edges.setdefault(path, set()).add(path[:depth])
        return edges

    def report_cycle(self, start: Path_, cycle: list[Path_]) -> None:
        a, b = cycle[0], cycle[-1]
        text = self._node_text(start)
        if len(cycle) == 1 or (len(cycle) == 2 and (a[:len(b)] == b or b[:len(a)] == a)):
            self.at_node(start, "relevant", "relevant 引用了自身（本题或其所在的组）", text)
        else:
            chain = " → ".join(self.nodes[p].name for p in cycle + [start])
            self.at_node(start, "relevant", f"relevant 形成循环：{chain}", text)

    def _node_text(self, path: Path_) -> str | None:
        return self.nodes[path].relevant


def _own_constraint(text: str | None):
    """The parsed constraint when it reads only the field's own value (then it can be checked here), else None."""
    try:
        tree = parse(text) if text else None
    except ExprError:
        return None   # reported as a bad expression
    return tree if tree is not None and not references(tree) else None


def _holds(tree, code: str) -> bool:
    try:
        return truthy(evaluate(tree, {}, dot=code))
    except ExprError:   # today() and the like: known only at entry
        return True


def _cycle_from(start: Path_, edges: dict[Path_, set[Path_]]) -> list[Path_] | None:
    """The shortest path start → … → start in the graph (breadth first), without its repeated end."""
    queue: list[list[Path_]] = [[start]]
    seen = {start}
    while queue:
        trail = queue.pop(0)
        for nxt in sorted(edges.get(trail[-1], ())):
            if nxt == start:
                return trail
            if nxt not in seen:
                seen.add(nxt)
                queue.append(trail + [nxt])
    return None
