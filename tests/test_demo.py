"""The demo county is realistic and plants errors of every kind."""

import pandas as pd

from chouyang.inputs.readers import id_is_valid


def test_demo_county_shape(demo_dir):
    county = demo_dir / "county"
    frame = pd.read_csv(county / "frame.csv", dtype=str)
    assert frame.township_code.nunique() == 28
    assert frame.unit_code.str.len().eq(12).all()
    assert frame.wcba.astype(int).between(20, 150).all()
    women = pd.read_csv(county / "register" / "women.csv", dtype=str, keep_default_na=False)
    assert women.person_id.map(id_is_valid).all()
    assert women.groupby("unit_code").size().to_dict() == dict(zip(frame.unit_code, frame.wcba.astype(int)))
    teams = pd.read_csv(county / "teams.csv", dtype=str, keep_default_na=False)
    assert len(teams) == 14 and (teams.home_townships != "").any()


def test_truth_plants_every_error_kind(demo_dir):
    truth = demo_dir / "county" / "truth"
    read = lambda n: pd.read_csv(truth / f"{n}.csv", dtype=str, keep_default_na=False)  # noqa: E731
    assert {"属实", "查无此人", "迁出", "死亡"} <= set(read("women_check").result)
    assert {"属实", "虚报", "错报"} <= set(read("births_check").result)
    assert {"属实", "虚报", "错报"} <= set(read("procedures_check").result)
    assert {"属实", "资格不符", "发放不符"} <= set(read("benefits_check").result)
    missed = read("missed_births")
    assert len(missed) > 50 and len(read("missed_women")) > 50
    w = missed.witnesses.astype(int)
    confirmed = (w >= 3) & (missed.verified == "是")
    assert confirmed.any() and (~confirmed).any()
