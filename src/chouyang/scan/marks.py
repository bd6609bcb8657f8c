"""Tick marks: what the ink in and around each printed box says, and the state of every box of a group.

Each box's ink is measured relative to the darkness of its own outline (`box_features`): inside
the box, in a ring around it (a circled box) and in the box's share of the field's cell, and
compared with the cleanest box of its group (`judge_group`).  A box is empty, marked (tick,
cross, slash, circle), filled (scribbled solid: cancelled) or uncertain; the rules that decide
are named predicates, tried in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from chouyang.scan.boxes import SHIFT, BoxBatch, group_shifts
from chouyang.scan.sampler import STEP, PageSampler

# Box states.
EMPTY, MARKED, FILLED, UNCERTAIN = "empty", "marked", "filled", "uncertain"
# Ink inside a box (mean darkness relative to its outline, after the group's cleanest box is taken off).
INK_EMPTY, INK_FAINT, INK_MARK = 0.006, 0.015, 0.03
# Share of a box's inside that is inked, evenly (the least inked third counts double):
# scribbled solid (cancelled) at and above FILL_MIN, uncertain from HEAVY_MIN.
FILL_MIN, HEAVY_MIN = 0.7, 0.5
# Ring around a box: a sector holds ink above RING_INK; a circle covers most of the 8 sectors.
RING_INK, CIRCLE_SECTORS, RING_SUSPECT = 0.06, 6, 4
_LEFT, _RIGHT = 0b11000011, 0b00111100  # ring sectors on the left and right half of a box
_ABOVE, _BELOW = 0b00000110, 0b01100000  # ring sectors straight above and straight below a box
# A light mark (inside ink below STRAY_INK) whose ink around the box lies only straight above or only
# straight below it is a stroke from the next row running into the box, as likely as a mark: uncertain.
# (Benchmark corpus: 1 such box of 15 read as marked where nothing was, against 72 of 11,961 real marks.)
STRAY_INK = 0.07
NOISE = 0.07  # darkness below this is paper (JPEG noise, paper texture)
# Ink (mm^2 of full-black equivalent) beside the boxes of a group that reads empty: a mark gone astray.
OUTER_INK = 0.3


# --- measuring ----------------------------------------------------------------------

def box_features(sampler: PageSampler, batch: BoxBatch) -> np.ndarray:
    """Per box: ink inside, dark share inside, ring sectors with ink (bits), ink in its area outside the
    outline (mm^2 of full-black equivalent) and that ink's mean x offset (mm).

    Ring sector k covers the angles from -pi + k pi/4 (image axes: 0 and 7 are left, 3 and 4 right).
    Ink is darkness relative to the box's outline (the printed line is black), so a pencil mark and
    a faded print compare alike.
    """
    hx, hy = batch.half
    reach = max(float(np.abs(batch.area).max()), max(hx, hy) + float(batch.ring_out.max())) + SHIFT + STEP
    n = 2 * int(np.ceil(reach / STEP)) + 1
    g = (np.arange(n) - n // 2) * STEP
    ox, oy = np.meshgrid(g, g)  # [i, j] = (x, y) offset of row i, column j
    cols, rows = sampler.index(batch.centres[:, 0], batch.centres[:, 1])
    near = 2 * int(np.ceil((max(hx, hy) + SHIFT + 0.6) / STEP)) + 1  # enough to find the outlines
    dx, dy = group_shifts(sampler.patches(cols, rows, near), batch)
    p = sampler.patches(cols + dx[batch.group], rows + dy[batch.group], n).reshape(len(cols), -1)
    ox, oy = ox.ravel(), oy.ravel()
    d = np.maximum(np.abs(ox) - hx, np.abs(oy) - hy)  # distance outside the box's outline
    black = np.maximum(np.percentile(p[:, np.abs(d) <= 0.21], 75, axis=1), 0.3)
    ink = np.clip((p - NOISE) / (black[:, None] - NOISE), 0.0, 1.0)
    core = d <= -0.45
    inside = ink[:, core].mean(axis=1)
    dark = _dark_share(p[:, core], ox[core], oy[core], hx, hy)
    beside = (np.abs(ox[None] - batch.lines[:, :1]) > 0.4) & (np.abs(ox[None] - batch.lines[:, 1:]) > 0.4)
    bits = _ring_bits(ink, (d >= 0.4) & (d <= batch.ring_out[:, None]) & beside, ox, oy)
    a = batch.area
    own = (d >= 0.5) & beside & (ox >= a[:, :1]) & (ox <= a[:, 1:2]) & (oy >= a[:, 2:3]) & (oy <= a[:, 3:])
    outer = (ink * own).sum(axis=1)
    centre_x = (ink * own) @ ox / np.maximum(outer, 1e-9)
    return np.stack([inside, dark, bits, outer * STEP * STEP, centre_x], axis=1)


def _dark_share(core: np.ndarray, ox: np.ndarray, oy: np.ndarray, hx: float, hy: float) -> np.ndarray:
    """How evenly a box's inside is inked: the share of dark samples over its nine thirds, the least inked
    third counting double (scribbled solid inks nearly every part; a thick cross leaves gaps between its arms)."""
    third_x = np.clip(((ox + hx - 0.45) / (2 * (hx - 0.45)) * 3).astype(int), 0, 2)
    third_y = np.clip(((oy + hy - 0.45) / (2 * (hy - 0.45)) * 3).astype(int), 0, 2)
    thirds = np.eye(9, dtype=np.float32)[third_y * 3 + third_x]
    share = ((core > NOISE + 0.08).astype(np.float32) @ thirds) / thirds.sum(axis=0)
    return np.minimum(share.mean(axis=1), 2 * share.min(axis=1))


def _ring_bits(ink: np.ndarray, ring: np.ndarray, ox: np.ndarray, oy: np.ndarray) -> np.ndarray:
    """Per box, the ring's eight sectors that hold ink, as bits."""
    sector = np.eye(8, dtype=np.float32)[((np.arctan2(oy, ox) + np.pi) / (2 * np.pi) * 8).astype(int) % 8]
    ring_ink = ((ink * ring) @ sector) / np.maximum(ring.astype(np.float32) @ sector, 1)
    return (ring_ink >= RING_INK) @ (1 << np.arange(8))


# --- judging ------------------------------------------------------------------------

class BoxEvidence(NamedTuple):  # a tuple: made for every box of every page
    """What decides one box's state: its own ink and what the rest of its group looks like."""

    ink: float          # inside, above the group's cleanest box
    dark: float         # evenly inked share of the inside
    mask: int           # ring sectors with ink (bits)
    sectors: int        # how many
    others_clean: bool  # every other box of the group clean inside, at most one ring sector inked
    explained: bool     # ring ink only on the side of an inked neighbour (its overshoot)


def _filled(b: BoxEvidence) -> bool:
    return b.dark >= FILL_MIN


def _heavy(b: BoxEvidence) -> bool:
    return b.dark >= HEAVY_MIN


def _stray_stroke(b: BoxEvidence) -> bool:
    """A light mark with ring ink only straight above or only straight below: a stroke entering from another row."""
    return b.ink >= INK_FAINT and b.ink < STRAY_INK and bool(b.mask) and (b.mask & ~_ABOVE == 0 or b.mask & ~_BELOW == 0)


def _clear_mark(b: BoxEvidence) -> bool:
    return b.ink >= INK_MARK


def _faint_mark_alone(b: BoxEvidence) -> bool:
    """A faint mark (light pencil, a tick mostly outside its box) counts when every other box is clean."""
    return b.ink >= INK_FAINT and b.others_clean


def _clean(b: BoxEvidence) -> bool:
    return b.ink <= INK_EMPTY and (b.sectors == 0 or b.sectors < RING_SUSPECT and b.explained)


def _circled(b: BoxEvidence) -> bool:
    """A circle around the box (it may touch the box)."""
    return b.sectors >= CIRCLE_SECTORS and (b.ink <= INK_EMPTY or b.ink < INK_MARK and b.others_clean)


def _unclear_confidence(b: BoxEvidence) -> float:
    return 0.5 * max(0.0, min(b.ink - INK_EMPTY, INK_MARK - b.ink)) / (INK_MARK - INK_EMPTY)


# The rules, first that holds decides: (predicate, state, confidence).
_RULES: tuple[tuple[Callable[[BoxEvidence], bool], str, Callable[[BoxEvidence], float]], ...] = (
    (_filled, FILLED, lambda b: min(1.0, 0.5 + (b.dark - FILL_MIN) / (2 * (1 - FILL_MIN)))),
    (_heavy, UNCERTAIN, lambda b: 0.3),
    (_stray_stroke, UNCERTAIN, lambda b: 0.4),
    (_clear_mark, MARKED, lambda b: min(1.0, 0.5 + (b.ink - INK_MARK) / (2 * INK_MARK))),
    (_faint_mark_alone, MARKED, lambda b: 0.5 + 0.5 * min(1.0, (b.ink - INK_FAINT) / (INK_MARK - INK_FAINT))),
    (_clean, EMPTY, lambda b: 1.0 if b.sectors == 0 and b.ink == 0 else 0.8),
    (_circled, MARKED, lambda b: 0.5 + 0.25 * (b.sectors - CIRCLE_SECTORS)),
    (lambda b: True, UNCERTAIN, _unclear_confidence),
)


def box_state(b: BoxEvidence) -> tuple[str, float]:
    """A box's state and how sure it is (the first rule that holds)."""
    for holds, state, confidence in _RULES:
        if holds(b):
            return state, confidence(b)
    raise AssertionError("the last rule always holds")


def group_evidence(features: list[tuple[float, ...]]) -> list[BoxEvidence]:
    """The evidence of each box of a group, its ink taken relative to the group's cleanest box."""
    base = min(min(f[0] for f in features), 0.05)
    ink = [f[0] - base for f in features]
    counts = [bin(int(f[2])).count("1") for f in features]
    inked = [(a >= INK_FAINT or n >= CIRCLE_SECTORS) and f[1] < HEAVY_MIN for a, f, n in zip(ink, features, counts)]
    clean = [a <= INK_EMPTY and n < 2 for a, n in zip(ink, counts)]
    return [BoxEvidence(ink[i], f[1], int(f[2]), counts[i], _all_but(clean, i), _overshoot(inked, int(f[2]), i))
            for i, f in enumerate(features)]


def _all_but(flags: list[bool], i: int) -> bool:
    return all(flag for j, flag in enumerate(flags) if j != i)


def _overshoot(inked: list[bool], mask: int, i: int) -> bool:
    """Ink around a clean box is a neighbour's overshoot only when it lies on that neighbour's side."""
    return any(inked[j] and mask & ~(_LEFT if j < i else _RIGHT) == 0 for j in range(len(inked)) if j != i)


def judge_group(features: list[tuple[float, ...]]) -> tuple[list[str], list[float], float]:
    """States of a group's boxes, their ink (above the cleanest box) and the group's confidence.

    A faint mark (light pencil, a tick mostly outside its box) counts when every other box of
    its group is clean; ink only around a box (no circle) is explained by a clear mark next to it.
    """
    evidence = group_evidence(features)
    judged = [box_state(b) for b in evidence]
    states, conf = [s for s, _ in judged], [c for _, c in judged]
    _mark_gone_astray(features, states, conf)
    return states, [round(b.ink, 4) for b in evidence], float(min(conf))


def _mark_gone_astray(features: list[tuple[float, ...]], states: list[str], conf: list[float]) -> None:
    """A mark beside its box (above, below, between two boxes) leaves the group looking empty: the box
    with most ink beside it becomes uncertain."""
    outer = [f[3] for f in features]
    if all(st == EMPTY for st in states) and max(outer) >= OUTER_INK:
        i = int(np.argmax(outer))
        states[i] = UNCERTAIN
        conf[i] = 0.5 * max(0.0, 1 - max(outer) / (4 * OUTER_INK))
