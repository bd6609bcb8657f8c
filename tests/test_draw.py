import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from chouyang.config.rules import load_preset, parse_rules, round_rules_text
from chouyang.errors import ChouyangError
from chouyang.inputs.readers import load_frame
from chouyang.survey.draw import draw_sample, sample_csv_bytes, ticket

README = Path(__file__).resolve().parents[1] / "README.md"
RULES = load_preset("dengzhou-2016h1", "2016H1")


def _rules(**sampling) -> object:
    text = round_rules_text("dengzhou-2016h1", "2016H1")
    for key, value in sampling.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    return parse_rules(text, "test")


def _frame(sizes_by_township: dict[str, list[int]]) -> pd.DataFrame:
    rows = []
    for code, sizes in sizes_by_township.items():
        for i, size in enumerate(sizes):
            rows.append({"township_code": code, "township_name": f"乡{code[-3:]}",
                         "unit_code": f"{code}{i + 1:03d}", "unit_name": f"村{i + 1}",
                         "households": size, "population": size * 3, "wcba": size,
                         "exclude": 0, "exclude_reason": ""})
    return pd.DataFrame(rows)


def test_readme_worked_ticket_recomputes():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"printf '%s' '(.+?)\|(\w+)\|(\d{12})' \| sha256sum\n# ([0-9a-f]{64})", text)
    assert m, "the worked example is missing from the README"
    seed, round_id, unit, expected = m.groups()
    assert ticket(seed, round_id, unit) == expected
    assert hashlib.sha256(f"{seed}|{round_id}|{unit}".encode()).hexdigest() == expected


def test_readme_example_is_rank_one_in_demo(demo_dir):
    sample = pd.read_csv(demo_dir / "round" / "sample.csv", dtype=str)
    row = sample[sample.unit_code == "411381001206"].iloc[0]
    assert (row.role, row["rank"], row.township_name) == ("primary", "1", "古城街道")


def test_srs_selects_smallest_tickets():
    frame = _frame({"411381001": [10] * 6})
    sample, _ = draw_sample(frame, RULES, "seed-1")
    order = sorted(frame.unit_code, key=lambda c: ticket("seed-1", "2016H1", c))
    assert sample.unit_code.tolist() == order[:3]
    assert sample.role.tolist() == ["primary", "primary", "reserve"]
    assert sample.inclusion_prob.tolist() == pytest.approx([2 / 6] * 3)
    assert sample.weight.tolist() == pytest.approx([3.0] * 3)


def test_same_seed_same_bytes_different_seed_different_sample():
    frame = _frame({"411381001": [10] * 12, "411381002": [5] * 9, "411381550": [3] * 4})
    a = sample_csv_bytes(draw_sample(frame, RULES, "2016-07-25 528")[0])
    b = sample_csv_bytes(draw_sample(frame.sample(frac=1, random_state=3), RULES, "2016-07-25 528")[0])
    c = sample_csv_bytes(draw_sample(frame, RULES, "2016-07-25 529")[0])
    assert a == b  # row order of the frame does not matter either
    assert a != c
    assert draw_sample(frame, RULES, "x")[0].query("township_code == '411381550'").role.tolist() == \
        ["primary", "reserve"]  # 杏山: 1 point


def test_seed_is_text_not_number():
    frame = _frame({"411381001": [10] * 20})
    a = draw_sample(frame, RULES, "007")[0].unit_code.tolist()
    b = draw_sample(frame, RULES, "7")[0].unit_code.tolist()
    assert a != b
    assert draw_sample(frame, RULES, "  007 ")[0].unit_code.tolist() == a


def test_uniformity_chi_square_over_2000_seeds():
    frame = _frame({"411381001": [10] * 7})
    units = sorted(frame.unit_code)
    counts = dict.fromkeys(units, 0)
    for s in range(2000):
        tickets = sorted(units, key=lambda c: ticket(f"seed{s}", "2016H1", c))
        for c in tickets[:2]:
            counts[c] += 1
    # the draw function itself agrees with the ticket rule on a subset of the seeds
    for s in range(0, 2000, 200):
        picked = draw_sample(frame, RULES, f"seed{s}")[0].query("role == 'primary'").unit_code
        assert set(picked) == set(sorted(units, key=lambda c: ticket(f"seed{s}", "2016H1", c))[:2])
    observed = np.array([counts[c] for c in units])
    expected = np.full(len(units), 2000 * 2 / 7)
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_removing_a_township_leaves_others_unchanged():
    frame = _frame({"411381001": [10] * 8, "411381002": [10] * 6, "411381003": [10] * 5})
    full = draw_sample(frame, RULES, "s")[0]
    part = draw_sample(frame[frame.township_code != "411381002"], RULES, "s")[0]
    assert full[full.township_code != "411381002"].reset_index(drop=True).equals(part)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 30), min_size=1, max_size=9), seed=st.text(min_size=1, max_size=8))
def test_property_primary_count_and_probabilities(sizes, seed):
    if not seed.strip():
        seed = "s"
    frame = _frame({"411381001": sizes})
    for method in ("srs", "pps"):
        sample = draw_sample(frame, _rules(method=f'"{method}"'), seed)[0]
        primary = sample[sample.role == "primary"]
        assert len(primary) == min(2, len(sizes))
        assert primary.unit_code.is_unique
        assert ((primary.inclusion_prob > 0) & (primary.inclusion_prob <= 1)).all()
        assert (primary.weight * primary.inclusion_prob).round(9).eq(1).all()


def test_pps_probabilities_sum_to_n_and_certainty():
    frame = _frame({"411381001": [10, 20, 30, 40, 100], "411381002": [10, 20, 30, 40, 50]})
    rules = _rules(method='"pps"', reserves_per_township=5)
    sample = draw_sample(frame, rules, "s")[0]
    t1 = sample[sample.township_code == "411381001"].set_index("unit_code").inclusion_prob
    assert t1["411381001005"] == 1.0  # 2 * 100 >= 200: certainty
    assert sorted(t1.drop("411381001005")) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    t2 = sample[sample.township_code == "411381002"].set_index("unit_code").inclusion_prob
    assert t2.sum() == pytest.approx(2.0)
    assert sorted(t2) == pytest.approx([2 * s / 150 for s in (10, 20, 30, 40, 50)])
    assert "必然入样" in sample[sample.township_code == "411381001"].note.iloc[0]


def test_pps_frequencies_match_pi():
    frame = _frame({"411381002": [10, 20, 30, 40, 50]})
    rules = _rules(method='"pps"', reserves_per_township=0)
    pi = {f"411381002{i + 1:03d}": 2 * s / 150 for i, s in enumerate((10, 20, 30, 40, 50))}
    counts = dict.fromkeys(pi, 0)
    n = 800
    for s in range(n):
        for code in draw_sample(frame, rules, f"pps{s}")[0].unit_code:
            counts[code] += 1
    for code, p in pi.items():
        z = (counts[code] - n * p) / np.sqrt(n * p * (1 - p))
        assert abs(z) < 4, (code, counts[code], n * p)


def test_fewer_units_than_points_takes_all():
    sample = draw_sample(_frame({"411381001": [5]}), RULES, "s")[0]
    assert sample.role.tolist() == ["primary"]
    assert sample.inclusion_prob.tolist() == [1.0]
    assert "全部入样" in sample.note.iloc[0]


def test_exclusions_apply_unless_short():
    frame = _frame({"411381001": [10] * 5, "411381002": [10] * 3})
    frame.loc[frame.unit_code == "411381001001", "exclude"] = 1
    previous = {"411381001002", "411381002001", "411381002002"}
    sample, notes = draw_sample(frame, RULES, "s", previous)
    t1 = sample[sample.township_code == "411381001"]
    assert not set(t1.unit_code) & {"411381001001", "411381001002"}
    assert t1.inclusion_prob.iloc[0] == pytest.approx(2 / 3)
    assert notes["411381001"] == ["排除标记不参加抽样的单位 1 个", "排除往轮已抽样本点 1 个"]
    # township 002 has 3 units and 2 used last round: previous points come back
    assert notes["411381002"] == ["可抽单位不足，往轮已抽样本点重新纳入"]
    assert sample[sample.township_code == "411381002"].inclusion_prob.iloc[0] == pytest.approx(2 / 3)


def test_cli_draw_verify_replace_and_commit(initialised, run):
    code, out, _ = run("commit", initialised)
    assert code == 0
    fingerprint = json.loads((initialised / "commit.json").read_text(encoding="utf-8"))["fingerprint"]
    assert fingerprint in out
    code, out, _ = run("draw", initialised, "--seed", "2016-07-25 528")
    assert code == 0 and "样本点 5 个" in out
    first = (initialised / "sample.csv").read_bytes()
    record = json.loads((initialised / "draw.json").read_text(encoding="utf-8"))
    assert record["commitment"]["fingerprint"] == fingerprint
    assert record["seed"] == "2016-07-25 528" and record["algorithm_version"] == 1
    assert run("verify", initialised)[0] == 0
    # drawing twice needs --force, and the old record stays in the log
    code, _, err = run("draw", initialised, "--seed", "other")
    assert code == 1 and "--force" in err
    assert run("draw", initialised, "--seed", "2016-07-25 528", "--force")[0] == 0
    assert (initialised / "sample.csv").read_bytes() == first
    # replacement: the reserve becomes primary, verify still passes
    sample = pd.read_csv(initialised / "sample.csv", dtype=str)
    out_code = sample[(sample.township_code == "411381103") & (sample.role == "primary")].unit_code.iloc[0]
    reserve = sample[(sample.township_code == "411381103") & (sample.role == "reserve")].unit_code.iloc[0]
    code, out, _ = run("replace", initialised, out_code, "--reason", "村道被洪水冲断")
    assert code == 0 and reserve in out
    after = pd.read_csv(initialised / "sample.csv", dtype=str).set_index("unit_code")
    assert after.at[out_code, "role"] == "replaced" and after.at[reserve, "role"] == "primary"
    assert "村道被洪水冲断" in after.at[reserve, "note"]
    assert run("verify", initialised)[0] == 0
    code, _, err = run("replace", initialised, reserve, "--reason", "再次")
    assert code == 1 and "没有备选样本点" in err
    # tampering with the sample is caught and named
    text = (initialised / "sample.csv").read_text(encoding="utf-8")
    (initialised / "sample.csv").write_text(text.replace(",primary,", ",reserve,", 1), encoding="utf-8")
    code, out, _ = run("verify", initialised)
    assert code == 1 and "不一致" in out
    actions = [e["action"] for e in __import__("chouyang.round.folder", fromlist=["Round"]).Round(initialised).log_entries()]
    assert actions == ["init", "commit", "draw", "draw_superseded", "draw", "replace"]


def test_commit_then_changed_rules_refuses_draw(initialised, run):
    assert run("commit", initialised)[0] == 0
    rules = initialised / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("cap = 15", "cap = 14"), encoding="utf-8")
    code, _, err = run("draw", initialised, "--seed", "s")
    assert code == 1 and "承诺指纹" in err


def test_empty_seed_refused():
    with pytest.raises(ChouyangError, match="^随机种子不能为空（例如填写公开的彩票开奖号码或现场掷骰结果）$"):
        draw_sample(_frame({"411381001": [1, 2, 3]}), RULES, "   ")


def test_empty_exclude_cell_counts_as_zero(tmp_path):
    # inputs.load_frame keeps an empty `exclude` cell as "" ("应为 0 或 1（或留空）"); it used to crash the draw
    (tmp_path / "frame.csv").write_text(
        "township_code,township_name,unit_code,unit_name,households,population,wcba,exclude\n"
        "411381001,古城街道,411381001201,东关社区,1,1,1,\n"
        "411381001,古城街道,411381001202,西关社区,1,1,1,1\n"
        "411381001,古城街道,411381001203,南关社区,1,1,1,0\n", encoding="utf-8")
    sample, notes = draw_sample(load_frame(tmp_path / "frame.csv").frame, RULES, "s")
    assert sorted(sample.unit_code) == ["411381001201", "411381001203"]
    assert notes["411381001"] == ["排除标记不参加抽样的单位 1 个", "可抽单位只有 2 个，全部入样"]


def test_overrides_of_the_first_and_last_township():
    frame = _frame({"411381001": [10] * 4, "411381002": [10] * 4, "411381003": [10] * 4})
    rules = _rules(overrides='{ "411381001" = 1, "411381003" = 0 }', reserves_per_township=0)
    sample, notes = draw_sample(frame, rules, "s")
    assert sample.groupby("township_code").size().to_dict() == {"411381001": 1, "411381002": 2}
    assert notes == {"411381001": [], "411381002": [], "411381003": ["本乡镇规定抽取 0 个样本点"]}


def test_pps_needs_the_size_column():
    with pytest.raises(ChouyangError, match="规则要求按「wcba」做 PPS 抽样，但抽样框没有这一列"):
        draw_sample(_frame({"411381001": [1, 2, 3]}).drop(columns=["wcba"]), _rules(method='"pps"'), "s")


def test_pps_township_of_size_zero_gets_reserves_only():
    # the last township has no women at all: nothing can be drawn by size; its reserves have pi = 0
    frame = _frame({"411381001": [10, 20, 30], "411381002": [0, 0, 0]})
    sample, notes = draw_sample(frame, _rules(method='"pps"', reserves_per_township=2), "s")
    zero = sample[sample.township_code == "411381002"]
    assert zero.role.tolist() == ["reserve", "reserve"] and zero["rank"].tolist() == [1, 2]
    assert zero.inclusion_prob.tolist() == [0.0, 0.0]
    assert sample.weight.dtype == "float64" and zero.weight.isna().all()
    assert notes["411381002"] == ["规模为 0 的单位 3 个不可能入样"]


def test_frame_without_exclude_column_excludes_nothing():
    frame = _frame({"411381001": [10] * 4})
    with_column = draw_sample(frame, RULES, "s")[0]
    assert draw_sample(frame.drop(columns=["exclude", "exclude_reason"]), RULES, "s")[0].equals(with_column)


def test_pps_sizes_must_be_exact_counts():
    # k * (sum of sizes) must stay below 2^52, where int64 products and float64 quotients are exact
    one_point = _rules(method='"pps"', points_per_township=1)
    frame = _frame({"411381001": [2 ** 51, 2 ** 51 - 1]})          # 1 x (2^52 - 1): drawn exactly
    assert draw_sample(frame, one_point, "s")[0].inclusion_prob.sum() == pytest.approx(1.0)
    frame.loc[1, "wcba"] = 2 ** 51                                   # 1 x 2^52: refused
    with pytest.raises(ChouyangError, match="规模列「wcba」"):
        draw_sample(frame, one_point, "s")
    for bad in (float("nan"), -1, "多"):
        frame = _frame({"411381001": [10, 20, 30]}).astype({"wcba": object})
        frame.loc[0, "wcba"] = bad
        with pytest.raises(ChouyangError, match="应为不小于 0 的整数"):
            draw_sample(frame, _rules(method='"pps"'), "s")


def test_empty_frame_gives_an_empty_sample():
    for method in ("srs", "pps"):
        sample, notes = draw_sample(_frame({"411381001": [1]}).iloc[0:0], _rules(method=f'"{method}"'), "s")
        assert sample.empty and list(sample.columns)[-1] == "note" and notes == {}


def test_replacements_take_the_reserves_in_ticket_order(initialised, run):
    rules = initialised / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("reserves_per_township = 1", "reserves_per_township = 2"),
                     encoding="utf-8")
    assert run("draw", initialised, "--seed", "2016-07-25 528")[0] == 0
    # 古城街道 tickets, printf '%s' '2016-07-25 528|2016H1|4113810012xx' | sha256sum:
    # 201 179c4f99…, 204 5b5da5ca…, 202 878df8f5…, 203 b45fb2ff… -> primaries 201, 204; reserves 202, 203
    town = pd.read_csv(initialised / "sample.csv", dtype=str).query("township_code == '411381001'")
    assert list(zip(town.unit_code, town.role, town["rank"])) == [
        ("411381001201", "primary", "1"), ("411381001204", "primary", "2"),
        ("411381001202", "reserve", "3"), ("411381001203", "reserve", "4")]
    code, out, _ = run("replace", initialised, "411381001201", "--reason", "村道被洪水冲断")
    assert code == 0 and "411381001202" in out  # the next reserve by ticket, not the last one
    code, out, _ = run("replace", initialised, "411381001204", "--reason", "村委会无人")
    assert code == 0 and "411381001203" in out
    roles = pd.read_csv(initialised / "sample.csv", dtype=str).set_index("unit_code").role
    assert roles[["411381001201", "411381001202", "411381001203", "411381001204"]].tolist() == [
        "replaced", "primary", "primary", "replaced"]
    assert run("verify", initialised)[0] == 0
    code, _, err = run("replace", initialised, "411381001202", "--reason", "再次")
    assert code == 1 and "乡镇 古城街道（411381001）已没有备选样本点可用" in err


def test_sample_csv_bytes_by_hand():
    # a byte-order mark, then the bytes pandas' to_csv wrote before: missing text empty, 12 significant digits, csv-module quoting
    sample = pd.DataFrame({
        "round_id": ["2016H1", "2016H1"], "township_code": ["411381001", "411381001"],
        "township_name": ["古城街道", None], "unit_code": ["411381001201", "411381001202"],
        "unit_name": ["东关,一组", '西关"新"村'], "role": ["primary", "reserve"], "rank": [1, 2],
        "inclusion_prob": [2 / 3, 0.0], "weight": [1.5, float("nan")], "note": ["", "第一行\n第二行"]})
    assert sample_csv_bytes(sample).decode("utf-8") == (
        "\ufeffround_id,township_code,township_name,unit_code,unit_name,role,rank,inclusion_prob,weight,note\n"
        '2016H1,411381001,古城街道,411381001201,"东关,一组",primary,1,0.666666666667,1.5,\n'
        '2016H1,411381001,,411381001202,"西关""新""村",reserve,2,0,,"第一行\n第二行"\n')
    assert sample_csv_bytes(sample.iloc[0:0]) == (",".join(sample.columns) + "\n").encode("utf-8-sig")
