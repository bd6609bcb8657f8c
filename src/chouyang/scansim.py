"""Synthetic scans of filled forms: render pages, draw pen marks for known answers, degrade.

Used by the tests, `benchmarks/scan.py` and `chouyang demo --scan`.  Marks are
drawn at the boxes of the layout record: ticks and crosses (checked), solid
fills (cancelled), stray dots outside boxes; digits are drawn with jitter.
Degradation: rotation, 180-degree turns, noise, blur, JPEG compression.
"""

from __future__ import annotations

import io

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def render_page(pdf_path, index: int, dpi: int) -> Image.Image:
    return pdfium.PdfDocument(pdf_path)[index].render(scale=dpi / 72).to_pil().convert("L")


class Pen:
    def __init__(self, img: Image.Image, dpi: int, rng: np.random.Generator):
        self.draw = ImageDraw.Draw(img)
        self.k = dpi / 25.4
        self.rng = rng
        self.width = max(2, int(round(0.45 * self.k)))

    def _p(self, x, y):
        j = self.rng.normal(0, 0.08, 2)
        return ((x + j[0]) * self.k, (y + j[1]) * self.k)

    def tick(self, b):
        x, y, w, h = b["x"], b["y"], b["w"], b["h"]
        self.draw.line([self._p(x + 0.18 * w, y + 0.5 * h), self._p(x + 0.42 * w, y + 0.85 * h),
                        self._p(x + 0.9 * w, y + 0.1 * h)], fill=0, width=self.width, joint="curve")

    def cross(self, b):
        x, y, w, h = b["x"], b["y"], b["w"], b["h"]
        self.draw.line([self._p(x + 0.15 * w, y + 0.15 * h), self._p(x + 0.85 * w, y + 0.85 * h)], fill=0,
                       width=self.width)
        self.draw.line([self._p(x + 0.85 * w, y + 0.15 * h), self._p(x + 0.15 * w, y + 0.85 * h)], fill=0,
                       width=self.width)

    def fill(self, b):
        self.draw.rectangle([self._p(b["x"] + 0.05, b["y"] + 0.05),
                             self._p(b["x"] + b["w"] - 0.05, b["y"] + b["h"] - 0.05)], fill=0)

    def digit(self, b, d: str, font_path: str, index: int):
        size = int(b["h"] * 0.75 * self.k)
        font = ImageFont.truetype(font_path, size, index=index)
        cx, cy = self._p(b["x"] + b["w"] / 2 + self.rng.normal(0, 0.3), b["y"] + b["h"] / 2)
        self.draw.text((cx, cy), d, font=font, fill=0, anchor="mm", stroke_width=int(self.rng.integers(0, 2)))

    def stray(self, x, y):
        r = 0.3 * self.k
        cx, cy = self._p(x, y)
        self.draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=0)

    def scribble(self, b):
        """Handwriting in a write-in box (never read, only noticed)."""
        x, y, w, h = b["x"], b["y"], b["w"], b["h"]
        pts = [self._p(x + w * t, y + h * (0.4 + 0.2 * np.sin(9 * t))) for t in np.linspace(0.1, 0.7, 12)]
        self.draw.line(pts, fill=0, width=self.width)


def degrade(img: Image.Image, rng: np.random.Generator, angle: float, flip: bool, jpeg: int | None,
            blur: float, noise: float) -> Image.Image:
    if angle:
        img = img.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=255)
    if flip:
        img = img.rotate(180, expand=True)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        arr = np.asarray(img, dtype=float) + rng.normal(0, noise, (img.height, img.width))
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    if jpeg:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=jpeg)
        img = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return img


def mark_page(img: Image.Image, page_record: dict, answers: dict, dpi: int, rng: np.random.Generator,
              font_path: str, font_index: int, stray_rate: float = 0.05) -> None:
    """Draw `answers` on a rendered page.

    answers[(section, ref or blank_index)] = {field: value or [values] or {"digit": "3"} or "scribble"};
    a value prefixed with "~" is a box filled solid (cancelled).
    """
    pen = Pen(img, dpi, rng)
    for row in page_record["rows"]:
        key = (row["section"], row["ref"] or row["blank_index"])
        if rng.random() < stray_rate:
            pen.stray(9, row["y"] + row["h"] * rng.uniform(0.2, 0.8))  # in the margin, outside every box
        for field, wanted in answers.get(key, {}).items():
            boxes = row["fields"][field]
            if wanted == "scribble":
                pen.scribble(boxes)
                continue
            if isinstance(boxes, list) and boxes and "digit" in boxes[0]:
                for b, d in zip(boxes, str(wanted)):
                    pen.digit(b, d, font_path, font_index)
                continue
            for value in ([wanted] if isinstance(wanted, str) else wanted):
                cancelled = value.startswith("~")
                box = next(b for b in boxes if b["value"] == value.lstrip("~"))
                if cancelled:
                    pen.fill(box)
                elif rng.random() < 0.5:
                    pen.tick(box)
                else:
                    pen.cross(box)
