"""chouyang serve: web entry of an instrument written only as a test fixture (no Python of its own).

The instrument is 入户核查 (tests/responses_support.py) plus a blank repeat: asked once per sample
point, a section with skip logic, every answer type, and a repeat over the point's register women.
411381001201 has one register woman, W001 王秀英 (serve_support).  The round's instruments come from
`instrument_entry.SOURCE`, which the tests point at this fixture.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from responses_support import VISIT
from starlette.testclient import TestClient

from chouyang.entry import instrument_entry as ie
from chouyang.inputs.readers import mask_id
from chouyang.instruments.model import Field, Group
from chouyang.round import store as instrument_store
from chouyang.serve import create_app

from serve_support import UNIT, cheap_password_hashes, copy_round, make_round  # noqa: F401 (a fixture)

FOUND = Group("found", "新发现的育龄妇女", repeat=True, rows="blank", blank_rows=2, children=(
    Field("found_name", "text", "姓名", required="yes"),
    Field("found_age", "integer", "年龄", constraint=". >= 15 and . <= 49", constraint_message="年龄应在 15—49 岁之间"),
))
HOUSEHOLD = replace(VISIT, name="household", title="入户核查", children=VISIT.children + (FOUND,))
URL = f"/instruments/household/{UNIT}"


def client_for(rnd, name: str = "张三") -> TestClient:
    client = TestClient(create_app(rnd), base_url="http://127.0.0.1:8000", follow_redirects=False)
    assert client.post("/login", data={"csrf": csrf(client), "name": name, "next": "/progress"}).status_code == 303
    return client


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)


def post(client: TestClient, url: str, data: dict):
    return client.post(url, data={"csrf": csrf(client), **data})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_round(tmp_path_factory.mktemp("instruments") / "base")


@pytest.fixture
def rnd(base, tmp_path, monkeypatch):
    monkeypatch.setattr(ie, "SOURCE", lambda rnd: {"household": HOUSEHOLD})
    return copy_round(base, tmp_path / "R")


def answers(**changes) -> dict:
    """A complete, valid paper form of UNIT: visited, 3 at home, W001 属实, one woman found."""
    form = {"f/visited": "1", "f/people": "3", "f/methods": ["iud", "pill"], "f/income": "1200.5",
            "f/visit_date": "2016-07-26", "f/remark": "", "r/women/0/result": "ok", "r/women/0/true_birth_date": "",
            "rows/found": "3", "r/found/0/found_name": "李梅", "r/found/0/found_age": "31"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def key(client, form: dict, url: str = URL):
    return post(client, url, form)


def stored(rnd):
    with rnd.store() as con:
        return instrument_store.stored_response(con, "household", UNIT)


def test_the_list_shows_the_points_and_the_progress(rnd):
    client = client_for(rnd, "张三")
    page = client.get("/instruments").text
    assert "入户核查" in page and "样本点 <b>5</b>，第 1 遍已提交 <b>0</b>" in page
    assert key(client, answers()).status_code == 303
    page = client.get("/instruments").text
    assert "第 1 遍已提交 <b>1</b>，第 2 遍已提交 <b>0</b>，已核定 <b>0</b>" in page
    row = re.search(rf'<tr data-unit="{UNIT}">(.*?)</tr>', page, re.S).group(1)
    assert "张三·已提交" in row and "录入中" in row


def test_the_entry_page_is_made_from_the_definition(rnd):
    page = client_for(rnd).get(URL).text
    assert "第 1 遍" in page
    assert 'type="radio" name="f/visited" value="1"' in page and 'type="radio" name="f/visited" value="2"' in page
    assert 'type="checkbox" name="f/methods" value="iud"' in page
    assert '<textarea name="f/reason"' in page and 'name="f/people"' in page and 'inputmode="numeric"' in page
    assert "说明：逐户核对" in page  # the note, as text
    assert f'data-field="unit_code" data-scope="" data-row="" data-locked data-value="{UNIT}"' in page  # preloaded
    # the register repeat: W001 printed and locked, its result asked in the row
    assert 'data-field="ref" data-scope="women" data-row="0" data-locked data-value="W001"' in page
    assert 'name="r/women/0/result"' in page and 'name="r/women/1/result"' not in page
    # the blank repeat: two rows at least, three more than none keyed
    assert 'name="rows/found" value="3"' in page and 'name="r/found/2/found_name"' in page
    # logic for the browser: the trees, not the text
    logic = re.search(r'<script type="application/json" id="instrument-logic">(.*?)</script>', page, re.S).group(1)
    assert '"/reason": {"constraint": null, "relevant": [["=", ["ref", "visited"], ["lit", "2"]]]}' in logic
    assert "在家人数应在 0—20 之间" in page and "年龄应在 15—49 岁之间" in page


def test_a_refused_post_shows_located_problems_and_stores_nothing(rnd):
    client = client_for(rnd)
    form = answers(**{"f/people": "25", "f/reason": "不在家", "r/women/0/result": "",
                      "r/found/1/found_age": "30"})
    r = key(client, form)
    assert r.status_code == 400
    text = re.sub(r"<[^>]+>", "", r.text)
    assert "录入内容有误，未保存（共 4 处）" in text
    assert "网页录入「入户核查」411381001201，列「在家人数（people）」：在家人数应在 0—20 之间（值：25）" in text
    assert "列「未入户原因（reason）」：此题应跳过" in text
    assert "工作表「育龄妇女核对」，第 1 行，列「核实结果（result）」：必填，未填写" in text
    assert "工作表「新发现的育龄妇女」，第 2 行，列「姓名（found_name）」：必填，未填写" in text
    assert 'value="25"' in r.text and "李梅" in r.text  # what was keyed is kept on the page
    with rnd.store() as con:
        assert instrument_store.passes(con, "household") == []
    assert rnd.log_entries("instrument_pass") == []


def test_two_equal_passes_are_settled_and_stored_as_keyed(rnd):
    first, second = client_for(rnd, "张三"), client_for(rnd, "李四")
    assert key(first, answers()).headers["location"] == "/instruments"
    assert stored(rnd) is None
    assert "已提交" in first.get(URL).text and 'name="f/visited"' not in first.get(URL).text  # no second look
    page = second.get(URL).text
    assert "第 2 遍" in page and "1200.5" not in page and "李梅" not in page  # blind: nothing of the first pass
    r = key(second, answers(**{"f/income": "1200.50"}))  # the same number, keyed differently
    assert r.status_code == 303 and "两遍一致" in second.get("/instruments").text
    response = stored(rnd)
    assert response.values == {"unit_code": UNIT, "visited": "1", "reason": "", "people": "3", "methods": "iud pill",
                               "income": "1200.5", "visit_date": "2016-07-26", "remark": ""}
    assert response.rows == {"women": [{"ref": "W001", "result": "ok", "true_birth_date": ""}],
                             "found": [{"found_name": "李梅", "found_age": "31"}]}
    [settle] = rnd.log_entries("instrument_settle")
    assert settle["user"] == "李四" and settle["detail"]["differences"] == 0
    assert settle["detail"]["clerks"] == {"1": "张三", "2": "李四"}
    assert [e["user"] for e in rnd.log_entries("instrument_pass")] == ["张三", "李四"]
    assert key(client_for(rnd, "王五"), answers()).status_code == 400  # settled: no more keying


def test_two_differing_passes_are_adjudicated_field_by_field(rnd):
    first, second, judge = client_for(rnd, "张三"), client_for(rnd, "李四"), client_for(rnd, "王五")
    key(first, answers())
    r = key(second, answers(**{"f/people": "4", "r/women/0/result": "wrong", "r/women/0/true_birth_date": "1990-05-01",
                               "r/found/0/found_age": "13"}))
    assert r.status_code == 400 and "年龄应在 15—49 岁之间" in r.text  # the second pass is validated too
    r = key(second, answers(**{"f/people": "4", "r/women/0/result": "wrong", "r/women/0/true_birth_date": "1990-05-01"}))
    assert r.headers["location"] == f"{URL}/settle" and stored(rnd) is None
    page = judge.get(f"{URL}/settle").text
    rows = re.findall(r'<tr data-path="([^"]+)">(.*?)</tr>', page, re.S)
    assert [p for p, _ in rows] == ["f/people", "r/women/0/result", "r/women/0/true_birth_date"]
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in rows[1][1].split("</td>")]
    assert cells[:6] == ["育龄妇女核对", "1", "W001", "核实结果", "ok 属实", "wrong 错报"]
    # one left open: refused, located, nothing stored
    r = post(judge, f"{URL}/settle", {"pick/f/people": "@1", "pick/r/women/0/result": "@2"})
    assert r.status_code == 400 and "工作表「育龄妇女核对」，第 1 行，列「实际出生日期（true_birth_date）」" in r.text
    assert stored(rnd) is None
    # a third value for the number of people, the second pass's result and date
    r = post(judge, f"{URL}/settle", {"pick/f/people": "@3", "third/f/people": "5", "pick/r/women/0/result": "@2",
                                      "pick/r/women/0/true_birth_date": "@2"})
    assert r.status_code == 303
    response = stored(rnd)
    assert response.values["people"] == "5"
    assert response.rows["women"] == [{"ref": "W001", "result": "wrong", "true_birth_date": "1990-05-01"}]
    assert response.rows["found"] == [{"found_name": "李梅", "found_age": "31"}]
    [settle] = rnd.log_entries("instrument_settle")
    assert settle["user"] == "王五" and settle["detail"]["differences"] == 3
    assert "已核定入库" in judge.get(f"{URL}/settle").text


def test_a_settlement_is_validated_like_a_pass(rnd):
    key(client_for(rnd, "张三"), answers())
    key(client_for(rnd, "李四"), answers(**{"f/people": "4"}))
    judge = client_for(rnd, "王五")
    r = post(judge, f"{URL}/settle", {"pick/f/people": "@3", "third/f/people": "30"})
    assert r.status_code == 400 and "在家人数应在 0—20 之间（值：30）" in r.text and stored(rnd) is None


def test_the_same_clerk_cannot_key_the_second_pass(rnd):
    first = client_for(rnd, "张三")
    key(first, answers())
    r = key(first, answers(**{"f/people": "4"}))
    assert r.status_code == 400 and "张三 已提交第 1 遍录入" in r.text and "两名录入员分别录入" in r.text
    key(client_for(rnd, "李四"), answers(**{"f/people": "4"}))
    r = key(client_for(rnd, "王五"), answers())
    assert r.status_code == 400 and "已分别由 张三、李四 负责" in r.text
    with rnd.store() as con:
        assert [(p.number, p.clerk) for p in instrument_store.passes(con, "household")] == [(1, "张三"), (2, "李四")]


def test_unknown_instruments_and_points_are_refused(rnd):
    client = client_for(rnd)
    assert "本轮没有名为 nothing 的调查表" in client.get(f"/instruments/nothing/{UNIT}").text
    assert "411381999999 不是本轮的样本点" in client.get("/instruments/household/411381999999").text
    r = post(client, URL, {"csrf": "forged"})
    assert r.status_code == 403


# --- fixed lists, masked register IDs, a broken definition ---------------------------------------

ROSTER = replace(VISIT, name="roster", title="服务室核查", children=(
    Group("women", "育龄妇女", repeat=True, rows="register", table="women", key="ref", children=(
        Field("ref", "text", "编号", prefill="ref"),
        Field("person_id", "text", "身份证号", prefill="person_id"),
        Field("result", "select_one", "核实结果", choices="result", required="yes"),
    )),
    Group("items", "服务设施", repeat=True, rows="fixed", key="item", fixed=(("room", "计生服务室"), ("board", "宣传栏")),
          children=(Field("present", "select_one", "有无", choices="yn", required="yes"),)),
))


def test_fixed_rows_and_register_ids_masked_on_the_page_kept_whole_in_the_pass(rnd, monkeypatch):
    monkeypatch.setattr(ie, "SOURCE", lambda rnd: {"roster": ROSTER})
    person_id = rnd.checklists([UNIT])[UNIT].sections["women_check"].person_id.iloc[0]
    client = client_for(rnd)
    page = client.get(f"/instruments/roster/{UNIT}").text
    assert person_id not in page and f'data-value="{mask_id(person_id)}"' in page
    assert "<td>计生服务室</td>" in page and "<td>宣传栏</td>" in page
    form = {"r/women/0/result": "ok", "r/items/0/present": "1", "r/items/1/present": "2",
            "r/women/0/person_id": "000000000000000000", "r/items/0/item": "forged"}  # locked cells: ignored
    assert post(client, f"/instruments/roster/{UNIT}", form).status_code == 303
    with rnd.store() as con:
        [first] = instrument_store.passes(con, "roster")
    assert first.data["rows"] == {"women": [{"ref": "W001", "person_id": person_id, "result": "ok"}],
                                  "items": [{"item": "room", "present": "1"}, {"item": "board", "present": "2"}]}


def test_a_definition_with_a_broken_expression_is_named(rnd, monkeypatch):
    broken = replace(VISIT, name="broken", children=(Field("age", "integer", "年龄", constraint=". >= "),))
    monkeypatch.setattr(ie, "SOURCE", lambda rnd: {"broken": broken})
    r = client_for(rnd).get(f"/instruments/broken/{UNIT}")
    assert r.status_code == 400 and "调查表「入户核查」的题目「年龄（age）」的表达式有误" in r.text


# --- adjudication: taking one pass everywhere gives that pass back (hypothesis) --------------------

_TEXT = st.sampled_from(["", "1", "2", "iud pill", "李梅"])
_FOUND_ROW = st.fixed_dictionaries({"found_name": st.sampled_from(["李梅", "王芳"]), "found_age": st.sampled_from(["", "30"])})


@st.composite
def pass_data(draw) -> dict:
    values = {f.name: draw(_TEXT) for f in ie.top_fields(HOUSEHOLD) if f.type not in ("note", "calculate")}
    return {"values": {"unit_code": UNIT, **values},
            "rows": {"women": [{"ref": "W001", "result": draw(_TEXT), "true_birth_date": draw(_TEXT)}],
                     "found": draw(st.lists(_FOUND_ROW, max_size=3))}}


@settings(max_examples=150, deadline=None)
@given(pass_data(), pass_data(), st.sampled_from(["@1", "@2"]))
def test_settling_every_difference_one_way_gives_that_pass(a, b, pick):
    assert ie.compare(HOUSEHOLD, a, a) == []
    subject = ie.Subject(UNIT, "东关社区", "古城街道", {n: instrument_store.StoredPass("household", UNIT, "", n, c, "done", d, "")
                                                        for n, c, d in ((1, "张三", a), (2, "李四", b))})
    adj = ie.Adjudication(subject, ie.compare(HOUSEHOLD, a, b))
    chosen, open_ = ie._decided(adj, {ie.decision_path(d.path): pick for d in adj.differences}, "测试")
    assert open_ == []
    final = ie._final_raw(HOUSEHOLD, adj, chosen)
    assert instrument_store.response_data(final) == (a if pick == "@1" else b)


def test_a_note_quoting_an_answer_reads_as_on_paper():
    # the web page names the question a note quotes, as the printed page does, never the raw ${…} reference
    from chouyang.instruments.model import Instrument
    from chouyang.serve.instrument_pages import question
    income = Field("income", "integer", "每月收入")
    note = Field("check", "note", "请核对：${income} 是否包括奖励扶助金")
    inst = Instrument("money", "收入核对", "SR1", "1", "point", (income, note))
    assert question(inst, note, "", "check", None, None, set())["label"] == "请核对：「每月收入」 是否包括奖励扶助金"
    assert question(inst, income, "", "income", None, None, set())["label"] == "每月收入"
