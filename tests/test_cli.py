"""The CLI speaks Chinese, and the README's commands are the CLI's commands."""

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from chouyang.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _commands():
    return sorted(cli.commands)


@pytest.mark.parametrize("args", [[]] + [[name] for name in sorted(cli.commands)])
def test_help_is_chinese(run, args):
    code, out, _ = run(*args, "--help")
    assert code == 0
    assert "用法：" in out and "显示本帮助并退出" in out
    assert "Usage:" not in out and "Show this message" not in out and "Options:" not in out
    assert len(CJK.findall(out)) > 10


def test_usage_error_is_chinese(run):
    code, _, err = run("draw")
    assert code == 2 and "缺少参数" in err and "Traceback" not in err
    code, _, err = run("draw", "x", "--bogus")
    assert code == 2 and "没有这个选项" in err


def test_readme_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert first_block == ['python -m pip install . && chouyang demo demo-out',
                           'python -m pip install ".[test]" && python -m pytest']
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert first_block[1] in ci


def test_readme_commands_and_options_exist():
    """Every `chouyang X --opt` written in the README is a real command with that option."""
    text = README.read_text(encoding="utf-8")
    seen = set()
    for line in re.findall(r"(?:^|`)chouyang ([a-z]+)([^\n`|#]*)", text, re.M):
        name, rest = line
        assert name in cli.commands, f"README mentions unknown command: chouyang {name}"
        command, words = cli.commands[name], rest.split()
        if isinstance(command, click.Group) and words and words[0] in command.commands:   # chouyang instrument export …
            command = command.commands[words[0]]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for opt in re.findall(r"(--[a-z-]+)", rest):
            assert opt in options, f"README: chouyang {name} has no option {opt}"
        seen.add(name)
    assert seen == set(cli.commands), f"README does not document: {set(cli.commands) - seen}"


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "chouyang.cli", "presets"], capture_output=True,
                            text=True, encoding="utf-8")
    assert result.returncode == 0
    assert "dengzhou-2016h1" in result.stdout and "累计不超过15分" in result.stdout


def test_demo_end_to_end(demo_dir, run):
    round_dir = demo_dir / "round"
    for name in ("sample.csv", "draw.json", "plan.csv", "plan.pdf", "commit.json"):
        assert (round_dir / name).exists(), name
    frame = (demo_dir / "county" / "frame.csv").read_text(encoding="utf-8")
    assert "411381103,㴔滩镇" in frame and "411381550,杏山旅游管理区" in frame
    assert run("verify", round_dir)[0] == 0


def test_demo_county_is_deterministic(tmp_path, demo_dir):
    import datetime as dt

    from chouyang.demo.population import write_county

    write_county(tmp_path / "county", "2016-07-25 福彩3D 2016199期 528", dt.date(2015, 7, 1), dt.date(2016, 6, 30))
    for rel in ("frame.csv", "teams.csv", "register/women.csv", "register/births.csv", "truth/births_check.csv",
                "truth/missed_women.csv"):
        assert (tmp_path / "county" / rel).read_bytes() == (demo_dir / "county" / rel).read_bytes(), rel


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, run):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    code, _, err = run("demo", tmp_path / "other")
    assert code == 1 and "不是示范运行的输出文件夹" in err
    assert (tmp_path / "other" / "keep.txt").read_text() == "x"


def test_demo_tests_share_one_worker(request, demo_dir):
    # pytest-xdist's loadgroup must keep every test of the one demo run on one worker (it silently
    # stops doing so when its node-id suffix is lost, as with pytest 9.2): the demo would run twice
    if request.config.getvalue("loadgroup"):
        assert request.node.nodeid.endswith("@demo")
