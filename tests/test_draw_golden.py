"""The draw's bytes are frozen: SHA-256 of sample.csv (and the notes) recorded before the draw was vectorised.

`tests/draw_golden.json` holds digests of `sample_csv_bytes(draw_sample(...))`, of the township notes
(which go into draw.json) and of the sample after replacements, made with the per-township loop of
draw.py as it was at commit ba65909 (issue 14, before point 6), before sample.csv gained its UTF-8
byte-order mark (stripped here).  Any other change of a byte fails here.

Cases: the demo county (chouyang.demo.population.make_frame, dengzhou-2016h1) with 5 seeds under srs and pps,
once with the first seed's primaries as the previous round; and 30 seeds x 40 townships of a synthetic
frame under 4 rule variants (srs and pps; points 2 or 3; 0 to 3 reserves; overrides of k to 0, 1, 3
and 5) with excluded units, previous-round units, townships smaller than k, townships where the
exclusions or the previous round must be taken back, units of size 0, townships of size 0 and
certainty units (one, two of equal size, and a cascade).  Every value of the synthetic frame comes
from SHA-256, not from a random generator, so it cannot drift with a numpy or Python version.

Regenerate (only when the draw is meant to change, with ALGORITHM_VERSION raised):
    python tests/test_draw_golden.py > tests/draw_golden.json
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from chouyang.config.rules import parse_rules, round_rules_text
from chouyang.demo.population import make_frame
from chouyang.survey.draw import apply_replacements, draw_sample, sample_csv_bytes

GOLDEN = Path(__file__).with_name("draw_golden.json")
DEMO_SEED = "2016-07-25 福彩3D 2016199期 528"
DEMO_SEEDS = (DEMO_SEED, "2017-01-20 福彩3D 2017020期 031", "7", " 抽样|2016 ", "dice 3 5 1 6")
N_SEEDS, N_TOWNSHIPS = 30, 40
# township number -> k (the ones that end in 9)
OVERRIDES = {9: 0, 19: 1, 29: 3, 39: 5}
VARIANTS = {  # name -> (method, points, reserves, size column)
    "srs-k2-r1": ("srs", 2, 1, "wcba"),
    "srs-k3-r3": ("srs", 3, 3, "wcba"),
    "pps-k2-r2": ("pps", 2, 2, "wcba"),
    "pps-k3-r0-households": ("pps", 3, 0, "households"),
}


def _h(*parts) -> int:
    """A reproducible pseudo-random integer from SHA-256 (stable across library versions)."""
    return int(hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:12], 16)


def _rules(method: str, points: int, reserves: int, size_column: str, overrides: str):
    text = round_rules_text("dengzhou-2016h1", "2016H1")  # the id the preset carried when the digests were made
    for key, value in {"method": f'"{method}"', "points_per_township": points, "reserves_per_township": reserves,
                       "size_column": f'"{size_column}"', "overrides": overrides}.items():
        text, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        assert n == 1, key
    return parse_rules(text, "golden")


def township_code(t: int) -> str:
    return f"411381{t:03d}"


def synthetic_frame(c: int) -> tuple[pd.DataFrame, set[str]]:
    """Frame number c (40 townships) and its previous-round units; each township number mod 10 is a situation."""
    rows, previous = [], set()
    for t in range(1, N_TOWNSHIPS + 1):
        kind = t % 10
        n = {0: 1, 1: 2, 2: 3}.get(kind, 4 + _h(c, t, "n") % 22)
        for i in range(n):
            h = _h(c, t, i)
            size = 0 if h % 8 == 0 else 1 + h % 120
            if kind == 5 and i == 1:
                size = 10_000  # one certainty unit
            if kind == 6 and i in (0, 2):
                size = 5_000  # two certainty units of equal size: the larger code goes first
            if kind == 7:
                size = 0  # a township of size 0 under pps
            if kind == 8 and i < 3:
                size = (900, 400, 150)[i]  # a cascade: certain only once the bigger ones are out
            exclude = int(h % 9 == 1 or (kind == 3 and i > 0))  # kind 3: too few left, exclusions come back
            used = h % 5 == 2 or (kind == 4 and i > 0)          # kind 4: the previous round comes back
            code = f"{township_code(t)}{i + 1:03d}"
            if used:
                previous.add(code)
            rows.append({"township_code": township_code(t), "township_name": f"乡镇{t}",
                         "unit_code": code, "unit_name": f"村{t}-{i + 1}", "households": 2 * size + h % 3,
                         "population": 7 * size, "wcba": size, "exclude": exclude,
                         "exclude_reason": "撤并" if exclude else ""})
    frame = pd.DataFrame(rows)
    frame = frame.iloc[sorted(range(len(frame)), key=lambda r: _h(c, "order", r))].reset_index(drop=True)
    if c % 2:  # as inputs.load_frame gives it: object columns of Python values
        frame = frame.astype(object)
    return frame, previous


def synthetic_seed(c: int) -> str:
    return (f"2016-07-25 福彩3D {c}期", f" seed|{c} ", f"{c:03d}")[c % 3]


def _replace_three(sample: pd.DataFrame) -> pd.DataFrame:
    """Replace the first primary of the first three townships that have a reserve (as `chouyang replace`)."""
    first = lambda role: sample[sample.role == role].sort_values("rank").groupby("township_code", sort=True).unit_code.first()
    primary, reserve = first("primary"), first("reserve")
    towns = sorted(set(primary.index) & set(reserve.index))[:3]
    return apply_replacements(sample, [{"unit_code": primary[t], "replacement": reserve[t], "reason": "道路中断"}
                                       for t in towns])


def _digests(frame: pd.DataFrame, rules, seed: str, previous: set[str]) -> dict[str, str]:
    sample, notes = draw_sample(frame, rules, seed, previous)
    sha = lambda b: hashlib.sha256(b).hexdigest()
    csv = lambda s: sample_csv_bytes(s).removeprefix(codecs.BOM_UTF8)  # the digests predate the byte-order mark
    return {"sample": sha(csv(sample)),
            "notes": sha(json.dumps(notes, ensure_ascii=False).encode("utf-8")),
            "replaced": sha(csv(_replace_three(sample)))}


def demo_cases():
    frame = make_frame(DEMO_SEED)
    srs = _rules("srs", 2, 1, "wcba", '{ "411381550" = 1 }')
    pps = _rules("pps", 2, 1, "wcba", '{ "411381550" = 1 }')
    first, _ = draw_sample(frame, srs, DEMO_SEED)
    used = set(first.unit_code[first.role == "primary"])
    for s, seed in enumerate(DEMO_SEEDS):
        yield f"demo/srs/{s}", (frame, srs, seed, set())
        yield f"demo/pps/{s}", (frame, pps, seed, set())
    yield "demo/srs/previous", (frame, srs, DEMO_SEEDS[1], used)
    yield "demo/pps/previous", (frame, pps, DEMO_SEEDS[1], used)


def synthetic_cases():
    overrides = "{ " + ", ".join(f'"{township_code(t)}" = {k}' for t, k in OVERRIDES.items()) + " }"
    rules = {name: _rules(*v, overrides) for name, v in VARIANTS.items()}
    for c in range(N_SEEDS):
        frame, previous = synthetic_frame(c)
        for name, r in rules.items():
            yield f"synthetic/{name}/{c:02d}", (frame, r, synthetic_seed(c), previous)


def all_digests() -> dict[str, dict[str, str]]:
    return {key: _digests(*args) for key, args in [*demo_cases(), *synthetic_cases()]}


def test_synthetic_frame_covers_the_situations():
    frame, previous = synthetic_frame(1)
    per = frame.groupby("township_code").size()
    assert per[township_code(10)] == 1 and per[township_code(11)] == 2      # fewer units than k
    assert frame.exclude.astype(int).sum() > 0 and len(previous) > 0
    assert (frame.wcba == 0).sum() > 0 and frame[frame.township_code == township_code(7)].wcba.sum() == 0


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))["digests"]


@pytest.mark.parametrize("part", ["demo", "synthetic"])
def test_draw_bytes_unchanged(golden, part):
    cases = demo_cases() if part == "demo" else synthetic_cases()
    keys = []
    for key, args in cases:
        assert _digests(*args) == golden[key], key
        keys.append(key)
    assert len(keys) == len([k for k in golden if k.startswith(part + "/")])


if __name__ == "__main__":
    json.dump({"made_by": "python tests/test_draw_golden.py > tests/draw_golden.json",
               "draw_py_commit": sys.argv[1] if len(sys.argv) > 1 else "ba65909",
               "digests": all_digests()}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
