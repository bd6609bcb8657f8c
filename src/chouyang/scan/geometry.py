"""Where the page lies in the image: a homography from the layout record (mm) to the image (px).

The QR code's corners (in the code's own orientation, so any turn of the page is known at once)
predict where the four corner marks are; those that survived the scanner's crop are found and
the homography is fitted by least squares over the marks and the QR corners.  Three marks are
enough; with fewer, the fit is grown from the QR code and the marks found over the printed tick
boxes (`refine_from_boxes`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from chouyang.scan.boxes import box_batches, group_shifts
from chouyang.scan.sampler import STEP, PageSampler, page_region

# Growing a fit over the printed boxes (fewer than three corner marks): search reach x, y (under half
# the spacing of boxes, 5.5 mm, and of rows, 8 mm), distances per round beyond the group nearest the
# anchors, agreement (mm).
REFINE_REACH, REFINE_RADII, REFINE_AGREE = (2.4, 3.4), (10, 25, 45, 70, 100, 140, 190, 260, 400), 0.8
MARK_AGREE = 1.5  # mm: a corner mark (or QR corner) further than this from the fit disagrees with the others
CROP_PX_PER_MM = 6.0  # about 150 dpi


# --- maps ---------------------------------------------------------------------------

def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with dst ~ H @ src for four or more point pairs (normalised DLT, least squares)."""
    src, dst = np.asarray(src, float), np.asarray(dst, float)

    def normaliser(p):
        c = p.mean(0)
        s = np.sqrt(2) / max(np.sqrt(((p - c) ** 2).sum(1)).mean(), 1e-9)
        return np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]])

    ts, td = normaliser(src), normaliser(dst)
    a, b = apply_h(ts, src), apply_h(td, dst)
    rows = []
    for (x, y), (u, v) in zip(a, b):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = np.linalg.inv(td) @ vt[-1].reshape(3, 3) @ ts
    return h / h[2, 2]


def affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 affine map dst ~ A @ src by least squares (three or more point pairs)."""
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    a, *_ = np.linalg.lstsq(np.c_[src, np.ones(len(src))], dst, rcond=None)
    return np.vstack([a.T, [0, 0, 1]])


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=float)
    q = pts.reshape(-1, 2) @ h[:, :2].T + h[:, 2]
    return (q[:, :2] / q[:, 2:3]).reshape(pts.shape)


def qr_corners_mm(qr: dict) -> np.ndarray:
    x, y, w, h = qr["x"], qr["y"], qr["w"], qr["h"]
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=float)


def warp(image: Image.Image, h: np.ndarray, x0: float, y0: float, w_mm: float, h_mm: float) -> Image.Image:
    """The page region [x0, x0 + w_mm] x [y0, y0 + h_mm] (mm), straightened and right side up, at CROP_PX_PER_MM."""
    s = CROP_PX_PER_MM
    to_mm = np.array([[1 / s, 0, x0], [0, 1 / s, y0], [0, 0, 1]])
    m = h @ to_mm
    m = m / m[2, 2]
    size = (int(round(w_mm * s)), int(round(h_mm * s)))
    return image.transform(size, Image.Transform.PERSPECTIVE, tuple(m.flatten()[:8]), Image.Resampling.BILINEAR,
                           fillcolor=255)


# --- corner marks -------------------------------------------------------------------

def find_mark(gray: np.ndarray, centre: np.ndarray, px_per_mm: float, size_mm: float,
              reach_mm: float) -> np.ndarray | None:
    """Centre (px) of a solid square mark within `reach_mm` of `centre`, or None if it is not there whole.

    The window may reach past the image's edge (a photo's perspective puts the prediction off the
    picture); a mark touching the edge is not taken, as part of it may be missing.
    """
    r = int((size_mm + reach_mm) * px_per_mm)
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    box = max(cx - r, 0), max(cy - r, 0), min(cx + r, gray.shape[1]), min(cy + r, gray.shape[0])
    x0, y0, x1, y1 = box
    side = size_mm * px_per_mm
    if x1 - x0 < 1.5 * side or y1 - y0 < 1.5 * side:
        return None
    win = gray[y0:y1, x0:x1]
    labels, n = ndimage.label(win < 0.5 * np.percentile(win, 90))
    if n == 0:
        return None
    best = None
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if not _mark_sized(sl, side):
            continue
        blob = labels[sl] == i
        if _touches_edge(sl, box, gray.shape) or not _mark_shaped(blob, side):
            continue
        my, mx = ndimage.center_of_mass(blob)
        c = np.array([x0 + sl[1].start + mx, y0 + sl[0].start + my])
        d = np.linalg.norm(c - centre)
        if d <= reach_mm * px_per_mm and (best is None or d < best[0]):
            best = (d, c)
    return None if best is None else best[1]


def _mark_sized(sl: tuple[slice, slice], side: float) -> bool:
    """A blob's bounding box about the size of a mark."""
    h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
    return 0.75 * side <= h <= 1.5 * side and 0.75 * side <= w <= 1.5 * side


def _mark_shaped(blob: np.ndarray, side: float) -> bool:
    """A blob with about a mark's area that fills most of its bounding box (a solid square)."""
    area = blob.sum()
    expected = side ** 2
    return 0.55 * expected <= area <= 1.6 * expected and area / blob.size >= 0.7


def _touches_edge(sl: tuple[slice, slice], box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """A blob of the window `box` (x0, y0, x1, y1) that touches the image's edge: part of it may be missing."""
    x0, y0, x1, y1 = box
    return (sl[0].start == 0 and y0 == 0 or sl[1].start == 0 and x0 == 0
            or sl[0].stop == y1 - y0 and y1 == shape[0] or sl[1].stop == x1 - x0 and x1 == shape[1])


# --- locating a page ----------------------------------------------------------------

def locate_page(image: Image.Image, record: dict, qr_px: np.ndarray) -> tuple[np.ndarray | None, float, int]:
    """Homography mm -> px from the QR corners and the corner marks found; (H, rms error in mm, marks).

    The marks are looked for nearest first, each where the QR code and the marks found so far
    predict it (an affine map while fewer than three marks are known: a perspective fitted to
    the small QR code alone extrapolates badly); those missed are looked for again, further
    afield, once the others are known.  With fewer than three marks (a corner cut off a photo,
    covered or torn) the fit is grown from the QR code and the marks found over the printed
    tick boxes (`refine_from_boxes`); H is None only when that fails too.
    """
    qr_mm = qr_corners_mm(record["qr"])
    px_per_mm = np.linalg.norm(qr_px[1] - qr_px[0]) / record["qr"]["w"]
    marks = [np.array([m["x"] + m["w"] / 2, m["y"] + m["h"] / 2]) for m in record["corner_marks"]]
    found = _find_corner_marks(np.asarray(image), qr_mm, qr_px, marks, record["corner_marks"][0]["w"], px_per_mm)
    fitted, found_mm, found_px = _fit_over_marks(qr_mm, qr_px, [marks[i] for i in found], list(found.values()),
                                                 px_per_mm)
    if fitted is not None:
        return fitted[0], fitted[1], len(found_mm)
    src, dst = np.vstack([qr_mm, *found_mm]), np.vstack([qr_px, *found_px])
    # two marks far from the QR code fix a perspective, though not always well: the affine map is the fallback
    for start in ([homography(src, dst)] if len(found_mm) == 2 else []) + [affine(src, dst)]:
        fitted = refine_from_boxes(image, record, start, src, dst, px_per_mm)
        if fitted is not None:
            return fitted[0], fitted[1], len(found_mm)
    return None, 0.0, len(found_mm)


def _find_corner_marks(gray: np.ndarray, qr_mm: np.ndarray, qr_px: np.ndarray, marks: list[np.ndarray],
                       size: float, px_per_mm: float) -> dict[int, np.ndarray]:
    """The corner marks found (index -> centre px), nearest the QR code first, each where the QR code and
    the marks found so far predict it; a second pass looks further afield for those missed."""
    found: dict[int, np.ndarray] = {}
    order = sorted(range(len(marks)), key=lambda i: np.linalg.norm(marks[i] - qr_mm.mean(0)))
    for widen in (0.1, 0.25):
        for i in (i for i in order if i not in found):
            src = np.vstack([qr_mm, *(marks[j] for j in found)])
            dst = np.vstack([qr_px, *(found[j] for j in found)])
            guess = homography(src, dst) if len(found) >= 3 else affine(src, dst)
            reach = 10 + widen * min(np.linalg.norm(marks[i] - p) for p in src)
            hit = find_mark(gray, apply_h(guess, marks[i]), px_per_mm, size, reach)
            if hit is not None:
                found[i] = hit
        if len(found) == len(marks):
            break
    return found


def _fit_over_marks(qr_mm: np.ndarray, qr_px: np.ndarray, found_mm: list, found_px: list, px_per_mm: float
                    ) -> tuple[tuple[np.ndarray, float] | None, list, list]:
    """(H, rms mm) fitted over the QR corners and three or more marks, else None; with the marks kept.

    A mark that disagrees with the others was something else: the worst is dropped while more than
    three are left.  With three, every point must agree.
    """
    found_mm, found_px = list(found_mm), list(found_px)
    while len(found_mm) >= 3:
        src, dst = np.vstack([qr_mm, *found_mm]), np.vstack([qr_px, *found_px])
        weights = np.r_[np.ones(4, int), np.full(len(found_mm), 3)]  # marks are far apart: they fix the page
        h = homography(np.repeat(src, weights, axis=0), np.repeat(dst, weights, axis=0))
        err = np.linalg.norm(apply_h(h, src) - dst, axis=1) / px_per_mm
        worst = int(np.argmax(err[4:]))
        if err[4 + worst] <= MARK_AGREE or len(found_mm) == 3:
            if err.max() > MARK_AGREE:
                break
            return (h, float(np.sqrt((err ** 2).mean()))), found_mm, found_px
        del found_mm[worst], found_px[worst]
    return None, found_mm, found_px


def refine_from_boxes(image: Image.Image, record: dict, h: np.ndarray, anchors_mm: np.ndarray,
                      anchors_px: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, float] | None:
    """Grow a rough fit (H mm -> px) from its anchors over the page's printed tick boxes; (H, rms mm) or None.

    Each round straightens the page with the current fit, finds where each group of boxes lies
    within REFINE_REACH of where it should (less than half the spacing of boxes and of rows, so a
    box is never taken for its neighbour), and refits over the anchors and the groups found
    within a growing distance of the anchors (beyond the nearest group), dropping those that disagree.  None when too few
    groups agree.
    """
    groups = [(row, f) for row in record["rows"] for f in row["fields"].values() if f["kind"] == "ticks"]
    if not groups:
        return None
    region = page_region(record)
    batches = []
    for batch, _ in box_batches(groups):
        count = np.diff(np.r_[batch.starts, len(batch.centres)])[:, None]
        centres = np.add.reduceat(batch.centres, batch.starts, axis=0) / count
        batches.append((batch, centres, np.linalg.norm(centres[:, None] - anchors_mm[None], axis=2).min(axis=1)))
    nearest = min(float(far.min()) for _, _, far in batches)
    k = len(anchors_mm)
    for radius in REFINE_RADII:
        sampler = PageSampler(image, h, region)
        src, dst = [anchors_mm], [anchors_px]
        for batch, centres, far in batches:
            cols, rows = sampler.index(batch.centres[:, 0], batch.centres[:, 1])
            n = 2 * int(np.ceil((max(batch.half) + max(REFINE_REACH) + 0.8) / STEP)) + 1
            dx, dy = group_shifts(sampler.patches(cols, rows, n), batch, REFINE_REACH)
            near = far <= nearest + radius
            src.append(centres[near])
            dst.append(apply_h(h, centres[near] + np.c_[dx, dy][near] * STEP))
        h, err, keep = _fit_agreeing(np.vstack(src), np.vstack(dst), k, px_per_mm)
    groups_kept = int(keep[k:].sum())
    if groups_kept < 0.6 * len(groups) or err[:k].max() > 2 * REFINE_AGREE:
        return None
    return h, float(np.sqrt((err[keep] ** 2).mean()))


def _fit_agreeing(src: np.ndarray, dst: np.ndarray, k: int, px_per_mm: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """H over the first k points (anchors, weighted 3) and the others that agree with it, in three rounds;
    (H, error of every point in mm, which agree)."""
    keep = np.ones(len(src), bool)
    for _ in range(3):
        weights = np.where(np.arange(len(src)) < k, 3, 1)[keep]
        h = homography(np.repeat(src[keep], weights, axis=0), np.repeat(dst[keep], weights, axis=0))
        err = np.linalg.norm(apply_h(h, src) - dst, axis=1) / px_per_mm
        keep = err <= REFINE_AGREE
        keep[:k] = True
    return h, err, keep
