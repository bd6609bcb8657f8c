"""Read completed paper forms from scans (issue: reading forms from scans).

For every page image: decode the QR code (any rotation), verify its MAC with
the round secret, find the four corner marks, fit a homography from the
form's layout record (mm) to the image, and measure the ink in every tick box
and digit box.  Marks become the same entry workbook that `chouyang forms`
makes, plus a review list of every uncertain or contradictory row with a crop
image, so a clerk checks only those.  Handwritten boxes (dates, names, notes,
new rows) are never guessed: rows with ink in them are listed for typing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from . import vocab
from .forms.qr import parse_payload
from .forms.workbook import FIRST_ROW, column_of, ref_rows, set_values
from .pool import map_in_workers

RENDER_DPI = 200
EMPTY_MAX, CHECK_MIN, CHECK_MAX, FILLED_MIN = 0.04, 0.10, 0.80, 0.86  # ink fraction of a box's inside
INSET_MM = 0.55  # ignore the printed border of a box


# --- loading ------------------------------------------------------------------

@dataclass
class PageImage:
    source: str
    index: int  # page number inside its file, from 1
    image: Image.Image  # grayscale


def load_pages(path: Path):
    """Yield the pages of a PDF or image file one at a time (a 200-page PDF is never held whole)."""
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        for i, p in enumerate(pdfium.PdfDocument(path), start=1):
            yield PageImage(path.name, i, p.render(scale=RENDER_DPI / 72).to_pil().convert("L"))
        return
    img = Image.open(path)
    i = 0
    while True:
        yield PageImage(path.name, i + 1, img.convert("L"))
        i += 1
        try:
            img.seek(i)
        except EOFError:
            return


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


# --- geometry -----------------------------------------------------------------

def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with dst ~ H @ src for four (or more) point pairs (direct linear transform)."""
    rows = []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows, dtype=float))
    h = vt[-1].reshape(3, 3)
    return h / h[2, 2]


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=float)
    q = np.c_[pts, np.ones(len(pts))] @ h.T
    return q[:, :2] / q[:, 2:3]


def _ink_mask(gray: np.ndarray) -> np.ndarray:
    white = np.percentile(gray, 90)
    return gray < 0.55 * white


def find_corner_marks(ink: np.ndarray, dpi_guess: float, mark_mm: float) -> np.ndarray | None:
    """Centres (x, y) of the four solid corner squares, in image order TL, TR, BR, BL (unrotated)."""
    labels, n = ndimage.label(ink)
    if n == 0:
        return None
    expected = mark_mm / 25.4 * dpi_guess
    candidates = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if not (0.55 * expected <= h <= 1.8 * expected and 0.55 * expected <= w <= 1.8 * expected):
            continue
        area = (labels[sl] == i).sum()
        if area / (h * w) < 0.72 or not 0.7 < h / w < 1.4:
            continue
        cy, cx = ndimage.center_of_mass(labels[sl] == i)
        candidates.append((sl[1].start + cx, sl[0].start + cy))
    if len(candidates) < 4:
        return None
    pts = np.array(candidates)
    height, width = ink.shape
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float)
    chosen = [pts[np.argmin(((pts - c) ** 2).sum(1))] for c in corners]
    if len({tuple(p) for p in chosen}) < 4:
        return None
    return np.array(chosen)


# --- reading one page -----------------------------------------------------------

@dataclass
class BoxRead:
    value: str
    fraction: float
    state: str  # empty | checked | filled | uncertain


@dataclass
class PageRead:
    source: str
    index: int
    payload: str | None = None
    page_id: object = None
    problem: str = ""
    quality: float = 0.0
    rows: list[dict] = field(default_factory=list)  # per layout row: {"ref", "section", "fields": {...}}
    image: Image.Image | None = None
    h: np.ndarray | None = None
    path: str = ""


def _decode_qr(img: Image.Image):
    import zxingcpp

    found = [r for r in zxingcpp.read_barcodes(img) if r.format == zxingcpp.BarcodeFormat.QRCode]
    if not found:  # a blurred or small scan: try once more at a larger size
        big = img.resize((img.width * 3 // 2, img.height * 3 // 2))
        found = [r for r in zxingcpp.read_barcodes(big) if r.format == zxingcpp.BarcodeFormat.QRCode]
        scale = 2 / 3
    else:
        scale = 1.0
    if not found:
        return None, None
    r = found[0]
    p = r.position
    centre = np.mean([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                      [p.bottom_left.x, p.bottom_left.y], [p.bottom_right.x, p.bottom_right.y]], axis=0) * scale
    return r.text, centre


def read_page(page: PageImage, secret: bytes, round_id: str, layouts: dict[str, dict]) -> PageRead:
    out = PageRead(page.source, page.index, image=page.image)
    text, qr_centre = _decode_qr(page.image)
    if text is None:
        out.problem = "unreadable"
        return out
    out.payload = text
    parts = text.split("|")
    page_id = parse_payload(secret, text)
    if page_id is None:
        out.problem = "foreign_round" if parts and parts[0] != round_id else "forged"
        return out
    out.page_id = page_id
    layout = layouts.get(page_id.unit_code)
    if layout is None or page_id.page > len(layout["pages"]):
        out.problem = "unknown_unit"
        return out
    record = layout["pages"][page_id.page - 1]
    gray = np.asarray(page.image, dtype=float)
    ink = _ink_mask(gray)
    width_mm = layout["page_size"][0]
    dpi_guess = max(page.image.size) / (width_mm / 25.4)
    marks = find_corner_marks(ink, dpi_guess, record["corner_marks"][0]["w"])
    if marks is None:
        out.problem = "no_marks"
        return out
    canon = np.array([[m["x"] + m["w"] / 2, m["y"] + m["h"] / 2] for m in record["corner_marks"]])
    canon = canon[[0, 1, 3, 2]]  # layout order TL, TR, BL, BR -> clockwise TL, TR, BR, BL
    centre = marks.mean(0)
    order = np.argsort(np.arctan2(marks[:, 1] - centre[1], marks[:, 0] - centre[0]))
    clockwise = marks[order]
    qr_mm = np.array([record["qr"]["x"] + record["qr"]["w"] / 2, record["qr"]["y"] + record["qr"]["h"] / 2])
    best = None
    for shift in range(4):  # the page may be turned by any multiple of 90 degrees
        image_pts = np.roll(clockwise, -shift, axis=0)
        h = homography(canon, image_pts)
        err = np.linalg.norm(apply_h(h, qr_mm[None])[0] - qr_centre)
        if best is None or err < best[0]:
            best = (err, h)
    err, h = best
    out.h = h
    out.quality = float(1.0 / (1.0 + err))
    for row in record["rows"]:
        fields = {}
        for key, boxes in row["fields"].items():
            if isinstance(boxes, dict):  # write-in box
                fields[key] = {"ink": _fraction(ink, h, boxes, inset=1.0)}
            elif boxes and "value" in boxes[0]:
                fields[key] = [_classify(b["value"], _fraction(ink, h, b)) for b in boxes]
            else:
                fields[key] = [_read_digit(ink, h, b) for b in boxes]
        out.rows.append({"ref": row["ref"], "section": row["section"], "blank_index": row["blank_index"],
                         "y": row["y"], "h": row["h"], "fields": fields})
    return out


def _grid(box: dict, inset: float, n: int = 9) -> np.ndarray:
    xs = np.linspace(box["x"] + inset, box["x"] + box["w"] - inset, n)
    ys = np.linspace(box["y"] + inset, box["y"] + box["h"] - inset, n)
    return np.array([(x, y) for y in ys for x in xs])


def _sample(ink: np.ndarray, h: np.ndarray, pts_mm: np.ndarray) -> np.ndarray:
    px = np.rint(apply_h(h, pts_mm)).astype(int)
    px[:, 0] = px[:, 0].clip(0, ink.shape[1] - 1)
    px[:, 1] = px[:, 1].clip(0, ink.shape[0] - 1)
    return ink[px[:, 1], px[:, 0]]


def _fraction(ink: np.ndarray, h: np.ndarray, box: dict, inset: float = INSET_MM) -> float:
    return float(_sample(ink, h, _grid(box, inset)).mean())


def _classify(value: str, fraction: float) -> BoxRead:
    if fraction <= EMPTY_MAX:
        state = "empty"
    elif CHECK_MIN <= fraction <= CHECK_MAX:
        state = "checked"
    elif fraction >= FILLED_MIN:
        state = "filled"
    else:
        state = "uncertain"
    return BoxRead(value, fraction, state)


_TEMPLATES: dict[str, np.ndarray] = {}


def _digit_templates() -> dict[str, np.ndarray]:
    if not _TEMPLATES:
        from PIL import ImageDraw, ImageFont

        from .pdf import full_font

        font = ImageFont.truetype(full_font().path, 48, index=full_font().collection_index)
        for d in "0123456789":
            img = Image.new("L", (64, 64), 255)
            ImageDraw.Draw(img).text((32, 32), d, font=font, fill=0, anchor="mm")
            _TEMPLATES[d] = _normalise(np.asarray(img) < 128)
    return _TEMPLATES


def _normalise(mask: np.ndarray, size: int = 16) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros((size, size))
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(float)
    side = max(crop.shape)
    padded = np.zeros((side, side))
    oy, ox = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    padded[oy:oy + crop.shape[0], ox:ox + crop.shape[1]] = crop
    small = np.asarray(Image.fromarray((padded * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR),
                       dtype=float) / 255
    small -= small.mean()
    norm = np.linalg.norm(small)
    return small / norm if norm else small


def _read_digit(ink: np.ndarray, h: np.ndarray, box: dict) -> dict:
    """{"digit": "3", "confidence": 0.4} or {"digit": "", ...} for an empty box."""
    n = 24
    pts = _grid(box, INSET_MM, n)
    cells = _sample(ink, h, pts).reshape(n, n)
    if cells.mean() < 0.02:
        return {"digit": "", "confidence": 1.0, "ink": float(cells.mean())}
    vec = _normalise(cells)
    scores = sorted(((float((vec * t).sum()), d) for d, t in _digit_templates().items()), reverse=True)
    (best, digit), (second, _) = scores[0], scores[1]
    return {"digit": digit, "confidence": best - second, "score": best, "ink": float(cells.mean())}


def crop_row(page: PageRead, row: dict, width_mm: float) -> Image.Image:
    """The row's strip of the scan, straightened (for the review list)."""
    corners = np.array([[8, row["y"] - 1], [width_mm - 8, row["y"] - 1], [width_mm - 8, row["y"] + row["h"] + 1],
                        [8, row["y"] + row["h"] + 1]])
    px = apply_h(page.h, corners)
    left, top = np.floor(px.min(0)).astype(int)
    right, bottom = np.ceil(px.max(0)).astype(int)
    return page.image.crop((max(left, 0), max(top, 0), right, bottom))


# --- a batch of scans -> entry workbooks and review lists ------------------------

PROBLEM_TEXT = {"unreadable": "找不到或读不出二维码（已另存，待人工指定样本点）",
                "foreign_round": "其他轮次的页面", "forged": "二维码校验失败（页面被改动或伪造）",
                "unknown_unit": "本轮没有这个样本点的核查表", "no_marks": "找不到四角定位标记"}


@dataclass
class ScanSummary:
    pages: int
    units: dict[str, int]                     # unit -> pages used
    rejected: list[tuple[str, int, str]]      # (file, page, problem code)
    duplicates: list[tuple[str, int, str]]    # (file, page, "unit i/n") dropped as the worse scan
    missing: dict[str, list[int]]             # unit -> missing page numbers
    review: dict[str, int]                    # unit -> review items
    marks: int = 0                            # tick boxes read


def _single(boxes: list[BoxRead]) -> tuple[str, list[str]]:
    """The one ticked value of a group of boxes, and what is wrong with the group."""
    checked = [b.value for b in boxes if b.state == "checked"]
    issues = []
    if any(b.state == "uncertain" for b in boxes):
        issues.append("标记不清（" + "、".join(b.value for b in boxes if b.state == "uncertain") + "）")
    if len(checked) > 1:
        issues.append("同时勾选了 " + "、".join(checked))
    cancelled = [b.value for b in boxes if b.state == "filled"]
    if cancelled and not checked:
        issues.append("涂黑作废了 " + "、".join(cancelled) + "，未另行勾选")
    return (checked[0] if len(checked) == 1 else ""), issues


def interpret_row(row: dict) -> tuple[dict, list[str]]:
    """Entry values read from one form row, and the reasons it needs review."""
    values, issues = _read_values(row["fields"])
    if row["ref"] is None:  # a blank row for a new (missed) case
        if any(values.values()) or issues:
            issues.insert(0, "新发现的一行，请核对并补录手写内容")
        return values, issues
    return values, issues + _check_row_issues(row["section"], values, issues)


def _read_values(fields: dict) -> tuple[dict, list[str]]:
    """Tick boxes and digit boxes to values; write-in boxes with ink are only flagged, never guessed."""
    values, issues = {}, []
    for key, read in fields.items():
        if isinstance(read, dict):  # write-in box: never guessed
            if read["ink"] > 0.03:
                issues.append(f"「{key}」有手写内容，请人工录入")
        elif read and isinstance(read[0], BoxRead):
            value, found = _single(read)
            values[key] = value
            issues += [f"「{key}」{t}" for t in found]
        else:
            digits = "".join(d["digit"] for d in read)
            if any(d["digit"] and d["confidence"] < 0.08 for d in read):
                issues.append(f"「{key}」数字不清（读作 {digits}）")
            values[key] = digits
    return values, issues


def _check_row_issues(section: str, values: dict, issues: list[str]) -> list[str]:
    """A register row needs a result, and an error result its witnesses and verification."""
    more = []
    result = values.get("result", "")
    if not result and not any("result" in t for t in issues):
        more.append("未勾选核实结果")
    is_error = vocab.is_error(section, result)
    if is_error and not values.get("witnesses"):
        more.append("误差行没有填写反映群众人数")
    if is_error and not values.get("verified"):
        more.append("误差行没有勾选调查组是否查实")
    return more


_WORKER: dict = {}


def _read_file(path: str) -> list[PageRead]:
    """Worker: every page of one file, read; images dropped (reloaded later for crops)."""
    out = []
    for page in load_pages(Path(path)):
        read = read_page(page, _WORKER["secret"], _WORKER["round_id"], _WORKER["layouts"])
        read.path = path
        if read.problem in ("unreadable", "no_marks"):
            page.image.save(Path(_WORKER["unassigned"]) / f"{Path(path).stem}_p{page.index}.png")
        read.image = None
        out.append(read)
    return out


def _init_reader(state: dict) -> None:
    _WORKER.update(state)


def read_files(files, secret: bytes, round_id: str, layouts: dict, unassigned: Path, progress=None,
               workers: int | None = None) -> list[PageRead]:
    """Every page of every file, read in worker processes (pool.py); in input order.

    Pages without a readable QR code or corner marks are saved to `unassigned`.
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
class PagePick:
    """The pages kept per unit (the clearer of duplicates), and what was set aside."""

    units: dict[str, list[PageRead]]
    rejected: list[tuple[str, int, str]]
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
            rejected.append((read.source, read.index, read.problem))
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
    return sum(len(v) for row in read.rows for v in row["fields"].values()
               if isinstance(v, list) and v and isinstance(v[0], BoxRead))


@dataclass
class ReviewItem:
    """A row a clerk must check: where it is in the workbook and on paper, why, and its crop's file name."""

    read: PageRead
    row: dict
    sheet: str
    workbook_row: int
    issues: list[str]

    @property
    def crop_name(self) -> str:
        return f"{self.read.page_id.unit_code}_p{self.read.page_id.page}_" \
               f"{self.row['ref'] or 'new' + str(self.row['blank_index'])}.png"

    def as_row(self) -> dict:
        return {"工作表": vocab.SHEETS[self.sheet], "行": self.workbook_row, "编号": self.row["ref"] or "",
                "页": self.read.page_id.page, "问题": "；".join(self.issues), "截图": self.crop_name}


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
            set_values(ws, column_of(ws, sheet), r,
                       {k: (int(v) if v.isdigit() else v) for k, v in values.items() if v})
            if issues:
                items.append(ReviewItem(read, row, sheet, r, issues))
    return items


def save_review_crop(item: ReviewItem, width_mm: float, folder: Path) -> None:
    """The row's straightened strip of the scan, as folder/<crop name> (the page is reloaded if dropped)."""
    read = item.read
    if read.image is None:
        read.image = load_page(Path(read.path), read.index).image
    crop_row(read, item.row, width_mm).save(folder / item.crop_name)
