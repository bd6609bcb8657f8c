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
import json
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import ChouyangError
from .round import Round, sha256_file, utc_now
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
    """Byte-stable CSV: fixed column order, fixed float format, LF line ends, UTF-8."""
    out = sample.copy()
    for col in ("inclusion_prob", "weight"):
        out[col] = out[col].map(lambda x: "" if pd.isna(x) else f"{x:.12g}")
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def read_sample(path: Path) -> pd.DataFrame:
    sample = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("inclusion_prob", "weight"):
        sample[col] = pd.to_numeric(sample[col])
    sample["rank"] = sample["rank"].astype(int)
    return sample


def previous_units(paths: list[Path], rules_n: int) -> set[str]:
    """Primary units of the last `rules_n` earlier rounds (files given oldest first)."""
    if rules_n <= 0:
        return set()
    used: set[str] = set()
    for path in list(paths)[-rules_n:]:
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ChouyangError(f"无法读取往轮样本文件 {path}：{exc}") from None
        if "unit_code" not in table.columns:
            raise ChouyangError(f"往轮样本文件 {path} 缺少 unit_code 列")
        roles = table["role"] if "role" in table.columns else pd.Series(["primary"] * len(table))
        used |= set(table.loc[roles == "primary", "unit_code"])
    return used


# --- the round-level steps ---------------------------------------------------

def commit_round(rnd: Round) -> dict:
    """Publish one fingerprint over inputs and rules before the seed is known."""
    rnd.require_inputs_unchanged()
    rnd.rules()  # the rules must at least be valid
    if rnd.draw_path.exists():
        raise ChouyangError("本轮已经抽样，承诺指纹必须在抽样之前发布")
    record = {"fingerprint": rnd.fingerprint(), "time_utc": utc_now()}
    rnd.commit_path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    rnd.log("commit", record)
    return record


def _round_previous(rnd: Round) -> list[Path]:
    folder = rnd.inputs_dir / "previous"
    return sorted(folder.glob("*.csv")) if folder.exists() else []


def draw_round(rnd: Round, seed: str, previous: list[Path] | None = None,
               force: bool = False) -> dict:
    """Draw the round's sample; writes sample.csv and draw.json and logs the draw."""
    rnd.require_inputs_unchanged()
    rules = rnd.rules()
    seed = normalise_seed(seed)
    if rnd.draw_path.exists() and not force:
        raise ChouyangError("本轮已经抽过样。重新抽样会作废已公布的样本；如确需重抽，请加 --force（旧记录保留在日志中）")
    commitment = None
    if rnd.commit_path.exists():
        commitment = json.loads(rnd.commit_path.read_text(encoding="utf-8"))
        if commitment["fingerprint"] != rnd.fingerprint():
            raise ChouyangError("输入文件或规则与抽样前公布的承诺指纹不一致，拒绝抽样")
    loaded = rnd.load_frame()
    prev_dir = rnd.inputs_dir / "previous"
    if previous:
        if prev_dir.exists():
            shutil.rmtree(prev_dir)
        prev_dir.mkdir(parents=True)
        for i, src in enumerate(previous, start=1):
            if not Path(src).exists():
                raise ChouyangError(f"找不到往轮样本文件：{src}")
            shutil.copyfile(src, prev_dir / f"{i:02d}_{Path(src).name}")
    prev_files = _round_previous(rnd)
    used = previous_units(prev_files, rules.sampling.exclude_previous_rounds)
    sample, notes = draw_sample(loaded.frame, rules, seed, used)
    old = rnd.draw_record() if rnd.draw_path.exists() else None
    record = {
        "round_id": rules.round.id,
        "seed": seed,
        "algorithm": ALGORITHM,
        "algorithm_version": ALGORITHM_VERSION,
        "ticket": "SHA-256(UTF-8(seed + '|' + round_id + '|' + unit_code)), hex; smallest first",
        "method": rules.sampling.method,
        "frame_sha256": rnd.manifest()["files"]["frame"]["sha256"],
        "rules_sha256": sha256_file(rnd.rules_path),
        "inputs": {k: v["sha256"] for k, v in rnd.manifest()["files"].items()},
        "previous_rounds": [{"path": str(p.relative_to(rnd.path).as_posix()), "sha256": sha256_file(p)}
                            for p in prev_files],
        "fingerprint": rnd.fingerprint(),
        "commitment": commitment,
        "tool_version": __version__,
        "time_utc": utc_now(),
        "counts": {"townships": int(sample.township_code.nunique()),
                   "primary": int((sample.role == "primary").sum()),
                   "reserve": int((sample.role == "reserve").sum())},
        "township_notes": {k: v for k, v in notes.items() if v},
    }
    with rnd.store() as con:
        if old is not None:
            rnd.log("draw_superseded", {"previous_draw": old}, con)
        rnd.sample_path.write_bytes(sample_csv_bytes(sample))
        rnd.draw_path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
        replacements = rnd.path / "replacements.json"
        if replacements.exists():
            replacements.unlink()
        rnd.log("draw", {k: record[k] for k in ("seed", "fingerprint", "counts", "time_utc")}, con)
    return record


def _replacements(rnd: Round) -> list[dict]:
    path = rnd.path / "replacements.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


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


def replace_point(rnd: Round, unit_code: str, reason: str) -> dict:
    """Swap a primary point for its township's next unused reserve (备选样本点)."""
    rnd.require_unchanged_since_draw()
    if not reason.strip():
        raise ChouyangError("替换样本点必须说明原因（--reason）")
    sample = read_sample(rnd.sample_path)
    hit = sample[sample.unit_code == unit_code]
    if hit.empty or hit.role.iloc[0] != "primary":
        raise ChouyangError(f"{unit_code} 不是本轮的正式样本点，不能替换")
    if rnd.plan_path.exists():
        raise ChouyangError("调查安排已经生成；替换样本点须在 chouyang plan 之前进行")
    township = hit.township_code.iloc[0]
    reserves = sample[(sample.township_code == township) & (sample.role == "reserve")].sort_values("rank")
    if reserves.empty:
        raise ChouyangError(f"乡镇 {hit.township_name.iloc[0]}（{township}）已没有备选样本点可用")
    rep = {"unit_code": unit_code, "replacement": reserves.unit_code.iloc[0], "reason": reason.strip(),
           "time_utc": utc_now()}
    reps = _replacements(rnd) + [rep]
    new_sample = apply_replacements(sample, [rep])
    with rnd.store() as con:
        (rnd.path / "replacements.json").write_text(json.dumps(reps, ensure_ascii=False, indent=2),
                                                     encoding="utf-8")
        rnd.sample_path.write_bytes(sample_csv_bytes(new_sample))
        rnd.log("replace", rep, con)
    return rep


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    messages: tuple[str, ...]


def verify_round(rnd: Round) -> VerifyResult:
    """Re-derive the sample (and plan, if made) from the record; name every difference."""
    record = rnd.draw_record()
    messages: list[str] = []
    for key, digest in record["inputs"].items():
        entry = rnd.manifest()["files"].get(key)
        if entry is None or sha256_file(rnd.path / entry["path"]) != digest:
            messages.append(f"输入文件 {key} 与抽样时不一致")
    if sha256_file(rnd.rules_path) != record["rules_sha256"]:
        messages.append("rules.toml 与抽样时不一致")
    for prev in record["previous_rounds"]:
        p = rnd.path / prev["path"]
        if not p.exists() or sha256_file(p) != prev["sha256"]:
            messages.append(f"往轮样本文件 {prev['path']} 与抽样时不一致")
    if record.get("commitment"):
        commit = record["commitment"]
        if commit["fingerprint"] != rnd.fingerprint():
            messages.append("当前输入与规则的指纹与抽样前公布的承诺指纹不一致")
        if commit["time_utc"] > record["time_utc"]:
            messages.append("承诺指纹的时间晚于抽样时间")
    if messages:
        return VerifyResult(False, tuple(messages))
    rules = rnd.rules()
    used = previous_units([rnd.path / p["path"] for p in record["previous_rounds"]],
                          rules.sampling.exclude_previous_rounds)
    sample, _ = draw_sample(rnd.load_frame().frame, rules, record["seed"], used)
    sample = apply_replacements(sample, _replacements(rnd))
    expected = sample_csv_bytes(sample)
    actual = rnd.sample_path.read_bytes()
    if expected != actual:
        stored = read_sample(rnd.sample_path)
        want = {(r.unit_code, r.role) for r in sample.itertuples()}
        have = {(r.unit_code, r.role) for r in stored.itertuples()}
        for code, role in sorted(want - have):
            messages.append(f"应有 {code}（{role}），sample.csv 中没有")
        for code, role in sorted(have - want):
            messages.append(f"sample.csv 中的 {code}（{role}）不应出现")
        if not messages:
            messages.append("sample.csv 的内容（概率、权数或备注）与重新计算的结果不一致")
        return VerifyResult(False, tuple(messages))
    messages.append(f"样本一致：{int((sample.role == 'primary').sum())} 个样本点，"
                    f"{int((sample.role == 'reserve').sum())} 个备选")
    if rnd.plan_path.exists():
        from .plan import make_plan, plan_csv_bytes

        plan = make_plan(sample, rnd.load_teams().frame, rules, record["seed"])
        if plan_csv_bytes(plan) != rnd.plan_path.read_bytes():
            return VerifyResult(False, tuple(messages) + ("plan.csv 与重新计算的调查安排不一致",))
        messages.append("调查安排一致")
    if not record.get("commitment"):
        messages.append("注意：本轮抽样前没有发布承诺指纹（chouyang commit）")
    return VerifyResult(True, tuple(messages))
