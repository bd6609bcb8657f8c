"""Every command once through the CLI, on the tiny county: init → … → scan, with exit codes and summaries."""

import openpyxl
import pandas as pd

from chouyang import vocab
from chouyang.demo.scansim import render_page
from chouyang.render.survey_workbook import column_of, ref_rows, set_values


def _fill_all_true(src, dst):
    """An entry workbook with every register row checked 属实 (a clean sample point)."""
    wb = openpyxl.load_workbook(src)
    for sheet in vocab.CHECK_SHEETS:
        if vocab.SHEETS[sheet] in wb.sheetnames:
            ws = wb[vocab.SHEETS[sheet]]
            for row in ref_rows(ws).values():
                set_values(ws, column_of(ws, sheet), row, {"result": "属实"})
    wb.save(dst)
    return dst


def test_every_command_through_the_cli(initialised, run, tmp_path):
    r = initialised
    code, out, _ = run("presets")
    assert code == 0 and "dengzhou-2016h1" in out and "flat-cap8" in out

    code, out, _ = run("commit", r)
    assert code == 0 and "请在确定随机种子之前公布以下指纹" in out

    code, out, _ = run("draw", r, "--seed", "42")
    # 古城街道 2 points + 1 reserve, 㴔滩镇 2 + 1, 杏山 1 (override) + 1
    assert code == 0 and "抽样完成：3 个乡镇，样本点 5 个，备选 3 个" in out

    sample = pd.read_csv(r / "sample.csv", dtype=str)
    out_unit = sample[(sample.role == "primary") & (sample.township_code == "411381001")].unit_code.iloc[0]
    reserve = sample[(sample.role == "reserve") & (sample.township_code == "411381001")].unit_code.iloc[0]
    code, out, _ = run("replace", r, out_unit, "--reason", "村庄被淹")
    assert code == 0 and f"已用备选样本点 {reserve} 替换 {out_unit}" in out

    code, out, _ = run("verify", r)
    assert code == 0 and "5 个样本点、2 个备选与 sample.csv 完全相同" in out and "复核通过" in out

    code, out, _ = run("plan", r)
    assert code == 0 and "调查安排完成：5 个样本点" in out and (r / "plan.pdf").exists()

    code, out, _ = run("forms", r, "--workers", "1")
    assert code == 0 and "已生成 5 个样本点的核查表" in out
    primary = pd.read_csv(r / "sample.csv", dtype=str).query("role == 'primary'").unit_code
    assert sorted(p.stem for p in (r / "entry").glob("*.xlsx")) == sorted(primary)

    unit = sorted(primary)[0]
    filled = _fill_all_true(r / "entry" / f"{unit}.xlsx", tmp_path / f"{unit}.xlsx")
    code, out, _ = run("ingest", r, filled)
    assert code == 0 and f"{unit}（{unit}.xlsx）：已录入；确认误差 0 例，待核实 0 例" in out

    code, out, _ = run("status", r)
    assert code == 0 and "合计：5 个样本点，已录入 1 个，未录入 4 个" in out
    code, _, err = run("status", r, "--strict")
    assert code == 1 and "还有 4 个样本点未录入结果" in err

    code, _, err = run("score", r)
    assert code == 1 and "暂不能计分" in err
    code, out, _ = run("score", r, "--partial")
    assert code == 0 and "确认误差 0 例" in out and "4 个样本点未录入" in out
    assert {p.name for p in (r / "report").iterdir()} >= {"cases.csv", "townships.csv", "report.xlsx", "report.pdf"}

    page = tmp_path / "scans" / "p1.png"
    page.parent.mkdir()
    render_page(r / "forms" / f"{unit}.pdf", 0, 150).save(page)
    code, out, _ = run("scan", r, page.parent, "--workers", "1")
    assert code == 0 and "共 1 页：识别 1 页，涉及 1 个样本点" in out
    assert (r / "scan" / f"{unit}.xlsx").exists()
