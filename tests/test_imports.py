"""The package's shape (issue 14): no import cycle, stages free of round I/O and renderers, a thin CLI.

The graph is read from the source with `ast` (every import statement, also inside
functions), so a local import cannot hide an edge.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "chouyang"
STAGES = {f"survey.{m}" for m in ("draw", "plan", "cases", "check_rows", "deductions", "estimate", "indicators", "score",
                                  "feedback", "progress")}
STEPS = {"steps"} | {f"steps.{p.stem}" for p in (PACKAGE / "steps").glob("*.py") if p.stem != "__init__"}
ROUND_IO = {"round", "round.folder", "round.store"} | STEPS
# every module of render/ (tables in, files out) and the page simulator
RENDERERS = {f"render.{p.stem}" for p in (PACKAGE / "render").glob("*.py") if p.stem != "__init__"} | {"demo.scansim"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if module else []
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name.removeprefix("chouyang.") for a in node.names if a.name.startswith("chouyang.")]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = _resolve(name, is_package, node.level, node.module)
                elif node.module and node.module.startswith("chouyang"):
                    base = node.module.removeprefix("chouyang").lstrip(".")
                else:
                    continue
                # `from . import vocab` names a module; `from .draw import x` names the module draw
                targets = [f"{base}.{a.name}".lstrip(".") if f"{base}.{a.name}".lstrip(".") in modules else base
                           for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t not in ("", name)}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_graph_sees_known_edges():
    graph = import_graph()
    assert "survey.draw" in graph["steps.sampling"] and "vocab" in graph["survey.cases"]
    assert "render.survey_workbook" in graph["entry.ingest"]
    assert "vocab" in graph["render.forms"]  # `from chouyang import vocab` inside a package


def test_no_import_cycle():
    assert _cycle(import_graph()) is None


def test_cycle_detector_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_stages_import_no_round_io_and_no_renderer():
    graph = import_graph()
    for stage in sorted(STAGES):
        bad = graph[stage] & (ROUND_IO | RENDERERS)
        assert not bad, f"{stage} imports {bad}"


def test_stages_import_no_later_stage():
    graph = import_graph()
    order = [f"survey.{m}" for m in ("check_rows", "draw", "plan", "cases", "deductions", "estimate", "indicators", "score")]
    for i, stage in enumerate(order):
        later = set(order[i + 1:])
        assert not graph[stage] & later, f"{stage} imports a later stage: {graph[stage] & later}"


def test_cli_calls_only_steps():
    # `serve` is the web front end, a twin of the CLI over the same steps; `chouyang serve` only starts it.
    assert import_graph()["cli"] <= {"errors", "config.rules", "demo.county", "serve", "cli_instruments"} | STEPS
    assert import_graph()["cli_instruments"] <= STEPS   # the instrument commands: a part of the CLI, as thin


def test_steps_package_imports_no_step():
    # steps/__init__.py finds a name's module at first use (PEP 562): importing the package loads no step
    assert import_graph()["steps"] == set()


def test_steps_and_the_store_own_what_they_should():
    """Every public name of the steps resolves to its own module; the store alone speaks SQL."""
    from chouyang import steps

    owned = {name: owner for name, owner in steps._OWNERS.items() if owner.startswith("chouyang.steps.")}
    assert len(owned) == len(steps._OWNERS) - 2  # PROBLEM_TEXT and county_summary_line are the stages'
    for name, owner in owned.items():
        assert getattr(steps, name).__module__ == owner, name
    assert steps.PROBLEM_TEXT["unreadable"] and steps.county_summary_line.__module__ == "chouyang.survey.score"
    assert set(steps.__all__) <= set(steps._OWNERS)
    speaking = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                      if "CREATE TABLE" in (text := p.read_text(encoding="utf-8")) or ".execute(" in text)
    assert speaking == ["round/store.py"]


HEAVY = ("pandas", "numpy", "fpdf", "PIL", "openpyxl", "starlette", "scipy")


def _loaded_after(code: str) -> dict:
    """Which of HEAVY a fresh interpreter has imported after running `code` (which may print JSON first)."""
    probe = code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True)
    return {"out": done.stdout, "loaded": json.loads(done.stdout.strip().splitlines()[-1])}


def test_cli_and_its_help_import_nothing_heavy():
    found = _loaded_after("import click\nfrom chouyang.cli import cli\n"
                          "ctx = click.Context(cli, info_name='chouyang')\nprint(cli.get_help(ctx))")
    assert found["loaded"] == []
    for command in ("init", "commit", "draw", "verify", "replace", "plan", "forms", "ingest", "status", "score",
                    "checklist", "scan", "serve", "user", "case", "demo", "presets", "instrument", "export"):
        assert f"  {command} " in found["out"], command


def test_presets_runs_without_pdf_imaging_or_web():
    found = _loaded_after("from chouyang.cli import main\nassert main(['presets']) == 0")
    assert "dengzhou-2016h1" in found["out"] and "flat-cap8" in found["out"]
    assert not {"fpdf", "PIL", "starlette"} & set(found["loaded"])


def test_a_step_imports_only_its_own_module():
    found = _loaded_after("from chouyang import steps\nsteps.commit\n"
                          "print(sorted(m for m in __import__('sys').modules if m.startswith('chouyang.steps.')))")
    assert found["out"].splitlines()[0] == "['chouyang.steps.setup']"
    assert not {"fpdf", "starlette", "scipy"} & set(found["loaded"])  # committing renders and serves nothing


def test_user_commands_import_no_web_server(county, tmp_path):
    """`chouyang user` keeps the round's accounts (round/accounts.py): it loads neither Starlette nor serve/."""
    from conftest import init_round

    rnd = init_round(tmp_path / "R", county)
    found = _loaded_after(
        "import click, sys\nfrom chouyang.cli import main\n"
        "click.prompt = lambda *a, **k: 'ein-langes-passwort'  # the password, typed twice\n"
        "assert main(['user', '--help']) == 0 and main(['user', 'add', '--help']) == 0\n"
        f"assert main(['user', 'add', {str(rnd.path)!r}, '王五']) == 0\n"
        f"assert main(['user', 'list', {str(rnd.path)!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('chouyang.serve')))")
    lines = found["out"].splitlines()
    assert "用户 王五 已建立。" in lines and lines[-3:-1] == ["王五", "[]"]
    assert "starlette" not in found["loaded"]
