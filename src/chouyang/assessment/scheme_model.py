"""The assessment scheme as data: its rule kinds and names, and the frozen records a parsed scheme is made of.

`scheme.py` documents the file format and loads files; the parser (`scheme_parse.py`,
`scheme_tree.py`, `scheme_reader.py`) builds these records; facts, scoring and the
renderers read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

PERIODS = {"half": "半年考核", "full": "全年考核"}

# rule kind -> (Chinese name, rule keys it takes besides `points`)
ITEM_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "yes_no": ("是否计分", ()),
    "per_count": ("按数计分，计满为止", ("per", "max_count")),
    "deduct_per_count": ("按数扣分，扣完为止", ("per", "max_count")),
    "rate_slope": ("比例达标计满分，每低1个百分点扣分", ("full_at", "per_point", "zero_below", "shortfall")),
    "rate_threshold": ("比例达标计分，否则不计分", ("threshold",)),
    "per_department": ("按部门计分", ("per", "departments")),
    "entered": ("录入得分", ()),
}
RULE_KEYS = {"rule", "points", "per", "max_count", "full_at", "per_point", "zero_below", "shortfall",
             "threshold", "departments"}
SHORTFALL = {"exact": "按实际差距计算", "whole": "只计满1个百分点的差距"}

# fact kind by rule kind: what a township enters
FACT_KINDS = {"yes_no": "yes_no", "per_count": "count", "deduct_per_count": "count", "rate_slope": "rate",
              "rate_threshold": "rate", "per_department": "yes_no", "entered": "score"}
DEFAULT_FACT = {"yes_no": "是否做到", "per_count": "数量", "deduct_per_count": "数量", "rate_slope": "比例（%）",
                "rate_threshold": "比例（%）", "per_department": "是否做到", "entered": "得分"}

SOURCES = {"checklist": "综合治理清单", "survey": "抽样调查", "indicator": "修正指标", "entered": "录入得分"}
SURVEY_COLUMNS = ("deduction", "deduction_raw")
SIGNS = {"bonus": "加分", "deduction": "减分"}
ADJUSTMENT_RULES = {"fixed": "发生即计", "per_count": "每起（例）计", "entered": "录入分值", "survey": "抽样调查扣分"}
CONSEQUENCE_KINDS = ("top", "bottom", "county_last", "veto", "repeat")


@dataclass(frozen=True)
class Rule:
    """How one leaf item (or an indicator component) turns a fact into points, in one period."""

    kind: str
    points: Decimal
    quote: str = ""
    fact: str = ""
    evidence: str = ""
    note: str = ""
    borrowed_from: str = ""
    per: Decimal | None = None
    max_count: int | None = None
    full_at: Decimal | None = None
    per_point: Decimal | None = None
    zero_below: Decimal | None = None
    shortfall: str = "exact"
    threshold: Decimal | None = None
    departments: tuple[str, ...] = ()
    default_full: bool = False

    @property
    def fact_kind(self) -> str:
        return "default" if self.default_full else FACT_KINDS[self.kind]


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: Decimal
    parent: str | None
    children: tuple[str, ...]
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""
    incomplete: str = ""
    reference_required: bool = False
    rules: dict[str, Rule] = field(default_factory=dict)  # period -> rule; leaves only

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Component:
    id: str
    title: str
    points: Decimal
    weight: Decimal
    parent: str | None
    children: tuple[str, ...]
    source: str | None = None
    item: str | None = None
    column: str | None = None
    cap: Decimal | None = None
    percent: bool = True
    rule: Rule | None = None
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class AdjustmentItem:
    id: str
    group: str
    title: str
    rule: str
    points: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    factor: Decimal = Decimal(1)
    column: str | None = None
    requires: tuple[str, ...] = ()  # an add-on (加扣): only with at least one of these items
    evidence: str = ""
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class AdjustmentGroup:
    id: str
    title: str
    sign: str
    cap: Decimal | None
    items: tuple[AdjustmentItem, ...]
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class Flag:
    id: str
    title: str
    consequence: str
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class Consequence:
    id: str
    kind: str
    label: str
    n: int = 0
    component: str | None = None
    skip: tuple[str, ...] = ()
    previous: str = ""
    current: str | None = None
    becomes: str | None = None
    ranks_last: bool = False
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class Scheme:
    name: str
    section: str
    period: str
    note: str
    points: Decimal
    tiebreak: tuple[str, ...]
    items: dict[str, Item]
    components: dict[str, Component]
    groups: tuple[AdjustmentGroup, ...]
    flags: dict[str, Flag]
    consequences: dict[str, Consequence]
    source: str
    sha256: str
    composite_quote: str = ""

    @property
    def adjustment_items(self) -> dict[str, AdjustmentItem]:
        return {a.id: a for g in self.groups for a in g.items}

    def rule(self, item_id: str, period: str | None = None) -> Rule:
        return self.items[item_id].rules[period or self.period]

    def leaves(self, root: str | None = None) -> list[Item]:
        """Leaf items in file order (under `root` when given)."""
        return [i for i in self.items.values() if i.is_leaf and (root is None or root in self.ancestors(i.id))]

    def ancestors(self, item_id: str) -> list[str]:
        """The item itself and every ancestor, nearest first."""
        out, at = [], item_id
        while at is not None:
            out.append(at)
            at = self.items[at].parent
        return out

    def path_title(self, item_id: str) -> str:
        return " > ".join(self.items[i].title for i in reversed(self.ancestors(item_id)))

    def missing_points(self, item_id: str) -> Decimal:
        """Points of a node its children do not cover (non-zero only for `incomplete` nodes)."""
        item = self.items[item_id]
        if item.is_leaf:
            return Decimal(0)
        return item.points - sum((self.items[c].points for c in item.children), Decimal(0))

    def quotes(self) -> list[tuple[str, str, str]]:
        """Every quoted seed sentence: (where, quote, section it must come from)."""
        out = []

        def add(where: str, quote: str, borrowed: str) -> None:
            if quote:
                out.append((where, quote, borrowed or self.section))

        add("composite", self.composite_quote, "")
        for item in self.items.values():
            add(f"item[{item.id}]", item.quote, item.borrowed_from)
            seen = set()
            for period, rule in item.rules.items():
                if (rule.quote, rule.borrowed_from) not in seen:
                    seen.add((rule.quote, rule.borrowed_from))
                    if rule.quote != item.quote:
                        add(f"item[{item.id}].{period}", rule.quote, rule.borrowed_from)
        for comp in self.components.values():
            add(f"component[{comp.id}]", comp.quote, comp.borrowed_from)
        for group in self.groups:
            add(f"adjustment[{group.id}]", group.quote, group.borrowed_from)
            for a in group.items:
                add(f"adjustment[{group.id}].item[{a.id}]", a.quote, a.borrowed_from or group.borrowed_from)
        for flag in self.flags.values():
            add(f"flag[{flag.id}]", flag.quote, flag.borrowed_from)
        for c in self.consequences.values():
            add(f"consequence[{c.id}]", c.quote, c.borrowed_from)
        return out


def fmt_points(value: Decimal | None) -> str:
    """A Decimal as people write it: 5, 2.5, 0.6 (no trailing zeros, no exponent)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text
