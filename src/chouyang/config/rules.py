"""Load and validate `rules.toml`; built-in presets ship as package data.

Everything that varies between cities and years lives in the rules file.
Validation names the offending key in Chinese: unknown keys, wrong types,
negative points and reversed periods are all refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from chouyang.config.toml import decode_toml, loads_toml, read_bytes
from chouyang.errors import ChouyangError, Problem

_INT = "整数"
_BOOL = "true/false"
_DATE = "日期（如 2016-07-01）"
_STR = "文本"
_FLOAT = "数字"

# section -> key -> (kind, required, default)
_SCHEMA: dict[str, dict[str, tuple[str, bool, Any]]] = {
    "round": {
        "id": (_STR, True, None),
        "name": (_STR, True, None),
        "reference_start": (_DATE, True, None),
        "reference_end": (_DATE, True, None),
        "survey_days": ("dates", True, None),
    },
    "sampling": {
        "points_per_township": (_INT, False, 2),
        "overrides": ("code_map", False, {}),
        "reserves_per_township": (_INT, False, 1),
        "method": (_STR, False, "srs"),
        "size_column": (_STR, False, "wcba"),
        "exclude_previous_rounds": (_INT, False, 0),
    },
    "plan": {
        "points_per_team_day": (_INT, False, 1),
        "same_team_per_township": (_BOOL, False, True),
        "respect_avoidance": (_BOOL, False, True),
    },
    "confirmation": {
        "min_witnesses": (_INT, False, 3),
        "require_verified": (_BOOL, False, True),
    },
    "deductions": {
        "birth_parity_1_2": (_FLOAT, True, None),
        "birth_parity_3plus": (_FLOAT, True, None),
        "birth_false": (_FLOAT, True, None),
        "iud_false_or_wrong": (_FLOAT, True, None),
        "sterilisation_false_or_wrong": (_FLOAT, True, None),
        "remedial_false": (_FLOAT, True, None),
        "remedial_wrong": (_FLOAT, False, 0),
        "removal_false_or_wrong": (_FLOAT, False, 0),
        "eligibility_error": (_FLOAT, False, 0),
        "payment_error": (_FLOAT, False, 0),
        "programmes": ("programme_map", False, {}),
        "woman_missing": (_FLOAT, False, 0),
        "woman_false": (_FLOAT, False, 0),
        "cap": (_FLOAT, True, None),
        "cap_scope": (_STR, True, None),
    },
    "ranking": {
        "order": ("str_list", False, ["deduction", "birth_error_rate"]),
        "top_n": (_INT, False, 0),     # 先进
        "bottom_n": (_INT, False, 0),  # 重点管理
    },
    "estimation": {  # statistical choices for county estimates, not rules of the assessment
        "county_ratio": (_STR, False, "combined"),
        "korn_graubard": (_STR, False, "truncated"),
    },
}

SAMPLING_METHODS = ("srs", "pps")
# What `deductions.cap` covers.  The seed's caps cover every 减分 item of a scheme; chouyang scores
# the misreport cases of the survey, so that is the one scope it implements, named in every report.
CAP_SCOPES = {"misreport cases": "抽样调查误差个案"}
# Keys a programme of 三项制度/孕前优生 may override in [deductions.programmes].
PROGRAMME_KEYS = ("eligibility_error", "payment_error")
ROUND_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
PLACEHOLDER_NAME = "（请修改轮次名称）"
# Paper forms offer 反映群众人数 as 0 1 2 3 4 5+ (5+ stored as 5), so no rule may ask for more.
MAX_MIN_WITNESSES = 5
# [estimation] choices -> how the report names them
COUNTY_RATIOS = {"combined": "合并比率估计（全县登记数 × 全县样本加权实际数 ÷ 加权登记数）",
                 "separate": "分别比率估计（各乡镇登记数 × 本乡镇样本比率，再求和）"}
KORN_GRAUBARD = {"truncated": "设计效应截断于 1", "untruncated": "设计效应不截断"}
_WHAT = "规则文件"  # how messages name rules.toml
RANKING_KEYS = ("deduction", "deduction_raw", "birth_error_rate", "statistical_error_rate",
                "birth_omission_rate", "woman_missing_rate")


@dataclass(frozen=True)
class Section:
    """A validated rules section; attribute access by key."""

    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["values"][key]
        except KeyError as exc:
            raise AttributeError(key) from exc


@dataclass(frozen=True)
class Rules:
    round: Section
    sampling: Section
    plan: Section
    confirmation: Section
    deductions: Section
    ranking: Section
    estimation: Section
    source: str
    sha256: str

    def points_for(self, township_code: str) -> int:
        return int(self.sampling.overrides.get(township_code, self.sampling.points_per_township))

    def deduction_points(self, rule: str, programme: str | None = None) -> float:
        """Points of a deduction rule key; a benefit rule may be overridden per programme."""
        override = (self.deductions.programmes or {}).get(programme or "", {})
        return float(override.get(rule, getattr(self.deductions, rule)))

    @property
    def name_is_placeholder(self) -> bool:
        return is_placeholder_name(self.round.name)


def is_placeholder_name(name: str) -> bool:
    """A round title that is still the preset's placeholder (or empty)."""
    return not str(name).strip() or "请修改" in name or name == PLACEHOLDER_NAME


def round_id_problem(round_id: str) -> str | None:
    """Why `round_id` cannot be a round id (it enters every ticket, QR code and file name), or None."""
    if ROUND_ID.match(round_id or ""):
        return None
    return ("轮次编号只能由字母、数字和 . _ - 组成（以字母或数字开头，最多 40 个字符），"
            "因为它进入每一张签号、二维码和文件名")


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in files("chouyang").joinpath("presets").iterdir()
                  if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    if name not in preset_names():
        raise ChouyangError(f"没有名为「{name}」的规则预设。可用预设：{'、'.join(preset_names())}")
    return files("chouyang").joinpath("presets", f"{name}.toml").read_text(encoding="utf-8")


def preset_description(name: str) -> str:
    """The first comment line of a preset is its one-line Chinese description."""
    first = preset_text(name).splitlines()[0]
    return first.lstrip("# ").strip()


def load_rules(path: Path) -> Rules:
    path = Path(path)
    raw = read_bytes(path, _WHAT)
    return parse_rules(decode_toml(raw, str(path), _WHAT), str(path), raw)


def round_rules_text(preset: str, round_id: str, round_name: str | None = None) -> str:
    """A round's own rules.toml: the preset's text with the round id (and title, when given) filled in.

    Presets carry no round id (it would silently enter every ticket of a round that forgot to set
    its own) and a placeholder title; both lines are written here, the comments stay.
    """
    text = preset_text(preset)
    if "\n[round]\n" not in "\n" + text:
        raise AssertionError(f"preset {preset} has no [round] section")  # pragma: no cover - shipped presets
    id_line = f"id = {_toml_string(round_id)}   # 轮次编号：进入每一张签号、二维码和录入工作簿（chouyang init --round-id）"
    text = re.sub(r"(?m)^\[round\]\n", lambda m: m.group(0) + id_line + "\n", text, count=1)
    if round_name is not None:
        text = re.sub(r'(?m)^name = ".*"$', lambda m: f"name = {_toml_string(round_name)}", text, count=1)
    return text


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def load_preset(name: str, round_id: str = "PRESET", round_name: str | None = None) -> Rules:
    """A preset's rules as a round with id `round_id` would have them (for the demo and tests)."""
    text = round_rules_text(name, round_id, round_name)
    return parse_rules(text, f"预设 {name}", text.encode("utf-8"))


def parse_rules(text: str, source: str, raw: bytes | None = None) -> Rules:
    data = loads_toml(text, source, _WHAT)
    problems: list[Problem] = []

    def bad(key: str, message: str, value: Any = None) -> None:
        problems.append(Problem(file=source, column=key, message=message, value=value))

    for section in data:
        if section not in _SCHEMA:
            bad(section, f"未知的节 [{section}]（可用：{'、'.join(_SCHEMA)}）")
    sections = {section: _section(section, keys, data.get(section, {}), bad) for section, keys in _SCHEMA.items()}
    _check_semantics(sections, bad)
    if problems:
        raise ChouyangError(f"规则文件 {source} 有错误", problems)
    digest = hashlib.sha256(raw if raw is not None else text.encode("utf-8")).hexdigest()
    return Rules(source=source, sha256=digest, **sections)


def _section(section: str, keys: dict[str, tuple[str, bool, Any]], given: Any, bad) -> Section:
    """One section's values by the schema: a missing or wrongly typed key gets its default (and a problem)."""
    if not isinstance(given, dict):
        bad(section, "应为一个节（表）")
        given = {}
    for key in given:
        if key not in keys:
            bad(f"{section}.{key}", "未知的键")
    return Section({key: _value(f"{section}.{key}", given, key, spec, bad) for key, spec in keys.items()})


def _value(name: str, given: dict, key: str, spec: tuple[str, bool, Any], bad) -> Any:
    kind, required, default = spec
    if key not in given:
        if required:
            bad(name, "缺少必填的键")
        return default
    value = given[key]
    message = _type_problem(kind, value)
    if message:
        bad(name, f"类型错误：应为{message}", value)
        return default
    if kind == _FLOAT and not math.isfinite(value):
        bad(name, "应为有限的数字（不能是 nan 或 inf）", value)
    elif kind in (_INT, _FLOAT) and value < 0:
        bad(name, "不能为负数", value)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _is_dates(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_date(v) for v in value)


def _is_code_map(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_int(v) and v >= 0 for v in value.values())


def _is_programme_map(value: Any) -> bool:
    def points(key: Any, x: Any) -> bool:
        return key in PROGRAMME_KEYS and _is_number(x) and math.isfinite(x) and x >= 0

    return isinstance(value, dict) and all(isinstance(v, dict) and all(points(k, x) for k, x in v.items())
                                           for v in value.values())


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# schema kind -> (accepts a value, what the message says it should be)
_KINDS = {
    _INT: (_is_int, _INT),
    _FLOAT: (_is_number, _FLOAT),
    _BOOL: (lambda value: isinstance(value, bool), _BOOL),
    _STR: (lambda value: isinstance(value, str), _STR),
    _DATE: (_is_date, _DATE),
    "dates": (_is_dates, "日期列表（如 [2016-07-26, 2016-07-27]）"),
    "code_map": (_is_code_map, '乡镇代码到样本点数的映射（如 { "411381550" = 1 }）'),
    "programme_map": (_is_programme_map, '项目名称到扣分的映射（如 "孕前优生健康检查" = { payment_error = 0 }，'
                                         f"可用的键：{'、'.join(PROGRAMME_KEYS)}，分值为不小于 0 的有限数字）"),
    "str_list": (_is_str_list, "文本列表"),
}


def _type_problem(kind: str, value: Any) -> str | None:
    """What a value of this schema kind should be, or None when it is one."""
    accepts, expected = _KINDS[kind]
    return None if accepts(value) else expected


def _check_semantics(sections: dict[str, Section], bad) -> None:
    _check_round(sections["round"], bad)
    _check_sampling(sections["sampling"], bad)
    _check_workload(sections["plan"], sections["confirmation"], bad)
    _check_choices(sections, bad)


def _check_round(rnd: Section, bad) -> None:
    if isinstance(rnd.id, str) and round_id_problem(rnd.id):
        bad("round.id", round_id_problem(rnd.id), rnd.id)
    start, end = rnd.reference_start, rnd.reference_end
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        bad("round.reference_end", f"调查时限结束日期早于开始日期 {start}", end)
    days = rnd.survey_days
    if isinstance(days, list) and len(set(days)) != len(days):
        bad("round.survey_days", "调查日期有重复", days)


def _check_sampling(sampling: Section, bad) -> None:
    if sampling.method not in SAMPLING_METHODS:
        bad("sampling.method", f"应为 {' 或 '.join(SAMPLING_METHODS)}", sampling.method)
    for code in sampling.overrides or {}:
        if not (len(code) == 9 and code.isdigit()):
            bad("sampling.overrides", "乡镇代码应为 9 位数字", code)
    if sampling.points_per_township == 0:
        bad("sampling.points_per_township", "每个乡镇至少抽取 1 个样本点（个别乡镇不抽可在 overrides 中写 0）", 0)


def _check_workload(plan: Section, confirmation: Section, bad) -> None:
    """Counts that must be at least 1, or at most what the paper form can record."""
    if plan.points_per_team_day == 0:
        bad("plan.points_per_team_day", "每组每天至少调查 1 个样本点", 0)
    witnesses = confirmation.min_witnesses
    if isinstance(witnesses, int) and witnesses > MAX_MIN_WITNESSES:
        bad("confirmation.min_witnesses", f"纸质核查表的反映群众人数只有 0–{MAX_MIN_WITNESSES}+ 几档，"
                                          f"确认标准不能超过 {MAX_MIN_WITNESSES} 人", witnesses)


def _check_choices(sections: dict[str, Section], bad) -> None:
    """Keys whose value must be one of a fixed list: cap scope, ranking indicators, estimation methods."""
    scope = sections["deductions"].cap_scope
    if isinstance(scope, str) and scope not in CAP_SCOPES:
        bad("deductions.cap_scope", f"目前只支持 {'、'.join(CAP_SCOPES)}（封顶只作用于抽样调查的误差个案）", scope)
    for key in sections["ranking"].order or []:
        if key not in RANKING_KEYS:
            bad("ranking.order", f"未知的排名指标（可用：{'、'.join(RANKING_KEYS)}）", key)
    for key, allowed in (("county_ratio", COUNTY_RATIOS), ("korn_graubard", KORN_GRAUBARD)):
        value = sections["estimation"].values[key]
        if value not in allowed:
            bad(f"estimation.{key}", "应为 " + " 或 ".join(f'"{k}"' for k in allowed) + "。"
                + "；".join(f"{k}：{v}" for k, v in allowed.items()), value)
