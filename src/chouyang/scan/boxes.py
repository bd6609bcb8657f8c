"""The printed tick boxes of a page: grouped by size, each with its share of the field's cell, and each
group registered on its own printed outlines.

Both the fit grown over the boxes (geometry.refine_from_boxes) and the marks' measurement
(marks.box_features) work batch by batch: all boxes of one size on a page at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chouyang.scan.sampler import STEP

SHIFT = 1.0  # mm: largest correction of a box group's position found from its printed outlines
RING_OUT = 1.9  # mm beyond a box's outline: the ring where a circle around it is looked for


@dataclass
class BoxBatch:
    """The tick boxes of one size on a page, group by group (a group's boxes are consecutive).

    Offsets are in mm from each box's centre: `lines` are the field's printed borders beside the
    box (inf: none near), `area` the part of the field's cell that is the box's own (x0, x1, y0, y1):
    the row's height, and half the way to each neighbouring box or to the field's border.
    """

    half: tuple[float, float]
    centres: np.ndarray   # (N, 2)
    starts: np.ndarray    # (G,) first box of each group
    group: np.ndarray     # (N,) group of each box
    ring_out: np.ndarray  # (N,)
    lines: np.ndarray     # (N, 2)
    area: np.ndarray      # (N, 4)


def field_cell(row: dict, f: dict) -> dict:
    """A field's cell on the form (mm): the layout's `cell`, else the row's height and, for tick boxes,
    half a box spacing beyond the first and last box (where HC2 prints the field's borders)."""
    if "cell" in f:
        return f["cell"]
    if f["kind"] != "ticks":
        return {"x": f["x"], "w": f["w"], "y": row["y"], "h": row["h"]}
    xs, w = [float(o["x"]) for o in f["options"]], float(f["options"][0]["w"])
    pitch = xs[1] - xs[0] if len(xs) > 1 else w + 2
    return {"x": xs[0] - (pitch - w) / 2, "w": xs[-1] - xs[0] + pitch, "y": row["y"], "h": row["h"]}


def box_batches(groups: list[tuple[dict, dict]]) -> list[tuple[BoxBatch, list[int]]]:
    """Tick groups ((row, field) pairs) split by box size; with each batch, the groups' indices."""
    by_size: dict[tuple[float, float], list[int]] = {}
    for g, (_, f) in enumerate(groups):
        o = f["options"][0]
        by_size.setdefault((float(o["w"]), float(o["h"])), []).append(g)
    return [(_batch(w, h, [groups[g] for g in members]), members) for (w, h), members in by_size.items()]


def _batch(w: float, h: float, groups: list[tuple[dict, dict]]) -> BoxBatch:
    """The boxes (all w x h mm) of these groups, one after another."""
    centres, starts, group, ring_out, lines, area = [], [], [], [], [], []
    for k, (row, f) in enumerate(groups):
        xs = [float(o["x"]) for o in f["options"]]
        n = len(xs)
        pitch = xs[1] - xs[0] if n > 1 else w + 2
        cell = field_cell(row, f)
        starts.append(len(centres))
        for j, x in enumerate(xs):
            cx, cy = x + w / 2, float(f["options"][j]["y"]) + h / 2
            first, last = j == 0, j == n - 1
            left = cell["x"] - cx if first else (xs[j - 1] - x) / 2
            right = cell["x"] + cell["w"] - cx if last else (xs[j + 1] - x) / 2
            centres.append((cx, cy))
            group.append(k)
            ring_out.append(min(RING_OUT, pitch - w - 0.45))
            # only the first and last box of a group have the field's printed border beside them
            lines.append((left if first else np.inf, right if last else np.inf))
            area.append((left + (0.5 if first else 0.0), right - (0.5 if last else 0.0),
                         cell["y"] + 0.7 - cy, cell["y"] + cell["h"] - 0.7 - cy))
    return BoxBatch((w / 2, h / 2), np.array(centres), np.array(starts), np.array(group),
                    np.array(ring_out), np.array(lines), np.array(area))


def _ridge(profile: np.ndarray, k: int) -> np.ndarray:
    """Thin dark lines in profiles (last axis): darker than the mean of both sides k samples away."""
    padded = np.pad(profile, ((0, 0), (k, k)), mode="edge")
    return profile - 0.5 * (padded[:, :-2 * k] + padded[:, 2 * k:])


def group_shifts(patches: np.ndarray, batch: BoxBatch, reach: tuple[float, float] = (SHIFT, SHIFT)
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Shift (samples, fractional, x and y) per group, at most `reach` mm, that puts its boxes' printed
    outlines where they are on paper."""
    n = patches.shape[1]
    c = n // 2
    k = max(2, int(round(0.35 / STEP)))
    out = []
    for axis in (0, 1):  # x (columns), then y (rows)
        smax = int(round(reach[axis] / STEP))
        shifts = np.arange(-smax, smax + 1)
        hw = int(round(batch.half[axis] / STEP))
        ho = int(round(batch.half[1 - axis] / STEP))
        band = slice(c - ho, c + ho + 1)
        prof = patches[:, band, :].mean(axis=1) if axis == 0 else patches[:, :, band].mean(axis=2)
        r = np.add.reduceat(_ridge(prof, k), batch.starts, axis=0)
        score = r[:, c - hw + shifts] + r[:, c + hw + shifts] - 0.02 * np.abs(shifts) / smax
        out.append(_peak(score, shifts))
    return out[0], out[1]


def _peak(score: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """The best shift of each row of scores, to a fraction of a sample (a parabola through the peak)."""
    best = np.argmax(score, axis=1)
    b = np.clip(best, 1, len(shifts) - 2)
    left, mid, right = (np.take_along_axis(score, (b + k)[:, None], axis=1)[:, 0] for k in (-1, 0, 1))
    curve = left - 2 * mid + right
    part = np.where((curve < 0) & (b == best), 0.5 * (left - right) / np.where(curve < 0, curve, -1), 0.0)
    return shifts[best] + np.clip(part, -0.5, 0.5)
