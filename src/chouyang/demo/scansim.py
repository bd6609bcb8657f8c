"""Synthetic filled forms: render pages, fill them by hand (many writers), scan or photograph them.

Used by the tests, `benchmarks/scan.py` and `chouyang demo --scan`.  The marks are
drawn from the writer's habits, not from what the reader looks for: shapes (tick,
check with a hook, cross, slash, circle around the box), size and position vary
independently of the box (off-centre, overshooting, small, partly or wholly outside
it: above, below or half beside it), and so
do pen (black or blue ballpoint, gel, pencil of grey 85-165), stroke width,
pressure, slant and tremor.  A correction scribbles one box solid and ticks another.
Write-in boxes get handwritten digits and characters.

Degradations: flatbed scans (150-300 dpi, +-3 degrees, scale +-3 %, a scanner
glass that crops up to 5 mm off the paper's edges, JPEG 60-90) and phone photos
(perspective, shadow, uneven light, blur, colour cast, turned 90/180/270 degrees,
JPEG).  Every box's truth is returned: marked, filled (cancelled) or empty.
"""

from __future__ import annotations

import dataclasses
import io
import math
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont

MARKED, FILLED, EMPTY = "marked", "filled", "empty"


def render_page(pdf_path, index: int, dpi: float, mode: str = "L") -> Image.Image:
    return pdfium.PdfDocument(pdf_path)[index].render(scale=dpi / 72).to_pil().convert(mode)


# --- writers ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Writer:
    """One person's pen and habits."""

    colour: tuple[int, int, int]
    opacity: float       # pressure: 1 = full ink
    width: float         # stroke width, mm
    pencil: bool         # grainy strokes
    habits: tuple[float, float, float, float, float]  # tick, hooked check, cross, slash, circle
    size: float          # mark size relative to the box
    offset: float        # sd of the mark's centre from the box centre, mm
    slant: float         # degrees
    tremor: float        # sd of point jitter, mm
    overshoot: float     # chance a mark runs well past the box
    astray: float = 0.0  # chance a mark lands partly or wholly outside its box (above, below or beside it)


SHAPES = ("tick", "check", "cross", "slash", "circle")


def random_writer(rng: np.random.Generator) -> Writer:
    pen = rng.choice(["black", "blue", "gel", "pencil"], p=[0.4, 0.3, 0.12, 0.18])
    if pen == "pencil":
        g = int(rng.integers(85, 166))
        colour, opacity, width = (g, g, g), 1.0, float(rng.uniform(0.3, 0.6))
    elif pen == "blue":
        colour = (int(rng.integers(10, 70)), int(rng.integers(30, 90)), int(rng.integers(140, 220)))
        opacity, width = float(rng.uniform(0.75, 1.0)), float(rng.uniform(0.25, 0.5))
    else:
        k = int(rng.integers(10, 60))
        colour, opacity = (k, k, k + 10), float(rng.uniform(0.8, 1.0))
        width = float(rng.uniform(0.3, 0.55) if pen == "gel" else rng.uniform(0.22, 0.45))
    weights = rng.dirichlet([3, 1.5, 2, 1, 0.6])
    return Writer(colour, opacity, width, pen == "pencil", tuple(float(w) for w in weights),
                  float(rng.uniform(0.75, 1.5)), float(rng.uniform(0.15, 0.7)), float(rng.normal(0, 12)),
                  float(rng.uniform(0.02, 0.12)), float(rng.uniform(0.0, 0.25)),
                  float(rng.choice([0.0, rng.uniform(0.0, 0.1)], p=[0.7, 0.3])))


# --- handwriting -----------------------------------------------------------------------

# Digit strokes on a unit cell (x right, y down), as a person writes them.
_DIGITS = {
    "0": [[(0.5, 0), (0.1, 0.25), (0.1, 0.75), (0.5, 1), (0.9, 0.75), (0.9, 0.25), (0.5, 0)]],
    "1": [[(0.3, 0.2), (0.55, 0), (0.55, 1)]],
    "2": [[(0.1, 0.25), (0.5, 0), (0.9, 0.25), (0.8, 0.5), (0.1, 1), (0.95, 1)]],
    "3": [[(0.1, 0.1), (0.8, 0.05), (0.4, 0.45), (0.9, 0.65), (0.6, 1), (0.1, 0.9)]],
    "4": [[(0.7, 1), (0.7, 0), (0.05, 0.7), (0.95, 0.7)]],
    "5": [[(0.85, 0), (0.2, 0), (0.15, 0.45), (0.7, 0.4), (0.9, 0.7), (0.6, 1), (0.1, 0.9)]],
    "6": [[(0.8, 0), (0.25, 0.35), (0.1, 0.75), (0.5, 1), (0.85, 0.75), (0.5, 0.5), (0.15, 0.7)]],
    "7": [[(0.05, 0), (0.95, 0), (0.4, 1)]],
    "8": [[(0.5, 0.5), (0.15, 0.25), (0.5, 0), (0.85, 0.25), (0.5, 0.5), (0.1, 0.75), (0.5, 1), (0.9, 0.75),
           (0.5, 0.5)]],
    "9": [[(0.85, 0.3), (0.5, 0.55), (0.15, 0.3), (0.5, 0), (0.85, 0.3), (0.8, 1)]],
    "-": [[(0.15, 0.55), (0.85, 0.55)]],
    "X": [[(0.1, 0), (0.9, 1)], [(0.9, 0), (0.1, 1)]],
}


class Painter:
    """Draws a writer's strokes on an RGB page image rendered at `dpi` (mm coordinates)."""

    def __init__(self, img: Image.Image, dpi: float, rng: np.random.Generator, font_path: str, font_index: int):
        self.img = img
        self.k = dpi / 25.4
        self.rng = rng
        self.font_path, self.font_index = font_path, font_index

    def _strokes(self, strokes: list[np.ndarray], w: Writer, width: float | None = None) -> None:
        """Blend polylines (mm) into the page with the writer's pen."""
        width = width or w.width
        pts = np.vstack(strokes)
        pad = width * 2 + 1
        x0, y0 = ((pts.min(0) - pad) * self.k).astype(int)
        x1, y1 = ((pts.max(0) + pad) * self.k).astype(int) + 1
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.img.width), min(y1, self.img.height)
        if x1 <= x0 or y1 <= y0:
            return
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw = ImageDraw.Draw(mask)
        px = max(1, int(round(width * self.k)))
        for s in strokes:
            q = [((x * self.k - x0), (y * self.k - y0)) for x, y in s]
            draw.line(q, fill=255, width=px, joint="curve")
            r = px / 2
            for cx, cy in (q[0], q[-1]):
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        alpha = np.asarray(mask, dtype=np.float32) / 255 * w.opacity
        if w.pencil:  # graphite leaves grain: gaps and uneven darkness along the stroke
            alpha *= self.rng.uniform(0.45, 1.0, alpha.shape).astype(np.float32)
        region = np.asarray(self.img.crop((x0, y0, x1, y1)), dtype=np.float32)
        colour = np.array(w.colour, dtype=np.float32)
        a = alpha[..., None]
        # ink darkens (multiplies) what is below it, as on paper
        blended = region * (1 - a) + np.minimum(region, colour) * a
        self.img.paste(Image.fromarray(blended.clip(0, 255).astype(np.uint8)), (x0, y0))

    def _jitter(self, pts, w: Writer) -> np.ndarray:
        pts = np.asarray(pts, dtype=float)
        return pts + self.rng.normal(0, w.tremor, pts.shape)

    @staticmethod
    def _curve(points, n: int = 12) -> np.ndarray:
        """A smooth curve through a few points (Catmull-Rom), as a hand draws it."""
        p = np.asarray(points, dtype=float)
        p = np.vstack([p[0], p, p[-1]])
        out = []
        for i in range(1, len(p) - 2):
            for t in np.linspace(0, 1, n, endpoint=False):
                t2, t3 = t * t, t * t * t
                out.append(0.5 * ((2 * p[i]) + (-p[i - 1] + p[i + 1]) * t + (2 * p[i - 1] - 5 * p[i] + 4 * p[i + 1]
                                                                                 - p[i + 2]) * t2
                                  + (-p[i - 1] + 3 * p[i] - 3 * p[i + 1] + p[i + 2]) * t3))
        out.append(p[-2])
        return np.array(out)

    def _place(self, shape: np.ndarray, box: dict, w: Writer, size: float, angle: float,
               astray: np.ndarray) -> np.ndarray:
        """A unit shape (centred on 0) scaled to the box, turned, and placed with the writer's offset."""
        c = np.array([box["x"] + box["w"] / 2, box["y"] + box["h"] / 2]) + self.rng.normal(0, w.offset, 2) + astray
        t = math.radians(angle)
        rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        return shape * box["w"] * size @ rot.T + c

    def mark(self, box: dict, w: Writer, shape: str | None = None, astray: tuple[float, float] | None = None,
             size: float | None = None) -> str:
        """Tick, check, cross, slash or circle on a box; returns the shape drawn.

        `astray` (mm) and `size` (relative to the box) place a mark on purpose instead of by the
        writer's habits."""
        rng = self.rng
        shape = shape or str(rng.choice(SHAPES, p=w.habits))
        size = size or w.size * rng.uniform(0.8, 1.2) * (rng.uniform(1.3, 1.9) if rng.random() < w.overshoot else 1.0)
        angle = w.slant + rng.normal(0, 6)
        if astray is not None:
            astray = np.asarray(astray, dtype=float)
        elif rng.random() < w.astray:  # above or below the box (the row has room), or half beside it
            if rng.random() < 0.7:
                astray = np.array([rng.uniform(-0.3, 0.3), rng.choice([-1, 1]) * rng.uniform(0.55, 0.9)]) * box["h"]
            else:
                astray = np.array([rng.choice([-1, 1]) * rng.uniform(0.35, 0.55), rng.uniform(-0.3, 0.3)]) * box["w"]
        else:
            astray = np.zeros(2)
        if shape == "tick":
            pts = [(-0.35, 0.0), (-0.1, 0.3), (0.45, -0.5)]
            strokes = [self._curve(self._jitter(pts, w), 6)]
        elif shape == "check":
            pts = [(-0.4, -0.05), (-0.3, 0.0), (-0.08, 0.35), (0.2, -0.15), (0.5, -0.6)]
            strokes = [self._curve(self._jitter(pts, w), 5)]
        elif shape == "cross":
            strokes = [self._curve(self._jitter([(-0.38, -0.38), (0.0, 0.02), (0.4, 0.4)], w), 5),
                       self._curve(self._jitter([(0.38, -0.4), (0.02, 0.0), (-0.4, 0.38)], w), 5)]
        elif shape == "slash":
            strokes = [self._curve(self._jitter([(0.35, -0.45), (0.0, 0.0), (-0.35, 0.45)], w), 5)]
        else:  # a circle around the box, open or overlapping at the ends
            r = rng.uniform(0.68, 0.95)
            start = rng.uniform(0, 2 * np.pi)
            sweep = rng.uniform(1.85, 2.15) * np.pi
            t = np.linspace(start, start + sweep, 28)
            ellipse = np.c_[np.cos(t) * r * rng.uniform(0.9, 1.2), np.sin(t) * r * rng.uniform(0.85, 1.1)]
            strokes = [self._jitter(ellipse, w)]
            size = 1.0
        self._strokes([self._place(s, box, w, size, angle, astray) for s in strokes], w)
        return shape

    def cancel(self, box: dict, w: Writer) -> None:
        """A box scribbled solid: dense zigzags over it, running a little past its edges."""
        x, y, bw, bh = box["x"], box["y"], box["w"], box["h"]
        over = self.rng.uniform(0.1, 0.6)
        n = int(bh / max(w.width * 0.7, 0.2)) + 2
        ys = np.linspace(y - over, y + bh + over, n)
        pts = [(x - over + self.rng.normal(0, 0.1), yy) if i % 2 == 0 else (x + bw + over + self.rng.normal(0, 0.1), yy)
               for i, yy in enumerate(ys)]
        pts2 = [(xx, y - over) if i % 2 == 0 else (xx, y + bh + over)
                for i, xx in enumerate(np.linspace(x - over, x + bw + over, n))]
        heavy = dataclasses.replace(w, opacity=min(1.0, w.opacity + 0.15), width=max(w.width, 0.4))
        self._strokes([np.array(pts), np.array(pts2)], heavy)

    def write(self, cell: dict, text: str, w: Writer) -> None:
        """Handwriting in a write-in box: digits as pen strokes, other characters from the font, both wobbly."""
        h = min(cell["h"] * self.rng.uniform(0.45, 0.65), 5.0)
        cw = h * self.rng.uniform(0.5, 0.65)
        x = cell["x"] + self.rng.uniform(0.8, 2.0)
        base = cell["y"] + (cell["h"] - h) / 2 + self.rng.normal(0, 0.3)
        slant = math.tan(math.radians(w.slant + 8))
        for ch in text:
            if x + cw > cell["x"] + cell["w"] - 0.8:
                break
            strokes = _DIGITS.get(ch.upper())
            if strokes:
                glyph = [np.array([(x + px * cw - (py - 1) * h * slant * 0.3, base + py * h) for px, py in s])
                         for s in strokes]
                self._strokes([self._jitter(self._curve(g, 4), w) for g in glyph], w, width=w.width * 0.8)
                x += cw * self.rng.uniform(1.05, 1.35)
            else:
                size = int(h * 1.6 * self.k)
                font = ImageFont.truetype(self.font_path, size, index=self.font_index)
                glyph = Image.new("L", (size + 4, size + 4), 0)
                ImageDraw.Draw(glyph).text((2, 2), ch, font=font, fill=255)
                glyph = glyph.rotate(self.rng.normal(0, 5), resample=Image.BILINEAR)
                gx, gy = int(x * self.k), int((base - h * 0.3) * self.k)
                colour = Image.new("RGB", glyph.size, w.colour)
                alpha = glyph.point(lambda v: int(v * w.opacity))
                self.img.paste(colour, (gx, gy), alpha)
                x += h * 1.7

    def stray(self, x: float, y: float, w: Writer) -> None:
        """A short stray line (a pen resting, a slip) somewhere outside the boxes."""
        a = self.rng.uniform(0, 2 * np.pi)
        length = self.rng.uniform(0.5, 2.5)
        self._strokes([np.array([(x, y), (x + length * math.cos(a), y + length * math.sin(a))])], w)


def _option_index(field: dict, value) -> int:
    return next(i for i, o in enumerate(field["options"]) if o["value"] == value)


def _fill_ticks(painter: Painter, field: dict, want, writer: Writer) -> list[str]:
    """Cancel, then mark, the options `want` names on one row of tick boxes; returns the state of every box."""
    states = [EMPTY] * len(field["options"])
    if want is None or want == "":
        return states
    spec = want if isinstance(want, dict) else {"mark": want, "cancel": []}
    for value in spec.get("cancel", []):
        i = _option_index(field, value)
        painter.cancel(field["options"][i], writer)
        states[i] = FILLED
    if spec.get("mark") is not None:
        i = _option_index(field, spec["mark"])
        painter.mark(field["options"][i], writer)
        states[i] = MARKED
    return states


def fill_page(img: Image.Image, page_record: dict, answers: dict, dpi: float, rng: np.random.Generator,
              writer: Writer, font_path: str, font_index: int, stray_rate: float = 0.05) -> dict:
    """Draw `answers` on a rendered RGB page; returns the truth of every tick box.

    answers[(section, ref or blank_index)] = {field: value | {"mark": value or None, "cancel": [values]}
    | text (write-in boxes)}.  truth[(section, ref or blank_index)][field] = [state per option].
    """
    painter = Painter(img, dpi, rng, font_path, font_index)
    truth = {}
    for row in page_record["rows"]:
        key = (row["section"], row["ref"] or row["blank_index"])
        wanted = answers.get(key, {})
        row_truth = {}
        if rng.random() < stray_rate:  # in the ref column, away from every box
            painter.stray(12.5, row["y"] + row["h"] * rng.uniform(0.3, 0.7), writer)
        for fkey, f in row["fields"].items():
            want = wanted.get(fkey)
            if f["kind"] != "write":
                row_truth[fkey] = _fill_ticks(painter, f, want, writer)
            elif want:
                painter.write(f, str(want), writer)
        truth[key] = row_truth
    return truth


# --- scanners and cameras ----------------------------------------------------------------

def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def _perspective(img: Image.Image, out_size: tuple[int, int], dst_of_src: np.ndarray, fill) -> Image.Image:
    """Warp by the 3x3 map source px -> output px."""
    inv = np.linalg.inv(dst_of_src)
    inv = inv / inv[2, 2]
    return img.transform(out_size, Image.Transform.PERSPECTIVE, tuple(inv.flatten()[:8]), Image.Resampling.BILINEAR,
                         fillcolor=fill)


def flatbed(img: Image.Image, dpi: float, rng: np.random.Generator, angle: float | None = None,
            quality: int | None = None) -> Image.Image:
    """A flatbed scan: the page turned up to 3 degrees and scaled +-3 %, the glass cropping up to 5 mm of
    its edges, grey, JPEG 60-90."""
    k = dpi / 25.4
    w, h = img.size
    angle = float(rng.uniform(-3, 3)) if angle is None else angle
    scale = float(rng.uniform(0.97, 1.03))
    t = math.radians(angle)
    c = np.array([w / 2, h / 2])
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) * scale
    crop = rng.uniform(0, 5, 4) * k  # left, top, right, bottom: paper lost at the glass's edge
    out_w, out_h = int(w - crop[0] - crop[2]), int(h - crop[1] - crop[3])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = c - rot @ c - crop[:2]
    out = _perspective(img.convert("L"), (out_w, out_h), m, 250)
    out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 0.7))))
    arr = np.asarray(out, dtype=np.float32) + rng.standard_normal((out_h, out_w), dtype=np.float32) * np.float32(
        rng.uniform(1, 5))
    out = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return _jpeg(out, int(rng.integers(60, 91)) if quality is None else quality)


def photo(img: Image.Image, rng: np.random.Generator, turn: int | None = None) -> Image.Image:
    """A phone photo: keystone, a shadow, uneven light, blur, colour cast, turned by 0/90/180/270, JPEG."""
    w, h = img.size
    out_w, out_h = int(w * 1.08), int(h * 1.1)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    margin = np.array([out_w - w, out_h - h]) / 2
    jitter = rng.uniform(-0.045, 0.045, (4, 2)) * np.array([w, h])
    dst = src * rng.uniform(0.92, 0.98) + margin + jitter + np.array([w, h]) * 0.02
    from chouyang.scan.geometry import homography

    m = homography(src, dst)
    table = tuple(int(v) for v in rng.integers(60, 140, 3))
    out = _perspective(img.convert("RGB"), (out_w, out_h), m, table)
    arr = np.asarray(out, dtype=np.float32)
    # uneven light: a brightness gradient plus a soft-edged shadow across part of the page (both smooth:
    # computed on a grid of 4 px and scaled up)
    yy, xx = (np.mgrid[0:out_h // 4 + 2, 0:out_w // 4 + 2] * 4).astype(np.float32)
    gx, gy = rng.uniform(-0.35, 0.35, 2)
    light = 1.0 + gx * (xx / out_w - 0.5) + gy * (yy / out_h - 0.5)
    a = rng.uniform(0, np.pi)
    d = (xx - out_w * rng.uniform(0.2, 0.8)) * math.cos(a) + (yy - out_h * rng.uniform(0.2, 0.8)) * math.sin(a)
    soft = rng.uniform(0.01, 0.06) * max(out_w, out_h)
    shadow = 1.0 - rng.uniform(0.15, 0.45) / (1.0 + np.exp(-d / soft))
    field = Image.fromarray((light * shadow).astype(np.float32), "F").resize(
        (xx.shape[1] * 4, xx.shape[0] * 4), Image.Resampling.BILINEAR)
    field = np.asarray(field)[:out_h, :out_w] * np.float32(rng.uniform(0.8, 1.0))
    cast = rng.uniform(0.88, 1.0, 3).astype(np.float32)
    arr *= field[..., None]
    arr *= cast
    arr += rng.standard_normal(arr.shape, dtype=np.float32) * np.float32(rng.uniform(2, 6))
    out = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.4))))
    turn = int(rng.choice([0, 90, 180, 270])) if turn is None else turn
    if turn:
        out = out.rotate(turn, expand=True)
    return _jpeg(out, int(rng.integers(60, 91)))


# --- a corpus with truth ----------------------------------------------------------------------

DECISIVE = ("result", "witnesses", "verified", "true_sex", "true_parity", "true_type", "policy")


def _pick(fields: dict, key: str, rng: np.random.Generator):
    """Any one option of a row of tick boxes."""
    options = fields[key]["options"]
    return options[int(rng.integers(len(options)))]["value"]


def _new_row_answers(fields: dict, rng: np.random.Generator) -> dict:
    """A newly found row: every tick field ticked, every write-in but the note written (ids 8 digits, else 4)."""
    a = {}
    for k, f in fields.items():
        if f["kind"] == "ticks":
            a[k] = _pick(fields, k, rng)
        elif k != "note":
            a[k] = "".join(str(d) for d in rng.integers(0, 10, 8 if "id" in k else 4))
    return a


def _misreport_answers(fields: dict, rng: np.random.Generator) -> dict:
    """The corrected values of a 错报 row: some of the true_* fields the section has."""
    a = {}
    for k in ("true_sex", "true_parity", "true_type"):
        if k in fields and rng.random() < 0.6:
            a[k] = _pick(fields, k, rng)
    return a


def _register_row_answers(row: dict, rng: np.random.Generator, error_rate: float, cancel_rate: float,
                          note_rate: float) -> dict:
    """A register row: a result (sometimes corrected), witnesses on errors, corrected values, rarely a note."""
    from chouyang import vocab

    fields = row["fields"]
    results = [o["value"] for o in fields["result"]["options"]]
    result = results[0] if rng.random() > error_rate else results[int(rng.integers(1, len(results)))]
    a: dict = {"result": result}
    if rng.random() < cancel_rate:
        a["result"] = {"mark": result, "cancel": [str(rng.choice([r for r in results if r != result]))]}
    if vocab.is_error(row["section"], result) or rng.random() < 0.02:
        a["witnesses"] = _pick(fields, "witnesses", rng)
        a["verified"] = _pick(fields, "verified", rng)
    if result == "错报":
        a.update(_misreport_answers(fields, rng))
    if "actual_contraception" in fields and rng.random() < 0.04:
        a["actual_contraception"] = _pick(fields, "actual_contraception", rng)
    if "true_birth_date" in fields and result == "错报" and rng.random() < 0.3:
        a["true_birth_date"] = "20160312"
    if rng.random() < note_rate:
        a["note"] = str(rng.choice(["已迁", "外出", "23", "待查", "户在人不在"]))
    return a


def random_answers(page_record: dict, rng: np.random.Generator, error_rate: float = 0.2,
                   cancel_rate: float = 0.04, note_rate: float = 0.04, new_rows: float = 0.8) -> dict:
    """Answers a team might give on one page: mostly 属实, some errors with witnesses and verification,
    corrections (a cancelled box and another ticked), notes, and a few newly found rows."""
    answers = {}
    blank_used = 0
    for row in page_record["rows"]:
        key = (row["section"], row["ref"] or row["blank_index"])
        if row["ref"] is not None:
            answers[key] = _register_row_answers(row, rng, error_rate, cancel_rate, note_rate)
            continue
        # At most two new rows a page, each less likely than the one before.
        if blank_used >= 2 or rng.random() > new_rows / (1 + 2 * blank_used):
            continue
        blank_used += 1
        answers[key] = _new_row_answers(row["fields"], rng)
    return answers


def is_plain(answer: dict) -> bool:
    """A register row answered 属实 with nothing else marked or written."""
    return answer.get("result") == "属实" and len(answer) == 1


def truth_value(states: list[str], options: list[dict]):
    marked = [o["value"] for o, s in zip(options, states) if s == MARKED]
    return marked[0] if marked else ""
