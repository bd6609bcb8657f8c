"""Outputs appear whole or not at all; text from inputs never becomes a spreadsheet formula."""

import zipfile

import openpyxl
import pytest
from openpyxl import Workbook

from chouyang.atomic import atomic_folder, atomic_path, leftovers, write_bytes
from chouyang.xlsx import save_workbook


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_write_bytes_replaces_whole(tmp_path):
    target = tmp_path / "sample.csv"
    write_bytes(target, b"a,b\n")
    write_bytes(target, b"c,d\n")
    assert target.read_bytes() == b"c,d\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sample.csv"]


def test_atomic_folder_swaps_as_a_whole_or_not_at_all(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "old.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(folder) as tmp:
            (tmp / "cases.csv").write_text("new")
            raise RuntimeError("killed after one of six files")
    assert [p.name for p in folder.iterdir()] == ["old.csv"]
    with atomic_folder(folder) as tmp:
        (tmp / "cases.csv").write_text("new")
    assert [p.name for p in folder.iterdir()] == ["cases.csv"]
    assert leftovers(tmp_path) == []


def test_formula_text_is_stored_as_text(tmp_path):
    wb = Workbook()
    wb.active.append(["=HYPERLINK(\"http://evil\",\"点我\")", "=cmd|' /C calc'!A0", "王秀英"])
    path = tmp_path / "t.xlsx"
    save_workbook(wb, path)
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
    cells = [c.value for c in openpyxl.load_workbook(path).active[1]]
    assert cells == ["=HYPERLINK(\"http://evil\",\"点我\")", "=cmd|' /C calc'!A0", "王秀英"]
