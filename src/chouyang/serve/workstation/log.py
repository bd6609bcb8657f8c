"""The audit log page's step (日志): the newest rows, in the words of the pages, every ID number masked."""

from __future__ import annotations

import json
import re

from chouyang.inputs import readers as inp
from chouyang.round.folder import Round

ACTION_LABELS = {
    "init": "建立轮次", "commit": "公布指纹", "draw": "抽样", "draw_superseded": "重新抽样（作废前一次）",
    "replace": "替换样本点", "plan": "调查安排", "forms": "生成核查表", "checklist": "生成考核清单",
    "ingest": "录入", "ingest_replace": "替换录入", "ingest_checklist": "录入考核清单",
    "ingest_checklist_replace": "替换录入考核清单", "scan": "扫描识别", "score": "计分",
    "keyed_save": "键盘录入", "keyed_settle": "双录入裁定", "review_decision": "核对决定",
    "case_status": "个案状态", "user_add": "新建用户", "user_password": "重设密码",
    "instrument_pass": "调查表录入", "instrument_settle": "调查表核定",
}
# An ID number anywhere in a detail (17 digits and a digit or X), shown masked; not inside a longer
# run of hex digits (a SHA-256 in the detail stays whole).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Fa-f])\d{17}[\dXx](?![0-9A-Fa-f])")


def audit_rows(rnd: Round, limit: int = 300) -> tuple[list[dict], int]:
    """The newest `limit` audit log rows (newest first) as the log page shows them, and how many exist.

    The detail is the stored JSON in one line with every ID number masked: the log keeps what was
    entered, the page never shows it whole.
    """
    entries = rnd.log_entries()
    rows = []
    for e in reversed(entries[-limit:] if limit else entries):
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        rows.append({"id": e["id"], "time": e["time"], "user": e["user"],
                     "action": ACTION_LABELS.get(e["action"], e["action"]),
                     "detail": _ID_IN_TEXT.sub(lambda m: inp.mask_id(m.group(0)), detail)})
    return rows, len(entries)
