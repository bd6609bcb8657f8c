"""Keyed double entry (录入): each clerk keys the paper form blind; an adjudicator settles the mismatches."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chouyang import vocab
from chouyang.entry import keyed
from chouyang.errors import ChouyangError
from chouyang.inputs.readers import mask_id
from chouyang.render.survey_pdf import display_value
from chouyang.serve import workstation
from chouyang.serve.app import flash, guarded, render, round_of, see_other, unit_of, user_of
from chouyang.serve.views import ingest_words, pct, shown

BLANK_NEW_ROWS = 3  # empty rows offered below a missed sheet's keyed rows


# --- presenters --------------------------------------------------------------------------

@dataclass
class Cell:
    name: str = ""
    kind: str = "shown"  # shown | text | select | id | pick
    value: str = ""
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    picks: list[tuple[str, str, bool]] = field(default_factory=list)  # (value, label, checked)
    note: str = ""


@dataclass
class RowView:
    number: int
    ref: str
    cells: list[Cell]
    mismatched: bool = False


@dataclass
class SheetView:
    key: str
    label: str
    heads: list[str]
    rows: list[RowView]
    count_name: str = ""
    count: int = 0


def _input(sheet: str, index: int, key: str, value: str) -> Cell:
    name = keyed.field_name(sheet, index, key)
    if key in keyed.ID_KEYS:
        return Cell(name, "id", "", placeholder=mask_id(value) if value else "")
    choices = vocab.choices_for(sheet, key)
    if choices:
        return Cell(name, "select", value, tuple(choices))
    return Cell(name, "text", value)


def keyed_sheets(checklist, data: dict[str, list[dict]], mismatches: list[keyed.Mismatch] | None = None,
                 settled: bool = False) -> list[SheetView]:
    """The keying form (or, with `mismatches`, the adjudication form) sheet by sheet.

    In the adjudication form a mismatched field offers the two passes' values (masked for ID
    numbers); it is preselected only when a saved draft (`settled`) already chose one.
    """
    picks = {(m.sheet, m.index, m.key): m for m in mismatches or []}
    out = []
    for sheet in keyed.sheets_of(checklist):
        rows_data = data.get(sheet, [])
        heads = ["行"] + [vocab.label_for(sheet, k) for k in vocab.sheet_columns(sheet)]
        register = checklist.sections[sheet].to_dict("records") if sheet in vocab.CHECK_SHEETS else None
        indexes = _row_indexes(sheet, register, rows_data, picks, adjudicating=mismatches is not None)
        rows = [_row(sheet, i, rows_data[i] if i < len(rows_data) else {}, register, picks, settled) for i in indexes]
        count_name = f"{sheet}.rows" if sheet in vocab.MISSED_SHEETS else ""
        out.append(SheetView(sheet, vocab.SHEETS[sheet], heads, rows, count_name, len(rows)))
    return out


def _row_indexes(sheet: str, register: list[dict] | None, rows_data: list[dict], picks: dict,
                 adjudicating: bool) -> range:
    """Which rows a sheet shows: a check sheet every register row; a missed sheet its keyed rows (and any
    mismatched row beyond them), with BLANK_NEW_ROWS empty rows below while keying."""
    if register is not None:
        return range(len(register))
    extra = 0 if adjudicating else BLANK_NEW_ROWS
    width = max([len(rows_data)] + [m.index + 1 for m in picks.values() if m.sheet == sheet])
    return range(width + extra)


def _row(sheet: str, i: int, values: dict, register: list[dict] | None, picks: dict, settled: bool) -> RowView:
    """One row: the register's printed columns (check sheets), then an input or a pick per entry column."""
    if register is not None:
        reg = register[i]
        cells = [Cell(value=reg["ref"])] + [Cell(value=display_value(sheet, k, reg)) for k in vocab.REGISTER_LABELS[sheet]]
    else:
        cells = [Cell(value="")]
    mismatched = False
    for key in vocab.ENTRY_COLUMNS[sheet]:
        m = picks.get((sheet, i, key))
        if m is None:
            cells.append(_input(sheet, i, key, values.get(key, "")))
        else:
            mismatched = True
            cells.append(_pick(sheet, i, key, m, values.get(key) if settled else None))
    return RowView(keyed.FIRST_ROW + i, values.get("ref", ""), cells, mismatched)


def _pick(sheet: str, i: int, key: str, m: keyed.Mismatch, chosen: str | None) -> Cell:
    """A mismatched field: the two passes' values side by side (`chosen`: a saved draft's choice)."""
    note = keyed.differing_positions(m.first, m.second) if key in keyed.ID_KEYS and m.first and m.second else ""
    return Cell(keyed.field_name(sheet, i, key), "pick", picks=[
        ("@1", "一录：" + shown(key, m.first), chosen == m.first),
        ("@2", "二录：" + shown(key, m.second), chosen == m.second and chosen != m.first)], note=note)


def mismatch_rows(mismatches: list[keyed.Mismatch]) -> list[list[str]]:
    return [[vocab.SHEETS[m.sheet], str(m.row), m.ref or "新增行", vocab.label_for(m.sheet, m.key),
             shown(m.key, m.first), shown(m.key, m.second)] for m in mismatches]


# --- routes ------------------------------------------------------------------------------

async def entry_index(request: Request) -> Response:
    units, rates = await run_in_threadpool(workstation.keyed_overview, round_of(request))
    return render(request, "entry_index.html", {"units": units, "rates": rates, "me": user_of(request),
                                                "pct": pct})


async def entry_form(request: Request) -> Response:
    unit = unit_of(request)
    kf = await run_in_threadpool(workstation.keyed_form, round_of(request), unit, user_of(request))
    if kf.number is None or (kf.own is not None and kf.own.state == keyed.DONE):
        both = all(n in kf.passes and kf.passes[n].state == keyed.DONE for n in keyed.PASSES)
        return render(request, "entry_wait.html", {"unit": unit, "form": kf, "pass_states": _pass_states(kf.passes),
                                                   "both_done": both})
    sheets = keyed_sheets(kf.checklist, kf.own.data if kf.own else {})
    return render(request, "entry_form.html", {"unit": unit, "number": kf.number, "sheets": sheets,
                                               "request_id": secrets.token_hex(8)})


def _pass_states(passes: dict) -> list[str]:
    words = {keyed.DRAFT: "录入中", keyed.DONE: "已提交"}
    return [f"第 {n} 遍：{passes[n].clerk}，{words[passes[n].state]}" if n in passes else f"第 {n} 遍：尚无人录入"
            for n in keyed.PASSES]


async def entry_save(request: Request, form) -> Response:
    unit = unit_of(request)
    finish = form.get("finish") == "1"
    n = await run_in_threadpool(workstation.keyed_save, round_of(request), unit, user_of(request), form, finish)
    flash(request, f"第 {n} 遍录入已{'提交' if finish else '保存'}")
    return see_other(f"/entry/{unit}" if not finish else "/entry")


async def settle_page(request: Request) -> Response:
    unit = unit_of(request)
    adj = await run_in_threadpool(workstation.adjudication, round_of(request), unit)
    return render(request, "entry_settle.html", _settle_context(adj))


def _settle_context(adj: workstation.Adjudication, error: ChouyangError | None = None) -> dict:
    settled = keyed.FINAL in adj.passes
    return {"unit": adj.unit_code, "adj": adj, "error": error, "settled_done": settled and adj.passes[
                keyed.FINAL].state == keyed.DONE,
            "sheets": keyed_sheets(adj.checklist, adj.base, adj.mismatches, settled),
            "mismatch_rows": mismatch_rows(adj.mismatches), "clerks": {n: adj.passes[n].clerk for n in keyed.PASSES},
            "replace": error is not None and adj.entered}


async def settle_post(request: Request, form) -> Response:
    unit = unit_of(request)
    rnd = round_of(request)
    try:
        results = await run_in_threadpool(workstation.keyed_settle, rnd, unit, form, user_of(request),
                                          form.get("replace") == "1")
    except ChouyangError as exc:
        adj = await run_in_threadpool(workstation.adjudication, rnd, unit)
        return render(request, "entry_settle.html", _settle_context(adj, exc), status_code=400)
    flash(request, f"样本点 {unit} 已核定入库（{ingest_words(results)}）")
    return see_other("/entry")


def routes() -> list[Route]:
    return [
        Route("/entry", entry_index),
        Route("/entry/{unit}", entry_form, methods=["GET"]),
        Route("/entry/{unit}", guarded(entry_save), methods=["POST"]),
        Route("/entry/{unit}/settle", settle_page, methods=["GET"]),
        Route("/entry/{unit}/settle", guarded(settle_post), methods=["POST"]),
    ]
