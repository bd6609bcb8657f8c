"""The sample: draw it from the published seed, swap a point for a reserve (replace), re-derive it (verify)."""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chouyang import __version__
from chouyang.config.rules import parse_rules
from chouyang.errors import ChouyangError
from chouyang.instruments.catalog import round_instruments
from chouyang.round.folder import Round, json_bytes, previous_units, read_sample, sha256_file, utc_now
from chouyang.survey.draw import ALGORITHM, ALGORITHM_VERSION, apply_replacements, draw_sample, normalise_seed, sample_csv_bytes
from chouyang.survey.plan import make_plan, plan_csv_bytes


def _store_previous(rnd: Round, previous: list[Path]) -> None:
    """Copy earlier rounds' sample files into inputs/previous/ (numbered, oldest first)."""
    if rnd.previous_dir.exists():
        shutil.rmtree(rnd.previous_dir)
    rnd.previous_dir.mkdir(parents=True)
    for i, src in enumerate(previous, start=1):
        if not Path(src).exists():
            raise ChouyangError(f"找不到往轮样本文件：{src}")
        shutil.copyfile(src, rnd.previous_dir / f"{i:02d}_{Path(src).name}")


def _commitment(rnd: Round) -> dict | None:
    if not rnd.commit_path.exists():
        return None
    commitment = json.loads(rnd.commit_path.read_text(encoding="utf-8"))
    if commitment["fingerprint"] != rnd.fingerprint():
        raise ChouyangError("输入文件或规则与抽样前公布的承诺指纹不一致，拒绝抽样")
    return commitment


def draw(rnd: Round, seed: str, previous: list[Path] | None = None, force: bool = False) -> dict:
    """Draw the round's sample; writes sample.csv and draw.json and logs the draw."""
    rnd.require_inputs_unchanged()
    rules = rnd.require_named()  # after the draw the rules are locked: a placeholder title could never be fixed
    rnd.scheme()  # so is the scheme: it must be valid now
    round_instruments(rnd.path)  # and the round's own instruments readable (they are fingerprinted)
    seed = normalise_seed(seed)
    if rnd.draw_path.exists() and not force:
        raise ChouyangError("本轮已经抽过样。重新抽样会作废已公布的样本；如确需重抽，请加 --force（旧记录保留在日志中）")
    commitment = _commitment(rnd)
    frame = rnd.frame()
    if previous:
        _store_previous(rnd, previous)
    prev_files = rnd.previous_files()
    used = previous_units(prev_files, rules.sampling.exclude_previous_rounds)
    sample, notes = draw_sample(frame, rules, seed, used)
    if not (sample.role == "primary").any():
        raise ChouyangError("按当前规则一个样本点也抽不出（每个乡镇的样本点数都是 0，或没有可抽的单位）。"
                            "请检查 rules.toml 的 [sampling] points_per_township 和 overrides。")
    old = rnd.draw_record() if rnd.draw_path.exists() else None
    record = _draw_record(rnd, rules, seed, sample, notes, prev_files, commitment)
    with rnd.store(immediate=True) as con:
        if old is not None:
            rnd.log("draw_superseded", {"previous_draw": old}, con)
        rnd.write_together({rnd.sample_path: sample_csv_bytes(sample), rnd.draw_path: json_bytes(record)})
        if rnd.replacements_path.exists():
            rnd.replacements_path.unlink()
        rnd.log("draw", {k: record[k] for k in ("seed", "fingerprint", "counts", "time_utc")}, con)
    return record


def _draw_record(rnd: Round, rules, seed: str, sample: pd.DataFrame, notes: dict, prev_files: list[Path],
                 commitment: dict | None) -> dict:
    """draw.json: everything needed to re-derive the sample (SPEC §3.1)."""
    files = rnd.manifest()["files"]
    return {
        "round_id": rules.round.id,
        "seed": seed,
        "algorithm": ALGORITHM,
        "algorithm_version": ALGORITHM_VERSION,
        "ticket": "SHA-256(UTF-8(seed + '|' + round_id + '|' + unit_code)), hex; smallest first",
        "method": rules.sampling.method,
        "frame_sha256": files["frame"]["sha256"],
        "rules_sha256": sha256_file(rnd.rules_path),
        "rules_text": rnd.rules_path.read_text(encoding="utf-8"),
        "scheme_sha256": sha256_file(rnd.scheme_path) if rnd.scheme_path.exists() else None,
        "inputs": {k: v["sha256"] for k, v in files.items()},
        **({"instruments_sha256": digests} if (digests := rnd.instrument_digests()) else {}),  # absent: none
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


def replace(rnd: Round, unit_code: str, reason: str) -> dict:
    """Swap a primary point for its township's next unused reserve (备选样本点)."""
    rnd.require_unchanged_since_draw()
    if not reason.strip():
        raise ChouyangError("替换样本点必须说明原因（--reason）")
    sample = rnd.sample()
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
    reps = rnd.replacements() + [rep]
    new_sample = apply_replacements(sample, [rep])
    with rnd.store(immediate=True) as con:
        rnd.write_together({rnd.replacements_path: json_bytes(reps), rnd.sample_path: sample_csv_bytes(new_sample)})
        rnd.log("replace", rep, con)
    return rep


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    messages: tuple[str, ...]    # what was checked and found identical
    problems: tuple[str, ...]    # what differs (empty when ok)
    round_id: str
    seed: str


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "overrides":
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def rules_changes(old_text: str, new_text: str) -> list[str]:
    """Which keys of rules.toml differ (Chinese, one line per key); comments and spacing are ignored."""
    try:
        old, new = _flatten(tomllib.loads(old_text)), _flatten(tomllib.loads(new_text))
    except tomllib.TOMLDecodeError:
        return ["rules.toml 现在不是有效的 TOML"]
    lines = [f"{k}：{old[k]} → {new[k]}" for k in sorted(set(old) & set(new)) if old[k] != new[k]]
    lines += [f"{k}：新增（{new[k]}）" for k in sorted(set(new) - set(old))]
    lines += [f"{k}：被删除（原为 {old[k]}）" for k in sorted(set(old) - set(new))]
    return lines or ["只改动了注释或空白（指纹仍然不同）"]


def _fingerprint_differences(rnd: Round, record: dict) -> list[str]:
    """What no longer matches the draw record: inputs, rules, earlier rounds' files, the commitment."""
    messages = []
    for key, digest in record["inputs"].items():
        entry = rnd.manifest()["files"].get(key)
        if entry is None or sha256_file(rnd.path / entry["path"]) != digest:
            messages.append(f"输入文件 {key} 与抽样时不一致")
    if sha256_file(rnd.rules_path) != record["rules_sha256"]:
        changes = rules_changes(record["rules_text"], rnd.rules_path.read_text(encoding="utf-8")) \
            if "rules_text" in record else []
        messages.append("rules.toml 在抽样后被修改" + ("：" + "；".join(changes) if changes else ""))
    if rnd.scheme_changed(record):
        messages.append("考核方案 scheme.toml 与抽样时不一致（被修改、删除或在抽样后添加）")
    for rel in rnd.instruments_changed(record):
        messages.append(f"调查表定义 {rel} 与抽样时不一致（被修改、删除或在抽样后添加）")
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
    return messages


def _sample_differences(expected: pd.DataFrame, stored: pd.DataFrame) -> list[str]:
    want = {(r.unit_code, r.role) for r in expected.itertuples()}
    have = {(r.unit_code, r.role) for r in stored.itertuples()}
    messages = [f"应有 {code}（{role}），sample.csv 中没有" for code, role in sorted(want - have)]
    messages += [f"sample.csv 中的 {code}（{role}）不应出现" for code, role in sorted(have - want)]
    return messages or ["sample.csv 的内容（概率、权数或备注）与重新计算的结果不一致"]


def _drawn_rules(rnd: Round, record: dict):
    """The rules the draw used: the text kept in draw.json (so a later edit cannot hide), else rules.toml."""
    if "rules_text" in record:
        try:
            return parse_rules(record["rules_text"], "draw.json 中记录的规则")
        except ChouyangError:
            pass
    return rnd.rules()


def verify(rnd: Round) -> VerifyResult:
    """Re-derive the sample (and plan, if made) from the record; name every difference.

    The sample is re-derived with the rules the draw recorded, so an edited rules.toml is reported
    as what it is (which keys changed) and not as a different sample.
    """
    record = rnd.draw_record()
    problems = _fingerprint_differences(rnd, record)
    rules = _drawn_rules(rnd, record)
    used = previous_units([rnd.path / p["path"] for p in record["previous_rounds"]],
                          rules.sampling.exclude_previous_rounds)
    sample, _ = draw_sample(rnd.frame(), rules, record["seed"], used)
    sample = apply_replacements(sample, rnd.replacements())
    identity = (record.get("round_id", ""), record["seed"])
    if sample_csv_bytes(sample) != rnd.sample_path.read_bytes():
        return VerifyResult(False, (), tuple(problems + _sample_differences(sample, read_sample(rnd.sample_path))),
                            *identity)
    notes = [f"样本一致：按抽样时的规则重新计算，{int((sample.role == 'primary').sum())} 个样本点、"
             f"{int((sample.role == 'reserve').sum())} 个备选与 sample.csv 完全相同"]
    if rnd.plan_path.exists():
        plan_table = make_plan(sample, rnd.teams(), rules, record["seed"])
        if plan_csv_bytes(plan_table) != rnd.plan_path.read_bytes():
            problems.append("plan.csv 与重新计算的调查安排不一致")
        else:
            notes.append("调查安排一致")
    if not record.get("commitment"):
        notes.append("注意：本轮抽样前没有发布承诺指纹（chouyang commit）")
    return VerifyResult(not problems, tuple(notes), tuple(problems), *identity)
