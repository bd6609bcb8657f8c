"""Outputs that appear whole or not at all.

Every file a step writes goes to a temporary name in the same folder first and
is renamed into place only when complete (`os.replace` is atomic on one file
system), so a `kill -9` or a full disk never leaves a truncated workbook or
PDF that looks finished.  A folder of outputs that belong together (report/)
is built beside the old one and swapped in as a whole.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chouyang.errors import ChouyangError

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
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_error(path: Path, exc: OSError) -> ChouyangError:
    """A located Chinese message for a file that cannot be written (read-only folder, full disk…)."""
    why = {errno.EACCES: "没有写入权限（文件夹是否只读？）", errno.EPERM: "没有写入权限（文件夹是否只读？）",
           errno.EROFS: "所在磁盘是只读的", errno.ENOSPC: "磁盘空间不足"}.get(exc.errno, exc.strerror or str(exc))
    return ChouyangError(f"无法写入 {path}：{why}。已有文件没有改动。")


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_many(files: dict[Path, bytes]) -> None:
    """Several files that belong together (sample.csv and draw.json): every one is written to its
    temporary name first, and only then are they renamed into place, one after the other."""
    staged: list[tuple[Path, Path]] = []
    current = None
    try:
        for current, data in files.items():
            tmp = _temp_sibling(Path(current))
            staged.append((tmp, Path(current)))
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, current in staged:
            os.replace(tmp, current)
    except OSError as exc:
        raise _write_error(Path(current), exc) from None
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()


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
    try:
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        yield tmp
        old = None
        try:
            if path.exists():
                old = _temp_sibling(path)
                os.replace(path, old)
            os.replace(tmp, path)
        except OSError as exc:
            if old is not None and not path.exists():
                os.replace(old, path)  # put the old folder back
            raise _write_error(path, exc) from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def leftovers(folder: Path) -> list[Path]:
    """Temporary files or folders an interrupted write left behind (for cleaning and for tests)."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob(f"{_TMP_TAG}*")) if folder.exists() else []
