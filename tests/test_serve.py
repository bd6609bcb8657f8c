"""chouyang serve over HTTP (Starlette's TestClient): every page and action, logins, CSRF, masking, the log.

One tiny round is drawn and planned once per module (`base`); a test that writes copies it.
The numbers are the tiny county's: 411381001201 has one register woman (W001, 王秀英),
one birth (B001, parity 1) and one IUD insertion (S001); dengzhou-2016h1 charges a confirmed
一孩 birth case 2 points, confirmation needs 3 witnesses and 调查组查实 = 是.
"""

from __future__ import annotations

import csv
import io
import json
import re

import openpyxl
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from chouyang import steps
from chouyang.cli import cli
from chouyang.entry import keyed
from chouyang.render.survey_workbook import column_of
from chouyang.serve import create_app, workstation

from conftest import make_id
from serve_support import (  # noqa: F401 (a fixture)
    GUCHENG,
    UNIT,
    WITNESS_OPTIONS,
    cheap_password_hashes,
    copy_round,
    make_round,
    write_scan_review,
)

BASE_URL = "http://127.0.0.1:8000"
TICKS = "ticks"
RESULT_OPTIONS = ["属实", "虚报", "错报"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_round(tmp_path_factory.mktemp("serve") / "base")


@pytest.fixture
def rnd(base, tmp_path):
    return copy_round(base, tmp_path / "R")


def client_for(rnd, name: str | None = "张三", password: str | None = None) -> TestClient:
    client = TestClient(create_app(rnd), base_url=BASE_URL, follow_redirects=False)
    if name is not None:
        data = {"csrf": csrf(client), "name": name, "next": "/progress"}
        if password is not None:
            data["password"] = password
        assert client.post("/login", data=data).status_code == 303
    return client


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)


def post(client: TestClient, url: str, data: dict | None = None, **kw):
    return client.post(url, data={"csrf": csrf(client), **(data or {})}, **kw)


def birth_false(witnesses: str = "3", verified: str = "是") -> dict:
    """Form fields keying B001 of UNIT as 虚报 and every other register row 属实."""
    return {"women_check.0.result": "属实", "births_check.0.result": "虚报", "births_check.0.witnesses": witnesses,
            "births_check.0.verified": verified, "procedures_check.0.result": "属实",
            "missed_births.rows": "0", "missed_women.rows": "0"}


def key_pass(client: TestClient, values: dict, finish: bool = True):
    return post(client, f"/entry/{UNIT}", {**values, "finish": "1" if finish else "0"})


# --- logins, sessions, CSRF, headers ---------------------------------------------------------

def test_pages_need_a_login_and_the_login_needs_the_csrf_token(base):
    client = client_for(base, name=None)
    r = client.get("/progress")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/progress"
    assert client.post("/login", data={"name": "张三"}).status_code == 403
    assert client.post("/score", data={}).status_code == 401  # not logged in: no write at all
    r = client.post("/login", data={"csrf": csrf(client), "name": "张三", "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/progress"  # never redirected off the server
    assert "张三（本机）" in client.get("/progress").text


def test_every_post_route_checks_the_csrf_token(base):
    client = client_for(base)
    posts = [r for r in client.app.routes if "POST" in (getattr(r, "methods", None) or ())]
    assert len(posts) >= 8 and all(getattr(r.endpoint, "guarded", False) for r in posts)
    for route in posts:
        url = route.path.replace("{unit}", UNIT).replace("{item}", "x").replace("{township}", GUCHENG)
        r = client.post(url, data={"csrf": "forged", "status": "有异议"})
        assert r.status_code == 403 and "安全校验未通过" in r.text, url


def test_security_headers_and_loopback_host_names(base):
    client = client_for(base)
    r = client.get("/progress")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert "HttpOnly" in client_for(base, name=None).get("/login").headers["set-cookie"]
    assert client.get("/progress", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/font/cjk.ttc", headers={"range": "bytes=0-3"}).content == b"ttcf"


def test_accounts_require_a_password_and_logout_ends_the_session(rnd):
    assert steps.add_user(rnd, "李四", "correct horse") == "added"
    assert client_for(rnd, name=None).post("/login", data={"csrf": "x"}).status_code == 403
    anonymous = client_for(rnd, name=None)
    r = anonymous.post("/login", data={"csrf": csrf(anonymous), "name": "李四", "password": "wrong pass"})
    assert r.status_code == 401 and "用户名或密码不对" in r.text
    r = anonymous.post("/login", data={"csrf": csrf(anonymous), "name": "李四"})  # a name alone is not enough
    assert r.status_code == 401
    client = client_for(rnd, "李四", "correct horse")
    assert client.get("/progress").status_code == 200
    old_cookie = client.cookies.get("chouyang_session")
    assert post(client, "/logout").status_code == 303
    client.cookies.set("chouyang_session", old_cookie)
    assert client.get("/progress").status_code == 303  # the old session id is worth nothing
    assert [e["detail"] for e in rnd.log_entries("user_add")] == [{"name": "李四"}]
    with rnd.store() as con:
        stored = con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_a_name_only_session_ends_when_accounts_appear(rnd, monkeypatch):
    client = client_for(rnd, "王五")
    assert client.get("/entry").status_code == 200
    steps.add_user(rnd, "李四", "correct horse")
    monkeypatch.setattr("chouyang.serve.app.USERS_CHECK_SECONDS", 0.0)
    assert client.get("/entry").status_code == 303


def test_cli_user_add_prompts_twice_and_serve_refuses_other_hosts_without_accounts(rnd):
    runner = CliRunner()
    r = runner.invoke(cli, ["serve", str(rnd.path), "--host", "0.0.0.0"])
    assert r.exit_code != 0 and "必须先建立用户账户" in str(r.exception)
    r = runner.invoke(cli, ["user", "add", str(rnd.path), "赵六"], input="short\nshort\n")
    assert "密码太短" in str(r.exception)
    r = runner.invoke(cli, ["user", "add", str(rnd.path), "赵六"], input="long enough\nlong enoug\n")
    assert r.exit_code != 0 and steps.users(rnd) == []  # the two entries differ: nothing stored
    r = runner.invoke(cli, ["user", "add", str(rnd.path), "赵六"], input="long enough\nlong enough\n")
    assert r.exit_code == 0 and "用户 赵六 已建立" in r.output
    assert steps.users(rnd) == ["赵六"]
    assert runner.invoke(cli, ["user", "list", str(rnd.path)]).output.strip() == "赵六"


# --- 进度 ------------------------------------------------------------------------------------------

def test_dashboard_counts_points_entries_scans_reviews_and_cases(rnd):
    client = client_for(rnd)
    key_pass(client, birth_false())
    key_pass(client_for(rnd, "李四"), birth_false())
    assert post(client, f"/entry/{UNIT}/settle", {}).status_code == 303  # no mismatch: stored at once
    write_scan_review(rnd, "411381103201", [{"sheet": "women_check", "ref": "W001",
                                             "fields": [("result", TICKS, ["属实", "查无此人", "迁出", "死亡"], "", 0.4)]}])
    layout = {"pages": [{}, {}, {}]}
    rnd.forms_dir.mkdir(exist_ok=True)
    (rnd.forms_dir / "411381103201.layout.json").write_text(json.dumps(layout), encoding="utf-8")
    rnd.log("scan", {"units": {"411381103201": 2}})
    r = client.get("/progress/tables")
    assert r.status_code == 200 and "<h2>按乡镇</h2>" in r.text
    towns = {row[0]: row[1:] for row in _table(r.text, "by-township")}
    # 样本点, 已录入, 扫描页, 缺页, 待核对, 确认误差, 待核实, 撤销, 异议未结
    assert towns["古城街道"] == ["2", "1", "0", "0", "0", "1", "0", "0", "0"]
    assert towns["㴔滩镇"] == ["2", "0", "2/3", "1", "1", "0", "0", "0", "0"]
    team = _table(r.text, "by-team")
    assert ["02", "2016-07-26", "古城街道", "1", "1", "0", "0", "0", "1", "0", "0", "0"] in team  # fewest days: 2
    assert ["01", "2016-07-27", "㴔滩镇", "1", "0", "2/3", "1", "1", "0", "0", "0", "0"] in team
    assert "样本点 <b>5</b>，已录入 <b>1</b>" in client.get("/progress").text


def _csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _table(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


# --- 录入: blind double entry ---------------------------------------------------------------------

def test_double_entry_is_blind_and_mismatches_are_settled_then_ingested(rnd):
    first, second, judge = client_for(rnd, "张三"), client_for(rnd, "李四"), client_for(rnd, "王五")
    assert key_pass(first, birth_false("4")).status_code == 303
    form = second.get(f"/entry/{UNIT}").text
    assert "第 2 遍" in form and 'value="4"' not in form  # the second clerk never sees the first's values
    key_pass(second, birth_false("3"))
    overview = _table(judge.get("/entry").text, "entry-units")
    assert [UNIT in r[1] and r[2:5] for r in overview if UNIT in r[1]] == [["张三·已提交", "李四·已提交", "1 处"]]
    page = judge.get(f"/entry/{UNIT}/settle").text
    assert _table(page, "mismatches") == [["出生核对", "4", "B001", "反映群众人数", "4", "3"]]
    r = post(judge, f"/entry/{UNIT}/settle", {**birth_false(""), "births_check.0.witnesses": ""})
    assert r.status_code == 400 and "还有 1 处差异没有选择" in r.text and "第 4 行" in r.text
    assert rnd.entries() == {}
    r = post(judge, f"/entry/{UNIT}/settle", {**birth_false(""), "births_check.0.witnesses": "@1"})
    assert r.status_code == 303
    stored = rnd.entries()[UNIT]
    assert stored["births_check"] == [{"note": "", "ref": "B001", "result": "虚报", "true_birth_date": "",
                                       "true_parity": "", "true_sex": "", "verified": "是", "witnesses": "4"}]
    [ingest] = rnd.log_entries("ingest")
    assert ingest["user"] == "王五" and ingest["detail"]["unit_code"] == UNIT
    rates = _table(judge.get("/entry").text, "clerk-rates")
    # Every entry column of every row: women 5 + births 7 + procedures 5 = 17 fields; 李四 differs in 1.
    assert rates == [["张三", "1", "17", "0", "0.00%"], ["李四", "1", "17", "1", "5.88%"]]
    assert "已核定入库" in judge.get(f"/entry/{UNIT}/settle").text
    assert key_pass(first, birth_false()).status_code == 400  # settled: no more keying


def test_keyed_values_get_the_ingest_validation_and_nothing_is_half_stored(rnd):
    first, second = client_for(rnd, "张三"), client_for(rnd, "李四")
    bad = birth_false(witnesses="")  # an error row without witnesses, keyed the same twice
    key_pass(first, bad)
    key_pass(second, bad)
    r = post(first, f"/entry/{UNIT}/settle", bad)
    assert r.status_code == 400
    assert "工作表「出生核对」，第 4 行，列「反映群众人数」：误差行必须填写反映群众人数" in r.text
    assert "数据库没有任何改动" in r.text and rnd.entries() == {} and not rnd.log_entries("ingest")
    r = post(first, f"/entry/{UNIT}/settle", birth_false())  # corrected on the adjudication form
    assert r.status_code == 303 and rnd.entries()[UNIT]["births_check"][0]["witnesses"] == "3"


def test_a_clerk_cannot_key_both_passes_and_a_third_waits(rnd):
    first = client_for(rnd, "张三")
    key_pass(first, birth_false(), finish=False)
    assert "第 1 遍" in first.get(f"/entry/{UNIT}").text  # still their own pass, values kept
    key_pass(first, birth_false())
    assert "已提交" in first.get(f"/entry/{UNIT}").text
    assert key_pass(first, birth_false()).status_code == 400
    key_pass(client_for(rnd, "李四"), birth_false())
    assert "两遍录入已由其他录入员负责" in client_for(rnd, "王五").get(f"/entry/{UNIT}").text
    assert key_pass(client_for(rnd, "王五"), birth_false()).status_code == 400


def test_keyed_id_numbers_are_never_shown_unmasked(rnd):
    pid = make_id("19920101", 8)
    found = {"missed_women.rows": "1", "missed_women.0.person_id": pid, "missed_women.0.name": "周某",
             "missed_women.0.birth_date": "1992-01-01", "missed_women.0.marital_status": "初婚",
             "missed_women.0.contraception": "无", "missed_women.0.witnesses": "3", "missed_women.0.verified": "是"}
    first, second = client_for(rnd, "张三"), client_for(rnd, "李四")
    key_pass(first, {**birth_false(), **found}, finish=False)
    page = first.get(f"/entry/{UNIT}").text
    assert pid not in page and f"{pid[:6]}********{pid[-4:]}" in page
    key_pass(first, {**birth_false(), **{k: v for k, v in found.items() if k != "missed_women.0.person_id"}})
    other = pid[:8] + ("1" if pid[8] != "1" else "2") + pid[9:]
    key_pass(second, {**birth_false(), **found, "missed_women.0.person_id": other})
    page = second.get(f"/entry/{UNIT}/settle").text
    assert pid not in page and other not in page and "第 9 位不同" in page
    r = post(second, f"/entry/{UNIT}/settle", {**birth_false(), **found, "missed_women.0.person_id": "@1"})
    assert r.status_code == 303 and rnd.entries()[UNIT]["missed_women"][0]["person_id"] == pid
    for url in ("/entry", "/progress", f"/cases/{GUCHENG}", f"/entry/{UNIT}/settle", "/log"):
        assert pid not in first.get(url).text, url


def test_log_page_lists_every_write_newest_first_with_ids_masked(rnd):
    pid = make_id("19920101", 8)
    client = client_for(rnd, "张三")
    key_pass(client, birth_false(), finish=False)
    rnd.log("ingest_replace", {"unit_code": UNIT, "old": [{"person_id": pid}], "new": [{"person_id": "X" + pid}]},
            user="李四")
    page = client.get("/log").text
    rows = _table(page, "log")
    assert rows[0][2:4] == ["李四", "替换录入"] and rows[1][2:4] == ["张三", "键盘录入"]
    assert [int(r[0]) for r in rows] == sorted((int(r[0]) for r in rows), reverse=True)
    masked = f"{pid[:6]}********{pid[-4:]}"
    assert pid not in page and masked in rows[0][4]
    assert "X" + masked in rows[0][4]  # an ID number inside other text is masked too
    sha = rnd.log_entries("keyed_save")[0]["detail"]["content_sha256"]
    assert sha in rows[1][4]  # a hash (hex) is never taken for an ID number
    assert f"共 {len(rnd.log_entries())} 条" in page and '<a href="/log" class="here">日志</a>' in page


def test_a_refused_id_number_is_named_masked(rnd):
    bad = "411381199213010008"  # month 13: not an ID number (a wrong check digit alone only warns)
    found = {"missed_women.rows": "1", "missed_women.0.person_id": bad, "missed_women.0.name": "周某",
             "missed_women.0.birth_date": "1992-01-01", "missed_women.0.marital_status": "初婚",
             "missed_women.0.contraception": "无", "missed_women.0.witnesses": "3", "missed_women.0.verified": "是"}
    key_pass(client_for(rnd, "张三"), {**birth_false(), **found})
    key_pass(client_for(rnd, "李四"), {**birth_false(), **found})
    r = post(client_for(rnd, "王五"), f"/entry/{UNIT}/settle", {})
    assert r.status_code == 400 and "列「身份证号」：身份证号应为 18 位" in r.text
    assert bad not in r.text and f"{bad[:6]}********{bad[-4:]}" in r.text and rnd.entries() == {}


def test_an_over_long_field_is_refused_with_its_place(rnd):
    r = key_pass(client_for(rnd), {**birth_false(), "births_check.0.note": "很" * 201})
    assert r.status_code == 400 and "第 4 行，列「备注」：超过 200 个字符" in r.text
    with rnd.store() as con:
        assert keyed.passes(con) == [] and not rnd.log_entries("keyed_save")


# --- 核对: the review queue -------------------------------------------------------------------------

def review_items(rnd):
    """B001 read as 虚报 with an unclear witness count; a new missed-birth row with handwriting."""
    return write_scan_review(rnd, UNIT, [
        {"sheet": "births_check", "ref": "B001", "issues": ["「反映群众人数」标记不清（3、4）"],
         "fields": [("result", TICKS, RESULT_OPTIONS, "虚报", 0.97), ("witnesses", TICKS, WITNESS_OPTIONS, "", 0.41),
                    ("verified", TICKS, ["是", "否"], "是", 0.99)]},
        {"sheet": "missed_births", "blank": 0, "issues": ["新发现的一行，请核对并补录手写内容"],
         "fields": [("mother_name", "write", [], "", 0.0), ("sex", TICKS, ["男", "女"], "女", 0.95),
                    ("birth_date", "write", [], "", 0.0), ("parity", TICKS, ["1", "2", "3", "4+"], "1", 0.9),
                    ("policy", TICKS, ["政策内", "政策外"], "政策内", 0.95),
                    ("witnesses", TICKS, WITNESS_OPTIONS, "3", 0.92), ("verified", TICKS, ["是", "否"], "是", 0.93)]},
    ])


def test_review_one_item_at_a_time_then_the_workbook_is_ingested(rnd):
    items = review_items(rnd)
    client = client_for(rnd, "张三")
    assert _table(client.get("/review").text, "review-units") == [[UNIT, "2", "2", "0", "未录入", "开始核对"]]
    r = client.get(f"/review/{UNIT}")
    assert r.status_code == 303
    item_url = r.headers["location"]
    page = client.get(item_url).text
    assert f'src="/crops/{UNIT}/{items[0]["crop"]}"' in page and "把握 41%" in page and "<kbd>5</kbd> 5+" in page
    assert client.get(f"/crops/{UNIT}/{items[0]['crop']}").headers["content-type"] == "image/png"
    assert client.get(f"/crops/{UNIT}/..%2Fsecret.key").status_code == 404
    r = post(client, item_url, {"f.result": "虚报", "f.witnesses": "4", "f.verified": "是", "request": "r1"})
    assert r.status_code == 303 and r.headers["location"] != item_url
    [decision] = rnd.log_entries("review_decision")
    assert decision["user"] == "张三" and decision["detail"]["changes"] == [
        {"column": "反映群众人数", "old": "", "new": "4"}]
    workstation.WORKBOOKS.flush()  # the workbook is written after the answer
    ws = openpyxl.load_workbook(rnd.scan_dir / f"{UNIT}.xlsx")["出生核对"]
    assert ws.cell(items[0]["workbook_row"], column_of(ws, "births_check")["witnesses"]).value == 4  # a number, as scan writes
    assert rnd.entries() == {}  # one item still open
    r = post(client, r.headers["location"], {"f.mother_name": "王秀英", "f.sex": "女", "f.birth_date": "2016-03-01",
                                             "f.parity": "1", "f.policy": "政策内", "f.witnesses": "3", "f.verified": "是"})
    assert r.status_code == 303 and r.headers["location"] == "/review"
    stored = rnd.entries()[UNIT]
    assert stored["births_check"][0]["witnesses"] == "4"
    assert stored["missed_births"][0]["mother_name"] == "王秀英" and stored["missed_births"][0]["birth_date"] == "2016-03-01"
    [ingest] = rnd.log_entries("ingest")
    assert ingest["user"] == "张三" and ingest["detail"]["source"] == f"{UNIT}.xlsx"
    assert "核对完毕，已录入" in client.get("/review").text


def test_review_refuses_values_that_are_not_options_and_illegible_items_block_the_ingest(rnd):
    review_items(rnd)
    client = client_for(rnd)
    first = client.get(f"/review/{UNIT}").headers["location"]
    r = post(client, first, {"f.result": "虚报", "f.witnesses": "7", "f.verified": "是"})
    assert r.status_code == 400 and "「反映群众人数」只能选择：0、1、2、3、4、5+（收到：7）" in r.text
    assert post(client, first, {"illegible": "1"}).status_code == 303
    second = client.get(f"/review/{UNIT}").headers["location"]
    assert second != first  # the illegible item waits while others are open
    post(client, second, {"f.mother_name": "王秀英", "f.sex": "女", "f.birth_date": "2016-03-01", "f.parity": "1",
                          "f.policy": "政策内", "f.witnesses": "3", "f.verified": "是"})
    assert rnd.entries() == {}
    assert ["1"] == [r[3] for r in _table(client.get("/review").text, "review-units")]  # 无法辨认
    r = post(client, f"/review/{UNIT}/ingest")
    assert r.status_code == 409 and "还有 1 个核对条目未完成" in r.text
    assert client.get(f"/review/{UNIT}").headers["location"] == first


def test_a_reviewed_workbook_that_fails_validation_stores_nothing(rnd):
    review_items(rnd)
    client = client_for(rnd)
    first = client.get(f"/review/{UNIT}").headers["location"]
    post(client, first, {"f.result": "虚报", "f.witnesses": "", "f.verified": "是"})  # error row, no witnesses
    second = client.get(f"/review/{UNIT}").headers["location"]
    r = post(client, second, {"f.mother_name": "王秀英", "f.sex": "女", "f.birth_date": "2016-03-01", "f.parity": "1",
                              "f.policy": "政策内", "f.witnesses": "3", "f.verified": "是"})
    assert r.status_code == 409 and "工作表「出生核对」，第 4 行，列「反映群众人数」" in r.text
    assert rnd.entries() == {} and not rnd.log_entries("ingest")


# --- 个案与反馈 --------------------------------------------------------------------------------------

def entered(rnd, witnesses: str = "3"):
    """UNIT entered through the double entry with B001 虚报 (a confirmed 一孩 case: 2 points)."""
    key_pass(client_for(rnd, "张三"), birth_false(witnesses))
    key_pass(client_for(rnd, "李四"), birth_false(witnesses))
    assert post(client_for(rnd, "王五"), f"/entry/{UNIT}/settle", {}).status_code == 303


def test_case_lifecycle_changes_the_deduction_and_the_report_says_why(rnd):
    entered(rnd)
    client = client_for(rnd, "乡镇联络员")
    page = client.get(f"/cases/{GUCHENG}").text
    assert "扣分 <b>2</b>" in page and "现场反馈" in page
    url = f"/cases/{GUCHENG}/status"
    case = {"unit": UNIT, "ref": "B001"}
    r = post(client, url, {**case, "status": "有异议"})
    assert r.status_code == 400 and "必须填写说明" in r.text
    assert post(client, url, {**case, "status": "撤销", "comment": "x"}).status_code == 400  # 复核 first
    assert post(client, url, {**case, "status": "有异议", "comment": "该户称孩子确已出生"}).status_code == 303
    assert post(client, url, {**case, "status": "复核", "comment": ""}).status_code == 303
    assert post(client, url, {**case, "status": "撤销", "comment": "复核见出生医学证明，出生属实"}).status_code == 303
    page = client.get(f"/cases/{GUCHENG}").text
    assert "扣分 <b>0</b>" in page and "复核见出生医学证明，出生属实（乡镇联络员" in page
    row = [r for r in _table(page, "case-table") if r[1] == "B001"][0]
    assert row[6:10] == ["撤销", "出生虚报", "0", "撤销"]  # 虚报 has its own rule (birth_false)
    assert [(e["user"], e["detail"]["old"], e["detail"]["new"]) for e in rnd.log_entries("case_status")] == [
        ("乡镇联络员", "现场反馈", "有异议"), ("乡镇联络员", "有异议", "复核"), ("乡镇联络员", "复核", "撤销")]
    pdf = client.get(f"/cases/{GUCHENG}/feedback.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(io.BytesIO(pdf.content)))
    assert "现场反馈单" in text and "撤销" in text and "复核见出生医学证明" in text
def test_cli_case_command_is_the_same_step(rnd):
    entered(rnd)
    runner = CliRunner()
    r = runner.invoke(cli, ["case", str(rnd.path), UNIT, "B001", "--status", "确认"])
    assert r.exit_code == 0 and "现场反馈 → 确认" in r.output
    r = runner.invoke(cli, ["case", str(rnd.path), UNIT, "B001", "--status", "撤销", "--comment", "x"])
    assert "当前状态为「确认」，不能改为「撤销」（可改为：复核）" in str(r.exception)
    r = runner.invoke(cli, ["case", str(rnd.path), UNIT, "B999", "--status", "确认"])
    assert "没有编号为 B999 的误差个案" in str(r.exception)
    assert "确认" in [r[9] for r in _table(client_for(rnd).get(f"/cases/{GUCHENG}").text, "case-table")]


# --- 计分与报告 ---------------------------------------------------------------------------------------

def test_score_page_runs_the_score_and_serves_the_report(rnd):
    client = client_for(rnd)
    assert "还没有计分结果" in client.get("/score").text
    r = post(client, "/score")
    assert r.status_code == 400 and "还有 5 个样本点未录入结果" in r.text
    entered(rnd)
    assert post(client, "/score", {"partial": "1"}).status_code == 303
    page = client.get("/score").text
    ranking = _table(page, "ranking")
    # a partial score keeps every township; 古城 (1 of 2 points entered) shows its 2 points so far
    assert [r[1] for r in ranking] == ["古城街道", "㴔滩镇", "杏山旅游管理区"] and ranking[0][6] == "2"
    assert "<svg" in page and "上限 15" in page
    [score] = rnd.log_entries("score")
    assert score["user"] == "张三"
    assert client.get("/report/report.pdf").content.startswith(b"%PDF")
    assert client.get("/report/cases.csv").text.startswith("\ufefftownship_code,unit_code")  # BOM for Excel
    assert client.get("/report/secret.key").status_code == 400


def test_wrong_passwords_lock_the_name_for_a_while(rnd):
    steps.add_user(rnd, "李四", "correct horse")
    client = client_for(rnd, name=None)
    throttle = client.app.state.workstation.logins
    now = [1000.0]
    throttle.clock = lambda: now[0]

    def attempt(name, password):
        return client.post("/login", data={"csrf": csrf(client), "name": name, "password": password})

    for i in range(5):  # LOGIN_FAILURES wrong passwords, a minute apart
        assert attempt("李四", f"guess {i}").status_code == 401
        now[0] += 60
    # the sixth try (at 1300 s) is refused before the password is checked, even the right one:
    # the first failure (1000 s) ages out at 1900 s, 10 minutes on
    r = attempt("李四", "correct horse")
    assert r.status_code == 429 and "15 分钟内已输错 5 次密码，请 10 分钟后再试" in r.text
    assert attempt("王五", "whatever").status_code == 401  # other names are not locked
    # 900 s after the first failure one failure has aged out: a try is allowed again
    now[0] = 1000.0 + 900
    assert attempt("李四", "correct horse").status_code == 303
    assert throttle.wait("李四") == 0 and "李四" not in throttle._failed  # success forgets the failures
