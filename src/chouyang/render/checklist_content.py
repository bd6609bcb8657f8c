"""What the printed assessment checklist of a township says; render/checklist_pdf.py draws it.

`checklist_rows(scheme, period)` decides what is printed, from the same field tables the
entry workbook shows (facts.fact_fields, score_fields, adjustment_fields, flag_fields): one
row per item, with its number, title, points, the rule in short, the evidence to check and
what to enter, and the choices:
- a yes/no fact, each department of a per-department item, a fixed bonus or deduction and a
  flag: tick boxes 是 / 否;
- a count: a tick scale 0 1 2 … up to the count that reaches the item's points (or its
  largest count), the last one open ("3+" stores 3: more changes no points); a scale longer
  than `max_scale_options` is written instead;
- a rate: tick bands when the rule makes them exact (rate_threshold: "≥65%" stores 65, "<65%"
  stores 0, and the scan notes which band was ticked), otherwise a number written by hand;
- entered scores and points, counts of bonus or deduction events, document names or numbers,
  reasons and evidence: write-in boxes, which the reader never reads (a filled one goes to
  review).
`ChecklistForm` is everything printed for one township, `cover_lines` the instructions on its
first page.  Nothing personal is printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from chouyang import vocab
from chouyang.assessment.facts import adjustment_fields, fact_fields, flag_fields, score_fields
from chouyang.assessment.scheme import PERIODS, SIGNS, Rule, Scheme, fmt_points
from chouyang.config.toml import loads_toml

# what the checklist says a rule is, and its tick options: one copy, the checklist definition's
from chouyang.instruments.checklist import count_scale, rate_bands, rule_summary


def load_checklist_layout() -> dict:
    """The [form] table of forms/checklist.toml (geometry and form code)."""
    return loads_toml(files("chouyang.formdefs").joinpath("checklist.toml").read_bytes(), "forms/checklist.toml", "表格版式")["form"]


# --- what is printed ---------------------------------------------------------------

@dataclass(frozen=True)
class TickSpec:
    """A group of tick boxes: one value of the workbook (`column`, for department `part`)."""

    key: str
    label: str
    options: tuple[tuple[str, str | int], ...]  # (printed label, value stored)
    column: str = "value"
    part: str = ""
    required: bool = True
    open_top: bool = False
    band: bool = False  # rate bands: wider options


@dataclass(frozen=True)
class WriteSpec:
    """A write-in box (never read by the scan: ink in it sends the row to review)."""

    key: str
    label: str
    column: str
    required: bool = False
    digits: bool = False  # a number: digit guides along its bottom border
    unit: str = ""        # printed after the box ("%", "分")


@dataclass(frozen=True)
class PrintedRow:
    section: str                 # facts | scores | adjustments | flags (facts.SHEETS)
    kind: str                    # item | group (a subtotal or an adjustment group: printed only)
    ref: str = ""                # item, component, adjustment or flag id
    title: str = ""
    points: str = ""
    lines: tuple[str, ...] = ()  # rule in short, evidence, what to enter
    ticks: tuple[TickSpec, ...] = ()
    value: WriteSpec | None = None   # a value written in the choice column
    writes: tuple[WriteSpec, ...] = ()  # write-in boxes below the item (document, reason, evidence)
    note: str = ""               # printed in the choice column when there is nothing to fill


YES_NO = tuple((v, v) for v in vocab.YES_NO)


def _fact_choices(f: dict, fields: list[dict], rule: Rule, limit: int):
    """(ticks, value, writes) of a fact: tick boxes where the choices are few and exact, else a number written."""
    kind = f["fact_kind"]
    if rule.kind == "per_department":
        return tuple(TickSpec(f"value/{r['part']}", r["part"], YES_NO, part=r["part"]) for r in fields), None, ()
    if kind == "yes_no":
        writes = (WriteSpec("reference", "文件名称或文号", "reference"),) if f["reference_required"] else ()
        return (TickSpec("value", f["fact"], YES_NO),), None, writes
    if kind == "count":
        scale = count_scale(rule, limit)
        if scale:
            return (TickSpec("value", f["fact"], scale, open_top=scale[-1][0].endswith("+")),), None, ()
        return (), WriteSpec("value", "数量", "value", required=True, digits=True), ()
    if kind == "rate":
        bands = rate_bands(rule)
        if bands:
            return (TickSpec("value", f["fact"], bands, band=True),), None, ()
        return (), WriteSpec("value", "比例", "value", required=True, digits=True, unit="%"), ()
    return (), WriteSpec("value", "得分", "value", required=True, digits=True, unit="分"), ()


def _fact_row(scheme: Scheme, item_id: str, fields: list[dict], period: str, limit: int) -> PrintedRow:
    item = scheme.items[item_id]
    rule = item.rules[period]
    f = fields[0]
    base = {"section": "facts", "kind": "item", "ref": item_id, "title": item.title, "points": fmt_points(item.points)}
    if rule.default_full:
        return PrintedRow(**base, lines=(f"计分：{f['rule_label']}",), note=f["fact"])
    lines = [f"计分：{rule_summary(rule, item.reference_required)}"]
    if f["evidence"]:
        lines.append(f"查看：{f['evidence']}")
    lines.append(f"填报：{f['fact']}")
    ticks, value, writes = _fact_choices(f, fields, rule, limit)
    return PrintedRow(**base, lines=tuple(lines), ticks=ticks, value=value, writes=writes)


def _fact_rows(scheme: Scheme, period: str) -> list[PrintedRow]:
    """Every item of the scheme in order: a leaf with its fact, a parent as a group row (its subtotal)."""
    max_scale_options = int(load_checklist_layout()["max_scale_options"])
    by_item: dict[str, list[dict]] = {}
    for f in fact_fields(scheme, period).to_dict("records"):
        by_item.setdefault(f["item"], []).append(f)
    rows = []
    for item in scheme.items.values():
        if item.is_leaf:
            rows.append(_fact_row(scheme, item.id, by_item[item.id], period, max_scale_options))
        else:
            lines = (item.incomplete,) if item.incomplete else ()
            rows.append(PrintedRow("facts", "group", item.id, item.title, fmt_points(item.points), lines))
    return rows


def _score_rows(scheme: Scheme) -> list[PrintedRow]:
    rows = []
    for s in score_fields(scheme).to_dict("records"):
        when = "必填" if s["when"] == "always" else "仅当本乡镇未被抽样调查抽到时填写（按主要工作数据打分，写明依据的数据）"
        title = (s["path"] + " > " if s["path"] else "") + s["title"]
        rows.append(PrintedRow(
            "scores", "item", s["component"], title, fmt_points(scheme.components[s["component"]].points),
            (f"填写：{when}",), value=WriteSpec("score", "得分", "score", required=s["when"] == "always", digits=True,
                                              unit="分"),
            writes=(WriteSpec("evidence", "证据或依据", "evidence"),)))
    return rows


_REASON_EVIDENCE = (WriteSpec("reason", "事由", "reason"), WriteSpec("evidence", "证据或依据", "evidence"))


def _adjustment_group_row(a: dict, cap) -> PrintedRow:
    """The heading of an adjustment group: its sign and title, and its cap when it has one."""
    cap_text = f"（累计不超过{fmt_points(cap)}分）" if cap is not None else ""
    title = a["group_title"] if a["group_title"] == SIGNS[a["sign"]] else f"{SIGNS[a['sign']]}：{a['group_title']}"
    return PrintedRow("adjustments", "group", a["group"], title + cap_text)


def _adjustment_row(scheme: Scheme, a: dict) -> PrintedRow:
    """A bonus or deduction item: ticked when fixed, else its count or points written; reason and evidence written."""
    item = scheme.adjustment_items[a["item"]]
    lines = [f"计分：{a['rule_label']}"]
    if a["requires"]:
        lines.append(f"加扣：只随「{'、'.join(scheme.adjustment_items[r].title for r in item.requires)}」计")
    if a["evidence"]:
        lines.append(f"查看：{a['evidence']}")
    ticks, value = (), None
    if a["fact_kind"] == "yes_no":
        ticks = (TickSpec("value", "是否发生", YES_NO),)
    elif a["fact_kind"] == "count":
        value = WriteSpec("value", "起数", "value", digits=True, unit="起")
    else:
        value = WriteSpec("value", "分值", "value", digits=True, unit="分")
        if item.max is not None or item.factor != 1:
            lines.append(f"分值：{a['allowed']}")
    points = fmt_points(item.points) if item.points is not None else ""
    return PrintedRow("adjustments", "item", a["item"], a["title"], points, tuple(lines), ticks, value, _REASON_EVIDENCE)


def _adjustment_rows(scheme: Scheme) -> list[PrintedRow]:
    rows = []
    group, caps = None, {g.id: g.cap for g in scheme.groups}
    for a in adjustment_fields(scheme).to_dict("records"):
        if a["group"] != group:
            group = a["group"]
            rows.append(_adjustment_group_row(a, caps[group]))
        rows.append(_adjustment_row(scheme, a))
    return rows


def _flag_rows(scheme: Scheme) -> list[PrintedRow]:
    return [PrintedRow("flags", "item", f["flag"], f["title"], "", (f"后果：{f['label']}",),
                       (TickSpec("value", "是否发生", YES_NO),), None, _REASON_EVIDENCE)
            for f in flag_fields(scheme).to_dict("records")]


def checklist_rows(scheme: Scheme, period: str | None = None) -> dict[str, list[PrintedRow]]:
    """Every printed row per section (facts.SHEETS order), empty sections left out."""
    period = period or scheme.period
    out = {"facts": _fact_rows(scheme, period), "scores": _score_rows(scheme),
           "adjustments": _adjustment_rows(scheme), "flags": _flag_rows(scheme)}
    return {k: v for k, v in out.items() if v}


def printed_text(rows: dict[str, list[PrintedRow]]) -> str:
    """Every character the rows print (for the font subset)."""
    parts = []
    for section_rows in rows.values():
        for r in section_rows:
            parts += [r.ref, r.title, r.points, r.note, *r.lines]
            for t in r.ticks:
                parts += [t.label, t.part, *(o[0] for o in t.options)]
            for w in ((r.value,) if r.value else ()) + r.writes:
                parts += [w.label, w.unit]
    return "".join(parts)


@dataclass(frozen=True)
class ChecklistForm:
    """Everything printed for one township."""

    round_id: str
    round_name: str
    township_code: str
    township_name: str
    period: str
    rows: dict[str, list[PrintedRow]]


def cover_lines(period: str) -> list[str]:
    return [
        f"考核期：{PERIODS[period]}。每一条目逐项查看所列材料，按实际情况勾选或填写；本表不记录任何个人信息。",
        "填表说明：在选项下的方框内打「√」或「×」，每组只选一项；选错时把选错的方框整个涂黑作废，再勾选正确的一项。",
        "数量勾选实际数目，达到「n+」的勾「n+」（再多也不再加分或扣分）；比例、得分、起数写在方框内（如 47.5），由录入员核对录入。",
        "须有正式文件才计分的条目勾「是」时写明文件名称或文号。加分、减分、违纪和否决情形逐项勾「是」或「否」（起数、分值没有的不填），"
        "有的写明事由和证据。",
        "考核组（签字）：______________　　乡镇代表（签字）：______________　　日期：______________",
    ]
