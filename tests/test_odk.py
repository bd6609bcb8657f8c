"""instruments.odk: CSV exports of ODK Central and KoboToolbox, written here as those tools write them."""

from __future__ import annotations

from datetime import date

import pytest
from responses_support import VISIT, VISIT_POINT

from chouyang.errors import ChouyangError
from chouyang.instruments.odk import read_submissions

TODAY = date(2026, 12, 7)
UUID1 = "uuid:0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
UUID2 = "uuid:1b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
UUID3 = "uuid:2b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
UUID4 = "uuid:3b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"

# ODK Central submissions.csv (groupPaths on, split select multiples on), UTF-8 with BOM, CRLF.
CENTRAL_HEADER = ("SubmissionDate,unit_code,visit-visited,visit-reason,visit-people,visit-methods,visit-methods/iud,"
                  "visit-methods/ster,visit-methods/pill,income,visit_date,remark,meta-instanceID,KEY,SubmitterID,"
                  "SubmitterName,AttachmentsPresent,AttachmentsExpected,Status,ReviewState,DeviceID,Edits,FormVersion")
CENTRAL_ROWS = [
    f'2026-12-01T03:04:05.123Z,411381001001,1,,3,iud pill,1,0,1,1200.5,2026-11-30,"=HYPERLINK(""http://x"")",'
    f'{UUID1},{UUID1},5,张三,0,0,,,collect:Xa1,0,1',
    f'2026-12-01T05:00:00.000Z,411381001002,2,外出务工,,,0,0,0,,2026-11-30,"两行\n备注",{UUID2},{UUID2},5,张三,0,0,,hasIssues,collect:Xa1,0,1',
    f'2026-12-02T01:00:00.000Z,411381001003,1,,2,ster,0,1,0,800,2026-12-01,,{UUID3},{UUID3},6,李四,0,0,,rejected,collect:Yb2,0,1',
    # edited in Central: meta-instanceID is the new version's, KEY stays the first one's
    f'2026-12-02T02:00:00.000Z,411381001004,1,,4,,0,0,0,950,2026-12-01,,uuid:edited-1,{UUID4},6,李四,0,0,,edited,collect:Yb2,1,1',
]

# KoboToolbox CSV export ("XML values and headers", group separator "/"), ';' separated, every cell quoted.
KOBO_HEADER = ['start', 'end', 'unit_code', 'visit/visited', 'visit/reason', 'visit/people', 'visit/methods',
               'visit/methods/iud', 'visit/methods/ster', 'visit/methods/pill', 'income', 'visit_date', 'remark',
               'meta/instanceID', '_id', '_uuid', '_submission_time', '_validation_status', '_notes', '_status',
               '_submitted_by', '__version__', '_tags', '_index']
KOBO_ROWS = [
    ['2026-11-30T09:00:00.000+08:00', '2026-11-30T09:20:00.000+08:00', '411381001001', '1', '', '3', 'pill iud', '1', '0',
     '1', '1200.5', '2026-11-30', '', UUID1, '101', UUID1[5:], '2026-11-30T01:21:00', '', '[]', 'submitted_via_web', 'team1',
     'vAbc', '[]', '1'],
    ['2026-11-30T10:00:00.000+08:00', '2026-11-30T10:05:00.000+08:00', '411381001002', '2', '不在家', '', '', '0', '0', '0',
     '', '2026-11-30', '', UUID2, '102', UUID2[5:], '2026-11-30T02:06:00', 'validation_status_not_approved', '[]',
     'submitted_via_web', 'team1', 'vAbc', '[]', '2'],
]


def central(tmp_path, rows=CENTRAL_ROWS, header=CENTRAL_HEADER, name="visit.csv", encoding="utf-8-sig"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


def kobo(tmp_path, rows=KOBO_ROWS, header=KOBO_HEADER, name="kobo.csv"):
    def line(cells):
        return ";".join('"' + c.replace('"', '""') + '"' for c in cells)
    path = tmp_path / name
    path.write_text("\n".join([line(header)] + [line(r) for r in rows]) + "\n", encoding="utf-8")
    return path


def refused(instrument, path):
    with pytest.raises(ChouyangError) as err:
        read_submissions(instrument, path, today=TODAY)
    return [(p.row, p.column, p.message) for p in err.value.problems], str(err.value)


def test_central_export_is_read_with_metadata_ignored_and_rejected_rows_skipped(tmp_path):
    got = read_submissions(VISIT_POINT, central(tmp_path), today=TODAY)
    assert [r.unit_code for r in got] == ["411381001001", "411381001002", "411381001004"]
    assert [r.submission for r in got] == [UUID1, UUID2, UUID4]
    assert got[0].values == {"unit_code": "411381001001", "visited": "1", "reason": "", "people": "3", "methods": "iud pill",
                             "income": "1200.5", "visit_date": "2026-11-30", "remark": '=HYPERLINK("http://x")'}
    assert got[1].values["reason"] == "外出务工" and got[1].values["remark"] == "两行\n备注"
    assert got[2].values["methods"] == ""          # its 0/1 columns agree: nothing chosen
    assert all(r.instrument == "visit_point" and r.key == "" and r.source == "visit.csv" and r.rows == {} for r in got)
    assert got.notes == ["第 4 行的提交已被审核人拒绝（rejected / not approved），未导入。",
                         "第 3 行的提交在 ODK Central 中标为「有问题」（hasIssues），已照常导入。"]


def test_the_same_file_read_twice_gives_equal_responses(tmp_path):
    path = central(tmp_path)
    assert read_submissions(VISIT_POINT, path, today=TODAY) == read_submissions(VISIT_POINT, path, today=TODAY)


def test_a_central_file_resaved_by_excel_as_gb18030_reads_the_same(tmp_path):
    utf8 = read_submissions(VISIT_POINT, central(tmp_path), today=TODAY)
    gb = read_submissions(VISIT_POINT, central(tmp_path, name="visit-gb.csv", encoding="gb18030"), today=TODAY)
    assert [r.values for r in gb] == [r.values for r in utf8]


def test_kobo_export_semicolons_slash_groups_uuid_without_prefix(tmp_path):
    got = read_submissions(VISIT_POINT, kobo(tmp_path), today=TODAY)
    assert len(got) == 1 and got.notes == ["第 3 行的提交已被审核人拒绝（rejected / not approved），未导入。"]
    r = got[0]
    assert r.submission == UUID1 and r.unit_code == "411381001001"
    assert r.values["methods"] == "iud pill" and r.values["people"] == "3"


def test_select_multiple_from_its_0_1_columns_alone(tmp_path):
    drop = KOBO_HEADER.index("visit/methods")
    header = KOBO_HEADER[:drop] + KOBO_HEADER[drop + 1:]
    rows = [r[:drop] + r[drop + 1:] for r in KOBO_ROWS[:1]]
    rows[0][header.index("visit/methods/ster")] = "1"
    got = read_submissions(VISIT_POINT, kobo(tmp_path, rows, header), today=TODAY)
    assert got[0].values["methods"] == "iud ster pill"


def test_groups_left_out_of_the_header_still_match(tmp_path):
    header = CENTRAL_HEADER.replace("visit-", "")
    got = read_submissions(VISIT_POINT, central(tmp_path, CENTRAL_ROWS[:1], header), today=TODAY)
    assert got[0].values["visited"] == "1" and got[0].values["methods"] == "iud pill"


def test_a_bad_file_is_refused_whole_with_every_problem_located(tmp_path):
    rows = [
        CENTRAL_ROWS[0],
        CENTRAL_ROWS[1].replace(",2,外出务工,", ",3,外出务工,"),                       # outside the choices
        CENTRAL_ROWS[0].replace("411381001001", "411381001005"),                     # same instanceID as line 2
        CENTRAL_ROWS[3].replace(",4,,0,0,0,", ",4,iud,0,0,0,"),                      # 0/1 columns disagree
        CENTRAL_ROWS[3].replace("411381001004", "").replace(UUID4, UUID3),           # no unit_code
    ]
    problems, text = refused(VISIT_POINT, central(tmp_path, rows))
    assert problems == [
        (3, "visit-visited", "「3」不是可选的选项（可选：1 是、2 否）"),
        (4, "KEY", "与第 2 行是同一份提交（instanceID 相同），重复提交"),
        (5, "visit-methods", "与各选项的 0/1 列不一致（0/1 列选的是「无」）"),
        (6, "unit_code", "缺少 unit_code（抽样点代码），无法对应到抽样点"),
    ]
    assert text.startswith("visit.csv：提交数据有问题，整份文件未导入（共 4 处）")
    assert "visit.csv，第 3 行，列「visit-visited」" in text


def test_a_column_for_an_unknown_field_or_a_label_is_refused(tmp_path):
    header = CENTRAL_HEADER.replace(",remark,", ",visit-age,") + ",是否入户"
    rows = [r + ",1" for r in CENTRAL_ROWS[:1]]
    problems, _ = refused(VISIT_POINT, central(tmp_path, rows, header))
    assert problems == [
        (1, "visit-age", "调查表「入户核查」中没有这个字段"),
        (1, "是否入户", "表头是题目的标签，不是字段名（应为「visited」）。KoboToolbox 导出时请选「XML values and headers」"),
        (1, "备注（remark）", "文件中没有这一列（手机上用的调查表版本与本调查表不一致？）"),
    ]


def test_a_repeat_file_alone_is_refused_as_not_supported(tmp_path):
    path = central(tmp_path, ["W1,ok,,uuid:x/women[1],uuid:x"], "ref,result,true_birth_date,KEY,PARENT_KEY", "visit-women.csv")
    with pytest.raises(ChouyangError, match="重复组.*暂不支持导入重复组文件"):
        read_submissions(VISIT, path, today=TODAY)


def test_a_main_file_of_an_instrument_with_repeats_leaves_them_empty_and_says_so(tmp_path):
    got = read_submissions(VISIT, central(tmp_path), today=TODAY)
    assert [r.rows for r in got] == [{"women": []}] * 3
    assert got.notes[-1] == "重复组「育龄妇女核对」的数据不在主文件中，暂不支持导入，已留空。"


def test_a_repeat_question_in_the_main_file_is_refused(tmp_path):
    problems, _ = refused(VISIT, central(tmp_path, [r + ",ok" for r in CENTRAL_ROWS[:1]], CENTRAL_HEADER + ",women-result"))
    assert problems == [(1, "women-result", "这是重复组「育龄妇女核对」中的题；重复组须从单独的文件导入，暂不支持")]


def test_encrypted_rows_without_data_are_refused(tmp_path):
    row = CENTRAL_ROWS[0].replace(",0,0,,,collect", ",0,0,missingEncryptedFormData,,collect")
    problems, _ = refused(VISIT_POINT, central(tmp_path, [row]))
    assert problems[0][:2] == (2, "Status") and "加密表单须输入密码" in problems[0][2]


def test_validation_problems_name_the_header_and_the_csv_row(tmp_path):
    row = CENTRAL_ROWS[1].replace("外出务工,,", "外出务工,5,")      # skipped question answered
    problems, _ = refused(VISIT_POINT, central(tmp_path, [CENTRAL_ROWS[0], row]))
    assert [(r, c) for r, c, _ in problems] == [(3, "visit-people")]
    assert problems[0][2].startswith("此题应跳过（条件「是否入户为“1”」不成立：是否入户填的是“2”（否））")


def test_an_empty_file_and_a_blank_trailing_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(ChouyangError, match="文件是空的"):
        read_submissions(VISIT_POINT, tmp_path / "empty.csv", today=TODAY)
    got = read_submissions(VISIT_POINT, central(tmp_path, CENTRAL_ROWS[:1] + [",,,,"]), today=TODAY)
    assert len(got) == 1


def test_an_instrument_without_unit_code_reads_the_unit_code_column_the_exported_form_adds(tmp_path):
    """An XLSForm written elsewhere has no unit_code; `xlsform.export` gives the phones one, so the CSV has it."""
    from dataclasses import replace
    inst = replace(VISIT_POINT, children=VISIT_POINT.children[1:])
    subs = read_submissions(inst, central(tmp_path, CENTRAL_ROWS[:1]), today=TODAY)
    assert subs[0].unit_code == "411381001001" and "unit_code" not in subs[0].values
    problems, _ = refused(inst, central(tmp_path, CENTRAL_ROWS[:1], CENTRAL_HEADER.replace(",unit_code,", ",")))
    assert problems == [(1, "样本点编码（unit_code）", "文件中没有这一列（手机上用的调查表版本与本调查表不一致？）")]
    per_household = replace(inst, per="household")   # export adds no unit_code there: refused as before
    problems, _ = refused(per_household, central(tmp_path, CENTRAL_ROWS[:1], CENTRAL_HEADER.replace(",unit_code,", ",")))
    assert problems == [(None, None, "调查表「入户核查」没有 unit_code 字段，提交无法对应到抽样点")]
