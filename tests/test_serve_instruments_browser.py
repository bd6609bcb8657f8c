"""Web entry of a test-only instrument in a real headless Chromium (as tests/test_serve_browser.py).

Run with CHOUYANG_BROWSER_TESTS=1; CHOUYANG_SCREENSHOTS=docs writes docs/serve-instrument.png.  The
same xdist group as test_serve_browser.py ("browser"), so every Chromium test runs on one worker, one
browser and one server after another, never a second Chromium beside the first on the other core.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chouyang.entry import instrument_entry as ie
from chouyang.round import store as instrument_store
from chouyang.serve import create_app

from serve_support import UNIT, cheap_password_hashes, make_round  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
if os.environ.get("CHOUYANG_BROWSER_TESTS") != "1":
    pytest.skip("真实浏览器测试默认跳过：设置 CHOUYANG_BROWSER_TESTS=1 运行", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (only when enabled: missing = failure)
from test_serve_browser import ARGS, CHROMIUM, _free_port  # noqa: E402
from test_serve_instruments import HOUSEHOLD  # noqa: E402

SHOTS = os.environ.get("CHOUYANG_SCREENSHOTS")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import uvicorn

    assert Path(CHROMIUM).exists(), f"CHOUYANG_BROWSER_TESTS=1 但找不到浏览器 {CHROMIUM}（apt-get install chromium）"
    source = ie.SOURCE
    ie.SOURCE = lambda rnd: {"household": HOUSEHOLD}   # the server thread reads the round's instruments here
    rnd = make_round(tmp_path_factory.mktemp("instrument-browser") / "site")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rnd), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "服务器没有启动"
        time.sleep(0.05)
    yield rnd, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    ie.SOURCE = source


def test_skip_logic_and_constraints_live_then_the_pass_is_posted(site):
    rnd, url = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
        page.goto(f"{url}/login?next=/instruments/household/{UNIT}")
        page.fill("input[name=name]", "张三")
        page.click("form button[type=submit]")
        page.wait_for_url(lambda u: urlsplit(u).path == f"/instruments/household/{UNIT}")
        expect(page.locator("#instrument-form")).to_have_attribute("data-ready", "1")
        reason, people = page.locator("textarea[name='f/reason']"), page.locator("input[name='f/people']")
        expect(reason).to_be_disabled()   # 是否入户 not answered yet: both follow-ups skipped
        page.check("input[name='f/visited'][value='2']")          # 否: the reason is asked, the people are not
        expect(reason).to_be_enabled()
        expect(people).to_be_disabled()
        reason.fill("家中无人")
        page.check("input[name='f/visited'][value='1']")          # 是: the reason greys out and is cleared
        expect(reason).to_be_disabled()
        expect(reason).to_have_value("")
        expect(page.locator(".q[data-field=reason]")).to_have_class("q skipped")
        people.fill("25")
        message = page.locator(".q[data-field=people] .constraint-msg")
        expect(message).to_be_visible()
        expect(message).to_have_text("在家人数应在 0—20 之间")
        people.fill("3")
        expect(message).to_be_hidden()
        people.press("Enter")                                      # Enter moves on, it does not post
        assert urlsplit(page.url).path == f"/instruments/household/{UNIT}"
        page.check("input[name='f/methods'][value='iud']")
        page.fill("input[name='f/income']", "1200")
        page.fill("input[name='f/visit_date']", "2016-07-26")
        page.check("input[name='r/women/0/result'][value='wrong']")
        page.fill("input[name='r/women/0/true_birth_date']", "1990-05-01")
        page.fill("input[name='r/found/0/found_name']", "李梅")
        page.fill("input[name='r/found/0/found_age']", "12")
        expect(page.locator(".q[data-field=found_age][data-row='0'] .constraint-msg")).to_be_visible()
        page.fill("input[name='r/found/0/found_age']", "31")
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            page.fill("input[name='f/people']", "25")   # the screenshot shows a constraint message
            page.screenshot(path=str(Path(SHOTS) / "serve-instrument.png"), full_page=True)
            page.fill("input[name='f/people']", "3")
        page.click("#submit-pass")
        page.wait_for_url(f"{url}/instruments")
        expect(page.locator(".flash")).to_contain_text("第 1 遍已提交")
        browser.close()
    with rnd.store() as con:
        [first] = instrument_store.passes(con, "household")
    assert (first.number, first.clerk) == (1, "张三")
    assert first.data["values"] == {"unit_code": UNIT, "visited": "1", "reason": "", "people": "3", "methods": "iud",
                                    "income": "1200", "visit_date": "2016-07-26", "remark": ""}
    assert first.data["rows"] == {"women": [{"ref": "W001", "result": "wrong", "true_birth_date": "1990-05-01"}],
                                  "found": [{"found_name": "李梅", "found_age": "31"}]}
