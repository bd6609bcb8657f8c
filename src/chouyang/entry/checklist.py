"""Entering a township's assessment facts (issue 13), pure: a filled checklist workbook checked against the round.

A checklist workbook (assessment_workbook.py) is identified by its hidden metadata (round,
township, scheme version), then every value is checked by `facts.check_entries`; the checked
rows are what the ingest step stores for the township, in the same transaction and audit log
as survey workbooks (steps.ingest).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from chouyang.assessment.facts import ENTRY_COLUMNS, check_entries
from chouyang.assessment.scheme import Scheme
from chouyang.errors import Problem
from chouyang.render.checklist_workbook import ChecklistFile, identity_problems


@dataclass(frozen=True)
class ValidChecklist:
    township_code: str
    source: str
    data: dict[str, list[dict]]  # table name (facts, scores, adjustments, flags) -> rows of text

    def content_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def validate_checklist(file: ChecklistFile, scheme: Scheme, round_id: str, townships: list[str],
                       computed: dict[str, set[str]]) -> tuple[ValidChecklist | None, list[Problem]]:
    """One filled checklist workbook: its identity, then every entered value (all problems at once)."""
    problems = list(file.problems) + identity_problems(file, round_id=round_id, townships=townships, scheme=scheme)
    if problems:
        return None, problems
    code = file.meta["township_code"]
    problems = check_entries(scheme, file.entries, [code], computed, scheme.period, file.source)
    if problems:
        return None, problems
    data = {name: [{k: str(r.get(k, "")) for k in columns} for r in getattr(file.entries, name).to_dict("records")]
            for name, columns in ENTRY_COLUMNS.items()}
    return ValidChecklist(code, file.source, data), []


def survey_computed(scheme: Scheme, visited: set[str]) -> dict[str, set[str]]:
    """Which townships' survey and indicator components the survey gives: the townships it visits."""
    return {c.id: set(visited) for c in scheme.components.values() if c.source in ("survey", "indicator")}


def duplicate_townships(valid: list[ValidChecklist]) -> list[Problem]:
    codes = [v.township_code for v in valid]
    return [Problem("、".join(v.source for v in valid if v.township_code == code), f"同一个乡镇 {code} 给出了多份考核清单")
            for code in sorted({c for c in codes if codes.count(c) > 1})]
