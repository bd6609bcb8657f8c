"""The 综合治理 checklist (ZL1) of a township as an instrument definition (issue 18 point 4).

`checklist_instrument(scheme, period)` builds from the round's scheme what the hand-written
checklist modules print and read today (render/checklist_pdf, render/checklist_workbook,
scan/checklist, entry/checklist): one section per entry sheet (facts.SHEETS order, empty ones
left out), the scheme's item tree as nested groups, one adjustment group per bonus or deduction
group, and per item one field per entry cell of the checklist workbook.  Field names are derived
from the ids, so they are stable while the scheme keeps its ids, and are valid XLSForm names:

    section      value (tick or write)         other cells of the same workbook row
    facts        item_<id> / item_<id>.d<k>     .ref (文件名称或文号), .note (备注)
    scores       score_<component>              .evidence
    adjustments  adj_<id>                       .reason, .evidence
    flags        flag_<id>                      .reason, .evidence

`.d<k>` is the k-th department (1-based, the scheme's order) of a per-department item; its label
is the department's name (what is stored in `part`).  A leaf scored in full by default in this
period is a `note` field with the item's name (nothing to fill).  Every field carries `scores` =
the item, component, adjustment or flag id it belongs to and the rule text as `hint`.  A first
field `unit_code` (prefilled, read-only) holds the township's code, as a phone submission carries it.

Choice codes are what is stored today: 是/否; a count's tick scale 0, 1, … n with the last printed
"n+" and stored n (an `integer` with `paper = "ticks"`: the workbook and the phone take any count);
a rate threshold's bands "≥65%" stored 65 and "<65%" stored 0, as scan/checklist stores a scanned
band (a `decimal` rate 0–100 with `paper = "ticks"`: the bands are only the printed boxes, a typed
71.3 stays 71.3).  Cells that the printed checklist has no box for (备注, and 文件名称或文号 where no
document is needed) have `paper = "none"`: they are asked in the workbook, on the web and on the
phone only, and not printed.

`checklist_response(instrument, entries)` turns a township's stored entries into a `Response` of
this instrument; `checklist_entries(instrument, response)` is its inverse (the stored tables).
"""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files

from chouyang import vocab
from chouyang.assessment.facts import (
    ENTRY_COLUMNS,
    SHEETS,
    Entries,
    adjustment_fields,
    fact_fields,
    flag_fields,
    records,
    score_fields,
)
from chouyang.assessment.scheme import PERIODS, SIGNS, Rule, Scheme, fmt_points
from chouyang.assessment.scoring import item_points
from chouyang.errors import ChouyangError
from chouyang.instruments.model import (
    PAPER_DIGITS,
    PAPER_NONE,
    PAPER_TICKS,
    PAPER_WRITE,
    Choice,
    ChoiceList,
    Field,
    Group,
    Instrument,
)
from chouyang.instruments.responses import Response

NAME = "checklist"
CODE = "ZL1"
TITLE = "综合治理考核清单"
YES, NO = vocab.YES_NO
YES_NO_LIST = "yes_no"
UNIT_CODE = "unit_code"
RATE_MESSAGE = "比例应在 0–100（%）之间（超过 100% 请填 100）"   # also how a rate's field is known (a "%" is dropped)
PREFIX = {"facts": "item_", "scores": "score_", "adjustments": "adj_", "flags": "flag_"}
# field-name suffix -> the entry column it fills (the value itself has no suffix)
SUFFIX = {".ref": "reference", ".note": "note", ".reason": "reason", ".evidence": "evidence"}
VALUE_COLUMN = {"facts": "value", "scores": "score", "adjustments": "value", "flags": "value"}
_NAME_CHAR = re.compile(r"[A-Za-z0-9_.\-]")
_DEPARTMENT = re.compile(r"\.d([0-9]+)$")


def max_scale_options() -> int:
    """A count scale longer than this is written (forms/checklist.toml, the printed checklist's geometry)."""
    text = files("chouyang.formdefs").joinpath("checklist.toml").read_text(encoding="utf-8")
    return int(tomllib.loads(text)["form"]["max_scale_options"])


# --- the rule in words and its tick options (what the printed checklist shows) -----------------

def rule_summary(rule: Rule, reference_required: bool = False) -> str:
    """The rule of one leaf in a few words ("每1计3分，计满5分为止")."""
    p = fmt_points(rule.points)
    kind = rule.kind
    if kind == "yes_no":
        return f"做到计{p}分，否则不计分" + ("（有正式文件才计分）" if reference_required else "")
    if kind == "per_count":
        return f"每1计{fmt_points(rule.per)}分，计满{p}分为止"
    if kind == "deduct_per_count":
        return f"满分{p}分，每1扣{fmt_points(rule.per)}分，扣完为止"
    if kind == "rate_slope":
        return _slope_summary(rule, p)
    if kind == "rate_threshold":
        return f"达到{fmt_points(rule.threshold)}%（含）计{p}分，低于{fmt_points(rule.threshold)}%不计分"
    if kind == "per_department":
        return f"{len(rule.departments)}个部门，每个部门做到计{fmt_points(rule.per)}分"
    return f"录入得分，0–{p}分"


def _slope_summary(rule: Rule, p: str) -> str:
    text = f"达到{fmt_points(rule.full_at)}%计{p}分，每低1个百分点扣{fmt_points(rule.per_point)}分"
    if rule.shortfall == "whole":
        text += "（只计满1个百分点的差距）"
    text += "，扣完为止"
    if rule.zero_below is not None:
        text += f"；低于{fmt_points(rule.zero_below)}%不计分"
    return text


def count_scale(rule: Rule, limit: int) -> tuple[tuple[str, int], ...] | None:
    """Tick options of a count: 0 … n, where n is the first count that earns what any larger one does
    (printed "n+") or the rule's largest count; None when that takes more than `limit` boxes."""
    top = 0
    while True:
        if rule.max_count is not None and top >= rule.max_count:
            return tuple((str(n), n) for n in range(top + 1)) if top + 1 <= limit else None
        if item_points(rule, top) == item_points(rule, top + 10 ** 6):
            break
        top += 1
        if top + 1 > limit:
            return None
    return tuple((str(n), n) for n in range(top)) + ((f"{top}+", top),)


def rate_bands(rule: Rule) -> tuple[tuple[str, int | str], ...] | None:
    """Tick bands of a rate when they are exact (a threshold and nothing else): ("≥65%", 65), ("<65%", 0)."""
    if rule.kind != "rate_threshold":
        return None
    t = fmt_points(rule.threshold)
    value = int(rule.threshold) if rule.threshold == rule.threshold.to_integral_value() else t
    return (f"≥{t}%", value), (f"<{t}%", 0)


# --- building the instrument -----------------------------------------------------------------

def _safe(ident: str) -> str:
    """An id (ASCII, no spaces) with every character an XLSForm name cannot hold written as _<hex>."""
    return "".join(c if _NAME_CHAR.fullmatch(c) else f"_{ord(c):02x}" for c in ident)


def field_name(section: str, ident: str) -> str:
    """The value field's name of an item, component, adjustment or flag id (stable, XLSForm-valid)."""
    return PREFIX[section] + _safe(ident)


class _Builder:
    """Collects the choice lists while the tree is built."""

    def __init__(self, scheme: Scheme, period: str):
        self.scheme, self.period = scheme, period
        self.limit = max_scale_options()
        self.choices: dict[str, ChoiceList] = {
            YES_NO_LIST: ChoiceList(YES_NO_LIST, tuple(Choice(v, v) for v in vocab.YES_NO))}

    def choice_list(self, name: str, options) -> str:
        self.choices.setdefault(name, ChoiceList(name, tuple(Choice(str(value), label) for label, value in options)))
        return name

    # -- facts: the item tree --
    def facts(self) -> Group | None:
        scheme = self.scheme
        self.fields = {}
        for f in fact_fields(scheme, self.period).to_dict("records"):
            self.fields.setdefault(f["item"], []).append(f)
        roots = [i for i in scheme.items.values() if i.parent is None]
        children = tuple(node for item in roots for node in self.item(item.id))
        return Group("facts", SHEETS["facts"], children=children) if children else None

    def item(self, item_id: str) -> tuple[Field | Group, ...]:
        item = self.scheme.items[item_id]
        if not item.is_leaf:
            inner: list[Field | Group] = []
            if item.incomplete:
                inner.append(Field(field_name("facts", item_id) + ".incomplete", "note", item.incomplete, scores=item_id))
            inner += [node for c in item.children for node in self.item(c)]
            return (Group("g_" + field_name("facts", item_id), f"{item.title}（{fmt_points(item.points)}分）",
                          children=tuple(inner)),)
        rule = item.rules[self.period]
        rows = self.fields[item_id]
        name = field_name("facts", item_id)
        if rule.default_full:
            return (Field(name, "note", item.title, hint=f"计分：{rows[0]['rule_label']}；{rows[0]['fact']}", scores=item_id),)
        hint = _fact_hint(rule, item.reference_required, rows[0])
        if rule.kind == "per_department":
            inner = []
            for k, row in enumerate(rows, start=1):
                inner += self.fact_cells(f"{name}.d{k}", row["part"], item_id, hint, self.yes_no(), False)
            return (Group("g_" + name, f"{item.title}（{fmt_points(item.points)}分）", children=tuple(inner)),)
        return tuple(self.fact_cells(name, item.title, item_id, hint, self.fact_value(rule, rows[0]),
                                     rows[0]["reference_required"]))

    def yes_no(self) -> dict:
        return {"type": "select_one", "choices": YES_NO_LIST, "paper": PAPER_TICKS}

    def fact_value(self, rule: Rule, row: dict) -> dict:
        """Type, choices, paper and constraint of a fact's value by its kind."""
        kind = row["fact_kind"]
        if kind == "yes_no":
            return self.yes_no()
        if kind == "count":
            return self.count(rule)
        if kind == "rate":
            rate = {"type": "decimal", "paper": PAPER_WRITE, "constraint": ". >= 0 and . <= 100",
                    "constraint_message": RATE_MESSAGE}
            bands = rate_bands(rule)
            if bands:   # printed as two bands; stored as the rate typed, or the band's code when ticked
                name = "band_" + _safe(fmt_points(rule.threshold))
                return {**rate, "choices": self.choice_list(name, bands), "paper": PAPER_TICKS}
            return rate
        top = fmt_points(rule.points)
        return {"type": "decimal", "paper": PAPER_WRITE, "constraint": f". >= 0 and . <= {top}",
                "constraint_message": f"得分应在 0–{top} 之间"}

    def count(self, rule: Rule) -> dict:
        constraint, message = ". >= 0", "应为 0 或正整数"
        if rule.max_count is not None:
            constraint, message = f". >= 0 and . <= {rule.max_count}", f"应为 0 到 {rule.max_count} 的整数"
        scale = count_scale(rule, self.limit)
        spec = {"type": "integer", "constraint": constraint, "constraint_message": message}
        if scale is None:
            digits = len(str(rule.max_count)) if rule.max_count else None
            return {**spec, "paper": PAPER_DIGITS, "digits": digits}
        top = scale[-1][1]
        name = f"count_0_{top}" + ("_open" if scale[-1][0].endswith("+") else "")
        return {**spec, "choices": self.choice_list(name, scale), "paper": PAPER_TICKS}

    def fact_cells(self, name: str, label: str, item_id: str, hint: str, value: dict, reference: bool) -> list[Field]:
        """The value and the 文件名称或文号 and 备注 cells of one workbook row."""
        ref = {"paper": PAPER_WRITE, "required": f"${{{name}}} = '{YES}'"} if reference else {"paper": PAPER_NONE}
        return [Field(name, label=label, required="yes", hint=hint, scores=item_id, **value),
                Field(name + ".ref", "text", "文件名称或文号", scores=item_id, **ref),
                Field(name + ".note", "text", "备注", scores=item_id, paper=PAPER_NONE)]

    # -- the other sections --
    def scores(self) -> Group | None:
        nodes = []
        for s in score_fields(self.scheme).to_dict("records"):
            comp = self.scheme.components[s["component"]]
            name, top = field_name("scores", comp.id), fmt_points(comp.points)
            always = s["when"] == "always"
            when = "必填" if always else "仅当本乡镇未被抽样调查抽到时填写（按主要工作数据打分，写明依据的数据）"
            nodes += [Field(name, "decimal", (s["path"] + " > " if s["path"] else "") + s["title"],
                            required="yes" if always else None, constraint=f". >= 0 and . <= {top}",
                            constraint_message=f"得分应在 0–{top} 之间", hint=f"填写：{when}", scores=comp.id,
                            paper=PAPER_WRITE),
                      Field(name + ".evidence", "text", "证据或依据", scores=comp.id, paper=PAPER_WRITE,
                            required=None if always else f"${{{name}}} != ''")]
        return Group("scores", SHEETS["scores"], children=tuple(nodes)) if nodes else None

    def adjustments(self) -> Group | None:
        groups: dict[str, list[Field]] = {}
        for a in adjustment_fields(self.scheme).to_dict("records"):
            groups.setdefault(a["group"], []).extend(self.adjustment(a))
        nodes = []
        for g in self.scheme.groups:
            if g.id in groups:
                title = g.title if g.title == SIGNS[g.sign] else f"{SIGNS[g.sign]}：{g.title}"
                cap = f"（累计不超过{fmt_points(g.cap)}分）" if g.cap is not None else ""
                nodes.append(Group("adjgroup_" + _safe(g.id),
                                   title + cap, children=tuple(groups[g.id])))
        return Group("adjustments", SHEETS["adjustments"], children=tuple(nodes)) if nodes else None

    def adjustment(self, a: dict) -> list[Field]:
        item = self.scheme.adjustment_items[a["item"]]
        name = field_name("adjustments", item.id)
        lines = [f"计分：{a['rule_label']}"]
        if item.requires:
            lines.append(f"加扣：只随「{'、'.join(self.scheme.adjustment_items[r].title for r in item.requires)}」计")
        if a["evidence"]:
            lines.append(f"查看：{a['evidence']}")
        if item.rule == "fixed":
            value, counted = self.yes_no(), f"${{{name}}} = '{YES}'"
        elif item.rule == "per_count":
            value = {"type": "integer", "paper": PAPER_DIGITS, "constraint": ". >= 0",
                     "constraint_message": "应为 0 或正整数（起数、例数）"}
            counted = f"${{{name}}} > 0"
        else:
            value, counted = _entered_points(item), f"${{{name}}} != '' and ${{{name}}} != 0"
            if item.max is not None or item.factor != 1:
                lines.append(f"分值：{a['allowed']}")
        if item.requires:
            value = self.add_on(item, value)
        return [Field(name, label=a["title"], hint="；".join(lines), scores=item.id, **value),
                Field(name + ".reason", "text", "事由", required=counted, scores=item.id, paper=PAPER_WRITE),
                Field(name + ".evidence", "text", "证据或依据", required=counted, scores=item.id, paper=PAPER_WRITE)]

    def add_on(self, item, value: dict) -> dict:
        """An add-on (加扣) counts only with its base items, and (per count) no more often than they
        (facts: the base is the sum of their counts, a fixed item 1, entered points their points)."""
        items = self.scheme.adjustment_items
        terms = []
        for r in item.requires:
            ref = f"${{{field_name('adjustments', r)}}}"
            if items[r].rule == "fixed":
                terms.append(f"if({ref} = '{YES}', 1, 0)")
            elif items[r].rule == "per_count":
                terms.append(f"if({ref} > 0, {ref}, 0)")
            else:
                terms.append(f"if({ref} != '' and {ref} != 0, {ref}, 0)")
        base = " + ".join(terms)
        names = "、".join(items[r].title for r in item.requires)
        if item.rule == "fixed":
            rule, message = f". != '{YES}' or {base} > 0", f"加扣须依附于同一乡镇的「{names}」，但该项未录入"
        elif item.rule == "per_count":
            rule, message = f". = 0 or ({base} > 0 and . <= {base})", f"加扣须依附于同一乡镇的「{names}」，起数不能多于它们的起数"
        else:
            rule, message = f". = 0 or {base} > 0", f"加扣须依附于同一乡镇的「{names}」，但该项未录入"
        if value.get("constraint"):
            rule, message = f"({value['constraint']}) and ({rule})", f"{value['constraint_message']}；{message}"
        return {**value, "constraint": rule, "constraint_message": message}

    def flags(self) -> Group | None:
        nodes = []
        for f in flag_fields(self.scheme).to_dict("records"):
            name = field_name("flags", f["flag"])
            raised = f"${{{name}}} = '{YES}'"
            nodes += [Field(name, label=f["title"], hint=f"后果：{f['label']}", scores=f["flag"], **self.yes_no()),
                      Field(name + ".reason", "text", "事由", required=raised, scores=f["flag"], paper=PAPER_WRITE),
                      Field(name + ".evidence", "text", "证据或依据", required=raised, scores=f["flag"], paper=PAPER_WRITE)]
        return Group("flags", SHEETS["flags"], children=tuple(nodes)) if nodes else None


def _fact_hint(rule: Rule, reference_required: bool, row: dict) -> str:
    lines = [f"计分：{rule_summary(rule, reference_required)}"]
    if row["evidence"]:
        lines.append(f"查看：{row['evidence']}")
    lines.append(f"填报：{row['fact']}")
    return "；".join(lines)


def _entered_points(item) -> dict:
    """Entered bonus or deduction points: 0, or within the item's bounds (facts._adjustment_amount)."""
    bounds = []
    if item.min is not None:
        bounds.append(f". >= {fmt_points(item.min)}")
    if item.max is not None:
        bounds.append(f". <= {fmt_points(item.max)}")
    spec = {"type": "decimal", "paper": PAPER_WRITE}
    if bounds:
        low = fmt_points(item.min) if item.min is not None else "0"
        message = f"分值应在 {low}–{fmt_points(item.max)} 之间" if item.max is not None else f"分值应不小于 {low}"
        spec |= {"constraint": f". = 0 or ({' and '.join(bounds)})", "constraint_message": message}
    return spec


def checklist_instrument(scheme: Scheme, period: str | None = None) -> Instrument:
    """The checklist of a township under `scheme` in `period` (default: the scheme's) as an instrument."""
    period = period or scheme.period
    if period not in PERIODS:
        raise ChouyangError(f"考核期应为 {'、'.join(PERIODS)} 之一：{period}")
    b = _Builder(scheme, period)
    sections = tuple(g for g in (b.facts(), b.scores(), b.adjustments(), b.flags()) if g is not None)
    # the township's code, preloaded (printed in the page header; on a phone it matches the submission)
    unit = Field(UNIT_CODE, "text", "乡镇（街道）代码", prefill=UNIT_CODE)
    inst = Instrument(NAME, TITLE, CODE, f"{period}-{scheme.sha256[:12]}", "township", (unit,) + sections, b.choices,
                      source=scheme.source)
    names = [f.name.lower() for f in inst.fields()] + [g.name.lower() for g in inst.groups()]
    if len(names) != len(set(names)):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ChouyangError(f"{scheme.source}：编号换成题目名称后重复（{'、'.join(twice)}），请修改考核方案中的编号")
    return inst


# --- stored entries <-> responses --------------------------------------------------------------

def checklist_slots(instrument: Instrument) -> dict[tuple[str, str, str, str], Field]:
    """Each field by the entry cell it is: (table, id, department, column) -> field."""
    out: dict[tuple[str, str, str, str], Field] = {}
    labels = {f.name: f.label for f in instrument.fields()}
    for groups, f in instrument.walk():
        if f.type == "note" or not groups or f.scores is None:
            continue
        section = groups[0].name
        base, column = f.name, VALUE_COLUMN[section]
        for suffix, col in SUFFIX.items():
            if f.name.endswith(suffix):
                base, column = f.name[: -len(suffix)], col
        part = labels[base] if _DEPARTMENT.search(base) else ""
        out[(section, f.scores, part, column)] = f
    return out


def _stored_value(f: Field, text: str) -> str:
    """A stored entry as the field's value: a rate without its "%" (facts.parse_number(percent=True) reads
    both; a score with a "%" is refused there and stays refused).  A banded rate is a rate like any other."""
    if f.constraint_message == RATE_MESSAGE and text.endswith("%"):
        return text[:-1].strip()
    return text


def _row_values(instrument: Instrument, slots: dict, table: str, row: dict) -> dict[str, str]:
    """The field values of one stored entry row (empty cells left out)."""
    ident = row[ENTRY_COLUMNS[table][1]]
    part = row.get("part", "") if table == "facts" else ""
    out = {}
    for column in ENTRY_COLUMNS[table][2:]:
        text = str(row.get(column, "") or "").strip()
        if column == "part" or not text:
            continue
        f = slots.get((table, ident, part, column))
        if f is None:
            raise ChouyangError(f"{SHEETS[table]}：{ident} {part}".rstrip() + f" 的「{column}」在调查表中没有对应的题目")
        out[f.name] = _stored_value(f, text)
    return out


def checklist_response(instrument: Instrument, entries: Entries) -> Response:
    """One township's stored checklist entries as a `Response` of `instrument` (raw: validate it to check).

    Lossless: a rate typed for a banded item (rate_threshold, e.g. 71.3) stays 71.3; a scanned band
    is stored as its code (65 or 0), which is a rate too.
    """
    slots = checklist_slots(instrument)
    codes = {r["township_code"] for name in ENTRY_COLUMNS for r in records(getattr(entries, name))}
    if len(codes) != 1:
        raise ChouyangError(f"考核清单的录入应只有一个乡镇，实际有 {len(codes)} 个：{'、'.join(sorted(codes))}")
    values: dict[str, str] = {}
    for table in ENTRY_COLUMNS:
        for row in records(getattr(entries, table)):
            values |= _row_values(instrument, slots, table, row)
    code = codes.pop()
    return Response(instrument.name, code, "", {UNIT_CODE: code, **values})


def checklist_entries(instrument: Instrument, response: Response) -> Entries:
    """The stored tables of a checklist response (the inverse of `checklist_response`), every entry row present."""
    tables: dict[str, dict[tuple[str, str], dict]] = {name: {} for name in ENTRY_COLUMNS}
    for (table, ident, part, column), f in checklist_slots(instrument).items():
        first = ENTRY_COLUMNS[table][1]
        row = tables[table].setdefault((ident, part), {"township_code": response.unit_code, first: ident,
                                                       **({"part": part} if table == "facts" else {})})
        row[column] = response.values.get(f.name, "")
    return Entries.from_records(**{name: list(rows.values()) for name, rows in tables.items()})
