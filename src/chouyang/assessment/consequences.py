"""Ranking townships by their totals and deciding each consequence (先进, 重点管理, 重点帮助, 单项预警, 一票否决, …).

The order the kinds are decided in, and how ties and bars work, is documented in
`scoring.py`; each step here is one function.  Pure: it reads totals, ranks and flags
and returns who holds which consequence and why.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from chouyang.assessment.facts import ParsedEntries
from chouyang.assessment.scheme import Consequence, Scheme, fmt_points
from chouyang.errors import ChouyangError

COUNTY_DIGITS = 6  # a township's county is the first 6 digits of its 9-digit code


def veto_rule(scheme: Scheme) -> Consequence | None:
    return next((c for c in scheme.consequences.values() if c.kind == "veto"), None)


def flagged(scheme: Scheme, parsed: ParsedEntries, rule_id: str) -> dict[str, list[str]]:
    """Townships with a flag pointing to a consequence rule -> the flags' titles and reasons."""
    out: dict[str, list[str]] = defaultdict(list)
    for code, flags in parsed.flags.items():
        for flag_id, reason, _ in flags:
            flag = scheme.flags[flag_id]
            if flag.consequence == rule_id:
                out[code].append(f"{flag.title}：{reason}" if reason else flag.title)
    return out


def rank(scheme: Scheme, codes: list[str], totals: dict[str, dict], parsed: ParsedEntries):
    """Rank of each township (1 is best, ties share a rank: 1, 2, 2, 4) and the townships best first."""
    veto = veto_rule(scheme)
    last = set(flagged(scheme, parsed, veto.id)) if veto is not None and veto.ranks_last else set()

    def key(code):
        t = totals[code]
        return (code in last, -t["total"], *(-t["components"][c] for c in scheme.tiebreak))

    keys = {c: key(c) for c in codes}
    order = sorted(codes, key=lambda c: (keys[c], c))
    ranks = {c: 1 + sum(1 for o in codes if keys[o] < keys[c]) for c in codes}
    return ranks, order


@dataclass
class _Awards:
    """Who holds which consequence and why, and the notes that ties and bars add, as the steps decide them."""

    codes: list[str]
    names: dict[str, str]
    ranks: dict[str, int]
    notes: list[str]
    held: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # rule id -> townships
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)

    def give(self, rule_id: str, code: str, reason: str) -> None:
        self.held[rule_id].add(code)
        self.reasons[(rule_id, code)] = reason

    def by_rank(self, codes) -> list[str]:
        return sorted(codes, key=lambda c: (self.ranks[c], c))

    def boundary_note(self, rule: Consequence, chosen: set[str]) -> None:
        """A tie at the boundary gives a consequence to more than `n` townships: say so, and to whom."""
        if rule.n and len(chosen) > rule.n:
            self.notes.append(f"「{rule.label}」名额 {rule.n} 个，因得分并列共 {len(chosen)} 个乡镇："
                              + "、".join(self.names[c] for c in self.by_rank(chosen)))


def consequences(scheme: Scheme, codes: list[str], names: dict[str, str], totals: dict[str, dict],
                 ranks: dict[str, int], order: list[str], parsed: ParsedEntries, previous: pd.DataFrame | None,
                 notes: list[str]) -> tuple[dict[str, set[str]], list[dict]]:
    """Every consequence, in the documented order; returns rule id -> townships and the trace rows.

    Notes on ties and bars are appended to `notes`.
    """
    awards = _Awards(codes, names, ranks, notes)
    rules = scheme.consequences.values()
    veto = veto_rule(scheme)
    if veto is not None:
        for code, why in flagged(scheme, parsed, veto.id).items():
            awards.give(veto.id, code, "；".join(why))
    overall_bottom = [r for r in rules if r.kind == "bottom" and r.component is None]
    for rule in overall_bottom:
        _give_overall_bottom(scheme, parsed, awards, rule)
    barred = _barred(awards, veto, overall_bottom)
    for rule in rules:
        if rule.kind in ("top", "bottom") and rule.component is not None:
            _give_by_component(scheme, totals, awards, rule, barred)
    for rule in rules:
        if rule.kind == "top" and rule.component is None:
            _give_overall_top(scheme, awards, rule, barred)
    for rule in rules:
        if rule.kind == "county_last":
            _give_county_last(scheme, awards, rule, order)
    _escalate(rules, awards, previous_labels(previous))
    return awards.held, _trace(rules, awards)


def _give_overall_bottom(scheme: Scheme, parsed: ParsedEntries, awards: _Awards, rule: Consequence) -> None:
    """重点管理: the last `n` by rank, plus every township with a flag pointing to the rule."""
    codes, ranks = awards.codes, awards.ranks
    worse = {c: sum(1 for o in codes if ranks[o] > ranks[c]) for c in codes}
    chosen = {c for c in codes if worse[c] < rule.n}
    awards.boundary_note(rule, chosen)
    for c in chosen:
        awards.give(rule.id, c, f"综合排名第 {ranks[c]} 名（共 {len(codes)} 个，后 {rule.n} 名）")
    for code, why in flagged(scheme, parsed, rule.id).items():
        if code not in awards.held[rule.id]:
            awards.give(rule.id, code, "；".join(why))


def _barred(awards: _Awards, veto: Consequence | None, overall_bottom: list[Consequence]) -> set[str]:
    """Townships that cannot get a `top` label: vetoed or 重点管理."""
    barred = set(awards.held[veto.id]) if veto is not None else set()
    for rule in overall_bottom:
        barred |= awards.held[rule.id]
    return barred


def _give_by_component(scheme: Scheme, totals: dict[str, dict], awards: _Awards, rule: Consequence,
                       barred: set[str]) -> None:
    """单项预警 (bottom) or 表彰 (top) by one component's score; a barred township gets no `top` one."""
    codes = awards.codes
    value = {c: totals[c]["components"][rule.component] for c in codes}
    title = scheme.components[rule.component].title
    if rule.kind == "bottom":
        chosen = {c for c in codes if sum(1 for o in codes if value[o] < value[c]) < rule.n}
        where = "后"
    else:
        pool = [c for c in codes if c not in barred]
        chosen = {c for c in pool if sum(1 for o in pool if value[o] > value[c]) < rule.n}
        where = "前"
    awards.boundary_note(rule, chosen)
    for c in chosen:
        awards.give(rule.id, c, f"「{title}」得分 {fmt_points(value[c])}（{where} {rule.n} 名）")


def _give_overall_top(scheme: Scheme, awards: _Awards, rule: Consequence, barred: set[str]) -> None:
    """先进: the first `n` of the townships not barred; a barred one within the first `n` is noted (名额顺延)."""
    ranks = awards.ranks
    pool = [c for c in awards.codes if c not in barred]
    chosen = {c for c in pool if sum(1 for o in pool if ranks[o] < ranks[c]) < rule.n}
    awards.boundary_note(rule, chosen)
    for c in chosen:
        awards.give(rule.id, c, f"综合排名第 {ranks[c]} 名（前 {rule.n} 名）")
    for c in awards.by_rank(barred):
        if ranks[c] <= rule.n:
            awards.notes.append(f"{awards.names[c]} 综合排名第 {ranks[c]} 名，但因{_labels_of(scheme, awards.held, c)}"
                                f"不能评为「{rule.label}」，名额顺延")


def _give_county_last(scheme: Scheme, awards: _Awards, rule: Consequence, order: list[str]) -> None:
    """重点帮助: per county, the last-ranked township not holding a `skip` consequence."""
    counties: dict[str, list[str]] = defaultdict(list)
    for c in order:
        counties[c[:COUNTY_DIGITS]].append(c)
    for county, members in counties.items():
        skipped = set().union(*(awards.held[s] for s in rule.skip)) if rule.skip else set()
        _give_last_of_county(scheme, awards, rule, county, members, skipped)


def _give_last_of_county(scheme: Scheme, awards: _Awards, rule: Consequence, county: str, members: list[str],
                         skipped: set[str]) -> None:
    """From the last rank up, the first rank with a township not skipped ("往后顺延" when it is not the last)."""
    ranks = awards.ranks
    for at in sorted({ranks[c] for c in members}, reverse=True):
        group = [c for c in members if ranks[c] == at and c not in skipped]
        if not group:
            continue
        passed = any(ranks[c] > at for c in members)
        reason = f"县（市、区）{county} 内排名最后" + ("（最后一名已列入" + "、".join(
            scheme.consequences[s].label for s in rule.skip) + "，往后顺延）" if passed else "")
        for c in group:
            awards.give(rule.id, c, reason)
        if len(group) > 1:
            awards.notes.append(f"「{rule.label}」：县（市、区）{county} 并列 {len(group)} 个乡镇："
                                + "、".join(awards.names[c] for c in group))
        return


def _escalate(rules, awards: _Awards, last_year: dict[str, set[str]]) -> None:
    """repeat, in file order: `current` this year after `previous` last year moves to `becomes` or gets the label."""
    for rule in rules:
        if rule.kind != "repeat":
            continue
        for c in sorted(awards.held[rule.current]):
            if rule.previous not in last_year.get(c, set()):
                continue
            why = f"连续两年列为「{rule.previous}」"
            if rule.becomes is not None:
                awards.held[rule.current].discard(c)
                awards.give(rule.becomes, c, why)
            else:
                awards.give(rule.id, c, why)


def _trace(rules, awards: _Awards) -> list[dict]:
    """One row per consequence held, in the scheme's order of consequences, best-ranked first."""
    return [{"township_code": c, "consequence": rule.id, "label": rule.label, "reason": awards.reasons[(rule.id, c)],
             "quote": rule.quote, "note": rule.note}
            for rule in rules for c in awards.by_rank(awards.held[rule.id])]


def _labels_of(scheme: Scheme, held: dict[str, set[str]], code: str) -> str:
    return "、".join(r.label for r in scheme.consequences.values() if code in held[r.id])


def previous_labels(previous: pd.DataFrame | None) -> dict[str, set[str]]:
    """Consequence labels per township of the previous year's composite table (labels joined by 、)."""
    if previous is None:
        return {}
    missing = [c for c in ("township_code", "consequences") if c not in previous]
    if missing:
        raise ChouyangError(f"上一年度的考核结果缺少列：{'、'.join(missing)}")
    return {str(r.township_code): {x for x in str(r.consequences if r.consequences == r.consequences else "")
                                   .split("、") if x}
            for r in previous.itertuples()}
