"""Assign the sample points to teams and days (调查安排, SPEC §3.2).

The search is a depth-first assignment of township blocks to (team, first
slot), most-constrained township first.  Every ordering choice is broken by
SHA-256 keys made from the draw's seed, so the plan is randomised yet anyone
re-running `verify` gets the same one.  Teams with the lighter load are tried
first, which balances the work.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import pandas as pd

from chouyang.config.rules import Rules
from chouyang.errors import ChouyangError
from chouyang.vocab import PLAN_COLUMNS

_MAX_NODES = 200_000


def _key(seed: str, round_id: str, *parts: str) -> str:
    return hashlib.sha256("|".join((seed, round_id, "plan") + parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Block:
    township_code: str
    township_name: str
    units: tuple[str, ...]
    allowed: tuple[str, ...]


def _blocks(primary: pd.DataFrame, teams: pd.DataFrame, rules: Rules) -> list[Block]:
    homes = {row.team_id: set(row.home_townships) for row in teams.itertuples()}
    blocks = []
    for code, group in primary.sort_values(["township_code", "rank"]).groupby("township_code", sort=True):
        allowed = tuple(t for t in teams.team_id
                        if not (rules.plan.respect_avoidance and code in homes[t]))
        units = tuple(group.unit_code)
        name = group.township_name.iloc[0]
        if rules.plan.same_team_per_township:
            blocks.append(Block(code, name, units, allowed))
        else:
            blocks += [Block(code, name, (u,), allowed) for u in units]
    return blocks


def make_plan(sample: pd.DataFrame, teams: pd.DataFrame, rules: Rules, seed: str) -> pd.DataFrame:
    """Plan table: team_id, date, township_code, unit_code (+ names and slot for printing)."""
    primary = sample[sample.role == "primary"]
    days = list(rules.round.survey_days)
    per_day = rules.plan.points_per_team_day
    n_slots = len(days) * per_day
    team_ids = list(teams.team_id)
    blocks = _blocks(primary, teams, rules)
    points = len(primary)
    capacity = len(team_ids) * n_slots
    if points > capacity:
        raise ChouyangError(
            f"调查安排无法完成：共有 {points} 个样本点，但 {len(team_ids)} 个调查组 × {len(days)} 天 × "
            f"每天 {per_day} 个 = {capacity} 个工作量（约束：每组每天样本点数 points_per_team_day）")
    for b in blocks:
        if not b.allowed:
            raise ChouyangError(f"调查安排无法完成：乡镇 {b.township_name}（{b.township_code}）"
                                "是所有调查组成员的家乡，没有可回避的调查组（约束：respect_avoidance）")
        if len(b.units) > n_slots:
            raise ChouyangError(f"调查安排无法完成：乡镇 {b.township_name} 有 {len(b.units)} 个样本点，"
                                f"同一调查组 {len(days)} 天最多完成 {n_slots} 个（约束：same_team_per_township）")
    round_id = rules.round.id
    team_key = {t: _key(seed, round_id, "team", t) for t in team_ids}
    order = sorted(blocks, key=lambda b: (len(b.allowed), -len(b.units),
                                          _key(seed, round_id, "township", b.township_code, b.units[0])))
    # Fewest days first: a plan that finishes in 2 of the 4 survey days frees the teams and the cars.
    # The search is the same for every number of days, so verify re-derives the same plan.
    fewest = max(-(-points // (len(team_ids) * per_day)), max((-(-len(b.units) // per_day) for b in blocks), default=1), 1)
    placed = None
    for used_days in range(fewest, len(days) + 1):
        placed = _assign(order, team_ids, team_key, used_days * per_day, seed, round_id)
        if placed is not None:
            break
    if placed is None:
        raise ChouyangError(
            f"调查安排无法完成：在回避（respect_avoidance={rules.plan.respect_avoidance}）和"
            f"同一乡镇由同一组连续完成（same_team_per_township={rules.plan.same_team_per_township}）"
            f"的约束下，{len(team_ids)} 个调查组 × {len(days)} 天排不下 {points} 个样本点。"
            "请增加调查组或调查天数，或调整家乡回避名单。")
    names = dict(zip(primary.unit_code, primary.unit_name))
    rows = []
    for i, block in enumerate(order):
        t, s = placed[i]
        for j, unit in enumerate(block.units):
            slot = s + j
            rows.append({"team_id": t, "date": days[slot // per_day].isoformat(),
                         "township_code": block.township_code, "unit_code": unit,
                         "township_name": block.township_name, "unit_name": names[unit],
                         "slot": slot})
    plan = pd.DataFrame(rows)
    plan["team_order"] = plan.team_id.map({t: k for k, t in enumerate(team_ids)})
    plan = plan.sort_values(["team_order", "slot"]).drop(columns="team_order").reset_index(drop=True)
    return plan


def _assign(order: list[Block], team_ids: list[str], team_key: dict[str, str], n_slots: int, seed: str,
            round_id: str) -> dict[int, tuple[str, int]] | None:
    """Depth-first placement of the blocks (in `order`) into `n_slots` slots per team, or None."""
    free = {t: [True] * n_slots for t in team_ids}
    load = {t: 0 for t in team_ids}
    placed: dict[int, tuple[str, int]] = {}
    nodes = 0

    def fits(t: str, start: int, size: int) -> bool:
        return start + size <= n_slots and all(free[t][start:start + size])

    def runs(t: str) -> list[tuple[int, int]]:
        """Maximal free runs of a team as (start, length)."""
        out, start = [], None
        for k, f in enumerate(free[t] + [False]):
            if f and start is None:
                start = k
            elif not f and start is not None:
                out.append((start, k - start))
                start = None
        return out

    def hopeless(i: int) -> bool:
        """Cheap bounds: total room, and room for blocks of each size still to place."""
        rest = order[i:]
        all_runs = {t: runs(t) for t in team_ids}
        lengths = [length for r in all_runs.values() for _, length in r]
        if sum(len(b.units) for b in rest) > sum(lengths):
            return True
        for size in {len(b.units) for b in rest}:
            if sum(len(b.units) >= size for b in rest) > sum(length // size for length in lengths):
                return True
        return any(not any(length >= len(b.units) for t in b.allowed for _, length in all_runs[t])
                   for b in rest)

    def search(i: int) -> bool:
        nonlocal nodes
        if i == len(order):
            return True
        nodes += 1
        if nodes > _MAX_NODES or hopeless(i):
            return False
        block = order[i]
        size = len(block.units)
        for t in sorted(block.allowed, key=lambda t: (load[t], team_key[t])):
            edges = {e for s0, length in runs(t) for e in (s0, s0 + length - size)}
            starts = [s for s in range(n_slots) if fits(t, s, size)]
            # Packing against a run's edge first avoids stranding single slots.
            starts.sort(key=lambda s: (s not in edges,
                                       _key(seed, round_id, "start", block.township_code, t, str(s))))
            for s in starts:
                free[t][s:s + size] = [False] * size
                load[t] += size
                placed[i] = (t, s)
                if search(i + 1):
                    return True
                free[t][s:s + size] = [True] * size
                load[t] -= size
                del placed[i]
        return False

    return placed if search(0) else None


def plan_csv_bytes(plan: pd.DataFrame) -> bytes:
    """plan.csv: the contract's columns, then the names a person reads; UTF-8 with a byte-order mark."""
    buf = io.StringIO()
    plan[list(PLAN_COLUMNS) + ["township_name", "unit_name"]].to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8-sig")
