"""The located page straightened onto a grid of STEP mm, as darkness relative to the paper around it.

Every measurement of the reader (registering a group of boxes on its outlines, the ink in and
around a box, ink in a write-in box) is taken on this grid, never on the raw image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

STEP = 0.2  # mm between samples of the straightened page


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
        self.dark = np.clip(1.0 - gray / _paper(gray), 0.0, 1.0)

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


def _paper(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness at every sample: a 5 mm grey closing on a 1 mm grid, smoothed and scaled back up."""
    k = int(round(1 / STEP))
    hh, ww = gray.shape[0] // k, gray.shape[1] // k
    small = gray[:hh * k, :ww * k].reshape(hh, k, ww, k).mean(axis=(1, 3))
    paper = ndimage.uniform_filter(ndimage.grey_closing(small, size=(5, 5)), size=3)
    paper = Image.fromarray(np.maximum(paper, 40.0).astype(np.float32), "F").resize(
        (ww * k, hh * k), Image.Resampling.BILINEAR)
    return np.pad(np.asarray(paper), ((0, gray.shape[0] - hh * k), (0, gray.shape[1] - ww * k)), mode="edge")


def page_region(record: dict) -> tuple[float, float, float, float]:
    """The part of a page (mm) that holds every field, with room for a box patch around each."""
    boxes = [b for row in record["rows"] for f in row["fields"].values()
             for b in (f["options"] if f["kind"] == "ticks" else [f])]
    if not boxes:
        return 0.0, 0.0, 1.0, 1.0
    pad = 8.0
    return (min(b["x"] for b in boxes) - pad, min(b["y"] for b in boxes) - pad,
            max(b["x"] + b["w"] for b in boxes) + pad, max(b["y"] + b["h"] for b in boxes) + pad)
