"""Consequence branches test_assessment's county does not reach (assessment/consequences.py), computed by hand.

A component-ranked 表彰 skips barred townships and takes every tie; 重点帮助 goes to every township tied
last in its county; a 单项预警 tie at the boundary takes all of them.
"""

import pandas as pd

from chouyang.assessment.facts import Entries
from chouyang.assessment.scheme import parse_scheme
from chouyang.assessment.scoring import assess

SCHEME = """
[scheme]
name = "后果分支"
section = "第六篇 第1篇"
period = "full"

[composite]
points = 110

[[component]]
id = "main"
title = "主要工作"
points = 100
source = "entered"

[[component]]
id = "sat"
title = "群众满意度"
points = 10
source = "entered"

[[flag]]
id = "accident"
title = "重大责任事故"
consequence = "veto"

[[consequence]]
id = "veto"
kind = "veto"
label = "一票否决"

[[consequence]]
id = "manage"
kind = "bottom"
label = "重点管理"
n = 1

[[consequence]]
id = "praise"
kind = "top"
label = "表彰"
n = 1
component = "sat"

[[consequence]]
id = "warn"
kind = "bottom"
label = "单项预警"
n = 1
component = "sat"

[[consequence]]
id = "help"
kind = "county_last"
label = "重点帮助"
skip = ["manage"]
"""

#            code         name  main sat   total rank
TOWNS = [("411381001", "A镇", 90, 10),  # 100   1  vetoed
         ("411381002", "B镇", 80, 9),   # 89    2
         ("411381003", "C镇", 70, 9),   # 79    4
         ("411381004", "D镇", 60, 5),   # 65    7  last: 重点管理
         ("411382001", "E镇", 70, 6),   # 76    5  (tie)
         ("411382002", "F镇", 70, 6),   # 76    5  (tie)
         ("411382003", "G镇", 80, 8)]   # 88    3


def _assess(towns=TOWNS):
    scheme = parse_scheme(SCHEME, "branches.toml")
    table = pd.DataFrame([(c, n) for c, n, _, _ in towns], columns=["township_code", "township_name"])
    scores = [{"township_code": c, "component": comp, "score": str(v), "evidence": ""}
              for c, _, main, sat in towns for comp, v in (("main", main), ("sat", sat))]
    flags = [{"township_code": "411381001", "flag": "accident", "value": "是", "reason": "手术事故", "evidence": "通报"}]
    return assess(scheme, table, Entries.from_records(scores=scores, flags=flags))


def test_component_top_skips_barred_and_ties_and_county_last_ties():
    a = _assess()
    t = a.townships.set_index("township_name")
    assert list(t["rank"]) == [1, 2, 3, 4, 5, 5, 7]
    assert t.consequences.to_dict() == {
        "A镇": "一票否决",            # best 群众满意度 (10), but vetoed: no 表彰
        "B镇": "表彰",                # 9, tied with C for the one place
        "G镇": "",
        "C镇": "表彰、重点帮助",      # county 411381's last (D) is 重点管理: passed up to C
        "E镇": "重点帮助",            # county 411382: E and F tie last
        "F镇": "重点帮助",
        "D镇": "重点管理、单项预警",  # last overall; lowest 群众满意度 (5)
    }
    assert "「表彰」名额 1 个，因得分并列共 2 个乡镇：B镇、C镇" in a.notes
    assert "「重点帮助」：县（市、区）411382 并列 2 个乡镇：E镇、F镇" in a.notes
    trace = a.consequences.set_index(["township_code", "consequence"]).reason
    assert trace[("411381002", "praise")] == "「群众满意度」得分 9（前 1 名）"
    assert trace[("411381003", "help")] == "县（市、区）411381 内排名最后（最后一名已列入重点管理，往后顺延）"
    assert trace[("411382001", "help")] == "县（市、区）411382 内排名最后"
    assert trace[("411381001", "veto")] == "重大责任事故：手术事故"
    assert trace[("411381004", "warn")] == "「群众满意度」得分 5（后 1 名）"


def test_component_bottom_tie_takes_every_tied_township():
    towns = [(c, n, main, 6 if n == "D镇" else sat) for c, n, main, sat in TOWNS]  # D: 60 + 6 = 66, still last
    a = _assess(towns)
    warned = a.consequences[a.consequences.consequence == "warn"]
    assert list(warned.township_code) == ["411382001", "411382002", "411381004"]  # E, F (rank 5), D (rank 7)
    assert set(warned.reason) == {"「群众满意度」得分 6（后 1 名）"}
    assert "「单项预警」名额 1 个，因得分并列共 3 个乡镇：E镇、F镇、D镇" in a.notes
