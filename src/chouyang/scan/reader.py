"""Read completed paper forms from scans and photos (SPEC §3.6, §4).

For every page image: decode the QR code (zxing-cpp gives its corners in the
code's own orientation, so any turn of the page is known at once), verify its
MAC, predict where the four corner marks are, find those that survived the
scanner's crop and fit a homography from the layout record (mm) to the image
by least squares over the marks and the QR corners.  Three marks are enough;
with fewer, the fit is grown from the QR code and the marks found over the
printed tick boxes (`refine_from_boxes`).

Marks are judged, not thresholded globally, on the page straightened onto a
0.2 mm grid by one perspective warp (`PageSampler`):
- the paper's brightness is estimated locally (a 5 mm grey closing on a 1 mm
  grid), and ink is darkness relative to it, so shadows and uneven light
  drop out and pencil (grey 85-165) reads like ink, only fainter;
- each group of boxes (one field of one row) is registered on its own printed
  outlines (a search of +-1 mm, to a fraction of a sample), and each box's ink
  is measured relative to the darkness of its own outline: inside the box, in
  a ring around it (a circled box) and in the box's share of the field's cell
  (`cell` in the layout record, else the row's height and half the spacing
  of the boxes), for every box of a page at once, and compared with the
  cleanest box of its group;
- a box is empty, marked (tick, cross, slash, circle), filled (scribbled
  solid: cancelled) or uncertain.  Uncertain boxes, two marks in one group, a
  cancelled box with no other mark, and ink beside the boxes of a group that
  reads empty (a mark above, below or between boxes) send the row to review;
  no visible mark ever becomes "empty" silently.

The reader knows fields only by their kind (ticks, write) in the layout record;
boxes of any size are read, each size in its own batch.

Write-in boxes (names, ID numbers, dates, notes) are never read: any ink in
one sends its row to review.  Nothing decisive is handwritten on the form.

Outputs of `chouyang scan` (steps.scan) per unit:
- `scan/<unit>.xlsx`: the unit's entry workbook with every value read;
- `scan/review/<unit>.csv`: the rows to check, for people (工作表, 行, 编号, 页, 问题, 截图);
- `scan/review/<crop>.png`: each such row, straightened and right side up, under its column headers;
- `scan/review/<unit>.json`: the same list for programs (the web workstation):

      {"format": 1, "round_id": "2016H1", "unit_code": "411381001202",
       "items": [{"sheet": "births_check", "sheet_label": "出生核对", "workbook_row": 5,
                  "ref": "B002" | null, "blank_index": null | 3, "page": 2,
                  "crop": "411381001202_p2_B002.png", "issues": ["「核实结果」标记不清（错报）"],
                  "fields": [{"key": "result", "label": "核实结果", "kind": "ticks",
                              "options": [{"label": "属实", "value": "属实"}, ...],
                              "value": "属实" | 4 | null, "confidence": 0.97,
                              "marks": ["marked", "empty", "uncertain"]},
                             {"key": "note", "label": "备注", "kind": "write",
                              "value": null, "written": true, "confidence": 0.9}, ...]}]}

  `value` is what was written into the workbook (null: nothing); `marks` gives each
  option's state (empty, marked, filled = cancelled, uncertain) in option order;
  `confidence` in [0, 1] is how far the reading is from being uncertain (1: clear).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from chouyang import vocab
from chouyang.errors import ChouyangError, Problem
from chouyang.pool import map_in_workers
from chouyang.render.qr import parse_payload
from chouyang.render.survey_workbook import FIRST_ROW, column_of, ref_rows, set_values

RENDER_DPI = 200
LAYOUT_FORMAT = 2

# Box states.
EMPTY, MARKED, FILLED, UNCERTAIN = "empty", "marked", "filled", "uncertain"
# Ink inside a box (mean darkness relative to its outline, after the group's cleanest box is taken off).
INK_EMPTY, INK_FAINT, INK_MARK = 0.006, 0.015, 0.03
# Share of a box's inside that is inked, evenly (the least inked third counts double):
# scribbled solid (cancelled) at and above FILL_MIN, uncertain from HEAVY_MIN.
FILL_MIN, HEAVY_MIN = 0.7, 0.5
# Ring around a box: a sector holds ink above RING_INK; a circle covers most of the 8 sectors.
RING_INK, CIRCLE_SECTORS, RING_SUSPECT = 0.06, 6, 4
RING_OUT = 1.9  # mm beyond a box's outline: the ring where a circle around it is looked for
_LEFT, _RIGHT = 0b11000011, 0b00111100  # ring sectors on the left and right half of a box
_ABOVE, _BELOW = 0b00000110, 0b01100000  # ring sectors straight above and straight below a box
# A light mark (inside ink below STRAY_INK) whose ink around the box lies only straight above or only
# straight below it is a stroke from the next row running into the box, as likely as a mark: uncertain.
# (Benchmark corpus: 1 such box of 15 read as marked where nothing was, against 72 of 11,961 real marks.)
STRAY_INK = 0.07
NOISE = 0.07  # darkness below this is paper (JPEG noise, paper texture)
STEP = 0.2  # mm between samples of the straightened page
SHIFT = 1.0  # mm: largest correction of a box group's position found from its printed outlines
# Growing a fit over the printed boxes (fewer than three corner marks): search reach x, y (under half
# the spacing of boxes, 5.5 mm, and of rows, 8 mm), distances per round beyond the group nearest the
# anchors, agreement (mm).
REFINE_REACH, REFINE_RADII, REFINE_AGREE = (2.4, 3.4), (10, 25, 45, 70, 100, 140, 190, 260, 400), 0.8
# Ink (mm^2 of full-black equivalent) beside the boxes of a group that reads empty: a mark gone astray.
OUTER_INK = 0.3
WRITE_INK, WRITE_SPECK = 0.5, 0.2  # mm^2 of ink in a write-in box: written / maybe written


# --- loading --------------------------------------------------------------------

@dataclass
class PageImage:
    source: str
    index: int  # page number inside its file, from 1
    image: Image.Image  # grayscale


class UnreadableFile(Exception):
    """A file that is not a readable PDF or image (the batch goes on without it)."""


_BAD_FILE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _pdf_errors():
    import pypdfium2 as pdfium

    return (pdfium.PdfiumError,) + _BAD_FILE_ERRORS


def load_pages(path: Path):
    """Yield the pages of a PDF or image file one at a time (a 200-page PDF is never held whole).

    Raises UnreadableFile when the file (or a page of it) cannot be read.
    """
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        try:
            doc = pdfium.PdfDocument(path)
            for i in range(len(doc)):
                yield PageImage(path.name, i + 1, doc[i].render(scale=RENDER_DPI / 72).to_pil().convert("L"))
        except _pdf_errors() as exc:
            raise UnreadableFile(f"不是可读的 PDF 文件（{type(exc).__name__}）") from None
        return
    try:
        img = Image.open(path)
        i = 0
        while True:
            yield PageImage(path.name, i + 1, img.convert("L"))
            i += 1
            try:
                img.seek(i)
            except EOFError:
                return
    except (UnidentifiedImageError, *_BAD_FILE_ERRORS) as exc:
        raise UnreadableFile(f"不是可读的图片文件（{type(exc).__name__}）") from None


def load_page(path: Path, index: int) -> PageImage:
    """Page `index` (from 1) of a file, without rendering the others."""
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        page = pdfium.PdfDocument(path)[index - 1]
        return PageImage(path.name, index, page.render(scale=RENDER_DPI / 72).to_pil().convert("L"))
    img = Image.open(path)
    img.seek(index - 1)
    return PageImage(path.name, index, img.convert("L"))


def load_layouts(forms_dir: Path, command: str = "chouyang forms") -> dict[str, dict]:
    """Every layout record of a folder (forms/<unit>.layout.json, checklist/<township>.layout.json) by the
    code in its pages' QR codes, checked; a broken one is an error naming it and the `command` that remakes it."""
    layouts, problems = {}, []
    for path in sorted(Path(forms_dir).glob("*.layout.json")):
        name = f"{Path(forms_dir).name}/{path.name}"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            _check_layout(record)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            problems.append(Problem(name, f"版面记录已损坏或不是本版本生成的（{type(exc).__name__}：{exc}）；"
                                          f"请用 {command} 重新生成后再识别"))
            continue
        stem = path.name.removesuffix(".layout.json")   # <unit>, or <unit>.<instrument>: keyed (unit, form code)
        layouts[stem if "." not in stem else (stem.split(".")[0], record["form"])] = record
    if problems:
        raise ChouyangError("无法识别：核查表的版面记录有问题，没有写入任何识别结果", problems)
    return layouts


def _check_layout(record: dict) -> None:
    if record.get("format") != LAYOUT_FORMAT:
        raise ValueError(f"版本 {record.get('format')}，应为 {LAYOUT_FORMAT}")
    float(record["table_x"][0]) + float(record["table_x"][1])
    for page in record["pages"]:
        float(page["qr"]["x"]) + float(page["qr"]["w"])
        if len(page["corner_marks"]) != 4:
            raise ValueError("定位标记不是 4 个")
        for row in page["rows"]:
            row["section"], row["y"], row["h"], page["headers"][row["header"]]
            for f in row["fields"].values():
                boxes = f["options"] if f["kind"] == "ticks" else [f] if f["kind"] == "write" else None
                if boxes is None:
                    raise ValueError(f"未知的栏目类型 {f['kind']}")
                for b in boxes:
                    float(b["x"]) + float(b["y"]) + float(b["w"]) + float(b["h"])


# --- geometry -----------------------------------------------------------------------

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


def _qr_corners_mm(qr: dict) -> np.ndarray:
    x, y, w, h = qr["x"], qr["y"], qr["w"], qr["h"]
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=float)


def _find_mark(gray: np.ndarray, centre: np.ndarray, px_per_mm: float, size_mm: float,
               reach_mm: float) -> np.ndarray | None:
    """Centre (px) of a solid square mark within `reach_mm` of `centre`, or None if it is not there whole.

    The window may reach past the image's edge (a photo's perspective puts the prediction off the
    picture); a mark touching the edge is not taken, as part of it may be missing.
    """
    r = int((size_mm + reach_mm) * px_per_mm)
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    x0, y0 = max(cx - r, 0), max(cy - r, 0)
    x1, y1 = min(cx + r, gray.shape[1]), min(cy + r, gray.shape[0])
    side = size_mm * px_per_mm
    if x1 - x0 < 1.5 * side or y1 - y0 < 1.5 * side:
        return None
    win = gray[y0:y1, x0:x1]
    white = np.percentile(win, 90)
    ink = win < 0.5 * white
    labels, n = ndimage.label(ink)
    if n == 0:
        return None
    expected = side ** 2
    best = None
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if not (0.75 * side <= h <= 1.5 * side and 0.75 * side <= w <= 1.5 * side):
            continue
        touches = sl[0].start == 0 and y0 == 0 or sl[1].start == 0 and x0 == 0 or \
            sl[0].stop == win.shape[0] and y1 == gray.shape[0] or sl[1].stop == win.shape[1] and x1 == gray.shape[1]
        area = (labels[sl] == i).sum()
        if touches or not 0.55 * expected <= area <= 1.6 * expected or area / (h * w) < 0.7:
            continue
        my, mx = ndimage.center_of_mass(labels[sl] == i)
        c = np.array([x0 + sl[1].start + mx, y0 + sl[0].start + my])
        d = np.linalg.norm(c - centre)
        if d <= reach_mm * px_per_mm and (best is None or d < best[0]):
            best = (d, c)
    return None if best is None else best[1]


# --- reading one page --------------------------------------------------------------

@dataclass
class FieldRead:
    """One field of one row as read: ticks (one state per option) or a write-in box."""

    key: str
    kind: str  # ticks | write
    label: str
    options: list[dict]
    states: list[str] = field(default_factory=list)
    ink: list[float] = field(default_factory=list)
    confidence: float = 1.0
    written: bool = False  # write-in: ink found
    open_top: bool = False
    confirm_top: bool = False


@dataclass
class PageRead:
    source: str
    index: int
    payload: str | None = None
    page_id: object = None
    problem: str = ""
    detail: str = ""
    quality: float = 0.0
    rows: list[dict] = field(default_factory=list)  # per layout row: ref, section, blank_index, y, h, header, fields
    headers: list[dict] = field(default_factory=list)
    image: Image.Image | None = None
    h: np.ndarray | None = None
    path: str = ""


def _decode_qr(img: Image.Image):
    """(text, 4 corners in the code's own orientation TL, TR, BR, BL) or (None, None)."""
    import zxingcpp

    scales = [2, 1, 2 / 3] if max(img.size) >= 1700 else [1, 2 / 3]
    for scale in scales:  # smallest first: most codes are found at once; each size made only when needed
        candidate = img.reduce(scale) if scale > 1 else img if scale == 1 else \
            img.resize((round(img.width / scale), round(img.height / scale)))
        found = zxingcpp.read_barcodes(candidate, formats=zxingcpp.BarcodeFormat.QRCode)
        if found:
            p = found[0].position
            corners = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)],
                               dtype=float) * scale
            return found[0].text, corners
    return None, None


def locate_page(image: Image.Image, record: dict, qr_px: np.ndarray) -> tuple[np.ndarray | None, float, int]:
    """Homography mm -> px from the QR corners and the corner marks found; (H, rms error in mm, marks).

    The marks are looked for nearest first, each where the QR code and the marks found so far
    predict it (an affine map while fewer than three marks are known: a perspective fitted to
    the small QR code alone extrapolates badly); those missed are looked for again, further
    afield, once the others are known.  With fewer than three marks (a corner cut off a photo,
    covered or torn) the fit is grown from the QR code and the marks found over the printed
    tick boxes (`refine_from_boxes`); H is None only when that fails too.
    """
    gray = np.asarray(image)
    qr_mm = _qr_corners_mm(record["qr"])
    px_per_mm = np.linalg.norm(qr_px[1] - qr_px[0]) / record["qr"]["w"]
    marks = [np.array([m["x"] + m["w"] / 2, m["y"] + m["h"] / 2]) for m in record["corner_marks"]]
    size = record["corner_marks"][0]["w"]
    found: dict[int, np.ndarray] = {}
    order = sorted(range(len(marks)), key=lambda i: np.linalg.norm(marks[i] - qr_mm.mean(0)))
    for widen in (0.1, 0.25):
        for i in order:
            if i in found:
                continue
            known = [marks[j] for j in found]
            src, dst = np.vstack([qr_mm, *known]), np.vstack([qr_px, *(found[j] for j in found)])
            guess = homography(src, dst) if len(known) >= 3 else affine(src, dst)
            reach = 10 + widen * min(np.linalg.norm(marks[i] - p) for p in src)
            hit = _find_mark(gray, apply_h(guess, marks[i]), px_per_mm, size, reach)
            if hit is not None:
                found[i] = hit
        if len(found) == len(marks):
            break
    found_mm, found_px = [marks[i] for i in found], list(found.values())
    while len(found_mm) >= 3:
        src, dst = np.vstack([qr_mm, *found_mm]), np.vstack([qr_px, *found_px])
        weights = np.r_[np.ones(4, int), np.full(len(found_mm), 3)]  # marks are far apart: they fix the page
        h = homography(np.repeat(src, weights, axis=0), np.repeat(dst, weights, axis=0))
        err = np.linalg.norm(apply_h(h, src) - dst, axis=1) / px_per_mm
        worst = int(np.argmax(err[4:]))
        if err[4 + worst] <= 1.5 or len(found_mm) == 3:
            if err.max() > 1.5:
                break
            return h, float(np.sqrt((err ** 2).mean())), len(found_mm)
        del found_mm[worst], found_px[worst]  # a mark that disagrees with the others was something else
    src, dst = np.vstack([qr_mm, *found_mm]), np.vstack([qr_px, *found_px])
    # two marks far from the QR code fix a perspective, though not always well: the affine map is the fallback
    for start in ([homography(src, dst)] if len(found_mm) == 2 else []) + [affine(src, dst)]:
        fitted = refine_from_boxes(image, record, start, src, dst, px_per_mm)
        if fitted is not None:
            return fitted[0], fitted[1], len(found_mm)
    return None, 0.0, len(found_mm)


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
    region = _region(record)
    batches = []
    for batch, _ in _batches(groups):
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
            dx, dy = _group_shifts(sampler.patches(cols, rows, n), batch, REFINE_REACH)
            near = far <= nearest + radius
            src.append(centres[near])
            dst.append(apply_h(h, centres[near] + np.c_[dx, dy][near] * STEP))
        src, dst = np.vstack(src), np.vstack(dst)
        keep = np.ones(len(src), bool)
        for _ in range(3):
            weights = np.where(np.arange(len(src)) < k, 3, 1)[keep]
            h = homography(np.repeat(src[keep], weights, axis=0), np.repeat(dst[keep], weights, axis=0))
            err = np.linalg.norm(apply_h(h, src) - dst, axis=1) / px_per_mm
            keep = err <= REFINE_AGREE
            keep[:k] = True
    groups_kept = int(keep[k:].sum())
    if groups_kept < 0.6 * len(groups) or err[:k].max() > 2 * REFINE_AGREE:
        return None
    return h, float(np.sqrt((err[keep] ** 2).mean()))


class PageSampler:
    """The page straightened onto a grid of STEP mm, as darkness (0 paper .. 1 black) relative to the
    paper around each point, over the region (x0, y0, x1, y1) mm of the layout.

    One perspective warp of the region (PIL, bilinear) replaces a projection per sample; the paper's
    brightness is estimated locally (a 5 mm max filter on a 1 mm grid), so shadows and uneven
    light drop out and pencil reads as faint ink.
    """

    def __init__(self, image: Image.Image, h: np.ndarray, region: tuple[float, float, float, float]):
        x0, y0, x1, y1 = region
        self.x0, self.y0 = x0, y0
        size = (int(np.ceil((x1 - x0) / STEP)), int(np.ceil((y1 - y0) / STEP)))
        # PIL samples output pixel (u, v) at its centre (u + 0.5, v + 0.5) and reads the input the same way
        half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
        to_mm = np.array([[STEP, 0, x0 - 0.5 * STEP], [0, STEP, y0 - 0.5 * STEP], [0, 0, 1]])
        m = half @ h @ to_mm
        m = m / m[2, 2]
        warped = image.transform(size, Image.Transform.PERSPECTIVE, tuple(m.flatten()[:8]),
                                 Image.Resampling.BILINEAR, fillcolor=255)
        gray = np.asarray(warped, dtype=np.float32)
        k = int(round(1 / STEP))
        hh, ww = gray.shape[0] // k, gray.shape[1] // k
        small = gray[:hh * k, :ww * k].reshape(hh, k, ww, k).mean(axis=(1, 3))
        paper = ndimage.uniform_filter(ndimage.grey_closing(small, size=(5, 5)), size=3)
        paper = Image.fromarray(np.maximum(paper, 40.0).astype(np.float32), "F").resize(
            (ww * k, hh * k), Image.Resampling.BILINEAR)
        paper = np.pad(np.asarray(paper), ((0, gray.shape[0] - hh * k), (0, gray.shape[1] - ww * k)), mode="edge")
        self.dark = np.clip(1.0 - gray / paper, 0.0, 1.0)

    def index(self, x_mm, y_mm) -> tuple[np.ndarray, np.ndarray]:
        """Grid (column, row) of points in mm, fractional."""
        return (np.asarray(x_mm, dtype=float) - self.x0) / STEP, (np.asarray(y_mm, dtype=float) - self.y0) / STEP

    def patches(self, cols: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
        """(N, n, n) squares of the grid centred on (cols, rows) (fractional: bilinear); paper beyond the region."""
        c0, r0 = np.floor(cols), np.floor(rows)
        fc = (cols - c0).astype(np.float32)[:, None, None]
        fr = (rows - r0).astype(np.float32)[:, None, None]
        g = np.arange(n) - n // 2
        r = r0.astype(np.intp)[:, None, None] + g[None, :, None]
        c = c0.astype(np.intp)[:, None, None] + g[None, None, :]
        hgt, wid = self.dark.shape
        inside = (r >= 0) & (r < hgt - 1) & (c >= 0) & (c < wid - 1)
        i = np.clip(r, 0, hgt - 2) * wid + np.clip(c, 0, wid - 2)
        flat = self.dark.reshape(-1)
        top = flat.take(i) * (1 - fc) + flat.take(i + 1) * fc
        bottom = flat.take(i + wid) * (1 - fc) + flat.take(i + wid + 1) * fc
        return np.where(inside, top * (1 - fr) + bottom * fr, np.float32(0))


def _region(record: dict) -> tuple[float, float, float, float]:
    """The part of a page (mm) that holds every field, with room for a box patch around each."""
    boxes = [b for row in record["rows"] for f in row["fields"].values()
             for b in (f["options"] if f["kind"] == "ticks" else [f])]
    if not boxes:
        return 0.0, 0.0, 1.0, 1.0
    pad = 8.0
    return (min(b["x"] for b in boxes) - pad, min(b["y"] for b in boxes) - pad,
            max(b["x"] + b["w"] for b in boxes) + pad, max(b["y"] + b["h"] for b in boxes) + pad)


def read_page(page: PageImage, secret: bytes, round_id: str, layouts: dict[str, dict]) -> PageRead:
    out = PageRead(page.source, page.index, image=page.image)
    text, qr_px = _decode_qr(page.image)
    if text is None:
        out.problem = "unreadable"
        return out
    out.payload = text
    parts = text.split("|")
    page_id = parse_payload(secret, text)
    if page_id is None or page_id.round_id != round_id:  # a round folder copied with its secret signs other ids
        out.problem = "foreign_round" if parts and parts[0] != round_id else "forged"
        return out
    out.page_id = page_id
    layout = layouts.get((page_id.unit_code, page_id.form_code)) or layouts.get(page_id.unit_code)
    if layout is None or page_id.page > len(layout["pages"]) or layout["form"] != page_id.form_code:
        out.problem = "unknown_unit"
        return out
    record = layout["pages"][page_id.page - 1]
    h, err, _ = locate_page(page.image, record, qr_px)
    if h is None:
        out.problem = "no_marks"
        return out
    out.h = h
    out.quality = 1.0 / (1.0 + err)
    sampler = PageSampler(page.image, h, _region(record))
    out.headers = record["headers"]
    out.rows = read_rows(sampler, record["rows"])
    return out


# --- tick boxes -----------------------------------------------------------------------

@dataclass
class _Batch:
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


def _cell(row: dict, f: dict) -> dict:
    """A field's cell on the form (mm): the layout's `cell`, else the row's height and, for tick boxes,
    half a box spacing beyond the first and last box (where HC2 prints the field's borders)."""
    if "cell" in f:
        return f["cell"]
    if f["kind"] != "ticks":
        return {"x": f["x"], "w": f["w"], "y": row["y"], "h": row["h"]}
    xs, w = [float(o["x"]) for o in f["options"]], float(f["options"][0]["w"])
    pitch = xs[1] - xs[0] if len(xs) > 1 else w + 2
    return {"x": xs[0] - (pitch - w) / 2, "w": xs[-1] - xs[0] + pitch, "y": row["y"], "h": row["h"]}


def _batches(groups: list[tuple[dict, dict]]) -> list[tuple[_Batch, list[int]]]:
    """Tick groups ((row, field) pairs) split by box size; with each batch, the groups' indices."""
    by_size: dict[tuple[float, float], list[int]] = {}
    for g, (_, f) in enumerate(groups):
        o = f["options"][0]
        by_size.setdefault((float(o["w"]), float(o["h"])), []).append(g)
    out = []
    for (w, h), members in by_size.items():
        centres, starts, group, ring_out, lines, area = [], [], [], [], [], []
        for k, g in enumerate(members):
            row, f = groups[g]
            xs = [float(o["x"]) for o in f["options"]]
            n = len(xs)
            pitch = xs[1] - xs[0] if n > 1 else w + 2
            cell = _cell(row, f)
            starts.append(len(centres))
            for j, x in enumerate(xs):
                cx, cy = x + w / 2, float(f["options"][j]["y"]) + h / 2
                left = cell["x"] - cx if j == 0 else (xs[j - 1] - x) / 2
                right = cell["x"] + cell["w"] - cx if j == n - 1 else (xs[j + 1] - x) / 2
                centres.append((cx, cy))
                group.append(k)
                ring_out.append(min(RING_OUT, pitch - w - 0.45))
                lines.append((left if j == 0 else np.inf, right if j == n - 1 else np.inf))
                area.append((left + (0.5 if j == 0 else 0.0), right - (0.5 if j == n - 1 else 0.0),
                             cell["y"] + 0.7 - cy, cell["y"] + cell["h"] - 0.7 - cy))
        out.append((_Batch((w / 2, h / 2), np.array(centres), np.array(starts), np.array(group),
                           np.array(ring_out), np.array(lines), np.array(area)), members))
    return out


def _ridge(profile: np.ndarray, k: int) -> np.ndarray:
    """Thin dark lines in profiles (last axis): darker than the mean of both sides k samples away."""
    padded = np.pad(profile, ((0, 0), (k, k)), mode="edge")
    return profile - 0.5 * (padded[:, :-2 * k] + padded[:, 2 * k:])


def _group_shifts(patches: np.ndarray, batch: _Batch, reach: tuple[float, float] = (SHIFT, SHIFT)
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
        best = np.argmax(score, axis=1)
        b = np.clip(best, 1, len(shifts) - 2)
        left, mid, right = (np.take_along_axis(score, (b + k)[:, None], axis=1)[:, 0] for k in (-1, 0, 1))
        curve = left - 2 * mid + right
        part = np.where((curve < 0) & (b == best), 0.5 * (left - right) / np.where(curve < 0, curve, -1), 0.0)
        out.append(shifts[best] + np.clip(part, -0.5, 0.5))  # to a fraction of a sample (parabola)
    return out[0], out[1]


def _features(sampler: PageSampler, batch: _Batch) -> np.ndarray:
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
    dx, dy = _group_shifts(sampler.patches(cols, rows, near), batch)
    p = sampler.patches(cols + dx[batch.group], rows + dy[batch.group], n).reshape(len(cols), -1)
    ox, oy = ox.ravel(), oy.ravel()
    d = np.maximum(np.abs(ox) - hx, np.abs(oy) - hy)  # distance outside the box's outline
    black = np.maximum(np.percentile(p[:, np.abs(d) <= 0.21], 75, axis=1), 0.3)
    ink = np.clip((p - NOISE) / (black[:, None] - NOISE), 0.0, 1.0)
    core = d <= -0.45
    inside = ink[:, core].mean(axis=1)
    # scribbled solid: nearly every part of the inside inked (a thick cross leaves gaps between its arms)
    third_x = np.clip(((ox[core] + hx - 0.45) / (2 * (hx - 0.45)) * 3).astype(int), 0, 2)
    third_y = np.clip(((oy[core] + hy - 0.45) / (2 * (hy - 0.45)) * 3).astype(int), 0, 2)
    thirds = np.eye(9, dtype=np.float32)[third_y * 3 + third_x]
    share = ((p[:, core] > NOISE + 0.08).astype(np.float32) @ thirds) / thirds.sum(axis=0)
    dark = np.minimum(share.mean(axis=1), 2 * share.min(axis=1))
    beside = (np.abs(ox[None] - batch.lines[:, :1]) > 0.4) & (np.abs(ox[None] - batch.lines[:, 1:]) > 0.4)
    ring = (d >= 0.4) & (d <= batch.ring_out[:, None]) & beside
    sector = np.eye(8, dtype=np.float32)[((np.arctan2(oy, ox) + np.pi) / (2 * np.pi) * 8).astype(int) % 8]
    ring_ink = ((ink * ring) @ sector) / np.maximum(ring.astype(np.float32) @ sector, 1)
    bits = (ring_ink >= RING_INK) @ (1 << np.arange(8))
    a = batch.area
    own = (d >= 0.5) & beside & (ox >= a[:, :1]) & (ox <= a[:, 1:2]) & (oy >= a[:, 2:3]) & (oy <= a[:, 3:])
    outer = (ink * own).sum(axis=1)
    centre_x = (ink * own) @ ox / np.maximum(outer, 1e-9)
    return np.stack([inside, dark, bits, outer * STEP * STEP, centre_x], axis=1)


def judge_group(features: list[tuple[float, ...]]) -> tuple[list[str], list[float], float]:
    """States of a group's boxes, their ink (above the cleanest box) and the group's confidence.

    A faint mark (light pencil, a tick mostly outside its box) counts when every other box of
    its group is clean; ink only around a box (no circle) is explained by a clear mark next to it.
    """
    inks = [f[0] for f in features]
    base = min(min(inks), 0.05)
    counts = [bin(int(f[2])).count("1") for f in features]
    inked = [(f[0] - base >= INK_FAINT or n >= CIRCLE_SECTORS) and f[1] < HEAVY_MIN for f, n in zip(features, counts)]
    states, adj, conf = [], [], []
    for i, (ink, dark, mask, *_) in enumerate(features):
        mask = int(mask)
        a = ink - base
        sectors = counts[i]
        adj.append(round(a, 4))
        others_clean = all(f[0] - base <= INK_EMPTY and n < 2 for j, (f, n) in enumerate(zip(features, counts)) if j != i)
        # ink around a clean box is a neighbour's overshoot only when it lies on that neighbour's side
        explained = any(inked[j] and mask & ~(_LEFT if j < i else _RIGHT) == 0 for j in range(len(features)) if j != i)
        if dark >= FILL_MIN:
            states.append(FILLED)
            conf.append(min(1.0, 0.5 + (dark - FILL_MIN) / (2 * (1 - FILL_MIN))))
        elif dark >= HEAVY_MIN:
            states.append(UNCERTAIN)
            conf.append(0.3)
        elif a >= INK_FAINT and a < STRAY_INK and mask and (mask & ~_ABOVE == 0 or mask & ~_BELOW == 0):
            states.append(UNCERTAIN)  # a stroke entering from above or below
            conf.append(0.4)
        elif a >= INK_MARK:
            states.append(MARKED)
            conf.append(min(1.0, 0.5 + (a - INK_MARK) / (2 * INK_MARK)))
        elif a >= INK_FAINT and others_clean:
            states.append(MARKED)
            conf.append(0.5 + 0.5 * min(1.0, (a - INK_FAINT) / (INK_MARK - INK_FAINT)))
        elif a <= INK_EMPTY and (sectors == 0 or sectors < RING_SUSPECT and explained):
            states.append(EMPTY)
            conf.append(1.0 if sectors == 0 and a == 0 else 0.8)
        elif sectors >= CIRCLE_SECTORS and (a <= INK_EMPTY or a < INK_MARK and others_clean):
            states.append(MARKED)  # circled (the circle may touch the box)
            conf.append(0.5 + 0.25 * (sectors - CIRCLE_SECTORS))
        else:
            states.append(UNCERTAIN)
            conf.append(0.5 * max(0.0, min(a - INK_EMPTY, INK_MARK - a)) / (INK_MARK - INK_EMPTY))
    # a mark beside its box (above, below, between two boxes) leaves the group looking empty
    outer = [f[3] for f in features]
    if all(st == EMPTY for st in states) and max(outer) >= OUTER_INK:
        i = int(np.argmax(outer))
        states[i] = UNCERTAIN
        conf[i] = 0.5 * max(0.0, 1 - max(outer) / (4 * OUTER_INK))
    return states, adj, float(min(conf))


def read_rows(sampler: PageSampler, rows: list[dict]) -> list[dict]:
    """Every field of every row of a page: tick groups judged, write-in boxes checked for ink."""
    groups, where = [], []
    for r, row in enumerate(rows):
        for key, f in row["fields"].items():
            if f["kind"] == "ticks":
                groups.append((row, f))
                where.append((r, key))
    out = [{k: row[k] for k in ("ref", "section", "blank_index", "y", "h", "header")} | {"fields": {}}
           for row in rows]
    for batch, members in _batches(groups):
        features = _features(sampler, batch).tolist()
        ends = list(batch.starts[1:]) + [len(features)]
        for g, start, end in zip(members, batch.starts, ends):
            (r, key), f = where[g], groups[g][1]
            states, ink, conf = judge_group(features[start:end])
            out[r]["fields"][key] = FieldRead(key, "ticks", f["label"], f["options"], states, ink, conf,
                                              open_top=f.get("open_top", False),
                                              confirm_top=f.get("confirm_top", False))
    writes = [(r, key, f) for r, row in enumerate(rows) for key, f in row["fields"].items() if f["kind"] == "write"]
    for (r, key, _), read in zip(writes, _read_write_boxes(sampler, [(key, f) for _, key, f in writes])):
        out[r]["fields"][key] = read
    for r, row in enumerate(rows):  # keep the layout's column order
        out[r]["fields"] = {key: out[r]["fields"][key] for key in row["fields"]}
    return out


def _read_write_boxes(sampler: PageSampler, boxes: list[tuple[str, dict]]) -> list[FieldRead]:
    """Ink in write-in boxes (1 mm inside their borders), as mm^2 of full-black equivalent."""
    if not boxes:
        return []
    hgt, wid = sampler.dark.shape
    inks = []
    for _, f in boxes:
        (c0, c1), (r0, r1) = (np.rint(v).astype(int) for v in sampler.index(
            [f["x"] + 1.0, f["x"] + f["w"] - 1.0], [f["y"] + 1.0, f["y"] + f["h"] - 1.0]))
        patch = sampler.dark[max(r0, 0):min(r1, hgt), max(c0, 0):min(c1, wid)]
        inks.append(float(np.clip((patch - 0.2) / 0.5, 0, 1).sum()) * STEP * STEP)
    out = []
    for (key, f), ink in zip(boxes, inks):
        written = ink >= WRITE_SPECK
        conf = min(1.0, 0.5 + abs(ink - (WRITE_INK + WRITE_SPECK) / 2) / (WRITE_INK + WRITE_SPECK))
        out.append(FieldRead(key, "write", f["label"], [], [], [round(ink, 3)], conf, written))
    return out


# --- a row's values --------------------------------------------------------------------

def field_value(read: FieldRead) -> tuple[str | int, list[str]]:
    """The value a tick group stores ('' for none) and what is wrong with it."""
    label = read.label
    marked = [o for o, s in zip(read.options, read.states) if s == MARKED]
    unclear = [o["label"] for o, s in zip(read.options, read.states) if s == UNCERTAIN]
    filled = [o["label"] for o, s in zip(read.options, read.states) if s == FILLED]
    issues = []
    if unclear:
        issues.append(f"「{label}」标记不清（{'、'.join(unclear)}）")
    if len(marked) > 1:
        issues.append(f"「{label}」同时勾选了 {'、'.join(o['label'] for o in marked)}")
    if filled and not marked:
        issues.append(f"「{label}」涂黑作废了 {'、'.join(filled)}，未另行勾选")
    value = marked[0]["value"] if len(marked) == 1 else ""
    if value != "" and read.confirm_top and marked[0] is read.options[-1]:
        issues.append(f"「{label}」勾选了「{marked[0]['label']}」，按 {value} 录入；实际更多时请改正")
    return value, issues


def interpret_row(row: dict) -> tuple[dict, list[str]]:
    """Entry values read from one form row, and the reasons it needs review."""
    values, issues = {}, []
    for key, read in row["fields"].items():
        if read.kind == "write":
            if read.written:
                issues.append(f"「{read.label}」有手写内容，请人工录入")
            continue
        values[key], found = field_value(read)
        issues += found
    if row["ref"] is None:  # a blank row for a new (missed) case
        marks = any(s != EMPTY for f in row["fields"].values() for s in f.states)
        if issues or marks:
            issues.insert(0, "新发现的一行，请核对并补录手写内容")
        return values, issues
    return values, issues + _check_row_issues(row["section"], values, issues)


def _check_row_issues(section: str, values: dict, issues: list[str]) -> list[str]:
    """A register row needs a result, and an error result its witnesses and verification."""
    more = []
    result = values.get("result", "")
    label = vocab.ENTRY_LABELS["result"]
    if result == "" and not any(f"「{label}」" in t for t in issues):
        more.append("未勾选核实结果")
    if vocab.is_error(section, result):
        if values.get("witnesses", "") == "":
            more.append("误差行没有勾选反映群众人数")
        if values.get("verified", "") == "":
            more.append("误差行没有勾选调查组是否查实")
    return more


# --- a batch of files -----------------------------------------------------------------------

PROBLEM_TEXT = {"unreadable": "找不到或读不出二维码（已另存，待人工指定样本点）",
                "foreign_round": "其他轮次的页面", "forged": "二维码校验失败（页面被改动或伪造）",
                "unknown_unit": "本轮没有这个样本点的核查表（或核查表已重新生成）",
                "no_marks": "无法定位页面：四角定位标记和表格都找不准（已另存，请重新扫描）",
                "bad_file": "文件无法读取"}


def problem_text(source: str, index: int, problem: str, detail: str = "") -> str:
    where = source if problem == "bad_file" else f"{source} 第 {index} 页"
    return f"{where}：{detail or PROBLEM_TEXT[problem]}"


_WORKER: dict = {}


def _read_file(path: str) -> list[PageRead]:
    """Worker: every page of one file, read; images dropped (reloaded later for crops)."""
    out = []
    try:
        for page in load_pages(Path(path)):
            read = read_page(page, _WORKER["secret"], _WORKER["round_id"], _WORKER["layouts"])
            read.path = path
            if read.problem in ("unreadable", "no_marks"):
                folder = Path(_WORKER["unassigned"])
                folder.mkdir(parents=True, exist_ok=True)
                page.image.save(folder / f"{Path(path).stem}_p{page.index}.png")
            read.image = None
            out.append(read)
    except UnreadableFile as exc:
        out.append(PageRead(Path(path).name, 0, problem="bad_file", detail=str(exc), path=path))
    return out


def _init_reader(state: dict) -> None:
    _WORKER.update(state)


def read_files(files, secret: bytes, round_id: str, layouts: dict, unassigned: Path, progress=None,
               workers: int | None = None) -> list[PageRead]:
    """Every page of every file, read in worker processes (pool.py); in input order.

    Pages without a readable QR code or corner marks are saved to `unassigned`; a file that is not
    a readable PDF or image gives one read with problem "bad_file" and the batch goes on.
    """
    paths = [str(f) for f in files]
    state = {"secret": secret, "round_id": round_id, "layouts": layouts, "unassigned": str(unassigned)}
    reads: list[PageRead] = []
    for batch in map_in_workers(_read_file, paths, _init_reader, (state,), 1 if len(paths) < 4 else workers):
        if progress:
            progress(len(batch))
        reads.extend(batch)
    return reads


@dataclass
class ScanSummary:
    pages: int
    units: dict[str, int]                     # unit -> pages used
    rejected: list[tuple[str, int, str, str]]  # (file, page, problem code, Chinese text)
    duplicates: list[tuple[str, int, str]]    # (file, page, "unit i/n") dropped as the worse scan
    missing: dict[str, list[int]]             # unit -> missing page numbers
    review: dict[str, int]                    # unit -> review items
    marks: int = 0                            # tick boxes read
    checklists: dict[str, int] = field(default_factory=dict)        # township -> checklist pages used
    checklist_review: dict[str, int] = field(default_factory=dict)  # township -> review items


@dataclass
class PagePick:
    """The pages kept per unit (the clearer of duplicates), and what was set aside."""

    units: dict[str, list[PageRead]]
    rejected: list[tuple[str, int, str, str]]
    duplicates: list[tuple[str, int, str]]

    def missing(self) -> dict[str, list[int]]:
        return {unit: [i for i in range(1, reads[0].page_id.pages + 1) if i not in {r.page_id.page for r in reads}]
                for unit, reads in self.units.items()}


def pick_pages(reads: list[PageRead]) -> PagePick:
    """Group identified pages by unit; of two scans of one page keep the clearer one."""
    best: dict[tuple[str, int], PageRead] = {}
    rejected, duplicates = [], []
    for read in reads:
        if read.problem:
            rejected.append((read.source, read.index, read.problem,
                             problem_text(read.source, read.index, read.problem, read.detail)))
            continue
        key = (read.page_id.unit_code, read.page_id.page)
        if key in best:
            worse = min(best[key], read, key=lambda r: r.quality)
            duplicates.append((worse.source, worse.index, f"{key[0]} 第{key[1]}页"))
            if worse is best[key]:
                best[key] = read
        else:
            best[key] = read
    units: dict[str, list[PageRead]] = {}
    for (unit, _), read in sorted(best.items()):
        units.setdefault(unit, []).append(read)
    return PagePick(units, rejected, duplicates)


def count_marks(read: PageRead) -> int:
    """Tick boxes read on one page."""
    return sum(len(f.states) for row in read.rows for f in row["fields"].values() if f.kind == "ticks")


@dataclass
class ReviewItem:
    """A row a clerk must check: where it is in the workbook and on paper, why, and its crop's file name."""

    read: PageRead
    row: dict
    sheet: str
    workbook_row: int
    issues: list[str]
    values: dict
    sheet_label: str = ""  # a sheet of another workbook than the survey's (vocab.SHEETS by default)

    @property
    def label(self) -> str:
        return self.sheet_label or vocab.SHEETS[self.sheet]

    @property
    def crop_name(self) -> str:
        return f"{self.read.page_id.unit_code}_p{self.read.page_id.page}_" \
               f"{self.row['ref'] or 'new' + str(self.row['blank_index'])}.png"

    def as_row(self) -> dict:
        return {"工作表": self.label, "行": self.workbook_row, "编号": self.row["ref"] or "",
                "页": self.read.page_id.page, "问题": "；".join(self.issues), "截图": self.crop_name}

    def as_json(self) -> dict:
        fields = []
        for key, f in self.row["fields"].items():
            item = {"key": key, "label": f.label, "kind": f.kind, "confidence": round(f.confidence, 3)}
            if f.kind == "ticks":
                value = self.values.get(key, "")
                item |= {"options": [{"label": o["label"], "value": o["value"]} for o in f.options],
                         "value": None if value == "" else value, "marks": f.states}
            else:
                item |= {"value": None, "written": f.written}
            fields.append(item)
        return {"sheet": self.sheet, "sheet_label": self.label, "workbook_row": self.workbook_row,
                "ref": self.row["ref"], "blank_index": self.row["blank_index"], "page": self.read.page_id.page,
                "crop": self.crop_name, "issues": self.issues, "fields": fields}


REVIEW_COLUMNS = ["工作表", "行", "编号", "页", "问题", "截图"]


def fill_workbook(wb, reads: list[PageRead]) -> list[ReviewItem]:
    """Write what was read on a unit's pages into its entry workbook; returns the rows to review."""
    items = []
    blank_next = {s: FIRST_ROW for s in vocab.MISSED_SHEETS}
    for read in reads:
        for row in read.rows:
            values, issues = interpret_row(row)
            sheet = row["section"]
            ws = wb[vocab.SHEETS[sheet]]
            if row["ref"] is None:
                if not issues:
                    continue
                r = blank_next[sheet]
                blank_next[sheet] += 1
            else:
                r = ref_rows(ws)[row["ref"]]
            set_values(ws, column_of(ws, sheet), r, {k: v for k, v in values.items() if v != ""})
            if issues:
                items.append(ReviewItem(read, row, sheet, r, issues, values))
    return items


def review_json(round_id: str, unit: str, items: list[ReviewItem]) -> str:
    return json.dumps({"format": 1, "round_id": round_id, "unit_code": unit,
                       "items": [item.as_json() for item in items]}, ensure_ascii=False, indent=1)


# --- review crops ------------------------------------------------------------------------------

CROP_PX_PER_MM = 6.0  # about 150 dpi


def _warp(image: Image.Image, h: np.ndarray, x0: float, y0: float, w_mm: float, h_mm: float) -> Image.Image:
    """The page region [x0, x0 + w_mm] x [y0, y0 + h_mm] (mm), straightened and right side up."""
    s = CROP_PX_PER_MM
    to_mm = np.array([[1 / s, 0, x0], [0, 1 / s, y0], [0, 0, 1]])
    m = h @ to_mm
    m = m / m[2, 2]
    size = (int(round(w_mm * s)), int(round(h_mm * s)))
    return image.transform(size, Image.Transform.PERSPECTIVE, tuple(m.flatten()[:8]), Image.Resampling.BILINEAR,
                           fillcolor=255)


def crop_row(page: PageRead, row: dict, x0: float, x1: float) -> Image.Image:
    """The row under its column headers, straightened and right side up (for the review list)."""
    header = page.headers[row["header"]]
    top = _warp(page.image, page.h, x0, header["y"] - 1, x1 - x0, header["h"] + 1.5)
    body = _warp(page.image, page.h, x0, row["y"] - 0.5, x1 - x0, row["h"] + 1)
    out = Image.new("L", (top.width, top.height + body.height + 4), 160)
    out.paste(top, (0, 0))
    out.paste(body, (0, top.height + 4))
    return out


def save_review_crop(item: ReviewItem, table_x: tuple[float, float], folder: Path) -> None:
    """The row's straightened strip of the scan with its headers, as folder/<crop name>."""
    from chouyang.atomic import atomic_path

    read = item.read
    if read.image is None:
        read.image = load_page(Path(read.path), read.index).image
    with atomic_path(folder / item.crop_name) as tmp:
        crop_row(read, item.row, *table_x).save(tmp, format="PNG", optimize=False)
