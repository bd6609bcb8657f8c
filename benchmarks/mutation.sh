#!/usr/bin/env bash
# Mutation testing of the core stages (issue 14 point 5) with mutmut 3.x.
#
#   pip install "mutmut>=3.8,<4"            # not a test dependency: the suite does not need it
#   benchmarks/mutation.sh [MODULE...]      # default: draw cases deductions estimate indicators
#   benchmarks/mutation.sh --check          # only check that every module and test file named here exists (CI smoke)
#
# Each module is mutated in its own throw-away copy of the tracked files (working-tree content),
# against only the fast tests that concern it (-m "not slow"); mutmut runs, for each mutant, only
# those tests that call the mutated function.  For every module it prints the surviving mutants
# and a line "MODULE: killed K of T (survived S, timeout O, no tests N, other X)".
# `mutmut show NAME` in the printed work folder shows a mutant's diff.
# MUTMUT_CHILDREN sets the number of parallel workers (default 2).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

declare -A TESTS=(
    [draw]="tests/test_draw.py tests/test_draw_golden.py"
    [cases]="tests/test_cases.py"
    [deductions]="tests/test_deductions.py"
    [estimate]="tests/test_estimate.py"
    [indicators]="tests/test_indicators.py"
)
if [ "${1:-}" = "--check" ]; then
    for module in "${!TESTS[@]}"; do
        for f in "src/chouyang/survey/$module.py" ${TESTS[$module]}; do
            [ -f "$repo/$f" ] || { echo "mutation.sh: $f is missing" >&2; exit 1; }
        done
    done
    echo "mutation.sh: ${#TESTS[@]} modules and their tests are in place"
    exit 0
fi
if [ $# -eq 0 ]; then
    set -- draw cases deductions estimate indicators
fi

for module in "$@"; do
    if [ -z "${TESTS[$module]:-}" ]; then
        echo "unknown module: $module (one of ${!TESTS[*]})" >&2
        exit 2
    fi
    work="$(mktemp -d "${TMPDIR:-/tmp}/mutation-$module.XXXX")"
    (cd "$repo" && git ls-files -z | xargs -0 cp --parents -t "$work")
    selection=""
    for t in ${TESTS[$module]}; do selection+="\"$t\", "; done
    cat >> "$work/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["src"]
only_mutate = ["src/chouyang/survey/$module.py"]
also_copy = ["README.md", "forms/", "docs/"]  # read by tests (the README's worked ticket, form layouts)
pytest_add_cli_args = ["-m", "not slow", "-p", "no:cacheprovider", "-q", "-n", "0"]  # mutmut follows one process, not xdist workers
pytest_add_cli_args_test_selection = [${selection%, }]
EOF
    echo "== $module ($work)"
    (cd "$work" && mutmut run --max-children "${MUTMUT_CHILDREN:-2}" > mutmut-run.log 2>&1) || {
        tail -30 "$work/mutmut-run.log"
        exit 1
    }
    (cd "$work" && mutmut results)
    (cd "$work" && mutmut export-cicd-stats > /dev/null && python3 - "$module" <<'EOF'
import json, sys
s = json.load(open("mutants/mutmut-cicd-stats.json"))
other = s["total"] - s["killed"] - s["survived"] - s["timeout"] - s["no_tests"]
print(f"{sys.argv[1]}: killed {s['killed']} of {s['total']} (survived {s['survived']}, timeout {s['timeout']}, "
      f"no tests {s['no_tests']}, other {other})")
EOF
    )
done
