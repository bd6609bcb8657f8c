"""Every controlled vocabulary of the data contract (SPEC §2.2, §2.3, §5), defined once."""

from __future__ import annotations

from functools import cache

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

SAMPLE_COLUMNS = ("round_id", "township_code", "township_name", "unit_code", "unit_name",
                  "role", "rank", "inclusion_prob", "weight")
PLAN_COLUMNS = ("team_id", "date", "township_code", "unit_code")

RESULTS = {
    "women_check": WOMAN_RESULTS,
    "births_check": BIRTH_RESULTS,
    "procedures_check": PROCEDURE_RESULTS,
    "benefits_check": BENEFIT_RESULTS,
}

# The survey form's column tables (which columns each sheet has, which the team fills in, their
# labels, the values offered, the count scales) are its definition's: chouyang/instruments/
# builtins/survey.toml, read by chouyang.instruments.sheets.  They keep their names here:
# ENTRY_COLUMNS (sheet -> entry column keys), REGISTER_LABELS (check sheet -> register key ->
# label), ENTRY_LABELS (row key and entry column -> label), SCALES (count scale key ->
# ((label, value), ...); the last option is open-ended: 5+ is stored as 5, 4+ as 4) and
# CONFIRM_TOP (scales whose top option is confirmed by a person), built on first use so that
# importing the vocabulary reads no file.
CHECK_SHEETS = ("women_check", "births_check", "procedures_check", "benefits_check")
MISSED_SHEETS = ("missed_births", "missed_women")

_DERIVED = {"ENTRY_COLUMNS": "entry_columns", "REGISTER_LABELS": "register_labels", "ENTRY_LABELS": "entry_labels",
            "SCALES": "scales", "CONFIRM_TOP": "confirm_top"}


@cache
def survey_sheets():
    """The built-in survey form's sheets (chouyang.instruments.sheets.Sheets)."""
    from chouyang.instruments.catalog import builtin  # pure, but parsing the definition is left to first use
    from chouyang.instruments.sheets import Sheets

    return Sheets(builtin("survey"))


@cache
def _derived(name: str):
    return getattr(survey_sheets(), _DERIVED[name])()


def __getattr__(name: str):
    if name in _DERIVED:
        return _derived(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def choices_for(section: str, key: str) -> tuple[str, ...] | None:
    """The values a column offers as a list (drop-down), or None (free text, or a count scale)."""
    return survey_sheets().choices(section, key)


def options_for(section: str, key: str) -> tuple[tuple[str, str | int], ...] | None:
    """Every tick option of an entry column on paper: (printed label, value stored), or None for free text."""
    return survey_sheets().options(section, key)


def label_for(section: str, key: str) -> str:
    """The Chinese header label of a column on a sheet."""
    return survey_sheets().label(section, key)


def sheet_columns(section: str) -> tuple[str, ...]:
    """All column keys of a sheet: ref, the read-only register columns, the entry columns."""
    return survey_sheets().columns(section)


def row_key(row: dict, i: int) -> str:
    """A stored entry row's key: its register ref, or #001, #002 for the i-th new (missed) row."""
    return row.get("ref") or f"#{i:03d}"
