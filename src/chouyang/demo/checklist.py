"""A simulated assessment for the demo county (issue 13): what assessors would enter, deterministic from a seed.

`simulate_entries(scheme, townships, seed)` invents, for every township, the checklist facts
(a township-level diligence drawn from the seed makes good townships good at most items),
the entered component scores, a few bonus and deduction items with reason and evidence, and
rarely a violation or veto flag.  `demo_assessment` scores them with the survey's township
table (report/townships.csv of the demo run, or None) and `summary_lines` gives the Chinese
lines `chouyang demo` prints: top and bottom townships with their consequences.

The townships are passed in (demo.population.demo_townships() for the built-in county), so this module
does not import demo.county and demo.county may import it.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import numpy as np
import pandas as pd

from chouyang import vocab
from chouyang.assessment.facts import Entries, adjustment_fields, fact_fields, flag_fields, score_fields
from chouyang.assessment.scheme import Scheme, fmt_points, load_scheme_preset
from chouyang.assessment.scoring import Assessment, assess, computed_scores

DEMO_SCHEME = "dengzhou-2016h1"
YES, NO = vocab.YES_NO


def _rng(seed: str, part: str) -> np.random.Generator:
    digest = hashlib.sha256(f"chouyang-assessment-demo|{seed}|{part}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _half_points(x: float) -> str:
    """A score rounded to half points, as assessors write them."""
    return fmt_points(Decimal(round(x * 2)) / 2)


def _yes_no_fact(f, rng: np.random.Generator, q: float) -> tuple[str, str]:
    """Yes with the township's diligence; a yes that needs a document cites one."""
    value = YES if rng.random() < q else NO
    reference = f"邓计生〔2016〕{int(rng.integers(1, 90))}号" if value == YES and f.reference_required else ""
    return value, reference


def _count_fact(rule, rng: np.random.Generator, q: float) -> str:
    """A per-count item counts good things (more when diligent), any other count counts failures (fewer)."""
    if rule.kind == "per_count":
        return str(int(rng.binomial(int(rule.points / rule.per) + 1, q)))
    return str(int(rng.binomial(rule.max_count or 4, (1 - q) / 2)))


def _rate_fact(rule, rng: np.random.Generator, q: float) -> str:
    """A percentage around the rule's target, higher for diligent townships, within 0..100."""
    target = float(rule.full_at if rule.kind == "rate_slope" else rule.threshold)
    rate = target + (q - 0.75) * 60 + rng.normal(0, 5)
    return fmt_points(Decimal(str(round(min(100.0, max(0.0, rate)), 1))))


def _fact_value(f, rule, rng: np.random.Generator, q: float) -> tuple[str, str]:
    """(value, reference) of one checklist fact, by the fact's kind."""
    if f.fact_kind == "yes_no":
        return _yes_no_fact(f, rng, q)
    if f.fact_kind == "count":
        return _count_fact(rule, rng, q), ""
    if f.fact_kind == "rate":
        return _rate_fact(rule, rng, q), ""
    return _half_points(float(rule.points) * rng.uniform(q - 0.1, 1.0)), ""


def _township_facts(scheme: Scheme, period: str, facts_f: list, code: str, rng: np.random.Generator, q: float) -> list[dict]:
    out = []
    for f in facts_f:
        if not f.required:
            continue
        value, reference = _fact_value(f, scheme.items[f.item].rules[period], rng, q)
        out.append({"township_code": code, "item": f.item, "part": f.part, "value": value, "reference": reference})
    return out


def _township_scores(scores_f: list, computed: dict[str, set[str]], code: str, rng: np.random.Generator,
                     q: float) -> list[dict]:
    out = []
    for s in scores_f:
        if s.when == "not_visited" and code in computed.get(s.component, set()):
            continue  # the survey computes this component for visited townships
        value = _half_points(min(s.points, s.points * rng.uniform(q - 0.12, q + 0.05)))
        evidence = "县区考核通报" if s.when == "always" else "主要工作数据：全员人口信息系统月报"
        out.append({"township_code": code, "component": s.component, "score": value, "evidence": evidence})
    return out


def _adjustment_value(a, item, rng: np.random.Generator) -> str:
    if a.rule == "fixed":
        return YES
    if a.rule == "per_count":
        return "1"
    low = float(item.min) if item.min is not None else 1.0
    high = float(item.max) if item.max is not None else low + 2.0
    return str(int(rng.integers(int(low), int(high) + 1)))


def _township_adjustments(scheme: Scheme, adj_f: list, code: str, rng: np.random.Generator) -> list[dict]:
    """A few bonus items (12 %) and deductions (4 %); an item that requires others only when one is present."""
    out = []
    present = set()
    for a in adj_f:
        chance = 0.12 if a.sign == "bonus" else 0.04
        needs = [r for r in a.requires.split("、") if r]
        # Short-circuit order matters: an item whose requirements are absent draws no random number.
        if (needs and not present & set(needs)) or rng.random() >= chance:
            continue
        value = _adjustment_value(a, scheme.adjustment_items[a.item], rng)
        present.add(a.item)
        out.append({"township_code": code, "item": a.item, "value": value,
                    "reason": f"（模拟）{a.title}", "evidence": a.evidence or "考核组核查记录"})
    return out


def _township_flags(flag_f: list, code: str, rng: np.random.Generator) -> list[dict]:
    return [{"township_code": code, "flag": f.flag, "value": YES, "reason": f"（模拟）{f.title}",
             "evidence": "市人口计生委查实通报"}
            for f in flag_f if rng.random() < 0.015]


def simulate_entries(scheme: Scheme, townships: pd.DataFrame, seed: str, computed: dict[str, set[str]] | None = None,
                     period: str | None = None) -> Entries:
    """Plausible entries for every township: complete and valid for `facts.check_entries`."""
    period = period or scheme.period
    computed = computed or {}
    facts_f = list(fact_fields(scheme, period).itertuples())
    scores_f = list(score_fields(scheme).itertuples())
    adj_f = list(adjustment_fields(scheme).itertuples())
    flag_f = list(flag_fields(scheme).itertuples())
    facts, scores, adjustments, flags = [], [], [], []
    for code in townships.township_code.astype(str):
        # One generator per township, drawn from in this order: diligence, facts, scores, adjustments, flags.
        rng = _rng(seed, code)
        q = float(rng.uniform(0.55, 0.98))  # the township's diligence
        facts += _township_facts(scheme, period, facts_f, code, rng, q)
        scores += _township_scores(scores_f, computed, code, rng, q)
        adjustments += _township_adjustments(scheme, adj_f, code, rng)
        flags += _township_flags(flag_f, code, rng)
    return Entries.from_records(facts, scores, adjustments, flags)


def demo_assessment(townships: pd.DataFrame, seed: str, survey: pd.DataFrame | None = None,
                    scheme: Scheme | None = None, previous: pd.DataFrame | None = None) -> Assessment:
    """The demo county's simulated assessment, scored."""
    scheme = scheme or load_scheme_preset(DEMO_SCHEME)
    entries = simulate_entries(scheme, townships, seed, computed_scores(scheme, survey))
    return assess(scheme, townships, entries, survey=survey, previous=previous)


def summary_lines(assessment: Assessment, n: int = 3) -> list[str]:
    """Top and bottom townships with total, rank and consequences, then the count of every consequence."""
    table = assessment.townships
    lines = [f"综合考核：{len(table)} 个乡镇，满分 {assessment.points:g} 分"]

    def line(r) -> str:
        result = f"　{r.consequences}" if r.consequences else ""
        return f"  第 {r.rank} 名　{r.township_name}　总分 {r.total:g}{result}"

    lines.append("前几名：")
    lines += [line(r) for r in table.head(n).itertuples()]
    lines.append("后几名：")
    lines += [line(r) for r in table.tail(n).itertuples()]
    counts = assessment.consequences.groupby("label", sort=False).size()
    if len(counts):
        lines.append("考核结果：" + "，".join(f"{label} {k} 个" for label, k in counts.items()))
    return lines
