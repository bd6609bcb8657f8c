"""The package's shape (issue 14): no import cycle, stages free of round I/O and renderers, a thin CLI.

The graph is read from the source with `ast` (every import statement, also inside
functions), so a local import cannot hide an edge.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "chouyang"
STAGES = {f"survey.{m}" for m in ("draw", "plan", "cases", "check_rows", "deductions", "estimate", "indicators", "score",
                                  "feedback", "progress")}
ROUND_IO = {"round", "round.folder", "steps"}
RENDERERS = {"render.plan_pdf", "render.report", "render.report_pdf", "render.report_text", "render.pdf", "render.forms",
             "render.survey_pdf", "render.survey_workbook", "render.qr", "render.checklist_content", "render.checklist_pdf",
             "render.checklist_workbook", "demo.scansim"}


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
    assert "survey.draw" in graph["steps"] and "vocab" in graph["survey.cases"] and "render.survey_workbook" in graph["entry.ingest"]
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
    assert import_graph()["cli"] <= {"steps", "errors", "config.rules", "demo.county", "serve"}
