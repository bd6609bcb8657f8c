"""The web review queue decides scanned pages of any instrument (issue 18): a round instrument added from an
XLSForm, its printed page filled in pen and scanned (test_instrument_flow's helpers), the write-in item listed
on /review, shown with its crop, decided over HTTP into scan/<unit>.satisfaction.xlsx, and that workbook ingested."""

from __future__ import annotations

import json
import sqlite3

import openpyxl
import pytest
from test_instrument_flow import FORM, UNIT_SCAN, _fill_and_scan, added  # noqa: F401 (a fixture)
from test_serve import client_for, post

from chouyang.errors import ChouyangError
from chouyang.scan import instrument_review as adapter
from chouyang.serve.workstation import instrument_review as steps

from serve_support import cheap_password_hashes  # noqa: F401 (a fixture)

BASE = f"/review/i/{FORM}/{UNIT_SCAN}"


Q2_ITEM = {"sheet": "s1", "sheet_label": "服务评价", "workbook_row": 5, "ref": "q2", "blank_index": None, "page": 1,
           "issues": ["「过去一年您接受过哪些服务？」标记不清（生育登记）"], "fields": [
               {"key": "q2", "label": "过去一年您接受过哪些服务？", "kind": "ticks", "confidence": 0.95, "value": "a c",
                "marks": ["marked", "empty"],
                "options": [{"label": "孕前优生检查", "value": "a"}, {"label": "避孕药具发放", "value": "b"}]},
               {"key": "q2@2", "label": "过去一年您接受过哪些服务？", "kind": "ticks", "confidence": 0.4, "value": None,
                "marks": ["uncertain"], "options": [{"label": "生育登记", "value": "c"}]}]}


def _table(html: str, table_id: str) -> list[list[str]]:
    import re

    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]


def _response(round_dir) -> dict:
    con = sqlite3.connect(round_dir / "store.sqlite")
    try:
        (data,) = con.execute("SELECT data FROM instrument_responses WHERE instrument = ? AND unit_code = ?",
                              (FORM, UNIT_SCAN)).fetchone()
    finally:
        con.close()
    return json.loads(data)["values"]


def test_a_scanned_instrument_page_is_reviewed_and_ingested_on_the_web(added, tmp_path, run):  # noqa: F811
    from chouyang import steps as round_steps

    assert run("draw", added, "--seed", "123")[0] == 0
    assert run("forms", added, "--workers", "1")[0] == 0
    code, out, err = run("scan", added, _fill_and_scan(added, tmp_path / "scans"), "--workers", "1")
    assert code == 0 and "调查表 satisfaction：1 个样本点 1 页，需人工核对 1 处" in out, err
    rnd = round_steps.open_round(added)
    # a second item, as the scan lists an unclear tick of q2 (read a c): a choice of several, over two lines
    listed = added / "scan" / "review" / FORM / f"{UNIT_SCAN}.json"
    data = json.loads(listed.read_text(encoding="utf-8"))
    data["items"].append({**Q2_ITEM, "crop": data["items"][0]["crop"]})
    listed.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    client = client_for(rnd, "张三")
    rows = _table(client.get("/review").text, "review-instruments")
    assert rows == [["计划生育服务满意度调查（satisfaction）", UNIT_SCAN, "2", "2", "0", "未录入", "开始核对"]]
    r = client.get(BASE)
    assert r.status_code == 303 and r.headers["location"].startswith(BASE + "/")
    item_url = r.headers["location"]
    page = client.get(item_url).text
    crop = json.loads((added / "scan" / "review" / FORM / f"{UNIT_SCAN}.json").read_text(encoding="utf-8"))["items"][0]["crop"]
    assert f'src="/crops/i/{FORM}/{UNIT_SCAN}/{crop}"' in page
    assert "您对计划生育工作有什么意见或建议？" in page and 'name="f.q5"' in page and "（有手写内容）" in page
    assert "服务评价 · 工作簿第 8 行" in page
    assert client.get(f"/crops/i/{FORM}/{UNIT_SCAN}/{crop}").headers["content-type"] == "image/png"
    assert client.get(f"/crops/i/{FORM}/{UNIT_SCAN}/..%2Fsecret.png").status_code == 404
    assert client.get(f"/review/i/nosuch/{UNIT_SCAN}").status_code == 400
    # no CSRF token: refused, nothing stored
    assert client.post(item_url, data={"f.q5": "多宣传"}).status_code == 403
    assert rnd.log_entries("review_decision") == []
    r = post(client, item_url, {"f.q5": "多宣传", "request": "r1"})
    assert r.status_code == 303 and r.headers["location"].startswith(BASE + "/") and r.headers["location"] != item_url
    steps.WORKBOOKS.flush()   # the workbook is written after the answer, while q2 is still open
    ws = openpyxl.load_workbook(added / "scan" / f"{UNIT_SCAN}.{FORM}.xlsx")["服务评价"]
    assert (ws["D5"].value, ws["D8"].value) == ("孕前优生检查、生育登记", "多宣传")
    page = client.get(r.headers["location"]).text
    assert page.count('type="checkbox" name="f.q2"') == 3 and "读作 孕前优生检查 生育登记" in page
    assert post(client, r.headers["location"], {"f.q2": ["x"]}).status_code == 400   # not an option: refused
    r = post(client, r.headers["location"], {"f.q2": ["b", "a"]})
    assert r.status_code == 303 and r.headers["location"] == "/review", r.text
    decision, _ = rnd.log_entries("review_decision")
    assert decision["user"] == "张三" and decision["detail"]["instrument"] == FORM
    assert decision["detail"]["sheet"] == "服务评价" and decision["detail"]["row"] == 8
    assert decision["detail"]["changes"] == [{"column": "您对计划生育工作有什么意见或建议？", "old": "", "new": "多宣传"}]
    ws = openpyxl.load_workbook(added / "scan" / f"{UNIT_SCAN}.{FORM}.xlsx")["服务评价"]
    assert [ws[f"D{r}"].value for r in range(4, 9)] == ["比较满意", "a b", "是", 2, "多宣传"]
    assert _response(added) == {"unit_code": UNIT_SCAN, "q1": "2", "q2": "a b", "q3": "yes", "q4": "2", "q5": "多宣传"}
    [ingest] = [e for e in rnd.log_entries() if e["action"].startswith("ingest")]
    assert ingest["user"] == "张三"
    assert _table(client.get("/review").text, "review-instruments")[0][-2:] == ["已录入", ""]
    # the CLI accepts the decided workbook as it stands (same content: nothing changes)
    code, out, err = run("ingest", added, added / "scan" / f"{UNIT_SCAN}.{FORM}.xlsx")
    assert code == 0, err


def test_choice_fields_merge_their_lines_and_take_several_options(added):  # noqa: F811
    """A select_multiple item over two lines of boxes (q2, q2@2) is one field of 3 options; a choice not offered
    is refused with the field's label; decided codes go into the 回答 column of the item's row."""
    from chouyang import steps as round_steps

    instrument = steps.review_instrument(round_steps.open_round(added), FORM)
    raw = {"format": 1, "items": [{"sheet": "s1", "workbook_row": 5, "ref": "q2", "page": 1, "crop": "x.png",
                                   "issues": ["「过去一年您接受过哪些服务？」标记不清（生育登记）"], "fields": [
        {"key": "q2", "kind": "ticks", "confidence": 0.95, "value": None, "marks": ["marked", "empty"],
         "options": [{"label": "孕前优生检查", "value": "a"}, {"label": "避孕药具发放", "value": "b"}]},
        {"key": "q2@2", "kind": "ticks", "confidence": 0.4, "value": None, "marks": ["uncertain"],
         "options": [{"label": "生育登记", "value": "c"}]}]}]}
    [item] = adapter.read_items(instrument, UNIT_SCAN, raw)
    [f] = item.fields
    assert (f.key, f.kind, f.values, f.marks, f.confidence) == ("q2", adapter.MULTIPLE, ("a", "b", "c"),
                                                                 ("marked", "empty", "uncertain"), 0.4)

    class Form(dict):
        def getlist(self, key):
            return self.get(key, [])

    labels = adapter.field_labels(instrument)
    assert adapter.decision_values(item, Form({"f.q2": ["c", "a"]}), labels) == {"q2": "a c"}
    refused = "^「过去一年您接受过哪些服务？」只能选择：孕前优生检查、避孕药具发放、生育登记（收到：z）"
    with pytest.raises(ChouyangError, match=refused):
        adapter.decision_values(item, Form({"f.q2": ["z"]}), labels)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "服务评价"
    ws["A5"] = "q2"
    adapter.write_decisions(instrument, wb, [(item, {"q2": "a c"})])
    assert ws["D5"].value == "a c"
    ws["A5"] = "q3"   # a workbook whose row 5 is another question: refused, not overwritten
    with pytest.raises(ChouyangError, match="服务评价 第 5 行不是题目 q2"):
        adapter.write_decisions(instrument, wb, [(item, {"q2": "b"})])
    assert ws["D5"].value == "a c"


def test_a_repeat_row_is_decided_into_its_fields_column_of_the_table_sheet():
    """The women register repeat of the visit fixture: 编号 is column 1, 核实结果 column 2 of sheet 育龄妇女核对;
    a row whose 编号 is not the item's is refused."""
    from responses_support import VISIT

    raw = {"format": 1, "items": [{"sheet": "women", "workbook_row": 4, "ref": "W001", "page": 2, "crop": "w.png",
                                   "issues": ["「核实结果」标记不清（错报）"], "fields": [
        {"key": "result", "kind": "ticks", "confidence": 0.5, "value": None, "marks": ["empty", "empty", "uncertain"],
         "options": [{"label": "属实", "value": "ok"}, {"label": "迁出", "value": "gone"}, {"label": "错报", "value": "wrong"}]},
        {"key": "true_birth_date", "kind": "write", "confidence": 0.9, "value": None, "written": True}]}]}
    [item] = adapter.read_items(VISIT, "411381001201", raw)
    assert [(f.key, f.kind, f.written) for f in item.fields] == [("result", "ticks", False), ("true_birth_date", "write", True)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "育龄妇女核对"
    ws["A3"], ws["B3"], ws["C3"], ws["A4"] = "编号", "核实结果", "实际出生日期", "W001"
    adapter.write_decisions(VISIT, wb, [(item, {"result": "wrong", "true_birth_date": "1990-02-03"})])
    assert (ws["B4"].value, ws["C4"].value) == ("wrong", "1990-02-03")
    ws["A4"] = "W002"
    with pytest.raises(ChouyangError, match="育龄妇女核对 第 4 行不是编号 W001"):
        adapter.write_decisions(VISIT, wb, [(item, {"result": "ok", "true_birth_date": ""})])
    assert ws["B4"].value == "wrong"
