"""Instruments as data (issue 18): list them, exchange them as XLSForm, add one to a round, export responses.

`instrument_list`, `instrument_export` and `instrument_add` are `chouyang instrument list|export|add`;
`export` is `chouyang export`: one `<NAME>.csv` per instrument with stored responses.

What `export` writes for the two built-ins, which keep their own stores:
- `survey`: one line per stored entry row (entries table), as `instruments.export.export_rows` lays
  out a repeating instrument: unit_code, group (the sheet key, e.g. births_check), ref (the register
  row's ref; empty on a newly found row), then every field of the survey definition by name.
- `checklist` (rounds with a scheme): one line per township, `checklist_response` of its stored
  checklist entries (unit_code = the township's code), choices as their codes.
Every instrument of the round's own: its stored responses (instrument_responses).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chouyang import atomic
from chouyang.errors import ChouyangError
from chouyang.instruments import catalog
from chouyang.instruments.model import Instrument
from chouyang.instruments.responses import Response
from chouyang.round import store
from chouyang.round.folder import Round, sha256_file

SURVEY = "survey"
CHECKLIST = "checklist"
RESERVED = (SURVEY, CHECKLIST, "review", "unassigned")   # built-ins, and folders of scan/ an instrument's files sit beside
BUILTIN, OWN = "内置", "本轮次"
_PER = {"point": "每个样本点", "township": "每个乡镇", "household": "每户", "person": "每人"}


@dataclass(frozen=True)
class InstrumentInfo:
    """One line of `chouyang instrument list`."""

    name: str
    title: str
    code: str
    per: str          # Chinese: 每个样本点 …
    fields: int       # fields that hold an answer or a printed value (notes not counted)
    source: str       # BUILTIN or OWN


def own_instruments(rnd_path: Path) -> dict[str, Instrument]:
    """The round's own instruments (ROUND/instruments/<name>.toml), by name."""
    folder = Path(rnd_path) / catalog.ROUND_FOLDER
    return {n: i for n, i in catalog.round_instruments(rnd_path).items() if (folder / f"{n}.toml").exists()}


def _checklist(rnd: Round) -> Instrument | None:
    scheme = rnd.scheme()
    if scheme is None:
        return None
    from chouyang.instruments.checklist import checklist_instrument

    return checklist_instrument(scheme)


def instruments_of(rnd: Round | None) -> dict[str, tuple[Instrument, str]]:
    """Every instrument (name -> (instrument, source)): the built-ins, the checklist of the round's scheme, its own."""
    if rnd is None:
        return {n: (catalog.builtin(n), BUILTIN) for n in catalog.builtin_names()}
    own = own_instruments(rnd.path)
    found = {n: (i, OWN if n in own else BUILTIN) for n, i in catalog.round_instruments(rnd.path).items()}
    checklist = _checklist(rnd)
    if checklist is not None and CHECKLIST not in found:
        found[CHECKLIST] = (checklist, BUILTIN)
    return dict(sorted(found.items(), key=lambda kv: (kv[1][1] != BUILTIN, kv[0])))


def instrument_list(rnd: Round | None = None) -> list[InstrumentInfo]:
    return [InstrumentInfo(n, i.title, i.code, _PER.get(i.per, i.per), sum(f.type != "note" for f in i.fields()), source)
            for n, (i, source) in instruments_of(rnd).items()]


def instrument_named(rnd: Round | None, name: str) -> Instrument:
    found = instruments_of(rnd)
    if name not in found:
        where = "本轮" if rnd is not None else "内置调查表中"
        raise ChouyangError(f"{where}没有名为 {name} 的调查表（有：{'、'.join(found) or '无'}）")
    return found[name][0]


def instrument_export(name: str, out: Path, rnd: Round | None = None) -> Instrument:
    """Write the instrument as an XLSForm (survey, choices, settings) that pyxform converts."""
    from chouyang.instruments.xlsform import export as write_xlsform

    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise ChouyangError(f"{out.name}：XLSForm 须保存为 .xlsx 文件")
    instrument = instrument_named(rnd, name)
    write_xlsform(instrument, out)
    return instrument


@dataclass(frozen=True)
class Added:
    instrument: Instrument
    path: Path                   # ROUND/instruments/<name>.toml
    commitment_stale: bool       # a commitment was published before: it no longer matches


def instrument_add(rnd: Round, xlsx: Path) -> Added:
    """Import an XLSForm into a round before the draw; refused (nothing changed) when drawn, when its name or
    form code is taken, or when the file is no supported XLSForm (located, in Chinese)."""
    from chouyang.instruments.xlsform import read as read_xlsform

    xlsx = Path(xlsx)
    if rnd.draw_path.exists():
        raise ChouyangError(f"{rnd.path}：已抽样的轮次不能再添加调查表（调查表须在抽样前公布）。如需新调查表，请新建考核轮次。")
    if xlsx.suffix.lower() != ".xlsx" or not xlsx.is_file():
        raise ChouyangError(f"{xlsx.name}：不是 XLSForm 文件（须为 .xlsx 格式的 Excel 工作簿）")
    instrument = read_xlsform(xlsx)
    _refuse_taken(rnd, instrument, xlsx.name)
    stored = catalog.add_to_round(rnd.path, xlsx)
    path = rnd.instruments_dir / f"{stored.name}.toml"
    stale = rnd.commit_path.exists()
    rnd.log("instrument_add", {"instrument": stored.name, "title": stored.title, "code": stored.code,
                               "source": str(xlsx.resolve()), "sha256": sha256_file(path),
                               "commitment_stale": stale})
    return Added(stored, path, stale)


def _refuse_taken(rnd: Round, instrument: Instrument, file: str) -> None:
    if instrument.name in RESERVED:
        raise ChouyangError(f"{file}：调查表名称（form_id）{instrument.name} 是内置调查表或 chouyang 文件夹的名称，请换一个名称")
    others = {n: i for n, (i, _) in instruments_of(rnd).items() if n != instrument.name}
    others.setdefault(CHECKLIST, None)
    codes = {"HC2": SURVEY, "ZL1": CHECKLIST} | {i.code: n for n, i in others.items() if i is not None}
    if instrument.code in codes:
        raise ChouyangError(f"{file}：表单代码（settings 工作表 chouyang::code）{instrument.code} 已被调查表 "
                            f"{codes[instrument.code]} 使用；二维码靠它区分调查表，请换一个代码")


# --- chouyang export ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exported:
    name: str
    path: Path
    rows: int


def _survey_responses(rnd: Round) -> list[Response]:
    return [Response(SURVEY, unit, "", {}, rows) for unit, rows in sorted(rnd.entries().items())]


def _checklist_responses(rnd: Round, instrument: Instrument) -> list[Response]:
    from chouyang.assessment.facts import Entries
    from chouyang.instruments.checklist import checklist_response

    return [checklist_response(instrument, Entries.from_records(**data))
            for _, data in sorted(rnd.assessment_entries().items())]


def _responses(rnd: Round, name: str, instrument: Instrument, source: str) -> list[Response]:
    if name == SURVEY and source == BUILTIN:
        return _survey_responses(rnd)
    if name == CHECKLIST and source == BUILTIN:
        return _checklist_responses(rnd, instrument)
    with rnd.store() as con:
        return store.stored_responses(con, name)


def export(rnd: Round, instrument: str | None = None, out: Path | None = None) -> list[Exported]:
    """`DIR/<NAME>.csv` (default ROUND/export/) of every instrument with stored responses, or of the one named
    (written even without responses: its header).  UTF-8 with BOM; all files written together or none."""
    from chouyang.instruments.export import csv_bytes, export_rows

    rnd.require_unchanged_since_draw()
    found = instruments_of(rnd)
    if instrument is not None and instrument not in found:
        raise ChouyangError(f"本轮没有名为 {instrument} 的调查表（有：{'、'.join(found)}）")
    folder = Path(out) if out is not None else rnd.export_dir
    files: dict[Path, bytes] = {}
    done = []
    for name, (inst, source) in found.items():
        responses = _responses(rnd, name, inst, source) if instrument in (None, name) else []
        if responses or instrument == name:   # the one named is written even without responses: its header
            header, rows = export_rows(inst, responses)
            files[folder / f"{name}.csv"] = csv_bytes(header, rows)
            done.append(Exported(name, folder / f"{name}.csv", len(rows)))
    if files:
        _write_all(folder, files)
        rnd.log("export", {"folder": str(folder), "files": {e.name: e.rows for e in done}})
    return done


def _write_all(folder: Path, files: dict[Path, bytes]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChouyangError(f"无法建立文件夹 {folder}：{exc.strerror or exc}") from None
    atomic.write_many(files)
