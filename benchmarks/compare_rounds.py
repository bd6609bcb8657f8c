"""Compare two demo output folders file by file, ignoring timestamps and the folder's own path.

Used to show a refactor changes no output: run `chouyang demo A` with the old code and
`chouyang demo B` with the new one (with the same round secret, or the forms' QR codes
differ), then `python benchmarks/compare_rounds.py A B`.

Normalised before comparing: PDF /CreationDate; xlsx members compared one by one, with
docProps/core.xml created/modified times removed; JSON keys time_utc, created and time;
store.sqlite compared as its table rows without the log's time column; the folder path
itself (it appears in manifest sources and log details).  Prints every differing file and
exits 1 if any differ.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import zipfile
from pathlib import Path

TIME_KEYS = {"time_utc", "created", "time"}
ISO_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # utc_now() text, e.g. in report.xlsx's draw record


def _strip_times(value):
    if isinstance(value, dict):
        return {k: ("<time>" if k in TIME_KEYS else _strip_times(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_times(v) for v in value]
    return value


def _json(data: bytes, root: str) -> bytes:
    text = data.decode("utf-8").replace(root, "<ROOT>")
    return json.dumps(_strip_times(json.loads(text)), ensure_ascii=False, sort_keys=True).encode("utf-8")


def _xlsx(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        out = {}
        for name in sorted(z.namelist()):
            data = z.read(name)
            if name == "docProps/core.xml":
                data = re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", data)
            out[name] = ISO_TIME.sub(b"<time>", data)
        return out


def _sqlite(path: Path, root: str) -> list:
    con = sqlite3.connect(path)
    try:
        out = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            if table == "sqlite_sequence":
                continue
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c != "time"]
            for row in con.execute(f"SELECT {', '.join(keep)} FROM {table} ORDER BY rowid"):
                out.append((table, tuple(_json(v.encode(), root) if isinstance(v, str) and v.startswith("{")
                                         else v for v in row)))
        return out
    finally:
        con.close()


def normalised(path: Path, root: Path):
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        data = re.sub(rb"/CreationDate ?\(D:[^)]*\)", b"", data)  # fpdf2 writes a space, PDFium (split checklists) none
        return re.sub(rb"/ID ?\[<[0-9A-F]+><[0-9A-F]+>\]", b"", data)  # fpdf2 hashes the creation date into it
    if suffix == ".xlsx":
        return _xlsx(path)
    if suffix == ".json":
        return _json(data, str(root))
    if suffix == ".sqlite":
        return _sqlite(path, str(root))
    return ISO_TIME.sub(b"<time>", data.replace(str(root).encode("utf-8"), b"<ROOT>"))


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    differ = [f"only in {a}: {f}" for f in sorted(files_a - files_b)]
    differ += [f"only in {b}: {f}" for f in sorted(files_b - files_a)]
    for rel in sorted(files_a & files_b):
        if normalised(a / rel, a) != normalised(b / rel, b):
            differ.append(f"differs: {rel}")
    return len(files_a & files_b), differ


def main(argv: list[str]) -> int:
    a, b = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    n, differ = compare(a, b)
    for line in differ:
        print(line)
    print(f"{n} files compared, {n - sum(d.startswith('differs') for d in differ)} identical, "
          f"{len(differ)} differences")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
