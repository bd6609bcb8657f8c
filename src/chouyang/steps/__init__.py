"""Round-level steps: what the CLI (and the demo, the notebook, a web front end) calls.

Each step loads what it needs through the `Round` (round/folder.py), calls pure stage
functions (tables in, tables out: draw, plan, ingest validation, cases, score),
hands tables to a renderer (plan_pdf, forms, report) and writes results through
the Round.  A step checks the round first (inputs and rules unchanged since the
draw) and logs what it did; it prints nothing.

One module per command family: setup (open_round, init, commit), sampling (draw,
replace, verify), planning (plan), printing (forms, checklist), entering (ingest,
export_unit), casework (cases, status, set_case_status), scanning (scan), scoring
(score), people (users), instruments (instrument_list, instrument_export, instrument_add, export),
instrument_ingest (ingest_submissions, ingest_workbooks), instrument_forms (what forms and scan do for a
round's own instruments).  `steps.draw(rnd, …)` imports only the module that owns
`draw` (PEP 562), so importing this package imports nothing heavy.
"""

from __future__ import annotations

import importlib

# name -> the module that owns it (the last two are the stages' own, re-exported for the CLI)
_OWNERS = {
    **dict.fromkeys(("open_round", "InitSummary", "round_id_for", "init", "commit"), "chouyang.steps.setup"),
    **dict.fromkeys(("draw", "replace", "verify", "VerifyResult", "rules_changes"), "chouyang.steps.sampling"),
    "plan": "chouyang.steps.planning",
    **dict.fromkeys(("forms", "checklist"), "chouyang.steps.printing"),
    "assessment_townships": "chouyang.steps.townships",
    **dict.fromkeys(("ingest", "ingest_entries", "export_unit"), "chouyang.steps.entering"),
    **dict.fromkeys(("cases", "status", "set_case_status"), "chouyang.steps.casework"),
    "scan": "chouyang.steps.scanning",
    **dict.fromkeys(("instrument_list", "instrument_export", "instrument_add", "export"), "chouyang.steps.instruments"),
    **dict.fromkeys(("ingest_submissions", "ingest_workbooks"), "chouyang.steps.instrument_ingest"),
    **dict.fromkeys(("score", "score_round"), "chouyang.steps.scoring"),
    **dict.fromkeys(("add_user", "users"), "chouyang.steps.people"),
    "PROBLEM_TEXT": "chouyang.scan.batch",
    "county_summary_line": "chouyang.survey.score",
}

__all__ = ["PROBLEM_TEXT", "county_summary_line", "open_round", "init", "commit", "draw", "verify", "replace",
           "plan", "forms", "ingest", "ingest_entries", "status", "cases", "scan", "score", "export_unit",
           "add_user", "users", "set_case_status", "instrument_list", "instrument_export", "instrument_add", "export",
           "ingest_submissions", "ingest_workbooks"]


def __getattr__(name: str):
    owner = _OWNERS.get(name)
    if owner is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(owner), name)
    globals()[name] = value  # the next look-up is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_OWNERS))
