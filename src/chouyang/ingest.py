"""Enter field results (SPEC §2.3, §4): read, validate everything, store atomically, log changes.

A filled entry workbook (or a folder of CSV files with the same sheets) is
identified by its hidden metadata: a workbook of another round, another
unit or built from another register is refused.  Every problem of every
file is listed (file, sheet, row, column, value, what is wrong) before
anything is stored; the store is changed in one transaction or not at all.
Ingesting the same content again changes nothing; different content for a
unit already entered needs `replace=True`, and the log keeps old and new
values per row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import vocab
from .cases import unit_cases
from .checklist import UnitChecklist, unit_checklists
from .errors import ChouyangError, Problem
from .inputs import _cell_text, decode_csv_bytes, id_is_valid, parse_date
from .round import Round, utc_now

META_FILE = "_meta.csv"
ERROR_RESULTS = {"women_check": {"查无此人"}, "births_check": {"虚报", "错报"},
                  "procedures_check": {"虚报", "错报"}, "benefits_check": {"资格不符", "发放不符"}}

_STORE_SQL = """
CREATE TABLE IF NOT EXISTS entries (
    unit_code TEXT NOT NULL,
    sheet TEXT NOT NULL,
    row_key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (unit_code, sheet, row_key)
);
CREATE TABLE IF NOT EXISTS ingests (
    unit_code TEXT PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    time TEXT NOT NULL
);
"""


@dataclass
class EntryFile:
    """One filled workbook or CSV folder, as read (before validation)."""

    source: str
    meta: dict[str, str]
    sheets: dict[str, list[tuple[int, dict[str, str]]]]  # key -> [(spreadsheet row, {key: text})]
    problems: list[Problem] = field(default_factory=list)


# --- reading ----------------------------------------------------------------

def _header_map(section: str) -> dict[str, str]:
    out = {}
    for key in vocab.sheet_columns(section):
        out[vocab.label_for(section, key)] = key
        out[key] = key
    return out


def _rows_from_grid(grid: list[list[str]], section: str, source: str, sheet_name: str,
                    problems: list[Problem]) -> list[tuple[int, dict[str, str]]]:
    label = vocab.ENTRY_LABELS["ref"]
    header_at = next((i for i, row in enumerate(grid) if label in row or "ref" in row), None)
    if header_at is None:
        problems.append(Problem(source, "找不到表头行（第一列应为「编号」）", sheet=sheet_name))
        return []
    names = _header_map(section)
    columns = {j: names[h] for j, h in enumerate(grid[header_at]) if h in names}
    missing = [vocab.label_for(section, k) for k in vocab.ENTRY_COLUMNS[section] if k not in columns.values()]
    if missing:
        problems.append(Problem(source, f"缺少列：{'、'.join(missing)}", row=header_at + 1, sheet=sheet_name))
        return []
    rows = []
    for i in range(header_at + 1, len(grid)):
        values = {key: (grid[i][j] if j < len(grid[i]) else "") for j, key in columns.items()}
        entry_values = [values.get(k, "") for k in vocab.ENTRY_COLUMNS[section]]
        if not any(entry_values) and not values.get("ref"):
            continue  # a blank template row
        rows.append((i + 1, values))
    return rows


def read_entry(path: Path) -> EntryFile:
    path = Path(path)
    if path.is_dir():
        return _read_csv_folder(path)
    if path.suffix.lower() != ".xlsx":
        raise ChouyangError(f"{path}：只能录入 .xlsx 工作簿或 CSV 文件夹")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a broken or foreign file
        raise ChouyangError(f"{path.name}：无法作为 Excel 工作簿打开（{type(exc).__name__}）") from None
    from .forms.workbook import META_SHEET

    problems: list[Problem] = []
    meta = {}
    if META_SHEET in wb.sheetnames:
        meta = {_cell_text(r[0]): _cell_text(r[1]) for r in wb[META_SHEET].iter_rows(values_only=True)
                if r and r[0] is not None}
    sheets = {}
    for key, label in vocab.SHEETS.items():
        name = label if label in wb.sheetnames else key if key in wb.sheetnames else None
        if name is None:
            continue
        grid = [[_cell_text(v) for v in row] for row in wb[name].iter_rows(values_only=True)]
        sheets[key] = _rows_from_grid(grid, key, path.name, name, problems)
    wb.close()
    return EntryFile(path.name, meta, sheets, problems)


def _read_csv_folder(folder: Path) -> EntryFile:
    problems: list[Problem] = []
    meta = {}
    meta_path = folder / META_FILE
    if meta_path.exists():
        text, _ = decode_csv_bytes(meta_path.read_bytes(), META_FILE)
        for line in text.splitlines():
            if "," in line:
                k, v = line.split(",", 1)
                meta[k.strip()] = v.strip()
    sheets = {}
    for key, label in vocab.SHEETS.items():
        path = next((p for p in (folder / f"{label}.csv", folder / f"{key}.csv") if p.exists()), None)
        if path is None:
            continue
        text, _ = decode_csv_bytes(path.read_bytes(), path.name)
        import csv
        import io

        grid = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
        sheets[key] = _rows_from_grid(grid, key, f"{folder.name}/{path.name}", label, problems)
    return EntryFile(folder.name, meta, sheets, problems)


# --- validation --------------------------------------------------------------

@dataclass
class ValidUnit:
    unit_code: str
    source: str
    entries: dict[str, list[dict]]  # sheet key -> normalised rows

    def content_sha256(self) -> str:
        blob = json.dumps(self.entries, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


def _norm_int(text: str) -> str | None:
    t = text[:-2] if text.endswith(".0") else text
    return str(int(t)) if t.isdigit() else None


def validate_entry(entry: EntryFile, rnd: Round, rules, checklists: dict[str, UnitChecklist],
                   fingerprint: str, register_women: pd.DataFrame) -> tuple[ValidUnit | None, list[Problem]]:
    problems = list(entry.problems)
    src = entry.source
    meta = entry.meta
    if not meta:
        problems.append(Problem(src, "缺少隐藏的元数据（_meta），无法确认轮次和样本点；请使用 chouyang forms 生成的工作簿"))
        return None, problems
    if meta.get("round_id") != rules.round.id:
        problems.append(Problem(src, f"这是另一轮次（{meta.get('round_id')}）的工作簿，本轮次是 {rules.round.id}"))
        return None, problems
    unit = meta.get("unit_code", "")
    if unit not in checklists:
        problems.append(Problem(src, f"样本点 {unit} 不是本轮次的样本点"))
        return None, problems
    if meta.get("register_fingerprint") != fingerprint:
        problems.append(Problem(src, "工作簿是用另一份全员人口信息生成的（登记信息指纹不一致），请重新生成录入工作簿"))
        return None, problems
    checklist = checklists[unit]
    start, end = rules.round.reference_start, rules.round.reference_end
    out: dict[str, list[dict]] = {}

    def bad(sheet: str, row: int | None, key: str | None, message: str, value=None) -> None:
        col = vocab.label_for(sheet, key) if key else None
        problems.append(Problem(src, message, row, col, value, sheet=vocab.SHEETS[sheet]))

    def common_error_fields(sheet: str, row: int, values: dict, clean: dict) -> None:
        w = _norm_int(values.get("witnesses", ""))
        if w is None:
            bad(sheet, row, "witnesses", "误差行必须填写反映群众人数（不小于 0 的整数）", values.get("witnesses"))
        v = values.get("verified", "")
        if v not in vocab.YES_NO:
            bad(sheet, row, "verified", "误差行必须填写调查组是否查实（是/否）", v)
        clean.update(witnesses=w or "", verified=v)

    for sheet in vocab.CHECK_SHEETS:
        register = checklist.sections.get(sheet)
        if register is None:
            continue
        rows = entry.sheets.get(sheet)
        if rows is None:
            if len(register):
                bad(sheet, None, None, "缺少这张工作表")
            out[sheet] = []
            continue
        by_ref = {r["ref"]: r for r in register.to_dict("records")}
        seen: dict[str, int] = {}
        clean_rows = []
        for row, values in rows:
            ref = values.get("ref", "")
            if ref not in by_ref:
                bad(sheet, row, "ref", "编号不在本样本点的在册名单中", ref)
                continue
            if ref in seen:
                bad(sheet, row, "ref", f"编号重复（与第 {seen[ref]} 行相同）", ref)
                continue
            seen[ref] = row
            result = values.get("result", "")
            clean = {"ref": ref, "result": result, "note": values.get("note", "")}
            if not result:
                bad(sheet, row, "result", "未填写")
                continue
            if result not in vocab.RESULTS[sheet]:
                bad(sheet, row, "result", f"不在允许的取值中（{'/'.join(vocab.RESULTS[sheet])}）", result)
                continue
            reg = by_ref[ref]
            if sheet == "women_check":
                ac = values.get("actual_contraception", "")
                if ac and ac not in vocab.CONTRACEPTION:
                    bad(sheet, row, "actual_contraception", f"不在允许的取值中（{'/'.join(vocab.CONTRACEPTION)}）", ac)
                clean["actual_contraception"] = ac
            if result in ERROR_RESULTS[sheet]:
                common_error_fields(sheet, row, values, clean)
            if sheet == "births_check":
                _validate_true_birth(sheet, row, values, reg, result, clean, bad)
            if sheet == "procedures_check":
                tt = values.get("true_type", "")
                if tt and tt not in vocab.PROCEDURE_TYPES:
                    bad(sheet, row, "true_type", f"不在允许的取值中（{'/'.join(vocab.PROCEDURE_TYPES)}）", tt)
                elif result == "错报" and (not tt or tt == reg["type"]):
                    bad(sheet, row, "true_type", f"错报必须填写与在册（{reg['type']}）不同的实际手术类型", tt)
                clean["true_type"] = tt if result == "错报" else ""
            clean_rows.append(clean)
        for ref in by_ref:
            if ref not in seen:
                bad(sheet, None, "ref", f"在册记录 {ref} 没有出现在工作表中（每一条在册记录都必须核对）", ref)
        out[sheet] = sorted(clean_rows, key=lambda r: r["ref"])

    women_ids = set(register_women.loc[register_women.unit_code == unit, "person_id"])
    for sheet in vocab.MISSED_SHEETS:
        clean_rows = []
        seen_ids: dict[str, int] = {}
        for row, values in entry.sheets.get(sheet, []):
            clean = {"note": values.get("note", "")}
            if values.get("ref"):
                bad(sheet, row, "ref", "新发现的行编号应留空", values.get("ref"))
            common_error_fields(sheet, row, values, clean)
            if sheet == "missed_births":
                _validate_missed_birth(sheet, row, values, clean, start, end, bad)
            else:
                _validate_missed_woman(sheet, row, values, clean, women_ids, seen_ids, bad)
            clean_rows.append(clean)
        out[sheet] = clean_rows
    if problems:
        return None, problems
    return ValidUnit(unit, src, out), []


def _validate_true_birth(sheet, row, values, reg, result, clean, bad) -> None:
    ts, td, tp = values.get("true_sex", ""), values.get("true_birth_date", ""), values.get("true_parity", "")
    if ts and ts not in vocab.SEX:
        bad(sheet, row, "true_sex", "应为 男 或 女", ts)
    date = None
    if td:
        date = parse_date(td)
        if date is None:
            bad(sheet, row, "true_birth_date", "不是有效日期", td)
    parity = None
    if tp:
        parity = _norm_int(tp)
        if parity is None or int(parity) < 1:
            bad(sheet, row, "true_parity", "孩次应为不小于 1 的整数", tp)
            parity = None
    if result == "错报":
        differs = (ts and ts != reg["sex"]) or (date and date != reg["birth_date"]) or \
                  (parity and int(parity) != int(reg["parity"]))
        if not differs:
            bad(sheet, row, "result", "错报必须至少填写一项与在册不同的实际值（实际性别、实际出生日期或实际孩次）")
    keep = result == "错报"
    clean.update(true_sex=ts if keep else "", true_birth_date=date.isoformat() if keep and date else "",
                 true_parity=parity if keep and parity else "")


def _validate_missed_birth(sheet, row, values, clean, start, end, bad) -> None:
    mid, mname = values.get("mother_id", "").upper(), values.get("mother_name", "")
    if not mid and not mname:
        bad(sheet, row, "mother_name", "母亲身份证号和母亲姓名至少填写一项")
    if mid and not id_is_valid(mid):
        bad(sheet, row, "mother_id", "身份证号无效（位数、出生日期或校验位不正确）", mid)
    sex = values.get("sex", "")
    if sex not in vocab.SEX:
        bad(sheet, row, "sex", "应为 男 或 女", sex)
    date = parse_date(values.get("birth_date", ""))
    if date is None:
        bad(sheet, row, "birth_date", "不是有效日期", values.get("birth_date"))
    elif not start <= date <= end:
        bad(sheet, row, "birth_date", f"不在调查时限（{start} 至 {end}）内，不能计为漏报", values.get("birth_date"))
    parity = _norm_int(values.get("parity", ""))
    if parity is None or int(parity) < 1:
        bad(sheet, row, "parity", "孩次应为不小于 1 的整数", values.get("parity"))
    policy = values.get("policy", "")
    if policy not in vocab.POLICY:
        bad(sheet, row, "policy", f"应为 {'/'.join(vocab.POLICY)}", policy)
    clean.update(mother_id=mid, mother_name=mname, child_name=values.get("child_name", ""), sex=sex,
                 birth_date=date.isoformat() if date else "", parity=parity or "", policy=policy)


def _validate_missed_woman(sheet, row, values, clean, women_ids, seen_ids, bad) -> None:
    pid = values.get("person_id", "").upper()
    if not id_is_valid(pid):
        bad(sheet, row, "person_id", "身份证号无效（位数、出生日期或校验位不正确）", pid)
    elif pid in women_ids:
        bad(sheet, row, "person_id", "此人已在本样本点的在册名单中，不是漏档", pid)
    elif pid in seen_ids:
        bad(sheet, row, "person_id", f"与第 {seen_ids[pid]} 行重复", pid)
    seen_ids[pid] = row
    if not values.get("name"):
        bad(sheet, row, "name", "不能为空")
    date = parse_date(values.get("birth_date", ""))
    if date is None:
        bad(sheet, row, "birth_date", "不是有效日期", values.get("birth_date"))
    ms, cm = values.get("marital_status", ""), values.get("contraception", "")
    if ms not in vocab.MARITAL_STATUS:
        bad(sheet, row, "marital_status", f"应为 {'/'.join(vocab.MARITAL_STATUS)}", ms)
    if cm not in vocab.CONTRACEPTION:
        bad(sheet, row, "contraception", f"应为 {'/'.join(vocab.CONTRACEPTION)}", cm)
    clean.update(person_id=pid, name=values.get("name", ""), birth_date=date.isoformat() if date else "",
                 marital_status=ms, contraception=cm)


# --- storing -----------------------------------------------------------------

def _row_key(sheet: str, i: int, row: dict) -> str:
    return row.get("ref") or f"#{i:03d}"


def _insert_row(con, unit: str, sheet: str, key: str, row: dict) -> None:
    con.execute("INSERT INTO entries (unit_code, sheet, row_key, data) VALUES (?, ?, ?, ?)",
                (unit, sheet, key, json.dumps(row, ensure_ascii=False, sort_keys=True)))


def stored_entries(con, unit: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for sheet, data in con.execute("SELECT sheet, data FROM entries WHERE unit_code = ? ORDER BY sheet, row_key",
                                   (unit,)):
        out.setdefault(sheet, []).append(json.loads(data))
    return out


def _diff(old: dict[str, list[dict]], new: dict[str, list[dict]]) -> list[dict]:
    changes = []
    for sheet in sorted(set(old) | set(new)):
        a = {_row_key(sheet, i, r): r for i, r in enumerate(old.get(sheet, []), start=1)}
        b = {_row_key(sheet, i, r): r for i, r in enumerate(new.get(sheet, []), start=1)}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                changes.append({"sheet": vocab.SHEETS[sheet], "row": key, "old": a.get(key), "new": b.get(key)})
    return changes


@dataclass(frozen=True)
class IngestResult:
    unit_code: str
    source: str
    status: str  # new | unchanged | replaced
    confirmed: int
    pending: int
    changes: int = 0


def ingest(rnd: Round, paths: list[Path], replace: bool = False) -> list[IngestResult]:
    """Validate every path, then store all of them in one transaction (or nothing)."""
    rnd.require_unchanged_since_draw()
    rules = rnd.rules()
    from .draw import read_sample

    sample = read_sample(rnd.sample_path)
    primary = sample[sample.role == "primary"]
    register = rnd.load_register()
    checklists = unit_checklists(register, primary.unit_code, rules.round.reference_start,
                                 rules.round.reference_end)
    fingerprint = rnd.register_fingerprint()
    valid: list[ValidUnit] = []
    problems: list[Problem] = []
    for path in paths:
        unit, found = validate_entry(read_entry(Path(path)), rnd, rules, checklists, fingerprint, register.women)
        problems += found
        if unit:
            valid.append(unit)
    units = [v.unit_code for v in valid]
    for code in {c for c in units if units.count(c) > 1}:
        problems.append(Problem("、".join(v.source for v in valid if v.unit_code == code),
                                f"同一个样本点 {code} 给出了多份录入"))
    if problems:
        raise ChouyangError("录入被拒绝，数据库没有任何改动。请改正以下问题后重新录入", problems)
    township = dict(zip(primary.unit_code, primary.township_code))
    results = []
    with rnd.store() as con:
        con.executescript(_STORE_SQL)
        for unit in valid:
            digest = unit.content_sha256()
            row = con.execute("SELECT content_sha256 FROM ingests WHERE unit_code = ?", (unit.unit_code,)).fetchone()
            cases = unit_cases(township[unit.unit_code], checklists[unit.unit_code], unit.entries, rules)
            confirmed = sum(c["confirmed"] for c in cases)
            counts = (confirmed, len(cases) - confirmed)
            if row and row[0] == digest:
                results.append(IngestResult(unit.unit_code, unit.source, "unchanged", *counts))
                continue
            if row and not replace:
                raise ChouyangError(f"样本点 {unit.unit_code} 已经录入过不同的内容（{unit.source}）。"
                                    "如确需用新内容替换，请加 --replace（旧值会保留在日志中）。数据库没有任何改动。")
            changes = []
            if row:
                changes = _diff(stored_entries(con, unit.unit_code), unit.entries)
                con.execute("DELETE FROM entries WHERE unit_code = ?", (unit.unit_code,))
            for sheet, rows in unit.entries.items():
                for i, r in enumerate(rows, start=1):
                    _insert_row(con, unit.unit_code, sheet, _row_key(sheet, i, r), r)
            con.execute("INSERT OR REPLACE INTO ingests (unit_code, content_sha256, source, time) VALUES (?, ?, ?, ?)",
                        (unit.unit_code, digest, unit.source, utc_now()))
            status = "replaced" if row else "new"
            rnd.log("ingest_replace" if row else "ingest",
                    {"unit_code": unit.unit_code, "source": unit.source, "content_sha256": digest,
                     "changes": changes}, con)
            results.append(IngestResult(unit.unit_code, unit.source, status, *counts, changes=len(changes)))
    return results


def load_entries(rnd: Round) -> dict[str, dict[str, list[dict]]]:
    """Every stored unit's entries: unit -> sheet -> rows."""
    with rnd.store() as con:
        con.executescript(_STORE_SQL)
        units = [r[0] for r in con.execute("SELECT unit_code FROM ingests ORDER BY unit_code")]
        return {u: stored_entries(con, u) for u in units}


def export_unit(rnd: Round, unit_code: str, folder: Path) -> Path:
    """Write a unit's stored entries as a CSV folder that `ingest` accepts (keys as headers)."""
    import csv

    entries = load_entries(rnd).get(unit_code)
    if entries is None:
        raise ChouyangError(f"样本点 {unit_code} 还没有录入结果")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"round_id": rnd.rules().round.id, "unit_code": unit_code,
            "register_fingerprint": rnd.register_fingerprint()}
    (folder / META_FILE).write_text("".join(f"{k},{v}\n" for k, v in meta.items()), encoding="utf-8")
    for sheet, rows in entries.items():
        keys = vocab.sheet_columns(sheet)
        with open(folder / f"{sheet}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(keys)
            for r in rows:
                writer.writerow([r.get(k, "") for k in keys])
    return folder


def round_cases(rnd: Round, rules=None, register=None) -> pd.DataFrame:
    """Error cases of every entered unit (cases.csv columns before rule and points)."""
    from .cases import cases_frame
    from .draw import read_sample

    rules = rules or rnd.rules()
    sample = read_sample(rnd.sample_path)
    primary = sample[sample.role == "primary"]
    entries = load_entries(rnd)
    checklists = unit_checklists(register if register is not None else rnd.load_register(), list(entries),
                                 rules.round.reference_start, rules.round.reference_end)
    township = dict(zip(primary.unit_code, primary.township_code))
    rows = []
    for unit, sheets in entries.items():
        rows += unit_cases(township[unit], checklists[unit], sheets, rules)
    return cases_frame(rows)


def round_status(rnd: Round) -> pd.DataFrame:
    """One row per primary point: team, township, whether results are in, case counts."""
    from .draw import read_sample

    rnd.require_unchanged_since_draw()
    sample = read_sample(rnd.sample_path)
    primary = sample[sample.role == "primary"][["township_code", "township_name", "unit_code", "unit_name"]]
    if rnd.plan_path.exists():
        plan = pd.read_csv(rnd.plan_path, dtype=str)[["unit_code", "team_id", "date"]]
        primary = primary.merge(plan.groupby("unit_code", as_index=False).first(), on="unit_code", how="left")
    else:
        primary = primary.assign(team_id="", date="")
    cases = round_cases(rnd)
    entered = set(load_entries(rnd))
    counts = cases.groupby("unit_code").confirmed.agg(confirmed="sum", total="size")
    primary = primary.merge(counts, left_on="unit_code", right_index=True, how="left").fillna(
        {"confirmed": 0, "total": 0, "team_id": "", "date": ""})
    primary["entered"] = primary.unit_code.isin(entered)
    primary["pending"] = (primary.total - primary.confirmed).astype(int)
    primary["confirmed"] = primary.confirmed.astype(int)
    return primary.drop(columns="total").sort_values(["team_id", "township_code", "unit_code"]).reset_index(drop=True)
