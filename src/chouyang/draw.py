"""Draw the sample points (抽样) and verify a draw (SPEC §3.1).

Consistent sampling: every unit gets a ticket

    ticket = SHA-256( UTF-8( seed + "|" + round_id + "|" + unit_code ) )

written as 64 lower-case hex digits.  In each township the eligible units are
ordered by ticket; under "srs" the k smallest are the sample (a simple random
sample without replacement) and the next ones are the reserves.  Under "pps"
units of size >= total/k are taken with certainty, the rest by systematic PPS
over the ticket order with a start from SHA-256(seed|round_id|township_code),
which gives exact inclusion probabilities pi = k' * size / total'.

The round id and unit code contain no "|", so the byte string is unambiguous
even when the seed itself contains "|".
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass

import pandas as pd

from .errors import ChouyangError
from .rules import Rules
from .vocab import SAMPLE_COLUMNS

ALGORITHM = "chouyang-consistent-sha256"
ALGORITHM_VERSION = 1
_TWO_256 = 1 << 256


def normalise_seed(seed: str) -> str:
    """The seed is text: Unicode NFC, surrounding white space removed."""
    seed = unicodedata.normalize("NFC", str(seed)).strip()
    if not seed:
        raise ChouyangError("随机种子不能为空（例如填写公开的彩票开奖号码或现场掷骰结果）")
    return seed


def ticket(seed: str, round_id: str, unit_code: str) -> str:
    """The unit's lottery ticket; smaller tickets are drawn first."""
    return hashlib.sha256(f"{seed}|{round_id}|{unit_code}".encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TownshipDraw:
    township_code: str
    notes: tuple[str, ...]
    rows: tuple[dict, ...]


def eligible_units(units: pd.DataFrame, k: int, previous: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """Apply `exclude` and previous-round exclusion unless that leaves the township short."""
    notes: list[str] = []
    flagged = units.exclude.astype(int) == 1
    used = units.unit_code.isin(previous)
    if (~flagged & ~used).sum() >= k:
        if flagged.any():
            notes.append(f"排除标记不参加抽样的单位 {int(flagged.sum())} 个")
        if (used & ~flagged).any():
            notes.append(f"排除往轮已抽样本点 {int((used & ~flagged).sum())} 个")
        return units[~flagged & ~used], notes
    if (~flagged).sum() >= k:
        if flagged.any():
            notes.append(f"排除标记不参加抽样的单位 {int(flagged.sum())} 个")
        if used.any():
            notes.append("可抽单位不足，往轮已抽样本点重新纳入")
        return units[~flagged], notes
    if flagged.any():
        notes.append("可抽单位不足，标记不参加抽样的单位也纳入")
    return units, notes


def _draw_srs(units: pd.DataFrame, k: int) -> list[tuple[pd.Series, float]]:
    n = len(units)
    prob = min(k, n) / n
    return [(row, prob) for _, row in units.iterrows()][:k]


def pps_probabilities(sizes: dict[str, int], k: int) -> dict[str, float]:
    """Exact inclusion probabilities of k-point PPS: certainty units first, then k' * size / total'.

    A unit with k' * size >= remaining total is taken with certainty (the largest first,
    ties to the larger code), repeated until none is left.
    """
    remaining, n, probs = dict(sizes), k, {}
    while n > 0:
        total = sum(remaining.values())
        certain = [c for c, size in remaining.items() if total > 0 and n * size >= total]
        if not certain:
            break
        biggest = max(certain, key=lambda c: (remaining[c], c))
        probs[biggest] = 1.0
        del remaining[biggest]
        n -= 1
    total = sum(remaining.values())
    probs.update({c: (n * size / total if total else 0.0) for c, size in remaining.items()})
    return probs


def _draw_pps(units: pd.DataFrame, k: int, size_column: str, start_hex: str,
              notes: list[str]) -> list[tuple[pd.Series, float]]:
    """Certainty units first, then systematic PPS in ticket order (exact integer arithmetic)."""
    sizes = {row.unit_code: int(row[size_column]) for _, row in units.iterrows()}
    probs = pps_probabilities(sizes, k)
    rows = {row.unit_code: row for _, row in units.iterrows()}
    # the order they were taken in: largest first, ties to the larger code
    certain = sorted((c for c, p in probs.items() if p == 1.0), key=lambda c: (sizes[c], c), reverse=True)
    chosen: list[tuple[pd.Series, float]] = [(rows[c], 1.0) for c in certain]
    if chosen:
        notes.append(f"按规模必然入样 {len(chosen)} 个")
    remaining = [row for _, row in units.iterrows() if row.unit_code not in certain]
    n = k - len(certain)
    total = sum(sizes[r.unit_code] for r in remaining)
    if n > 0 and total > 0:
        u = int(start_hex, 16)  # start = u / 2^256 in [0, 1)
        points = [(u + j * _TWO_256) * total for j in range(n)]  # scaled by n * 2^256
        cum = 0
        for r in remaining:
            low, cum = cum, cum + sizes[r.unit_code]
            if any(low * n * _TWO_256 <= p < cum * n * _TWO_256 for p in points):
                chosen.append((r, probs[r.unit_code]))
    zero = [r for r in remaining if sizes[r.unit_code] == 0]
    if zero:
        notes.append(f"规模为 0 的单位 {len(zero)} 个不可能入样")
    return chosen


def draw_township(units: pd.DataFrame, k: int, reserves: int, rules: Rules, seed: str,
                  previous: set[str]) -> TownshipDraw:
    round_id = rules.round.id
    code = units.township_code.iloc[0]
    units = units.assign(ticket=[ticket(seed, round_id, c) for c in units.unit_code])
    pool, notes = eligible_units(units, k, previous)
    pool = pool.sort_values("ticket", kind="stable")
    if len(pool) <= k:
        notes.append(f"可抽单位只有 {len(pool)} 个，全部入样")
        picked = [(row, 1.0) for _, row in pool.iterrows()]
    elif rules.sampling.method == "pps":
        start = hashlib.sha256(f"{seed}|{round_id}|{code}".encode("utf-8")).hexdigest()
        picked = _draw_pps(pool, k, rules.sampling.size_column, start, notes)
    else:
        picked = _draw_srs(pool, k)
    picked_codes = {row.unit_code for row, _ in picked}
    rows = []
    for rank, (row, prob) in enumerate(picked, start=1):
        rows.append(_sample_row(rules, row, "primary", rank, prob))
    spare = [r for _, r in pool.iterrows() if r.unit_code not in picked_codes]
    if rules.sampling.method == "pps":  # a reserve records the probability it had under the design
        probs = pps_probabilities(dict(zip(pool.unit_code, pool[rules.sampling.size_column].astype(int))), k)
    for rank, row in enumerate(spare[:reserves], start=len(picked) + 1):
        prob = min(k, len(pool)) / len(pool) if rules.sampling.method == "srs" else probs[row.unit_code]
        rows.append(_sample_row(rules, row, "reserve", rank, prob))
    return TownshipDraw(code, tuple(notes), tuple(rows))


def _sample_row(rules: Rules, row: pd.Series, role: str, rank: int, prob: float) -> dict:
    return {"round_id": rules.round.id, "township_code": row.township_code,
            "township_name": row.township_name, "unit_code": row.unit_code,
            "unit_name": row.unit_name, "role": role, "rank": rank,
            "inclusion_prob": prob, "weight": (1.0 / prob) if prob > 0 else float("nan"),
            "note": ""}


def draw_sample(frame: pd.DataFrame, rules: Rules, seed: str,
                previous: set[str] | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The sample as a table (SPEC §5 sample.csv columns plus `note`), and notes per township.

    A pure function of (seed, frame, rules, previous-round units): townships are
    drawn independently, so removing one township never changes another's draw.
    """
    seed = normalise_seed(seed)
    previous = previous or set()
    if rules.sampling.method == "pps" and rules.sampling.size_column not in frame.columns:
        raise ChouyangError(f"规则要求按「{rules.sampling.size_column}」做 PPS 抽样，但抽样框没有这一列")
    rows: list[dict] = []
    notes: dict[str, list[str]] = {}
    for code, units in frame.groupby("township_code", sort=True):
        k = rules.points_for(code)
        if k == 0:
            notes[code] = ["本乡镇规定抽取 0 个样本点"]
            continue
        result = draw_township(units, k, rules.sampling.reserves_per_township, rules, seed, previous)
        text = "；".join(result.notes)
        rows += [dict(r, note=text) for r in result.rows]
        notes[code] = list(result.notes)
    return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS) + ["note"]), notes


def sample_csv_bytes(sample: pd.DataFrame) -> bytes:
    """Byte-stable CSV: fixed column order, fixed float format, LF line ends, UTF-8 with a byte-order mark
    (so Excel on Chinese Windows shows the names)."""
    out = sample.copy()
    for col in ("inclusion_prob", "weight"):
        out[col] = out[col].map(lambda x: "" if pd.isna(x) else f"{x:.12g}")
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8-sig")


def apply_replacements(sample: pd.DataFrame, replacements: list[dict]) -> pd.DataFrame:
    sample = sample.copy()
    for rep in replacements:
        out = sample.index[sample.unit_code == rep["unit_code"]][0]
        new = sample.index[sample.unit_code == rep["replacement"]][0]
        sample.at[out, "role"] = "replaced"
        sample.at[out, "note"] = _join(sample.at[out, "note"], f"因「{rep['reason']}」由 {rep['replacement']} 替换")
        sample.at[new, "role"] = "primary"
        sample.at[new, "note"] = _join(sample.at[new, "note"], f"替换 {rep['unit_code']}（{rep['reason']}）")
    return sample


def _join(a: str, b: str) -> str:
    return f"{a}；{b}" if a else b
