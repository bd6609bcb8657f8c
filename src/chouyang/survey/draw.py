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

import csv
import hashlib
import io
import unicodedata

import numpy as np
import pandas as pd

from chouyang.config.rules import Rules
from chouyang.errors import ChouyangError
from chouyang.vocab import SAMPLE_COLUMNS

ALGORITHM = "chouyang-consistent-sha256"
ALGORITHM_VERSION = 1
# Sizes are summed and multiplied by k in int64 and divided in float64: both are exact below 2^53.
_EXACT_LIMIT = 1 << 52


def normalise_seed(seed: str) -> str:
    """The seed is text: Unicode NFC, surrounding white space removed."""
    seed = unicodedata.normalize("NFC", str(seed)).strip()
    if not seed:
        raise ChouyangError("随机种子不能为空（例如填写公开的彩票开奖号码或现场掷骰结果）")
    return seed


def ticket(seed: str, round_id: str, unit_code: str) -> str:
    """The unit's lottery ticket; smaller tickets are drawn first."""
    return hashlib.sha256(f"{seed}|{round_id}|{unit_code}".encode("utf-8")).hexdigest()


def _ticket_words(seed: str, round_id: str, unit_codes) -> np.ndarray:
    """Every unit's ticket as four big-endian 64-bit words: sorting the words sorts the hex tickets."""
    prefix, sha256 = f"{seed}|{round_id}|", hashlib.sha256
    digests = b"".join([sha256(f"{prefix}{c}".encode("utf-8")).digest() for c in unit_codes])
    return np.frombuffer(digests, dtype=">u8").reshape(-1, 4)


def _start(seed: str, round_id: str, township_code: str) -> int:
    """The township's systematic start u; the start is u / 2^256 in [0, 1)."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{round_id}|{township_code}".encode("utf-8")).digest(), "big")


# --- running counts within townships ------------------------------------------------
# The arrays below are ordered so that each township's units are contiguous.

def _run_starts(groups: np.ndarray) -> np.ndarray:
    """For each position, the first position of its run of equal `groups` values."""
    first = np.ones(len(groups), dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return np.maximum.accumulate(np.where(first, np.arange(len(groups)), 0))


def _cumsum_within(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Inclusive running sum of `values` within each run of equal `groups`."""
    total = np.cumsum(values)
    start = _run_starts(groups)
    return total - (total[start] - values[start])


def _count_within(groups: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """How many of `mask` are true up to and including each position, within its township."""
    return _cumsum_within(groups, mask.astype(np.int64))


def _sum_by(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, groups, values)
    return out


# --- the draw ------------------------------------------------------------------------

def _eligibility(frame: pd.DataFrame, unit_codes: np.ndarray, township: np.ndarray, k: np.ndarray,
                 previous: set[str]) -> dict:
    """Apply `exclude` and previous-round exclusion unless that leaves the township short.

    Returns the per-unit pool mask and, per township, which fallback applied (1 none, 2 the
    previous round's units come back, 3 the excluded units come back too) and the counts the notes cite.
    """
    n = len(k)
    drawn = township >= 0
    drawn[drawn] = k[township[drawn]] > 0
    # an empty `exclude` cell (inputs.load_frame keeps it as "") means 0
    flagged = (pd.to_numeric(frame["exclude"], errors="coerce").fillna(0).astype(int) == 1).to_numpy() \
        if "exclude" in frame.columns else np.zeros(len(frame), dtype=bool)
    used = np.fromiter((c in previous for c in unit_codes), dtype=bool, count=len(unit_codes))
    count = lambda mask: np.bincount(township[drawn & mask], minlength=n)
    free, unflagged = count(~flagged & ~used), count(~flagged)
    case = np.where(free >= k, 1, np.where(unflagged >= k, 2, 3))
    unit_case = np.append(case, 0)[np.where(drawn, township, len(case))]
    pool = drawn & np.where(unit_case == 1, ~flagged & ~used, np.where(unit_case == 2, ~flagged, True))
    return {"pool": pool, "case": case, "flagged": count(flagged), "used_only": count(used & ~flagged),
            "used": count(used)}


def _sizes(frame: pd.DataFrame, column: str, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
    values = pd.to_numeric(frame[column].iloc[rows], errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any() or values.sum() * max(int(k.max(initial=0)), 1) >= _EXACT_LIMIT:
        raise ChouyangError(f"PPS 抽样的规模列「{column}」应为不小于 0 的整数（缺失或数值过大时无法精确计算入样概率）")
    return pd.to_numeric(frame[column].iloc[rows]).to_numpy().astype(np.int64)


def _select_srs(township: np.ndarray, position: np.ndarray, k: np.ndarray,
                n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k smallest tickets; every unit of the pool (reserves too) has probability k / n."""
    picked = position < k[township]
    return picked, position + 1, k[township] / n[township]


def _select_pps(township: np.ndarray, unit_code: np.ndarray, size: np.ndarray, k: np.ndarray,
                codes: list[str], seed: str, round_id: str) -> dict:
    """Certainty units first, then systematic PPS in ticket order (exact integer arithmetic).

    A unit with k' * size >= remaining total is taken with certainty (the largest first, ties to
    the larger code), repeated until none is left; the others have probability k' * size / total'.
    Units are in ticket order within each township; every township here has more units than k.
    """
    n_towns = len(codes)
    total = _sum_by(township, size, n_towns)
    # certainty: the units by size and code, largest first; unit i (from 0) of a township is certain
    # when every larger one is and (k - i) * size_i >= the total left once the larger ones are out
    desc = np.lexsort((unit_code, size, township))[::-1]
    t_desc, s_desc = township[desc], size[desc]
    i = _count_within(t_desc, np.ones(len(desc), dtype=bool)) - 1
    left = total[t_desc] - (_cumsum_within(t_desc, s_desc) - s_desc)
    cond = (i < k[t_desc]) & (left > 0) & ((k[t_desc] - i) * s_desc >= left)
    certain_desc = _count_within(t_desc, ~cond) == 0
    certain = np.zeros(len(size), dtype=bool)
    certain[desc[certain_desc]] = True
    rank = np.zeros(len(size), dtype=np.int64)
    rank[desc[certain_desc]] = i[certain_desc] + 1
    n_certain = np.bincount(township[certain], minlength=n_towns)
    rest_k = k - n_certain
    rest_total = total - _sum_by(township[certain], size[certain], n_towns)
    prob = np.where(certain, 1.0, np.divide(rest_k[township] * size, rest_total[township],
                                            out=np.zeros(len(size)), where=rest_total[township] > 0))
    # systematic: points (u / 2^256 + j) * total' / k' for j < k' on the cumulated sizes in ticket
    # order; a unit [low, cum) is hit when low <= floor(point) < cum, and
    # floor((u + j * 2^256) * total' / (k' * 2^256)) = (floor(u * total' / 2^256) + j * total') // k'
    rest = np.flatnonzero(~certain)
    rest_t = township[rest]
    cum = np.cumsum(size[rest])
    offset = np.zeros(n_towns, dtype=np.int64)
    first = np.flatnonzero(_run_starts(rest_t) == np.arange(len(rest)))
    offset[rest_t[first]] = cum[first] - size[rest][first]
    towns = np.flatnonzero((rest_k > 0) & (rest_total > 0))
    base = np.zeros(n_towns, dtype=np.int64)
    base[towns] = [(_start(seed, round_id, codes[t]) * int(rest_total[t])) >> 256 for t in towns]
    point_t = np.repeat(towns, rest_k[towns])
    j = _count_within(point_t, np.ones(len(point_t), dtype=bool)) - 1
    floor = (base[point_t] + j * rest_total[point_t]) // rest_k[point_t]
    hit = rest[np.searchsorted(cum, offset[point_t] + floor, side="right")]
    systematic = np.zeros(len(size), dtype=bool)
    systematic[hit] = True
    rank = np.where(systematic, n_certain[township] + _count_within(township, systematic), rank)
    return {"picked": certain | systematic, "rank": rank, "prob": prob, "certain": n_certain,
            "zero": np.bincount(township[size == 0], minlength=n_towns)}


def _notes(k: np.ndarray, eligibility: dict, n_pool: np.ndarray, pps: dict | None) -> list[list[str]]:
    """The notes of every township, in the order the draw meets them."""
    case, flagged, used_only = eligibility["case"], eligibility["flagged"], eligibility["used_only"]
    whole = n_pool <= k
    steps = [  # (which townships, the note, the count it cites)
        ((flagged > 0) & (case < 3), "排除标记不参加抽样的单位 {} 个", flagged),
        ((used_only > 0) & (case == 1), "排除往轮已抽样本点 {} 个", used_only),
        ((eligibility["used"] > 0) & (case == 2), "可抽单位不足，往轮已抽样本点重新纳入", None),
        ((flagged > 0) & (case == 3), "可抽单位不足，标记不参加抽样的单位也纳入", None),
        (whole, "可抽单位只有 {} 个，全部入样", n_pool),
    ]
    if pps is not None:
        steps += [(~whole & (pps["certain"] > 0), "按规模必然入样 {} 个", pps["certain"]),
                  (~whole & (pps["zero"] > 0), "规模为 0 的单位 {} 个不可能入样", pps["zero"])]
    notes: list[list[str]] = [[] for _ in k]
    for shown, text, counts in steps:
        for i in np.flatnonzero(shown & (k > 0)):
            notes[i].append(text if counts is None else text.format(counts[i]))
    for i in np.flatnonzero(k == 0):
        notes[i] = ["本乡镇规定抽取 0 个样本点"]
    return notes


def draw_sample(frame: pd.DataFrame, rules: Rules, seed: str,
                previous: set[str] | None = None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The sample as a table (SPEC §5 sample.csv columns plus `note`), and notes per township.

    A pure function of (seed, frame, rules, previous-round units): townships are
    drawn independently, so removing one township never changes another's draw.
    All townships are drawn at once: one sort of the pool by (township, ticket).
    """
    seed = normalise_seed(seed)
    sampling, round_id = rules.sampling, rules.round.id
    pps = sampling.method == "pps"
    if pps and sampling.size_column not in frame.columns:
        raise ChouyangError(f"规则要求按「{sampling.size_column}」做 PPS 抽样，但抽样框没有这一列")
    township, codes = pd.factorize(frame["township_code"], sort=True)
    code_list = codes.tolist()
    k = _points(codes, sampling)
    unit_code = frame["unit_code"].to_numpy(dtype=object)
    eligibility = _eligibility(frame, unit_code, township, k, previous or set())
    rows = np.flatnonzero(eligibility["pool"])
    unit_code = unit_code[rows]
    words = _ticket_words(seed, round_id, unit_code)
    order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0], township[rows]))
    rows, unit_code, t = rows[order], unit_code[order], township[rows][order]
    n_pool = np.bincount(t, minlength=len(codes))
    position = _count_within(t, np.ones(len(t), dtype=bool)) - 1
    whole = (n_pool <= k)[t]
    picked, rank, prob = _select_srs(t, position, k, n_pool)
    drawn_pps = None
    if pps:
        part = np.flatnonzero(~whole)
        sizes = _sizes(frame, sampling.size_column, rows[part], k)
        drawn_pps = _select_pps(t[part], unit_code[part].astype(str), sizes, k, code_list, seed, round_id)
        picked[part], rank[part], prob[part] = drawn_pps["picked"], drawn_pps["rank"], drawn_pps["prob"]
    picked[whole], rank[whole], prob[whole] = True, position[whole] + 1, 1.0
    n_picked = np.bincount(t[picked], minlength=len(codes))
    spare = _count_within(t, ~picked)
    rank = np.where(picked, rank, n_picked[t] + spare)
    keep = picked | (spare <= sampling.reserves_per_township)
    out = np.lexsort((rank[keep], t[keep]))
    rows, t, picked, rank, prob = rows[keep][out], t[keep][out], picked[keep][out], rank[keep][out], prob[keep][out]
    notes = _notes(k, eligibility, n_pool, drawn_pps)
    joined = np.array(["；".join(n) for n in notes] + [""], dtype=object)
    column = lambda name: frame[name].array.take(rows)
    sample = pd.DataFrame({
        "round_id": np.full(len(rows), round_id, dtype=object), "township_code": column("township_code"),
        "township_name": column("township_name"), "unit_code": column("unit_code"),
        "unit_name": column("unit_name"), "role": np.where(picked, "primary", "reserve").astype(object),
        "rank": rank, "inclusion_prob": prob,
        "weight": np.divide(1.0, prob, out=np.full(len(prob), np.nan), where=prob > 0),
        "note": joined[t]}, columns=list(SAMPLE_COLUMNS) + ["note"])
    return sample, dict(zip(code_list, notes))


def _points(codes: pd.Index, sampling) -> np.ndarray:
    """k per township, as Rules.points_for gives it (overrides, else points_per_township)."""
    k = np.full(len(codes), int(sampling.points_per_township), dtype=np.int64)
    at = codes.get_indexer(list(sampling.overrides))
    k[at[at >= 0]] = [int(v) for v, i in zip(sampling.overrides.values(), at) if i >= 0]
    return k


def sample_csv_bytes(sample: pd.DataFrame) -> bytes:
    """Byte-stable CSV: fixed column order, fixed float format, LF line ends, UTF-8 with a byte-order
    mark (so Excel on Chinese Windows shows the names).

    The bytes of pandas' `to_csv(index=False, lineterminator="\\n")` (missing values empty, the
    csv module's minimal quoting), written column-wise: a field is handed to the csv module only
    when it holds a character that may need quoting.
    """
    columns = [_csv_texts(sample[name], name in ("inclusion_prob", "weight")) for name in sample.columns]
    lines = [_csv_line(list(map(str, sample.columns))), *map(",".join, zip(*columns))]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


_CSV_SPECIAL = (",", '"', "\r", "\n")


def _csv_line(fields: list[str]) -> str:
    """One row as the csv module writes it, without the line end."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()[:-1]


def _csv_texts(values: pd.Series, fixed_float: bool) -> list[str]:
    missing = values.isna()
    items = values.tolist()
    if fixed_float:
        texts = [f"{x:.12g}" for x in items] if not missing.any() else \
            ["" if na else f"{x:.12g}" for x, na in zip(items, missing.tolist())]
    else:
        texts = list(map(str, items)) if not missing.any() else \
            ["" if na else str(x) for x, na in zip(items, missing.tolist())]
    if any(c in "".join(texts) for c in _CSV_SPECIAL):
        texts = [_csv_line([t]) if any(c in t for c in _CSV_SPECIAL) else t for t in texts]
    return texts


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
