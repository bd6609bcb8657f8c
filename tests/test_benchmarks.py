"""Every benchmark script is run by benchmarks/smoke.sh (which .ci/run calls), so none can rot."""

from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_smoke_runs_every_benchmark():
    smoke = (BENCH / "smoke.sh").read_text(encoding="utf-8")
    scripts = sorted(p.name for p in BENCH.iterdir() if p.suffix in (".py", ".sh") and p.name != "smoke.sh")
    missing = [name for name in scripts if f"benchmarks/{name}" not in smoke]
    assert scripts and not missing, f"benchmarks/smoke.sh does not run {missing}"


def test_ci_runs_the_smoke_script():
    ci = (BENCH.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "benchmarks/smoke.sh" in ci


def test_every_folder_of_the_package_is_installed():
    # a subpackage missing from pyproject's explicit list works in an editable install and breaks `pip install .`
    import tomllib
    project = tomllib.loads((BENCH.parent / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(project["tool"]["setuptools"]["packages"])
    src = BENCH.parent / "src"
    folders = {".".join(p.relative_to(src).parts) for p in (src / "chouyang").rglob("*")
               if p.is_dir() and p.name != "__pycache__" and any(p.iterdir())}
    assert folders | {"chouyang"} <= listed | {"chouyang.formdefs"}, sorted(folders - listed)
