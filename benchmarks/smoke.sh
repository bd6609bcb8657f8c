#!/usr/bin/env bash
# Every benchmark once, in a small mode, so none of them can break unnoticed (issue 18).
# .ci/run calls this after the tests; the figures it prints are not judged (never a timing test),
# only that each script runs to the end.  tests/test_benchmarks.py fails when a script in
# benchmarks/ is not called here.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d "${TMPDIR:-/tmp}/chouyang-smoke.XXXX")"
trap 'rm -rf "$work"' EXIT
run() { echo "== $*"; "$@"; }

run python benchmarks/demo_fixed_secret.py "$work/demo" > "$work/demo.log"
run python benchmarks/compare_rounds.py "$work/demo" "$work/demo"
run python benchmarks/forms.py --pages 30 --units 3 --out "$work"
run python benchmarks/instrument_forms.py --smoke
run python benchmarks/scan.py --pages 4 --demo "$work/demo"
run python benchmarks/checklist_scan.py --pages 2
run python benchmarks/draw.py --townships 300 --runs 1 --round
run python benchmarks/estimates.py --draws 10
run python benchmarks/score.py --townships 40 --demo "$work/demo"
run python benchmarks/serve.py --clients 2 --duration 3 --demo "$work/demo"
run bash benchmarks/mutation.sh --check
echo "smoke: every benchmark ran"
