"""Web entry of any instrument, with blind double entry: the steps the /instruments pages call.

The same duty rules as the survey sheets' keyed entry (entry/keyed.py): two clerks key a subject's
paper form independently (`keyed.pass_of` gives a clerk their own pass or the first free one; the
second never sees the first's values), the two passes are compared field by field, equal passes are
settled at once, and differing ones are settled by anyone who looks at the paper (as `keyed_settle`:
an adjudicator may be one of the clerks).  Every pass and the settled record go through
`responses.validate` (nothing is stored while it finds problems), and every write is logged with
`Round.log` in the transaction that makes it.

A pass holds the normalised response (codes, ISO dates): register rows carry their register values
(filled from the register by the server, never taken from the form) and the row's key; blank rows
left empty are dropped.  Only instruments asked once per sample point are entered here so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from chouyang.entry import keyed
from chouyang.errors import ChouyangError, Problem
from chouyang.instruments import responses
from chouyang.instruments.model import ROWS_BLANK, ROWS_FIXED, ROWS_REGISTER, Field, Group, Instrument
from chouyang.instruments.responses import Place, Response, column_name
from chouyang.round import store
from chouyang.round.folder import Round, utc_now
from chouyang.survey.check_rows import UnitChecklist

MAX_BLANK_ROWS = 200   # rows of one blank repeat in one post
MAX_VALUES = 50        # values of one field in one post (a select_multiple's ticks)


def _catalog(rnd: Round) -> dict[str, Instrument]:
    """The round's own instruments (not the built-ins), read by instruments.catalog (branch xlsform)."""
    try:
        from chouyang.instruments import catalog
    except ModuleNotFoundError:  # not merged yet: a round then has no instruments of its own
        return {}
    builtins = set(catalog.builtin_names())
    return {n: i for n, i in catalog.round_instruments(rnd.path).items() if n not in builtins}


# Where the pages get a round's instruments from; tests put their own instruments here.
SOURCE = _catalog


def round_instruments(rnd: Round) -> dict[str, Instrument]:
    return dict(sorted(SOURCE(rnd).items()))


def instrument_of(rnd: Round, name: str) -> Instrument:
    found = round_instruments(rnd)
    if name not in found:
        raise ChouyangError(f"本轮没有名为 {name} 的调查表（有：{'、'.join(found) or '无'}）")
    return found[name]


def unsupported(instrument: Instrument) -> str | None:
    """Why an instrument cannot be entered on the web yet (None: it can)."""
    if instrument.per != "point":
        return "按乡镇、按户或按人填写的调查表暂不能网页录入（只支持按样本点填写的）"
    return None


# --- subjects and progress -------------------------------------------------------------------

@dataclass
class Subject:
    unit_code: str
    unit_name: str
    township_name: str
    passes: dict[int, store.StoredPass]

    @property
    def settled(self) -> bool:
        return keyed.FINAL in self.passes and self.passes[keyed.FINAL].state == keyed.DONE

    def done(self, n: int) -> bool:
        return n in self.passes and self.passes[n].state == keyed.DONE


@dataclass
class Overview:
    instrument: Instrument
    subjects: list[Subject]
    unsupported: str | None

    def keyed(self, n: int) -> int:
        return sum(s.done(n) for s in self.subjects)

    @property
    def settled(self) -> int:
        return sum(s.settled for s in self.subjects)


def overview(rnd: Round) -> list[Overview]:
    """Every instrument of the round with its subjects (the sample points) and their passes."""
    rnd.require_unchanged_since_draw()
    primary = rnd.primaries()
    out = []
    with rnd.store() as con:
        for instrument in round_instruments(rnd).values():
            found: dict[str, dict[int, store.StoredPass]] = {}
            for p in store.passes(con, instrument.name):
                found.setdefault(p.unit_code, {})[p.number] = p
            subjects = [Subject(u.unit_code, u.unit_name, u.township_name, found.get(u.unit_code, {}))
                        for u in primary.itertuples()]
            out.append(Overview(instrument, subjects, unsupported(instrument)))
    return out


def subject(rnd: Round, instrument: Instrument, unit_code: str) -> Subject:
    """One sample point of an instrument that can be entered on the web, with its passes."""
    reason = unsupported(instrument)
    if reason:
        raise ChouyangError(f"调查表「{instrument.title}」：{reason}")
    rnd.require_unchanged_since_draw()
    primary = rnd.primaries()
    row = primary[primary.unit_code == unit_code]
    if row.empty:
        raise ChouyangError(f"{unit_code} 不是本轮的样本点")
    with rnd.store() as con:
        found = store.subject_passes(con, instrument.name, unit_code)
    return Subject(unit_code, row.unit_name.iloc[0], row.township_name.iloc[0], found)


# --- rows the server fills: register rows and fixed lists ---------------------------------------

def _register_text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def prefilled_rows(instrument: Instrument, checklist: UnitChecklist | None) -> dict[str, list[dict[str, str]]]:
    """Per register or fixed repeat, its rows as the server fills them: the key and the prefilled columns."""
    out: dict[str, list[dict[str, str]]] = {}
    for group in instrument.repeats():
        if group.rows == ROWS_REGISTER:
            out[group.name] = _register_rows(group, checklist)
        elif group.rows == ROWS_FIXED:
            out[group.name] = [{group.key or "key": key} for key, _ in group.fixed]
    return out


def _register_rows(group: Group, checklist: UnitChecklist | None) -> list[dict[str, str]]:
    """The point's register rows of the group's table (its check rows, in the printed order)."""
    table = checklist.sections.get(f"{group.table}_check") if checklist is not None else None
    fields = [f for f in _repeat_fields(group) if f.prefill]
    rows = []
    for record in ([] if table is None else table.to_dict("records")):
        row = {f.name: _register_text(record.get(f.prefill)) for f in fields}
        if group.key:
            row[group.key] = _register_text(record.get("ref"))
        rows.append(row)
    return rows


def _repeat_fields(group: Group) -> list[Field]:
    """A repeat's fields in order, the fields of groups inside it included (responses flattens them too)."""
    out: list[Field] = []
    for node in group.children:
        out.extend(_repeat_fields(node) if isinstance(node, Group) else [node])
    return out


# --- the posted form -------------------------------------------------------------------------

def field_path(name: str, group: str | None = None, index: int | None = None) -> str:
    """The form field of one value: f/<name> at top level, r/<repeat>/<row>/<name> in a repeat's row."""
    return f"f/{name}" if group is None else f"r/{group}/{index}/{name}"


def rows_path(group: str) -> str:
    return f"rows/{group}"


def _posted(form, path: str) -> str:
    values = form.getlist(path) if hasattr(form, "getlist") else [form.get(path, "")]
    values = [str(v) for v in values if v is not None][:MAX_VALUES]
    return " ".join(v for v in values if v) if len(values) > 1 else (values[0] if values else "")


def _entered(f: Field) -> bool:
    return f.type not in ("note", "calculate") and f.prefill is None


def top_fields(instrument: Instrument) -> list[Field]:
    return [f for groups, f in instrument.walk() if not any(g.repeat for g in groups)]


def parse_form(instrument: Instrument, unit_code: str, prefilled: Mapping[str, list[dict]], form) -> Response:
    """The raw response a posted entry form holds (register values and keys from the server, never the form)."""
    values = {f.name: _posted(form, field_path(f.name)) for f in top_fields(instrument) if _entered(f)}
    if any(f.type == "calculate" and f.name == "unit_code" for f in top_fields(instrument)):
        values["unit_code"] = unit_code   # the preloaded point code, as on the phone
    rows = {g.name: _posted_rows(g, prefilled.get(g.name, []), form) for g in instrument.repeats()}
    return Response(instrument.name, unit_code, "", values, rows, source=f"网页录入（{unit_code}）")


def _posted_rows(group: Group, prefilled: list[dict], form) -> list[dict[str, str]]:
    """A repeat's rows: the server's rows with the posted answers, or the posted blank rows not left empty."""
    entered = [f for f in _repeat_fields(group) if _entered(f)]
    if group.rows == ROWS_BLANK:
        return _blank_rows(group, entered, form)
    return [{**base, **{f.name: _posted(form, field_path(f.name, group.name, i)) for f in entered}}
            for i, base in enumerate(prefilled)]


def _blank_rows(group: Group, entered: list[Field], form) -> list[dict[str, str]]:
    text = str(form.get(rows_path(group.name), "0"))
    if not text.isdigit() or int(text) > MAX_BLANK_ROWS:
        raise ChouyangError(f"「{group.label}」的行数无效（最多 {MAX_BLANK_ROWS} 行）")
    given = [{f.name: _posted(form, field_path(f.name, group.name, i)) for f in entered} for i in range(int(text))]
    return [r for r in given if any(v.strip() for v in r.values())]


@dataclass
class Checked:
    response: Response                      # normalised
    problems: list[Problem]
    bad: set[str] = field(default_factory=set)   # form paths with a problem


def check(instrument: Instrument, raw: Response, today: date | None = None) -> Checked:
    """`responses.validate` with every problem placed where the page shows the field (row = the page's row number)."""
    bad: set[str] = set()
    file = f"网页录入「{instrument.title}」{raw.unit_code}"

    def where(f: Field | None, repeat: Group | None, index: int | None) -> Place:
        if f is not None:
            bad.add(field_path(f.name, repeat.name if repeat else None, index))
        return Place(file, repeat.label if repeat else None, None if index is None else index + 1,
                     column_name(f) if f else None)

    normalised, problems = responses.validate(instrument, raw, today or date.today(), where)
    return Checked(normalised, problems, bad)


# --- passes ------------------------------------------------------------------------------

@dataclass
class Saved:
    number: int | None
    checked: Checked
    settled: bool = False
    differences: int = 0


def _claim(found: dict[int, store.StoredPass], unit_code: str, clerk: str) -> int:
    """The clerk's pass, by the survey sheets' rules (keyed.pass_of): refused when it cannot be keyed."""
    if keyed.FINAL in found and found[keyed.FINAL].state == keyed.DONE:
        raise ChouyangError(f"样本点 {unit_code} 的录入已经核定入库，不能再修改")
    n = keyed.pass_of(found, clerk)   # StoredPass has .clerk, as keyed.Pass
    if n is None:
        raise ChouyangError(f"样本点 {unit_code} 的两遍录入已分别由 {found[1].clerk}、{found[2].clerk} 负责")
    if n in found and found[n].state == keyed.DONE:
        raise ChouyangError(f"{clerk} 已提交第 {n} 遍录入，不能再修改，也不能再录另一遍（两遍须由两名录入员分别录入）")
    return n


def save_pass(rnd: Round, instrument: Instrument, unit_code: str, clerk: str, form,
              checklist: UnitChecklist | None, today: date | None = None) -> Saved:
    """Validate and store a clerk's pass; when the other pass is in and equal, settle the subject at once.

    With problems nothing is stored (`Saved.checked.problems`).
    """
    subject(rnd, instrument, unit_code)
    raw = parse_form(instrument, unit_code, prefilled_rows(instrument, checklist), form)
    checked = check(instrument, raw, today)
    with rnd.store(immediate=True) as con:
        found = store.subject_passes(con, instrument.name, unit_code)
        n = _claim(found, unit_code, clerk)
        if checked.problems:
            return Saved(n, checked)
        data = store.response_data(checked.response)
        store.save_pass(con, store.StoredPass(instrument.name, unit_code, "", n, clerk, keyed.DONE, data, utc_now()))
        rnd.log("instrument_pass", {"instrument": instrument.name, "unit_code": unit_code, "pass": n,
                                    "content_sha256": store.content_sha256(data)}, con, user=clerk)
        other = next((found.get(m) for m in keyed.PASSES if m != n), None)
        if other is None or other.state != keyed.DONE:
            return Saved(n, checked)
        differences = compare(instrument, other.data, data)
        if not differences:
            passes_now = {**found, n: store.StoredPass(instrument.name, unit_code, "", n, clerk, keyed.DONE, data, "")}
            _store_final(rnd, con, instrument, checked.response, clerk, passes_now, 0)
        return Saved(n, checked, not differences, len(differences))


def _store_final(rnd: Round, con, instrument: Instrument, response: Response, user: str,
                 found: dict[int, store.StoredPass], differences: int) -> None:
    data = store.response_data(response)
    store.save_pass(con, store.StoredPass(instrument.name, response.unit_code, "", keyed.FINAL, user, keyed.DONE, data,
                                          utc_now()))
    digest = store.store_response(con, response, utc_now())
    rnd.log("instrument_settle", {"instrument": instrument.name, "unit_code": response.unit_code,
                                  "differences": differences, "clerks": {n: found[n].clerk for n in keyed.PASSES},
                                  "content_sha256": digest}, con, user=user)


# --- comparing and settling ------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    path: str            # the form field of the value (field_path)
    field: Field
    group: Group | None
    index: int | None    # row in the repeat (from 0)
    key: str             # the row's key (register ref, fixed row), '' elsewhere
    first: str
    second: str


def _aligned(group: Group, a: list[dict], b: list[dict]) -> list[tuple[int, str, dict, dict]]:
    """(index, key, row of a, row of b): keyed rows by key (in a's order, then b's), blank rows by position."""
    if not group.key or group.rows == ROWS_BLANK:
        return [(i, "", _at(a, i), _at(b, i)) for i in range(max(len(a), len(b)))]
    by_a = {r.get(group.key, ""): r for r in a}
    by_b = {r.get(group.key, ""): r for r in b}
    keys = list(by_a) + [k for k in by_b if k not in by_a]
    return [(i, k, by_a.get(k, {}), by_b.get(k, {})) for i, k in enumerate(keys)]


def _at(rows: list[dict], i: int) -> dict:
    return rows[i] if i < len(rows) else {}


def compare(instrument: Instrument, a: dict, b: dict) -> list[Difference]:
    """Every entered field where two passes (response_data) differ, in the instrument's order."""
    out = [Difference(field_path(f.name), f, None, None, "", a["values"].get(f.name, ""), b["values"].get(f.name, ""))
           for f in top_fields(instrument) if _entered(f) and a["values"].get(f.name, "") != b["values"].get(f.name, "")]
    for group in instrument.repeats():
        entered = [f for f in _repeat_fields(group) if _entered(f)]
        for i, key, ra, rb in _aligned(group, a["rows"].get(group.name, []), b["rows"].get(group.name, [])):
            out += [Difference(field_path(f.name, group.name, i), f, group, i, key, ra.get(f.name, ""), rb.get(f.name, ""))
                    for f in entered if ra.get(f.name, "") != rb.get(f.name, "")]
    return out


@dataclass
class Adjudication:
    subject: Subject
    differences: list[Difference]


def adjudication(rnd: Round, instrument: Instrument, unit_code: str) -> Adjudication:
    s = subject(rnd, instrument, unit_code)
    for n in keyed.PASSES:
        if not s.done(n):
            raise ChouyangError(f"样本点 {unit_code} 的第 {n} 遍录入还没有提交，暂不能核定")
    return Adjudication(s, compare(instrument, s.passes[1].data, s.passes[2].data))


def decision_path(path: str) -> str:
    return f"pick/{path}"


def third_path(path: str) -> str:
    return f"third/{path}"


def _decided(adj: Adjudication, form, file: str) -> tuple[dict[str, str], list[Problem]]:
    """The value chosen for every difference: @1, @2, or @3 with the value typed beside it."""
    chosen: dict[str, str] = {}
    problems: list[Problem] = []
    for d in adj.differences:
        pick = str(form.get(decision_path(d.path), ""))
        if pick in ("@1", "@2", "@3"):
            chosen[d.path] = {"@1": d.first, "@2": d.second}.get(pick) or str(form.get(third_path(d.path), "")).strip()
            continue
        problems.append(Problem(file, "两遍录入不一致，请对照纸质表选择正确的值", None if d.index is None else d.index + 1,
                                column_name(d.field), sheet=d.group.label if d.group else None))
    return chosen, problems


def _final_raw(instrument: Instrument, adj: Adjudication, chosen: dict[str, str]) -> Response:
    """Pass 1 with each difference replaced by the value chosen for it (agreed values are the same in both)."""
    a, b = adj.subject.passes[1].data, adj.subject.passes[2].data
    values = dict(a["values"])
    values.update({d.field.name: chosen[d.path] for d in adj.differences if d.group is None})
    rows = {g.name: _final_rows(g, adj, chosen, a["rows"].get(g.name, []), b["rows"].get(g.name, []))
            for g in instrument.repeats()}
    return Response(instrument.name, adj.subject.unit_code, "", values, rows, source=f"网页录入（{adj.subject.unit_code}）")


def _final_rows(group: Group, adj: Adjudication, chosen: dict[str, str], a: list[dict], b: list[dict]) -> list[dict]:
    mine = [d for d in adj.differences if d.group is group]
    built = []
    for i, _key, ra, rb in _aligned(group, a, b):
        row = dict(ra or rb)
        row.update({d.field.name: chosen[d.path] for d in mine if d.index == i})
        built.append(row)
    return _kept(group, built)


def _kept(group: Group, rows: list[dict]) -> list[dict]:
    """A blank repeat's rows without the ones left empty (settled as empty in both passes or by choice)."""
    if group.rows != ROWS_BLANK:
        return rows
    keep = [f.name for f in _repeat_fields(group) if _entered(f)]
    return [r for r in rows if any(r.get(n, "").strip() for n in keep)]


def settle(rnd: Round, instrument: Instrument, unit_code: str, user: str, form, today: date | None = None) -> Checked:
    """Store the settled response (the chosen values, validated); with problems nothing is stored."""
    adj = adjudication(rnd, instrument, unit_code)
    if adj.subject.settled:
        raise ChouyangError(f"样本点 {unit_code} 已经核定入库")
    file = f"网页核定「{instrument.title}」{unit_code}"
    chosen, open_ = _decided(adj, form, file)
    if open_:
        return Checked(Response(instrument.name, unit_code, "", {}), open_)
    checked = check(instrument, _final_raw(instrument, adj, chosen), today)
    if checked.problems:
        return checked
    with rnd.store(immediate=True) as con:
        now_found = store.subject_passes(con, instrument.name, unit_code)   # checked again inside the transaction
        if keyed.FINAL in now_found and now_found[keyed.FINAL].state == keyed.DONE:
            raise ChouyangError(f"样本点 {unit_code} 刚刚已由 {now_found[keyed.FINAL].clerk} 核定入库")
        _store_final(rnd, con, instrument, checked.response, user, now_found, len(adj.differences))
    return checked


def stored_response(rnd: Round, instrument: Instrument, unit_code: str) -> Response | None:
    with rnd.store() as con:
        return store.stored_response(con, instrument.name, unit_code)
