import datetime as dt

import pandas as pd
import pypdfium2 as pdfium
import pytest

from chouyang.errors import ChouyangError
from chouyang.round.folder import Round, read_sample
from chouyang.survey.plan import make_plan


def test_demo_plan_meets_every_constraint(demo_dir):
    rnd = Round.open(demo_dir / "round")
    rules = rnd.rules()
    plan = pd.read_csv(rnd.plan_path, dtype=str)
    sample = read_sample(rnd.sample_path)
    teams = rnd.load_teams().frame
    assert list(plan.columns) == ["team_id", "date", "township_code", "unit_code", "township_name", "unit_name"]
    # every primary point exactly once; 27 townships x 2 + 杏山 x 1
    assert sorted(plan.unit_code) == sorted(sample[sample.role == "primary"].unit_code)
    assert len(plan) == 55 and plan.unit_code.is_unique
    assert len(teams) == 14 and all(len(m) == 5 for m in teams.members)  # leader + 5 = 6
    days = [d.isoformat() for d in rules.round.survey_days]
    assert set(plan.date) <= set(days)
    assert plan.groupby(["team_id", "date"]).size().max() <= rules.plan.points_per_team_day
    homes = dict(zip(teams.team_id, teams.home_townships))
    for row in plan.itertuples():
        assert row.township_code not in homes[row.team_id]
    for code, group in plan.groupby("township_code"):
        assert group.team_id.nunique() == 1, code
        idx = sorted(days.index(d) for d in group.date)
        assert idx == list(range(idx[0], idx[0] + len(idx))), code
    load = plan.groupby("team_id").size()
    assert load.max() - load.min() <= 1 and len(load) == 14


def test_plan_pdf_has_a_page_per_team(demo_dir):
    pdf = pdfium.PdfDocument(demo_dir / "round" / "plan.pdf")
    assert len(pdf) == 14
    text = pdf[0].get_textpage().get_text_range()
    assert "调查组行程表" in text and "组长" in text


def _tiny(n_townships: int, points: int = 2):
    rows = []
    for t in range(n_townships):
        for p in range(points):
            rows.append({"township_code": f"41138110{t}", "township_name": f"乡{t}",
                         "unit_code": f"41138110{t}20{p}", "unit_name": f"村{p}",
                         "role": "primary", "rank": p + 1})
    return pd.DataFrame(rows)


def _teams(homes: list[list[str]]):
    return pd.DataFrame({"team_id": [f"{i + 1:02d}" for i in range(len(homes))],
                         "leader": "甲", "members": [["乙"]] * len(homes), "home_townships": homes})


class _Rules:
    """Just the fields make_plan reads."""

    def __init__(self, days=2, per_day=1, same=True, avoid=True):
        self.round = type("R", (), {"id": "T", "survey_days": [dt.date(2016, 7, 26 + i) for i in range(days)]})
        self.plan = type("P", (), {"points_per_team_day": per_day, "same_team_per_township": same,
                                   "respect_avoidance": avoid})


def test_too_few_team_days_named():
    with pytest.raises(ChouyangError, match=r"6 个样本点.*2 个调查组 × 1 天.*= 2"):
        make_plan(_tiny(3), _teams([[], []]), _Rules(days=1), "s")


def test_every_team_conflicted_named():
    homes = [["411381100"], ["411381100"]]
    with pytest.raises(ChouyangError, match="乡0（411381100）.*respect_avoidance"):
        make_plan(_tiny(1), _teams(homes), _Rules(), "s")
    plan = make_plan(_tiny(1), _teams(homes), _Rules(avoid=False), "s")
    assert len(plan) == 2


def test_packing_infeasible_named():
    # 2 teams x 3 days = 6 slots for 3 two-point townships, but blocks of 2 fit once per team
    with pytest.raises(ChouyangError, match="排不下 6 个样本点"):
        make_plan(_tiny(3), _teams([[], []]), _Rules(days=3), "s")
    assert len(make_plan(_tiny(3), _teams([[], []]), _Rules(days=3, same=False), "s")) == 6


def test_plan_is_reproducible_and_seed_dependent():
    sample, teams = _tiny(6), _teams([[], [], [], []])
    a = make_plan(sample, teams, _Rules(days=4), "s1")
    assert a.equals(make_plan(sample, teams, _Rules(days=4), "s1"))
    differs = any(not a.equals(make_plan(sample, teams, _Rules(days=4), f"s{i}")) for i in range(2, 8))
    assert differs
