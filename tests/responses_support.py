"""A small instrument written only as a test fixture, for the responses, ODK and export tests.

入户核查 (visit): asked once per sample point, with a section `visit` (skip logic between its
questions), answers of every type, a note, the preloaded unit_code, and a repeat over the women
register (`women`, key `ref`).
"""

from __future__ import annotations

from dataclasses import replace

from chouyang.instruments.model import Choice, ChoiceList, Field, Group, Instrument

YES_NO = ChoiceList("yn", (Choice("1", "是"), Choice("2", "否")))
METHODS = ChoiceList("methods", (Choice("iud", "上环"), Choice("ster", "结扎"), Choice("pill", "药具")))
RESULTS = ChoiceList("result", (Choice("ok", "属实"), Choice("gone", "迁出"), Choice("wrong", "错报")))

VISIT_SECTION = Group("visit", "入户情况", children=(
    Field("visited", "select_one", "是否入户", choices="yn", required="yes"),
    Field("reason", "text", "未入户原因", relevant="${visited} = '2'", required="yes"),
    Field("people", "integer", "在家人数", relevant="${visited} = '1'", constraint=". >= 0 and . <= 20",
          constraint_message="在家人数应在 0—20 之间"),
    Field("methods", "select_multiple", "节育措施", choices="methods", relevant="${visited} = '1'"),
))

WOMEN = Group("women", "育龄妇女核对", repeat=True, rows="register", table="women", key="ref", children=(
    Field("ref", "text", "编号", prefill="ref"),
    Field("result", "select_one", "核实结果", choices="result", required="yes"),
    Field("true_birth_date", "date", "实际出生日期", relevant="${result} = 'wrong'", required="yes",
          constraint=". <= ${visit_date}", constraint_message="实际出生日期不能晚于走访日期"),
))

VISIT = Instrument(
    name="visit", title="入户核查", code="T1", version="1", per="point",
    children=(
        Field("unit_code", "calculate", "村代码"),
        Field("intro", "note", "说明：逐户核对"),
        VISIT_SECTION,
        Field("income", "decimal", "人均收入", required="${visited} = '1'"),
        Field("visit_date", "date", "走访日期", required="yes", constraint=". <= today()"),
        Field("remark", "text", "备注"),
        WOMEN,
    ),
    choices={c.name: c for c in (YES_NO, METHODS, RESULTS)},
    source="visit.toml",
)

# the same without the repeat: what a phone form asked once per point looks like
VISIT_POINT = replace(VISIT, name="visit_point", children=VISIT.children[:-1])
