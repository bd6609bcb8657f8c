"""chouyang serve in a real headless browser: Debian's Chromium driven by Playwright.

Run with CHOUYANG_BROWSER_TESTS=1 (`pip install -e ".[browser]"` and `apt-get install chromium`;
.ci/run does both).  Under that variable a missing browser fails these tests; without it they
are skipped.  CHOUYANG_BROWSER=/path/to/chromium picks another Chromium build;
CHOUYANG_SCREENSHOTS=docs writes the README's screenshots (serve-progress.png, serve-review.png).

One server (uvicorn in a thread) and one browser serve the whole module; each test works on
its own sample point: the review on 411381103201 (S001, 结扎), the double entry on 411381001201
(B001), the case lifecycle on 411381550201 (杏山, a missed birth), and the dashboard last.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chouyang import steps
from chouyang.entry import keyed
from chouyang.serve import create_app, workstation

from serve_support import (  # noqa: F401 (a fixture)
    UNIT,
    WITNESS_OPTIONS,
    XINGSHAN,
    cheap_password_hashes,
    form_row_crop,
    make_round,
    write_scan_review,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker: one server, tests in order
ENABLED = os.environ.get("CHOUYANG_BROWSER_TESTS") == "1"
if not ENABLED:
    pytest.skip("真实浏览器测试默认跳过：设置 CHOUYANG_BROWSER_TESTS=1 运行（需要 pip install -e \".[browser]\" 和 "
                "apt-get install chromium；.ci/run 会安装并设置）", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (only when enabled: missing = failure)

CHROMIUM = os.environ.get("CHOUYANG_BROWSER", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.environ.get("CHOUYANG_SCREENSHOTS")
REVIEW_UNIT = "411381103201"  # 赵敏: W001, and S001 (结扎)
XINGSHAN_UNIT = "411381550201"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The tiny round with one review item, served on a free loopback port."""
    import uvicorn

    assert Path(CHROMIUM).exists(), f"CHOUYANG_BROWSER_TESTS=1 但找不到浏览器 {CHROMIUM}（apt-get install chromium）"
    rnd = make_round(tmp_path_factory.mktemp("browser") / "site")
    write_scan_review(rnd, REVIEW_UNIT, [
        {"sheet": "procedures_check", "ref": "S001", "issues": ["同时勾选了 虚报、错报", "「反映群众人数」数字不清（读作 3）"],
         "fields": [("result", "ticks", ["属实", "虚报", "错报"], "", 0.55),
                    ("witnesses", "ticks", WITNESS_OPTIONS, "3", 0.38), ("verified", "ticks", ["是", "否"], "是", 0.98)]}])
    if SHOTS:  # the README's review screenshot shows a real form row, marked by pen, as a scan gives it
        steps.forms(rnd, workers=1)
        crop = form_row_crop(rnd, REVIEW_UNIT, "procedures_check", "S001",
                             {"result": ["虚报", "错报"], "witnesses": "4", "verified": "是"})
        crop.save(rnd.scan_dir / "review" / f"{REVIEW_UNIT}_p2_S001.png")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rnd, poll_seconds=0.5), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "服务器没有启动"
        time.sleep(0.05)
    yield rnd, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(site):
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def clerk(browser, url: str, name: str, then: str = "/progress"):
    """A page logged in as `name` (a browser context of its own: its own session), then at `then`."""
    page = browser.new_context(viewport={"width": 1280, "height": 760}, locale="zh-CN").new_page()
    page.goto(f"{url}/login?next={then}")
    page.fill("input[name=name]", name)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda u: urlsplit(u).path.startswith(then))  # /review/<unit> goes on to its first item
    return page


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


def test_review_item_finished_with_the_keyboard_only(site, browser):
    rnd, url = site
    page = clerk(browser, url, "张三", f"/review/{REVIEW_UNIT}")
    expect(page.locator("h1")).to_contain_text("核对 411381103201")
    shot(page, "serve-review.png")
    page.keyboard.press("2")          # 核实结果: 2 = 虚报 (options 属实 虚报 错报)
    page.keyboard.press("ArrowDown")  # to 反映群众人数, read as 3 with little confidence
    page.keyboard.press("4")          # the paper says 4: the scale's own digit
    page.keyboard.press("Enter")      # accept: the unit's queue is empty, its workbook is ingested
    page.wait_for_url(f"{url}/review")
    expect(page.locator(".flash")).to_contain_text("核对完毕，已录入")
    [row] = rnd.entries()[REVIEW_UNIT]["procedures_check"]
    assert (row["result"], row["witnesses"], row["verified"]) == ("虚报", "4", "是")
    [decision] = rnd.log_entries("review_decision")
    assert decision["user"] == "张三" and decision["detail"]["changes"] == [
        {"column": "核实结果", "old": "", "new": "虚报"}, {"column": "反映群众人数", "old": "3", "new": "4"}]


def test_double_entry_mismatch_settled_in_the_browser(site, browser):
    rnd, url = site
    keyed_values = {"women_check.0.result": "属实", "births_check.0.result": "虚报", "births_check.0.verified": "是",
                    "procedures_check.0.result": "属实"}
    workstation.keyed_save(rnd, UNIT, "王五", {**keyed_values, "births_check.0.witnesses": "4"}, True)  # first pass
    page = clerk(browser, url, "李四", f"/entry/{UNIT}")  # the second pass, keyed in the browser
    expect(page.locator("h1")).to_contain_text("第 2 遍")
    for field, value in keyed_values.items():
        page.select_option(f"select[name='{field}']", value)
    page.fill("input[name='births_check.0.witnesses']", "3")
    page.click("#finish")
    page.wait_for_url(f"{url}/entry")
    judge = clerk(browser, url, "赵六", f"/entry/{UNIT}/settle")
    expect(judge.locator("#mismatches tbody tr")).to_have_count(1)
    expect(judge.locator("#mismatches")).to_contain_text("反映群众人数")
    judge.check("input[name='births_check.0.witnesses'][value='@1']")  # the paper says 4, as the first pass
    judge.click("#settle")
    judge.wait_for_url(f"{url}/entry")
    expect(judge.locator("#clerk-rates")).to_contain_text("李四")
    assert rnd.entries()[UNIT]["births_check"][0]["witnesses"] == "4"
    assert rnd.log_entries("ingest")[-1]["user"] == "赵六"


def test_case_objected_then_withdrawn_changes_the_deduction(site, browser):
    rnd, url = site
    checklist = rnd.checklists([XINGSHAN_UNIT])[XINGSHAN_UNIT]
    found = {"missed_births": [{"mother_name": "刘某", "child_name": "刘小", "sex": "女", "birth_date": "2016-03-01",
                                "parity": "1", "policy": "政策内", "witnesses": "3", "verified": "是"}]}
    meta = {"round_id": rnd.rules().round.id, "unit_code": XINGSHAN_UNIT,
            "register_fingerprint": rnd.register_fingerprint()}
    steps.ingest_entries(rnd, [keyed.entry_file(meta, checklist, found, "测试")])
    page = clerk(browser, url, "乡镇联络员", f"/cases/{XINGSHAN}")
    expect(page.locator("#deduction")).to_contain_text("扣分 2")
    row = page.locator(f"tr[id='{XINGSHAN_UNIT}-MB001']")
    row.locator("input[name=comment]").fill("该户称孩子在外地出生")
    row.locator("button[value='有异议']").click()
    expect(row.locator("td.status")).to_have_text("有异议")
    row.locator("button[value='复核']").click()
    expect(row.locator("td.status")).to_have_text("复核")
    row.locator("input[name=comment]").fill("复核：出生在调查时限之前")
    row.locator("button[value='撤销']").click()
    expect(row.locator("td.status")).to_have_text("撤销")
    expect(page.locator("#deduction")).to_contain_text("扣分 0")
    assert [e["detail"]["new"] for e in rnd.log_entries("case_status")] == ["有异议", "复核", "撤销"]


def test_dashboard_updates_without_a_reload(site, browser):
    rnd, url = site
    page = clerk(browser, url, "张三")
    towns = page.locator("#by-township tbody tr")
    expect(towns).to_have_count(3)
    entered = page.locator("#by-township tbody tr", has_text="㴔滩镇").locator("td").nth(2)
    before = len([u for u in workstation.entered_units(rnd) if u.startswith("411381103")])
    assert "411381103202" not in workstation.entered_units(rnd)
    expect(entered).to_have_text(str(before))
    page.evaluate("window.__notReloaded = true")
    # Results of 㴔滩镇's second point arrive while the page is open.
    checklist = rnd.checklists(["411381103202"])["411381103202"]
    meta = {"round_id": rnd.rules().round.id, "unit_code": "411381103202",
            "register_fingerprint": rnd.register_fingerprint()}
    steps.ingest_entries(rnd, [keyed.entry_file(meta, checklist, {}, "测试")])
    expect(entered).to_have_text(str(before + 1))
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "serve-progress.png")
