"""Every controlled vocabulary of the data contract (SPEC §2.2, §2.3, §5), defined once."""

from __future__ import annotations

MARITAL_STATUS = ("未婚", "初婚", "再婚", "离婚", "丧偶")
MARRIED = ("初婚", "再婚")
CONTRACEPTION = ("上环", "结扎", "皮埋", "药具", "无", "其他")
LONG_ACTING = ("上环", "结扎", "皮埋")  # 长效节育措施
SEX = ("男", "女")
POLICY = ("政策内", "政策外")
PROCEDURE_TYPES = ("上环", "取环", "结扎", "补救措施")
YES_NO = ("是", "否")

# Result vocabularies of the check sheets (SPEC §2.3).
WOMAN_RESULTS = ("属实", "查无此人", "迁出", "死亡")
BIRTH_RESULTS = ("属实", "虚报", "错报")
PROCEDURE_RESULTS = ("属实", "虚报", "错报")
BENEFIT_RESULTS = ("属实", "资格不符", "发放不符")

# The error-kind table: entered result -> case kind, per check sheet (SPEC §3.3, §5).
# 属实, 迁出 and 死亡 are not errors.  New rows of the missed sheets are errors of one kind each.
# Ingest (which rows need witnesses), cases (cases.csv kinds) and indicators (what a confirmed
# case changes) all read this one table.
ERROR_KINDS = {
    "women_check": {"查无此人": "woman_false"},                         # 育龄妇女查无此人
    "births_check": {"虚报": "birth_false", "错报": "birth_wrong"},     # 出生虚报、错报
    "procedures_check": {"虚报": "procedure_false", "错报": "procedure_wrong"},  # 手术虚报、错报
    "benefits_check": {"资格不符": "benefit_error", "发放不符": "benefit_error"},  # 资格/发放误差
}
MISSED_KINDS = {"missed_births": "birth_missed",   # 出生漏报
                "missed_women": "woman_missing"}   # 育龄妇女漏档
# Chinese label of every case kind (report sheets and feedback pages).
KIND_LABELS = {"birth_missed": "出生漏报", "birth_false": "出生虚报", "birth_wrong": "出生错报",
               "woman_false": "妇女查无此人", "woman_missing": "妇女漏档", "procedure_false": "手术虚报",
               "procedure_wrong": "手术错报", "benefit_error": "资格/发放误差"}


def is_error(sheet: str, result: str) -> bool:
    """Whether an entered result on a check sheet is an error (needs witnesses and verification)."""
    return result in ERROR_KINDS.get(sheet, {})


# Sheet names: key -> Chinese label.
SHEETS = {
    "women_check": "育龄妇女核对",
    "births_check": "出生核对",
    "procedures_check": "手术核对",
    "missed_births": "漏报出生",
    "missed_women": "漏档妇女",
    "benefits_check": "资格核对",
}

# Entry columns: key -> Chinese label (SPEC §5).
ENTRY_LABELS = {
    "ref": "编号",
    "result": "核实结果",
    "witnesses": "反映群众人数",
    "verified": "调查组查实",
    "true_sex": "实际性别",
    "true_birth_date": "实际出生日期",
    "true_parity": "实际孩次",
    "true_type": "实际手术类型",
    "actual_contraception": "实际节育措施",
    "note": "备注",
}

# Register columns shown on check sheets and the columns of the missed-rows sheets.
REGISTER_LABELS = {
    "women_check": {"name": "姓名", "person_id": "身份证号", "birth_date": "出生日期",
                    "household_no": "户编号", "marital_status": "婚姻状况",
                    "contraception": "节育措施"},
    "births_check": {"mother_name": "母亲姓名", "child_name": "子女姓名", "sex": "性别",
                     "birth_date": "出生日期", "parity": "孩次", "policy": "政策属性"},
    "procedures_check": {"name": "姓名", "type": "手术类型", "date": "手术日期"},
    "benefits_check": {"name": "姓名", "program": "项目", "amount": "金额"},
    "missed_births": {"mother_id": "母亲身份证号", "mother_name": "母亲姓名",
                      "child_name": "子女姓名", "sex": "性别", "birth_date": "出生日期",
                      "parity": "孩次", "policy": "政策属性"},
    "missed_women": {"person_id": "身份证号", "name": "姓名", "birth_date": "出生日期",
                     "marital_status": "婚姻状况", "contraception": "节育措施"},
}

SAMPLE_COLUMNS = ("round_id", "township_code", "township_name", "unit_code", "unit_name",
                  "role", "rank", "inclusion_prob", "weight")
PLAN_COLUMNS = ("team_id", "date", "township_code", "unit_code")

RESULTS = {
    "women_check": WOMAN_RESULTS,
    "births_check": BIRTH_RESULTS,
    "procedures_check": PROCEDURE_RESULTS,
    "benefits_check": BENEFIT_RESULTS,
}

# Values offered (tick boxes on paper, drop-down lists in the workbook) per entry column.
# 实际节育措施 left empty means "as in the register".
CHOICES = {
    "verified": YES_NO,
    "true_sex": SEX,
    "sex": SEX,
    "true_type": PROCEDURE_TYPES,
    "actual_contraception": CONTRACEPTION,
    "contraception": CONTRACEPTION,
    "marital_status": MARITAL_STATUS,
    "policy": POLICY,
}


# Integer values printed as tick scales on paper (SPEC §3.6): (label, stored value).  The last
# option is open-ended: 5+ is stored as 5, 4+ as 4.  5 covers any `min_witnesses` up to 5.
WITNESS_SCALE = (("0", 0), ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5+", 5))
PARITY_SCALE = (("1", 1), ("2", 2), ("3", 3), ("4+", 4))
SCALES = {"witnesses": WITNESS_SCALE, "true_parity": PARITY_SCALE, "parity": PARITY_SCALE}
# Scales whose open-ended top option loses information that can matter (a register parity of 5
# ticked as 4+ would read as a different parity): a tick there is confirmed by a person.
CONFIRM_TOP = ("true_parity", "parity")


def choices_for(section: str, key: str) -> tuple[str, ...] | None:
    if key == "result":
        return RESULTS.get(section)
    return CHOICES.get(key)


def options_for(section: str, key: str) -> tuple[tuple[str, str | int], ...] | None:
    """Every tick option of an entry column on paper: (printed label, value stored), or None for free text."""
    if key in SCALES:
        return SCALES[key]
    choices = choices_for(section, key)
    return tuple((c, c) for c in choices) if choices else None


def label_for(section: str, key: str) -> str:
    """The Chinese header label of a column on a sheet (register labels first, then entry labels)."""
    return REGISTER_LABELS.get(section, {}).get(key) or ENTRY_LABELS[key]

# Columns of each entry sheet, in order: ref, register columns shown, then what the team enters.
# The printed form (forms/survey.toml) and the entry workbook both take their columns from here.
ENTRY_COLUMNS = {
    "women_check": ("result", "actual_contraception", "witnesses", "verified", "note"),
    "births_check": ("result", "true_sex", "true_birth_date", "true_parity", "witnesses", "verified", "note"),
    "procedures_check": ("result", "true_type", "witnesses", "verified", "note"),
    "benefits_check": ("result", "witnesses", "verified", "note"),
    "missed_births": ("mother_id", "mother_name", "child_name", "sex", "birth_date", "parity", "policy",
                      "witnesses", "verified", "note"),
    "missed_women": ("person_id", "name", "birth_date", "marital_status", "contraception",
                     "witnesses", "verified", "note"),
}
CHECK_SHEETS = ("women_check", "births_check", "procedures_check", "benefits_check")
MISSED_SHEETS = ("missed_births", "missed_women")


def sheet_columns(section: str) -> tuple[str, ...]:
    """All column keys of a sheet: ref, the read-only register columns, the entry columns."""
    if section in MISSED_SHEETS:
        return ("ref",) + ENTRY_COLUMNS[section]
    return ("ref",) + tuple(REGISTER_LABELS[section]) + ENTRY_COLUMNS[section]


def row_key(row: dict, i: int) -> str:
    """A stored entry row's key: its register ref, or #001, #002 for the i-th new (missed) row."""
    return row.get("ref") or f"#{i:03d}"
