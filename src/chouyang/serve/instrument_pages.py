"""The pages of web entry for any instrument (调查表): the list, the entry page, the adjudication.

One template (instrument_entry.html) shows every instrument: this module turns the definition into
nodes the template only prints (sections, questions, repeat tables), and embeds the parsed
`relevant`/`constraint` trees (`expr.to_json`) for static/instrument.js, which evaluates them with
static/expr.js as the clerk types.  The browser only greys out and clears skipped questions and
shows constraint messages; the server validates every post again (`instrument_entry.check`).
"""

from __future__ import annotations

import re
import secrets
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chouyang.entry import instrument_entry as ie
from chouyang.entry import keyed
from chouyang.errors import ChouyangError
from chouyang.inputs.readers import mask_id
from chouyang.instruments import expr
from chouyang.instruments.model import ROWS_BLANK, ROWS_FIXED, ROWS_REGISTER, Field, Group, Instrument
from chouyang.instruments.responses import column_name
from chouyang.render.instrument_items import note_text
from chouyang.serve import workstation
from chouyang.serve.app import guarded, render, session_of, state_of, user_of

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_UNIT = re.compile(r"\d{6,20}")
BLANK_EXTRA = 3   # empty rows offered below a blank repeat's rows


# --- presenters -------------------------------------------------------------------------------

def _mark(f: Field) -> str:
    text = (f.required or "").strip().lower()
    if text in ("", "no", "false", "false()"):
        return ""
    return "必填" if text in ("yes", "true", "true()") else "视情况必填"


def _widget(f: Field, in_row: bool) -> str:
    if f.type == "note":
        return "note"
    if f.prefill is not None or f.type == "calculate":
        return "locked"
    if f.type == "select_one":
        return "radios"
    if f.type == "select_multiple":
        return "checkboxes"
    if f.type == "text" and not in_row:
        return "textarea"
    return "input"


_INPUT_MODES = {"integer": "numeric", "decimal": "decimal"}


def _constraint_message(instrument: Instrument, f: Field) -> str:
    if not f.constraint:
        return ""
    if f.constraint_message:
        return f.constraint_message
    labels = {x.name: x.label for x in instrument.fields()}
    return f"不符合要求（{expr.describe(_parsed(instrument, f, f.constraint), labels)}）"


def _shown_locked(f: Field, value: str) -> str:
    return mask_id(value) if f.prefill in keyed.ID_KEYS and value else value


def question(instrument: Instrument, f: Field, value: str, path: str, scope: str | None, row: int | None,
             bad: set[str]) -> dict:
    """One question as the template prints it."""
    widget = _widget(f, scope is not None)
    cl = instrument.choice_list(f)
    chosen = set(value.split()) if f.type == "select_multiple" else {value}
    return {"kind": "question", "widget": widget, "path": path, "name": f.name, "scope": scope or "",
            "row": "" if row is None else row, "hint": f.hint or "", "mark": _mark(f),
            # a note quoting answers (${name}) reads as on paper: the questions named, not the raw reference
            "label": note_text(instrument, f.label) if widget == "note" else f.label,
            "value": _shown_locked(f, value) if widget == "locked" else value, "bad": path in bad,
            "choices": [(c.code, c.label, c.code in chosen) for c in (cl.choices if cl else ())],
            "inputmode": _INPUT_MODES.get(f.type, "text"), "placeholder": "YYYY-MM-DD" if f.type == "date" else "",
            "message": _constraint_message(instrument, f)}


def _repeat(instrument: Instrument, group: Group, rows: list[dict], bad: set[str]) -> dict:
    fields = [f for f in ie._repeat_fields(group) if f.type != "note"]
    if group.rows == ROWS_BLANK:
        rows = rows + [{}] * max(BLANK_EXTRA, group.blank_rows - len(rows))
    return {"kind": "repeat", "name": group.name, "label": group.label, "fixed": group.rows == ROWS_FIXED,
            "notes": [note_text(instrument, f.label) for f in ie._repeat_fields(group) if f.type == "note"],
            "heads": [(f.label, _mark(f)) for f in fields], "rows": [_row(instrument, group, fields, i, v, bad)
                                                                    for i, v in enumerate(rows)],
            "count_name": ie.rows_path(group.name) if group.rows == ROWS_BLANK else "", "count": len(rows),
            "empty": group.rows == ROWS_REGISTER and not rows}


def _row(instrument: Instrument, group: Group, fields: list[Field], i: int, values: dict, bad: set[str]) -> dict:
    label = dict(group.fixed).get(values.get(group.key or "key", ""), "") if group.rows == ROWS_FIXED else ""
    cells = [question(instrument, f, values.get(f.name, ""), ie.field_path(f.name, group.name, i), group.name, i, bad)
             for f in fields]
    return {"number": i + 1, "label": label, "cells": cells}


def form_nodes(instrument: Instrument, children, values: dict, rows: dict, bad: set[str]) -> list[dict]:
    """The definition's tree as sections, questions and repeat tables, holding `values` and `rows`."""
    out = []
    for node in children:
        if isinstance(node, Group) and node.repeat:
            out.append(_repeat(instrument, node, rows.get(node.name, []), bad))
        elif isinstance(node, Group):
            out.append({"kind": "section", "label": node.label,
                        "children": form_nodes(instrument, node.children, values, rows, bad)})
        else:
            out.append(question(instrument, node, values.get(node.name, ""), ie.field_path(node.name), None, None, bad))
    return out


def logic(instrument: Instrument, today: date) -> dict:
    """The relevant and constraint trees of every question that has one, for static/instrument.js."""
    fields = {}
    for groups, f in instrument.walk():
        relevant = [g.relevant for g in groups if g.relevant] + ([f.relevant] if f.relevant else [])
        if f.type != "note" and (relevant or f.constraint):
            fields[f"{_scope(groups)}/{f.name}"] = {"relevant": [_tree(instrument, f, t) for t in relevant],
                                                   "constraint": _tree(instrument, f, f.constraint)}
    return {"today": today.isoformat(), "fields": fields}


def _scope(groups: tuple[Group, ...]) -> str:
    """The innermost repeat holding a field ('' at top level), as responses.validate scopes it."""
    return next((g.name for g in reversed(groups) if g.repeat), "")


def _tree(instrument: Instrument, f: Field, text: str | None) -> list | None:
    return expr.to_json(_parsed(instrument, f, text)) if text else None


def _parsed(instrument: Instrument, f: Field, text: str) -> expr.Node:
    """The parsed expression; a definition that slipped past its checks is named with the question."""
    try:
        return expr.parse(text)
    except expr.ExprError as exc:
        raise ChouyangError(f"调查表「{instrument.title}」的题目「{column_name(f)}」的表达式有误：{exc}") from None


def shown_value(instrument: Instrument, f: Field, value: str) -> str:
    """A stored value with its choices' labels, for the adjudication page."""
    if value == "":
        return "（空）"
    cl = instrument.choice_list(f)
    if cl is None:
        return value
    return "、".join(f"{code} {cl.label_of(code) or ''}".strip() for code in value.split())


# --- routes -------------------------------------------------------------------------------

def _path_args(request: Request) -> tuple[str, str]:
    name, unit = request.path_params["name"], request.path_params["unit"]
    if not _NAME.fullmatch(name):
        raise ChouyangError(f"调查表名称无效：{name}")
    if not _UNIT.fullmatch(unit):
        raise ChouyangError(f"样本点代码无效：{unit}")
    return name, unit


def _checklist(rnd, instrument: Instrument, unit: str):
    """The point's register rows, only for instruments with a repeat over a register table."""
    if not any(g.rows == ROWS_REGISTER for g in instrument.repeats()):
        return None
    return workstation.unit_checklist(rnd, unit)


async def index(request: Request) -> Response:
    found = await run_in_threadpool(ie.overview, state_of(request).round)
    return render(request, "instrument_index.html", {"overviews": found, "passes": keyed.PASSES, "me": user_of(request)})


def _entry_context(instrument, s, number, values, rows, bad, error=None) -> dict:
    today = date.today()
    return {"instrument": instrument, "subject": s, "number": number, "error": error,
            "nodes_tree": form_nodes(instrument, instrument.children, values, rows, bad), "logic": logic(instrument, today),
            "request_id": secrets.token_hex(8)}


def _wait_context(instrument, s, number) -> dict:
    words = {keyed.DRAFT: "录入中", keyed.DONE: "已提交"}
    states = [f"第 {n} 遍：{s.passes[n].clerk}，{words[s.passes[n].state]}" if n in s.passes else f"第 {n} 遍：尚无人录入"
              for n in keyed.PASSES]
    return {"instrument": instrument, "subject": s, "number": number, "pass_states": states,
            "both_done": all(s.done(n) for n in keyed.PASSES)}


def _entry_get(rnd, name: str, unit: str, clerk: str) -> tuple[str, dict]:
    instrument = ie.instrument_of(rnd, name)
    s = ie.subject(rnd, instrument, unit)
    number = keyed.pass_of(s.passes, clerk)
    if s.settled or number is None or s.done(number):
        return "instrument_wait.html", _wait_context(instrument, s, number)
    rows = ie.prefilled_rows(instrument, _checklist(rnd, instrument, unit))
    return "instrument_entry.html", _entry_context(instrument, s, number, {"unit_code": unit}, rows, set())


async def entry_page(request: Request) -> Response:
    name, unit = _path_args(request)
    template, context = await run_in_threadpool(_entry_get, state_of(request).round, name, unit, user_of(request))
    return render(request, template, context)


def _entry_post(rnd, name: str, unit: str, clerk: str, form):
    instrument = ie.instrument_of(rnd, name)
    saved = ie.save_pass(rnd, instrument, unit, clerk, form, _checklist(rnd, instrument, unit))
    if not saved.checked.problems:
        return saved, None
    raw = ie.parse_form(instrument, unit, ie.prefilled_rows(instrument, _checklist(rnd, instrument, unit)), form)
    error = ChouyangError("录入内容有误，未保存", saved.checked.problems)
    s = ie.subject(rnd, instrument, unit)
    return saved, _entry_context(instrument, s, saved.number, raw.values, raw.rows, saved.checked.bad, error)


async def entry_post(request: Request, form) -> Response:
    name, unit = _path_args(request)
    saved, refused = await run_in_threadpool(_entry_post, state_of(request).round, name, unit, user_of(request), form)
    if refused is not None:
        return render(request, "instrument_entry.html", refused, status_code=400)
    if saved.settled:
        session_of(request).flash.append(f"第 {saved.number} 遍已提交：两遍一致，样本点 {unit} 已核定入库")
    elif saved.differences:
        session_of(request).flash.append(f"第 {saved.number} 遍已提交：两遍有 {saved.differences} 处不一致，请核定")
        return RedirectResponse(f"/instruments/{name}/{unit}/settle", status_code=303)
    else:
        session_of(request).flash.append(f"第 {saved.number} 遍已提交")
    return RedirectResponse("/instruments", status_code=303)


def _settle_context(rnd, name: str, unit: str, error=None) -> dict:
    instrument = ie.instrument_of(rnd, name)
    adj = ie.adjudication(rnd, instrument, unit)
    rows = [{"path": d.path, "pick": ie.decision_path(d.path), "third": ie.third_path(d.path),
             "part": d.group.label if d.group else "（表头）", "row": "" if d.index is None else d.index + 1, "key": d.key,
             "label": d.field.label, "first": shown_value(instrument, d.field, d.first),
             "second": shown_value(instrument, d.field, d.second)} for d in adj.differences]
    return {"instrument": instrument, "subject": adj.subject, "differences": rows, "error": error,
            "clerks": {n: adj.subject.passes[n].clerk for n in keyed.PASSES}}


async def settle_page(request: Request) -> Response:
    name, unit = _path_args(request)
    context = await run_in_threadpool(_settle_context, state_of(request).round, name, unit)
    return render(request, "instrument_settle.html", context)


def _settle_post(rnd, name: str, unit: str, user: str, form):
    checked = ie.settle(rnd, ie.instrument_of(rnd, name), unit, user, form)
    if not checked.problems:
        return None
    return _settle_context(rnd, name, unit, ChouyangError("核定结果有误，未入库", checked.problems))


async def settle_post(request: Request, form) -> Response:
    name, unit = _path_args(request)
    refused = await run_in_threadpool(_settle_post, state_of(request).round, name, unit, user_of(request), form)
    if refused is not None:
        return render(request, "instrument_settle.html", refused, status_code=400)
    session_of(request).flash.append(f"样本点 {unit} 的「{name}」已核定入库")
    return RedirectResponse("/instruments", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/instruments", index),
        Route("/instruments/{name}/{unit}", entry_page, methods=["GET"]),
        Route("/instruments/{name}/{unit}", guarded(entry_post), methods=["POST"]),
        Route("/instruments/{name}/{unit}/settle", settle_page, methods=["GET"]),
        Route("/instruments/{name}/{unit}/settle", guarded(settle_post), methods=["POST"]),
    ]
