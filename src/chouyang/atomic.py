"""Outputs that appear whole or not at all.

Every file a step writes goes to a temporary name in the same folder first and
is renamed into place only when complete (`os.replace` is atomic on one file
system), so a `kill -9` or a full disk never leaves a truncated workbook or
PDF that looks finished.  A folder of outputs that belong together (report/)
is built beside the old one and swapped in as a whole.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TMP_TAG = ".chouyang-tmp-"


def _temp_sibling(path: Path) -> Path:
    return path.with_name(f"{_TMP_TAG}{uuid.uuid4().hex[:8]}-{path.name}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    The temporary name keeps the file's suffix, so writers that look at it (openpyxl, PIL) still work.
    """
    path = Path(path)
    tmp = _temp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    write_bytes(path, text.encode(encoding))


def copy_file(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; on success it replaces `path` as a whole.

    The old folder (if any) is moved aside first and deleted only after the new one is in place;
    on error the new folder is removed and the old one stays untouched.
    """
    path = Path(path)
    tmp = _temp_sibling(path)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        old = None
        if path.exists():
            old = _temp_sibling(path)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def leftovers(folder: Path) -> list[Path]:
    """Temporary files or folders an interrupted write left behind (for cleaning and for tests)."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob(f"{_TMP_TAG}*")) if folder.exists() else []
