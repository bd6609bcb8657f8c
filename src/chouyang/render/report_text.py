"""The report's wording that its workbook and its PDF share: rule and metric labels, the cap, partial results.

Nothing here reads the round folder; render/report.py (CSVs, report.xlsx) and
render/report_pdf.py (report.pdf, the feedback sheet) both print these words.
"""

from __future__ import annotations

from chouyang.config.rules import CAP_SCOPES
from chouyang.survey.estimate import RATES
from chouyang.survey.feedback import WITHDRAWN
from chouyang.survey.score import ScoreResult

RULE_LABELS = {"birth_parity_1_2": "一、二孩错漏", "birth_parity_3plus": "多孩错漏", "iud_false_or_wrong": "上环虚报、错报",
               "sterilisation_false_or_wrong": "结扎虚报、错报", "remedial_false": "补救措施虚报",
               "remedial_wrong": "补救措施错报", "removal_false_or_wrong": "取环虚报、错报",
               "eligibility_error": "资格确认误差", "payment_error": "资金发放误差", "birth_false": "出生虚报",
               "woman_missing": "育龄妇女漏档", "woman_false": "育龄妇女查无此人"}
METRIC_LABELS = {**{k: v[2] for k, v in RATES.items()}, "register_births": "出生数（全员）",
                 "compliance_rate": "符合政策生育率（全员）", "sex_ratio": "出生人口性别比（全员）",
                 "longacting_rate": "长效节育措施落实率（全员）", "corrected_births": "出生数（修正）",
                 "corrected_compliance_rate": "符合政策生育率（修正）", "corrected_sex_ratio": "出生人口性别比（修正）",
                 "corrected_longacting_rate": "长效节育措施落实率（修正）"}


def cap_text(rules) -> str:
    """The cap and what it covers (rules' cap_scope), for the report."""
    scope = CAP_SCOPES[rules.deductions.cap_scope]
    return (f"扣分上限 {rules.deductions.cap:g} 分，只作用于{scope}（cap_scope = \"{rules.deductions.cap_scope}\"）；"
            "考核方案中的其他减分项不在本报告内")


def partial_lines(result: ScoreResult) -> list[str]:
    """What a partial report says first: that it is partial, and which points are missing."""
    if not result.partial:
        return []
    m = result.missing
    lines = [f"未录入：尚有 {len(m)} 个样本点未录入结果，本报告是部分结果，不是最终结果；"
             "标「未完成」的乡镇不参加排名。未录入的样本点："]
    lines += [f"{r.township_name}（{r.township_code}） {r.unit_name}（{r.unit_code}）" for r in m.itertuples()]
    return lines


def counted_as(case) -> str:
    """How a case counts: 确认, 待核实, or 撤销 (withdrawn after a re-check: counts nowhere)."""
    if getattr(case, "status", "") == WITHDRAWN:
        return "撤销"
    return "确认" if case.confirmed else "待核实"
