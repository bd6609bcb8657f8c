"""The plan renderer: plan.pdf, one itinerary page per team (调查组行程表), from the plan table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chouyang.atomic import atomic_path
from chouyang.config.rules import Rules
from chouyang.render.pdf import ChinesePDF, data_font


def render_plan_pdf(plan: pd.DataFrame, teams: pd.DataFrame, rules: Rules, path) -> int:
    """One printable page per team (itinerary); returns the number of pages."""
    texts = [rules.round.name, *plan.township_name, *plan.unit_name, *teams.leader.astype(str)]
    texts += ["".join(m) for m in teams.members]
    pdf = ChinesePDF(font=data_font(texts, [__file__]))
    pdf.set_title(f"{rules.round.name} 调查安排")
    for team in teams.itertuples():
        pdf.add_page()
        pdf.set_font(size=15)
        pdf.multi_cell(0, 8, rules.round.name, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(size=13)
        pdf.cell(0, 9, f"调查组行程表　第 {team.team_id} 组", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font(size=10.5)
        pdf.cell(0, 7, f"组长：{team.leader}", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 7, "成员：" + "、".join(team.members), new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 7, f"调查时限：{rules.round.reference_start} 至 {rules.round.reference_end}",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        widths = (30, 22, 45, 34, 49)
        heads = ("日期", "顺序", "乡镇（街道）", "样本点代码", "样本点（村/社区）")
        pdf.set_fill_color(230, 230, 230)
        for w, h in zip(widths, heads):
            pdf.cell(w, 8, h, border=1, align="C", fill=True)
        pdf.ln()
        rows = plan[plan.team_id == team.team_id]
        if rows.empty:
            pdf.cell(sum(widths), 8, "本组无调查任务（机动）", border=1, align="C")
            pdf.ln()
        for n, r in enumerate(rows.itertuples(), start=1):
            for w, text in zip(widths, (r.date, str(n), r.township_name, r.unit_code, r.unit_name)):
                pdf.cell(w, 8, text, border=1, align="C")
            pdf.ln()
        pdf.ln(6)
        pdf.multi_cell(0, 6, "说明：同一乡镇的样本点由本组在连续日期内完成；调查组成员回避本人家乡乡镇。"
                             "调查结果现场反馈，并请乡镇代表签字。", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(10)
        pdf.cell(0, 8, "组长签字：____________　　　日期：____________", new_x="LMARGIN", new_y="NEXT")
    with atomic_path(Path(path)) as tmp:
        pdf.output(str(tmp))
    return pdf.pages_count
