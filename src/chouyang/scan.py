"""Read completed paper forms from scans and photos (SPEC §3.6, §4).

For every page image: decode the QR code (zxing-cpp gives its corners in the
code's own orientation, so any turn of the page is known at once), verify its
MAC, predict where the four corner marks are, find those that survived the
scanner's crop (three are enough) and fit a homography from the layout
record (mm) to the image by least squares over the marks and the QR corners.

Marks are judged, not thresholded globally:
- the paper's brightness is estimated locally (a 5 mm max filter on a 1 mm
  grid), and ink is darkness relative to it, so shadows and uneven light
  drop out and pencil (grey 85-165) reads like ink, only fainter;
- each group of boxes (one field of one row) is registered on its own printed
  outlines (a search of +-1 mm), and each box's ink is measured relative to the
  darkness of its own outline, inside the box and in a ring around it (a
  circled box), and compared with the cleanest box of its group;
- a box is empty, marked (tick, cross, slash, circle), filled (scribbled
  solid: cancelled) or uncertain.  Uncertain boxes, two marks in one group and
  a cancelled box with no other mark send the row to review; no visible mark
  ever becomes "empty" silently.

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

from . import vocab
from .errors import ChouyangError, Problem
from .forms.qr import parse_payload
from .forms.workbook import FIRST_ROW, column_of, ref_rows, set_values
from .pool import map_in_workers

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
NOISE = 0.07  # darkness below this is paper (JPEG noise, paper texture)
STEP = 0.16  # mm between samples of a box patch
MARGIN = 2.6  # mm of patch around a box
SHIFT = 1.0  # mm: largest correction of a box group's position found from its printed outlines
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
        layouts[path.name.split(".")[0]] = record
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
    """Centre (px) of a solid square mark within `reach_mm` of `centre`, or None if it is not there whole."""
    r = int((size_mm + reach_mm) * px_per_mm)
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    x0, y0 = max(cx - r, 0), max(cy - r, 0)
    x1, y1 = min(cx + r, gray.shape[1]), min(cy + r, gray.shape[0])
    if x1 - x0 < r or y1 - y0 < r:
        return None
    win = gray[y0:y1, x0:x1]
    white = np.percentile(win, 90)
    ink = win < 0.5 * white
    labels, n = ndimage.label(ink)
    if n == 0:
        return None
    expected = (size_mm * px_per_mm) ** 2
    best = None
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        side = size_mm * px_per_mm
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
        if best is None or d < best[0]:
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

    attempts = [(img.reduce(2), 2.0), (img, 1.0)] if max(img.size) >= 1700 else [(img, 1.0)]
    attempts.append((img.resize((img.width * 3 // 2, img.height * 3 // 2)), 2 / 3))
    for candidate, scale in attempts:
        found = zxingcpp.read_barcodes(candidate, formats=zxingcpp.BarcodeFormat.QRCode)
        if found:
            p = found[0].position
            corners = np.array([[q.x, q.y] for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)],
                               dtype=float) * scale
            return found[0].text, corners
    return None, None


def locate_page(gray: np.ndarray, record: dict, qr_px: np.ndarray) -> tuple[np.ndarray | None, float, int]:
    """Homography mm -> px from the QR corners and the corner marks found; (H, rms error in mm, marks).

    The marks are looked for nearest first, each where the marks found so far predict it
    (an affine map at first: a perspective fitted to the small QR code alone extrapolates badly).
    """
    qr_mm = _qr_corners_mm(record["qr"])
    qr_centre = qr_mm.mean(0)
    px_per_mm = np.linalg.norm(qr_px[1] - qr_px[0]) / record["qr"]["w"]
    marks = [np.array([m["x"] + m["w"] / 2, m["y"] + m["h"] / 2]) for m in record["corner_marks"]]
    size = record["corner_marks"][0]["w"]
    found_mm, found_px = [], []
    for centre_mm in sorted(marks, key=lambda c: np.linalg.norm(c - qr_centre)):
        src, dst = np.vstack([qr_mm, *found_mm]), np.vstack([qr_px, *found_px])
        guess = homography(src, dst) if len(found_mm) >= 3 else affine(src, dst)
        reach = 10 + 0.1 * np.linalg.norm(centre_mm - qr_centre)
        found = _find_mark(gray, apply_h(guess, centre_mm), px_per_mm, size, reach)
        if found is not None:
            found_mm.append(centre_mm)
            found_px.append(found)
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
    return None, 0.0, len(found_mm)


def paper_background(gray: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, float]:
    """The paper's brightness on a ~1 mm grid (ink removed by a 5 mm max filter), and the grid's scale."""
    k = max(1, int(round(px_per_mm)))
    hh, ww = gray.shape[0] // k * k, gray.shape[1] // k * k
    small = gray[:hh, :ww].reshape(hh // k, k, ww // k, k).mean(axis=(1, 3))
    bg = ndimage.uniform_filter(ndimage.grey_dilation(small, size=(5, 5)), size=3)
    return np.maximum(bg, 40.0).astype(np.float32), float(k)


class PageSampler:
    """Darkness (0 paper .. 1 black, relative to the local paper) at points given in mm."""

    def __init__(self, gray: np.ndarray, h: np.ndarray, px_per_mm: float):
        self.gray, self.h = gray, h
        self.bg, self.k = paper_background(gray, px_per_mm)

    def darkness(self, pts_mm: np.ndarray) -> np.ndarray:
        x, y = _project(self.h, pts_mm[..., 0], pts_mm[..., 1])
        values = _bilinear(self.gray, x, y, 255.0)
        off = (self.k - 1) / 2
        paper = _bilinear(self.bg, (x - off) / self.k, (y - off) / self.k, None)
        return np.clip(1.0 - values / paper, 0.0, 1.0)


def _project(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = h.astype(np.float32)
    x, y = x.astype(np.float32), y.astype(np.float32)
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    return (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray, outside: float | None) -> np.ndarray:
    """Bilinear samples of `img` at (x, y); `outside` where they fall off the image (None: nearest edge)."""
    hgt, wid = img.shape
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx, fy = x - x0, y - y0
    xi = np.clip(x0.astype(np.int32), 0, wid - 2)
    yi = np.clip(y0.astype(np.int32), 0, hgt - 2)
    flat = img.reshape(-1)
    i = yi * wid + xi
    top = flat[i] * (1 - fx) + flat[i + 1] * fx
    bottom = flat[i + wid] * (1 - fx) + flat[i + wid + 1] * fx
    out = top * (1 - fy) + bottom * fy
    if outside is not None:
        off = (x < 0) | (y < 0) | (x > wid - 1) | (y > hgt - 1)
        out = np.where(off, np.float32(outside), out)
    return out


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
    layout = layouts.get(page_id.unit_code)
    if layout is None or page_id.page > len(layout["pages"]) or layout["form"] != page_id.form_code:
        out.problem = "unknown_unit"
        return out
    record = layout["pages"][page_id.page - 1]
    gray = np.asarray(page.image, dtype=np.float32)
    h, err, _ = locate_page(gray, record, qr_px)
    if h is None:
        out.problem = "no_marks"
        return out
    out.h = h
    out.quality = 1.0 / (1.0 + err)
    px_per_mm = float(np.linalg.norm(apply_h(h, np.array([[100.0, 100.0]])) - apply_h(h, np.array([[101.0, 100.0]]))))
    sampler = PageSampler(gray, h, px_per_mm)
    out.headers = record["headers"]
    out.rows = read_rows(sampler, record["rows"])
    return out


# --- tick boxes -----------------------------------------------------------------------

def _patch_offsets(box_w: float) -> np.ndarray:
    n = int(round((box_w + 2 * MARGIN) / STEP)) | 1  # odd: the centre is a sample
    g = (np.arange(n) - n // 2) * STEP
    return np.stack(np.meshgrid(g, g), axis=-1)  # [i, j] = (x offset, y offset)


def _ridge(profile: np.ndarray, k: int) -> np.ndarray:
    """Thin dark lines in a profile: darker than the mean of both sides k samples away."""
    padded = np.pad(profile, ((0, 0), (k, k)), mode="edge")
    return profile - 0.5 * (padded[:, :-2 * k] + padded[:, 2 * k:])


def _group_shift(patches: np.ndarray, half: float) -> tuple[int, int]:
    """Shift (samples) that puts the printed outlines of a group's boxes where they are on paper."""
    n = patches.shape[1]
    c = n // 2
    hw = int(round(half / STEP))
    band = slice(c - hw, c + hw + 1)
    k = max(2, int(round(0.35 / STEP)))
    smax = int(round(SHIFT / STEP))
    shifts = np.arange(-smax, smax + 1)
    out = []
    for axis in (0, 1):  # x (columns), then y (rows)
        prof = patches[:, band, :].mean(axis=1) if axis == 0 else patches[:, :, band].mean(axis=2)
        r = _ridge(prof, k).sum(axis=0)
        score = r[c - hw + shifts] + r[c + hw + shifts] - 0.02 * np.abs(shifts) / smax
        out.append(int(shifts[np.argmax(score)]))
    return out[0], out[1]


def _box_features(patch: np.ndarray, half: float, lines: tuple[float, ...], ring_out: float) -> tuple[float, float, int]:
    """(ink inside, dark share inside, ring sectors with ink as bits) of one registered box patch.

    Sector k covers the angles from -pi + k pi/4 (image axes: 0 and 7 are left, 3 and 4 right).

    `lines` are the x offsets (mm) of printed vertical lines near the box (its field's borders),
    left out of the ring; the ring reaches `ring_out` mm beyond the outline.
    """
    n = patch.shape[0]
    g = (np.arange(n) - n // 2) * STEP
    ox, oy = np.meshgrid(g, g)
    cheb = np.maximum(np.abs(ox), np.abs(oy))
    outline = np.abs(cheb - half) <= 0.21
    black = max(float(np.percentile(patch[outline], 75)), 0.3)
    scale = lambda v: np.clip((v - NOISE) / (black - NOISE), 0.0, 1.0)  # noqa: E731
    core = cheb <= half - 0.45
    inside = patch[core]
    ink = float(scale(inside).mean())
    # scribbled solid: nearly every part of the inside inked (a thick cross leaves gaps between its arms)
    inked = patch > NOISE + 0.08
    span = np.linspace(-(half - 0.45), half - 0.45, 4)
    thirds = [inked[core & (ox >= span[i]) & (ox <= span[i + 1]) & (oy >= span[j]) & (oy <= span[j + 1])].mean()
              for i in range(3) for j in range(3)]
    dark = float(min(np.mean(thirds), 2 * min(thirds)))
    ring = (cheb >= half + 0.4) & (cheb <= half + ring_out)
    for x in lines:
        ring &= np.abs(ox - x) > 0.4
    angle = np.arctan2(oy, ox)[ring]
    sector = ((angle + np.pi) / (2 * np.pi) * 8).astype(int) % 8
    ring_ink = np.bincount(sector, weights=scale(patch[ring]), minlength=8) / np.maximum(
        np.bincount(sector, minlength=8), 1)
    return ink, dark, int(sum(1 << k for k in range(8) if ring_ink[k] >= RING_INK))


def judge_group(features: list[tuple[float, float, int]]) -> tuple[list[str], list[float], float]:
    """States of a group's boxes, their ink (above the cleanest box) and the group's confidence.

    A faint mark (light pencil, a tick mostly outside its box) counts when every other box of
    its group is clean; ink only around a box (no circle) is explained by a clear mark next to it.
    """
    inks = [f[0] for f in features]
    base = min(min(inks), 0.05)
    counts = [bin(f[2]).count("1") for f in features]
    inked = [(f[0] - base >= INK_FAINT or n >= CIRCLE_SECTORS) and f[1] < HEAVY_MIN for f, n in zip(features, counts)]
    states, adj, conf = [], [], []
    for i, (ink, dark, mask) in enumerate(features):
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
        elif a >= INK_MARK:
            states.append(MARKED)
            conf.append(min(1.0, 0.5 + (a - INK_MARK) / (2 * INK_MARK)))
        elif a >= INK_FAINT and others_clean:
            states.append(MARKED)
            conf.append(0.5 + 0.5 * min(1.0, (a - INK_FAINT) / (INK_MARK - INK_FAINT)))
        elif a <= INK_EMPTY and (sectors == 0 or sectors < RING_SUSPECT and explained):
            states.append(EMPTY)
            conf.append(1.0 if sectors == 0 and a == 0 else 0.8)
        elif a <= INK_EMPTY and sectors >= CIRCLE_SECTORS:
            states.append(MARKED)  # circled
            conf.append(0.5 + 0.25 * (sectors - CIRCLE_SECTORS))
        else:
            states.append(UNCERTAIN)
            conf.append(0.5 * max(0.0, min(a - INK_EMPTY, INK_MARK - a)) / (INK_MARK - INK_EMPTY))
    return states, adj, float(min(conf))


def read_rows(sampler: PageSampler, rows: list[dict]) -> list[dict]:
    """Every field of every row of a page: tick groups judged, write-in boxes checked for ink."""
    groups = []  # (row index, key, field record)
    centres = []
    for r, row in enumerate(rows):
        for key, f in row["fields"].items():
            if f["kind"] == "ticks":
                groups.append((r, key, f))
                centres += [(o["x"] + o["w"] / 2, o["y"] + o["h"] / 2) for o in f["options"]]
    out = [{k: row[k] for k in ("ref", "section", "blank_index", "y", "h", "header")} | {"fields": {}}
           for row in rows]
    if groups:
        box_w = groups[0][2]["options"][0]["w"]
        offsets = _patch_offsets(box_w)
        pts = np.asarray(centres)[:, None, None, :] + offsets[None]
        patches = sampler.darkness(pts)
        i = 0
        for r, key, f in groups:
            n = len(f["options"])
            group = patches[i:i + n]
            i += n
            dx, dy = _group_shift(group, box_w / 2)
            registered = np.roll(group, (-dy, -dx), axis=(1, 2))
            xs = [o["x"] for o in f["options"]]
            pitch = xs[1] - xs[0] if n > 1 else box_w + 2
            ring_out = min(RING_OUT, pitch - box_w - 0.45)
            lines = [(-pitch / 2,) if j == 0 else () for j in range(n)]
            lines = [ln + ((pitch / 2,) if j == n - 1 else ()) for j, ln in enumerate(lines)]
            states, ink, conf = judge_group([_box_features(p, box_w / 2, ln, ring_out)
                                             for p, ln in zip(registered, lines)])
            out[r]["fields"][key] = FieldRead(key, "ticks", f["label"], f["options"], states, ink, conf,
                                              open_top=f.get("open_top", False), confirm_top=f.get("confirm_top", False))
    for r, row in enumerate(rows):
        for key, f in row["fields"].items():
            if f["kind"] == "write":
                out[r]["fields"][key] = _read_write_box(sampler, key, f)
    for r, row in enumerate(rows):  # keep the layout's column order
        out[r]["fields"] = {key: out[r]["fields"][key] for key in row["fields"]}
    return out


def _read_write_box(sampler: PageSampler, key: str, f: dict) -> FieldRead:
    """Ink in a write-in box (1 mm inside its borders), as mm^2 of full-black equivalent."""
    step = 0.25
    xs = np.arange(f["x"] + 1.0, f["x"] + f["w"] - 1.0, step)
    ys = np.arange(f["y"] + 1.0, f["y"] + f["h"] - 1.0, step)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    d = sampler.darkness(grid)
    ink = float(np.clip((d - 0.2) / 0.5, 0, 1).sum() * step * step)
    written = ink >= WRITE_SPECK
    conf = min(1.0, 0.5 + abs(ink - (WRITE_INK + WRITE_SPECK) / 2) / (WRITE_INK + WRITE_SPECK))
    return FieldRead(key, "write", f["label"], [], [], [round(ink, 3)], conf, written)


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
                "no_marks": "四角定位标记找到不足 3 个（已另存，请重新扫描）",
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
    from .atomic import atomic_path

    read = item.read
    if read.image is None:
        read.image = load_page(Path(read.path), read.index).image
    with atomic_path(folder / item.crop_name) as tmp:
        crop_row(read, item.row, *table_x).save(tmp, format="PNG", optimize=False)
