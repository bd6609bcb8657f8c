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
