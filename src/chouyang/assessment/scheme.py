"""Assessment schemes as data (issue 13): checklist tree, composite, bonus/deductions, flags, consequences.

A scheme is one TOML file.  Presets ship in `chouyang/schemes/<name>.toml`; a
round keeps its own copy as `ROUND/scheme.toml` (`scheme_names`, `scheme_text`,
`load_scheme_preset`, `load_scheme`, `parse_scheme`).  Every rule that comes
from seed 004 carries the sentence it comes from as `quote` (an exact substring
of the seed); an element whose sentence comes from another section than the
scheme's own `section` says so in `borrowed_from`.

File format (every table and key; unknown ones are refused):

    # one-line Chinese description (shown by a preset list)
    [scheme]
    name = "..."                  # title printed on checklists and reports
    section = "第二篇"            # where in seed 004 the scheme comes from
    period = "half"               # "half" (半年考核) or "full" (全年/年终考核)
    note = "..."                  # optional: what the seed leaves out

    [composite]
    points = 280                  # total of the top-level components (times their weights)
    tiebreak = ["A"]              # optional: component ids that break ties in the total, in order

    [[item]]                      # one node of the checklist tree (file order = printed order)
    id = "A1.2.4"                 # ASCII, unique; facts and traces name items by id
    parent = "A1.2"               # absent for a root
    title = "领导小组会议"
    points = 5                    # a leaf's full marks; a node's subtotal
    rule = "per_count"            # leaves only, see ITEM_RULES
    per = 3
    quote = "领导小组1年内召开1次会议计3分,计满5为止"
    fact = "会议次数"             # what the township enters (default by rule)
    evidence = "会议记录"         # what the assessor checks
    reference_required = false    # true: a scoring "是" needs a document name or number
    incomplete = "..."            # a node only: its children cover less than `points` (seed cut off)
    [item.half]                   # optional per-period variant: overrides rule keys, quote, fact, evidence
    default_full = true           # "半年考核时此项均默认为满分": full marks, nothing to enter

    [[component]]                 # one node of the composite
    id = "city"; title = "市考核"; points = 100; weight = 0.6
    source = "checklist"          # leaves only: checklist | survey | indicator | entered
    item = "A"                    # checklist: the subtree (scaled to `points`)
    column = "deduction"          # survey: the townships.csv column deducted; indicator: the rate column
    cap = 8                       # survey: optional cap on the deduction
    rule = "rate_threshold"       # indicator: an item rate rule and its keys (rates in %)
    percent = true                # indicator: the column holds fractions, scored as %

    [[adjustment]]                # a group of bonus or deduction items with one cap
    id = "bonus"; title = "加分"; sign = "bonus"   # or "deduction"
    cap = 12                      # optional
    [[adjustment.item]]
    id = "city_site"; title = "..."; rule = "fixed"; points = 2
    # rules: fixed (once), per_count (points per occurrence), entered (min..max, times factor),
    # survey (points from a townships.csv column, e.g. deduction_raw; 0 for a township not visited)
    requires = ["detention", "fees"]  # an add-on (加扣): only with one of these items, count at most theirs

    [[flag]]                      # an entered violation or veto that decides a consequence
    id = "major_case"; title = "..."; consequence = "manage"

    [[consequence]]               # kinds: top, bottom, county_last, veto, repeat (see assessment.py)
    id = "manage"; kind = "bottom"; label = "重点管理"; n = 5

Numbers are held as `Decimal` (from the TOML text's shortest float form), so
sums of points are exact and equal totals are exact ties.

The records a scheme is made of live in `scheme_model.py` (re-exported here); the parser in
`scheme_reader.py` (typed values and their problems), `scheme_tree.py` (the checklist tree)
and `scheme_parse.py` (everything else).
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from chouyang.assessment.scheme_model import (
    ADJUSTMENT_RULES,
    CONSEQUENCE_KINDS,
    DEFAULT_FACT,
    FACT_KINDS,
    ITEM_RULES,
    PERIODS,
    RULE_KEYS,
    SHORTFALL,
    SIGNS,
    SOURCES,
    SURVEY_COLUMNS,
    AdjustmentGroup,
    AdjustmentItem,
    Component,
    Consequence,
    Flag,
    Item,
    Rule,
    Scheme,
    fmt_points,
)
from chouyang.assessment.scheme_parse import read_scheme
from chouyang.assessment.scheme_reader import SchemeReader
from chouyang.config.toml import decode_toml, loads_toml, read_bytes
from chouyang.errors import ChouyangError

# the model is imported from here by facts, scoring and the renderers
__all__ = ["ADJUSTMENT_RULES", "CONSEQUENCE_KINDS", "DEFAULT_FACT", "FACT_KINDS", "ITEM_RULES", "PERIODS", "RULE_KEYS",
           "SHORTFALL", "SIGNS", "SOURCES", "SURVEY_COLUMNS", "AdjustmentGroup", "AdjustmentItem", "Component", "Consequence",
           "Flag", "Item", "Rule", "Scheme", "fmt_points",
           "load_scheme", "load_scheme_preset", "parse_scheme", "scheme_description", "scheme_names", "scheme_text"]

_WHAT = "考核方案"  # how messages name scheme.toml


# --- presets and loading -------------------------------------------------------

def scheme_names() -> list[str]:
    return sorted(p.name[:-5] for p in files("chouyang").joinpath("schemes").iterdir() if p.name.endswith(".toml"))


def scheme_text(name: str) -> str:
    if name not in scheme_names():
        raise ChouyangError(f"没有名为「{name}」的考核方案预设。可用预设：{'、'.join(scheme_names())}")
    return files("chouyang").joinpath("schemes", f"{name}.toml").read_text(encoding="utf-8")


def scheme_description(name: str) -> str:
    """The first comment line of a scheme preset is its one-line Chinese description."""
    return scheme_text(name).splitlines()[0].lstrip("# ").strip()


def load_scheme_preset(name: str) -> Scheme:
    return parse_scheme(scheme_text(name), f"考核方案预设 {name}")


def load_scheme(path: Path) -> Scheme:
    path = Path(path)
    return parse_scheme(decode_toml(read_bytes(path, _WHAT), str(path), _WHAT), str(path))


def parse_scheme(text: str, source: str) -> Scheme:
    """Parse and validate a scheme; every problem is listed with the file, the element and the key."""
    data = loads_toml(text, source, _WHAT)
    reader = SchemeReader(source)
    scheme = read_scheme(reader, data, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if reader.problems:
        raise ChouyangError(f"考核方案 {source} 有错误", reader.problems)
    return scheme
