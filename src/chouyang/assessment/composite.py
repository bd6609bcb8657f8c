"""The composite table of an assessment: one row per township, best first, with its Chinese headers.

Columns: the township, every component (`c:<id>`), the composite, every bonus/deduction group
(`g:<id>`), bonus, deduction, total, rank, the consequences held (joined by 、) and notes
(scores entered for a township the survey did not visit, ties).
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from chouyang.assessment.consequences import COUNTY_DIGITS
from chouyang.assessment.scheme import SIGNS, Scheme, fmt_points


def composite_labels(scheme: Scheme) -> dict[str, str]:
    """Chinese headers of the composite table's columns."""
    labels = {"township_code": "乡镇代码", "township_name": "乡镇名称", "county": "县（市、区）"}
    for comp in scheme.components.values():
        weight = f"×{fmt_points(comp.weight * 100)}%" if comp.weight != 1 else ""
        labels[f"c:{comp.id}"] = f"{comp.title}（{fmt_points(comp.points)}分{weight}）"
    labels["composite"] = f"综合得分（{fmt_points(scheme.points)}分）"
    for group in scheme.groups:
        cap = f"，上限{fmt_points(group.cap)}分" if group.cap is not None else ""
        labels[f"g:{group.id}"] = f"{group.title}（{SIGNS[group.sign]}{cap}）"
    labels.update({"bonus": "加分合计", "deduction": "减分合计", "total": "总分", "rank": "名次",
                   "consequences": "考核结果", "notes": "说明"})
    return labels


def composite_table(scheme: Scheme, towns: pd.DataFrame, totals: dict[str, dict], ranks: dict[str, int],
                    order: list[str], held: dict[str, set[str]], computed: dict[str, set[str]],
                    visited: set[str]) -> pd.DataFrame:
    names = dict(zip(towns.township_code, towns.township_name))
    not_visited = _entered_instead(scheme, names, computed)
    survey_adjustments = [a.title for a in scheme.adjustment_items.values() if a.rule == "survey"]
    rows = []
    for code in order:
        t = totals[code]
        row = _score_columns(scheme, code, names[code], t)
        labels = [r.label for r in scheme.consequences.values() if code in held[r.id]]
        note = [f"未抽查，{'、'.join(not_visited[code])}按主要工作数据打分"] if not_visited[code] else []
        if survey_adjustments and code not in visited:
            note.append("未抽查，抽样调查扣分按 0 计")
        tied = [names[o] for o in order if o != code and ranks[o] == ranks[code]]
        if tied:
            note.append(f"与{'、'.join(tied)}并列")
        row.update({"bonus": float(t["bonus"]), "deduction": float(t["deduction"]), "total": float(t["total"]),
                    "rank": ranks[code], "consequences": "、".join(labels), "notes": "；".join(note)})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(composite_labels(scheme)))


def _entered_instead(scheme: Scheme, names: dict[str, str], computed: dict[str, set[str]]) -> dict[str, list[str]]:
    """Per township, the titles of survey/indicator components whose score was entered (not visited)."""
    out: dict[str, list[str]] = defaultdict(list)
    for comp in scheme.components.values():
        if comp.source in ("survey", "indicator"):
            for code in names:
                if code not in computed[comp.id]:
                    out[code].append(comp.title)
    return out


def _score_columns(scheme: Scheme, code: str, name: str, t: dict) -> dict:
    """The township, each component's score, the composite and each group's capped points."""
    row = {"township_code": code, "township_name": name, "county": code[:COUNTY_DIGITS]}
    for comp in scheme.components.values():
        row[f"c:{comp.id}"] = float(t["components"][comp.id])
    row["composite"] = float(t["composite"])
    for group in scheme.groups:
        row[f"g:{group.id}"] = float(t["groups"][group.id])
    return row
