"""Shared fixtures: a tiny hand-made county, a CLI runner, and ONE demo run per test session.

Tiers: `pytest -m "not slow"` runs the direct tests (stages on hand-made tables, the tiny
county through every command) in under a minute; the whole suite adds the end-to-end tests,
which all share the session's single demo run (`demo_dir`, also reused by the notebook).
Every test that uses `demo_dir` is marked slow automatically, as are tests marked by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from chouyang.cli import main
from chouyang.inputs.readers import id_check_digit

# No test may depend on timing: hypothesis's per-example deadline fails on a loaded CI machine.
settings.register_profile("chouyang", deadline=None)
settings.load_profile("chouyang")

ROUND_ID = "2016H1"
ROUND_NAME = "测试县2016年上半年人口和计划生育目标管理责任制考核"


def init_round(path: Path, county: dict[str, Path], preset: str = "dengzhou-2016h1"):
    """steps.init with the test round's id and title; returns the Round."""
    from chouyang import steps

    return steps.init(path, preset, county["frame"], county["teams"], county["register"], round_id=ROUND_ID,
                      name=ROUND_NAME).round


def make_id(birth: str, seq: int) -> str:
    body = f"411381{birth}{seq:03d}"
    return body + id_check_digit(body)


FRAME_ROWS = [
    # township_code, township_name, unit_code, unit_name, households, population, wcba
    ("411381001", "古城街道", "411381001201", "东关社区", 120, 400, 60),
    ("411381001", "古城街道", "411381001202", "西关社区", 90, 300, 45),
    ("411381001", "古城街道", "411381001203", "南关社区", 150, 520, 80),
    ("411381001", "古城街道", "411381001204", "北关社区", 60, 200, 30),
    ("411381103", "㴔滩镇", "411381103201", "㴔滩村", 100, 350, 50),
    ("411381103", "㴔滩镇", "411381103202", "王营村", 80, 280, 40),
    ("411381103", "㴔滩镇", "411381103203", "李庄村", 70, 250, 35),
    ("411381550", "杏山旅游管理区", "411381550201", "杏山村", 50, 180, 25),
    ("411381550", "杏山旅游管理区", "411381550202", "丹江村", 40, 150, 20),
]


def write_county(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["township_code,township_name,unit_code,unit_name,households,population,wcba"]
    lines += [",".join(map(str, r)) for r in FRAME_ROWS]
    (folder / "frame.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "teams.csv").write_text(
        "team_id,leader,members,home_townships\n"
        "01,张伟,王芳;李娜,411381001\n"
        "02,刘洋,陈静;杨帆,\n", encoding="utf-8")
    reg = folder / "register"
    reg.mkdir(exist_ok=True)
    w1, w2, w3 = make_id("19880304", 2), make_id("19900512", 4), make_id("19850101", 6)
    (reg / "women.csv").write_text(
        "person_id,name,birth_date,unit_code,household_no,marital_status,contraception,contraception_date\n"
        f"{w1},王秀英,1988-03-04,411381001201,0001,初婚,上环,2015-09-01\n"
        f"{w2},李丽,1990/5/12,411381001202,0002,初婚,无,\n"
        f"{w3},赵敏,19850101,411381103201,0003,再婚,结扎,2016-01-05\n", encoding="utf-8")
    (reg / "births.csv").write_text(
        "birth_id,mother_id,child_name,sex,birth_date,parity,policy,unit_code\n"
        f"B1,{w1},王小明,男,2015-10-01,1,政策内,411381001201\n"
        f"B2,{w2},李小红,女,2016-02-03,2,政策内,411381001202\n", encoding="utf-8")
    (reg / "procedures.csv").write_text(
        "procedure_id,person_id,type,date,unit_code\n"
        f"P1,{w1},上环,2015-09-01,411381001201\n"
        f"P2,{w3},结扎,2016-01-05,411381103201\n", encoding="utf-8")
    return {"frame": folder / "frame.csv", "teams": folder / "teams.csv", "register": reg}


@pytest.fixture
def county(tmp_path) -> dict[str, Path]:
    return write_county(tmp_path / "county")


@pytest.fixture
def run(capsys):
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return _run


@pytest.fixture
def initialised(county, tmp_path, run):
    round_dir = tmp_path / "R"
    code, out, err = run("init", round_dir, "--preset", "dengzhou-2016h1", "--frame", county["frame"],
                         "--teams", county["teams"], "--register", county["register"], "--round-id", ROUND_ID,
                         "--name", ROUND_NAME)
    assert code == 0, err
    return round_dir


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(items):
    for item in items:
        if "demo_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
            # with pytest-xdist (-n 2), every test of the one demo run goes to the same worker,
            # so the demo runs once per session while the other worker takes the rest
            item.add_marker(pytest.mark.xdist_group("demo"))
        elif not any(m.name == "xdist_group" for m in item.iter_markers()):
            # the other tests go module by module, so a module's shared round is made once
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The one full demo run of the session, shared by every end-to-end test (about 15 s).

    Tests must not change it; copy the round first (`copy_round`) to change anything.
    """
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", str(out)]) == 0
    return out


def copy_round(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
