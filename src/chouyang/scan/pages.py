"""One page: loaded from its file, identified by its QR code (MAC checked), located and read.

PDF pages are rendered at RENDER_DPI, images used as they are; a file is read a page at a time
(a 200-page PDF is never held whole).  The layout records (forms/<unit>.layout.json,
checklist/<township>.layout.json) say where everything is on each page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from chouyang.errors import ChouyangError, Problem
from chouyang.render.qr import parse_payload
from chouyang.scan.geometry import locate_page
from chouyang.scan.rows import read_rows
from chouyang.scan.sampler import PageSampler, page_region

RENDER_DPI = 200
LAYOUT_FORMAT = 2


# --- loading ------------------------------------------------------------------------

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
        yield from _pdf_pages(path)
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


def _pdf_pages(path: Path):
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(path)
        for i in range(len(doc)):
            yield PageImage(path.name, i + 1, doc[i].render(scale=RENDER_DPI / 72).to_pil().convert("L"))
    except _pdf_errors() as exc:
        raise UnreadableFile(f"不是可读的 PDF 文件（{type(exc).__name__}）") from None


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
    """Every entry the reader uses is there and of the right kind (KeyError, TypeError, ValueError if not)."""
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
                _check_boxes(f)


def _check_boxes(f: dict) -> None:
    boxes = f["options"] if f["kind"] == "ticks" else [f] if f["kind"] == "write" else None
    if boxes is None:
        raise ValueError(f"未知的栏目类型 {f['kind']}")
    for b in boxes:
        float(b["x"]) + float(b["y"]) + float(b["w"]) + float(b["h"])


# --- reading one page ---------------------------------------------------------------

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


def decode_qr(img: Image.Image):
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


def _layout_of(layouts: dict, page_id) -> dict | None:
    """The layout record of a page: a round instrument's by (unit, form code), else the unit's (survey, checklist)."""
    found = layouts.get((page_id.unit_code, page_id.form_code))
    return found if found is not None else layouts.get(page_id.unit_code)


def read_page(page: PageImage, secret: bytes, round_id: str, layouts: dict[str, dict]) -> PageRead:
    """The page identified by its QR code, located by its marks and its rows read; `problem` says why not."""
    out = PageRead(page.source, page.index, image=page.image)
    text, qr_px = decode_qr(page.image)
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
    layout = _layout_of(layouts, page_id)
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
    sampler = PageSampler(page.image, h, page_region(record))
    out.headers = record["headers"]
    out.rows = read_rows(sampler, record["rows"])
    return out


def count_marks(read: PageRead) -> int:
    """Tick boxes read on one page."""
    return sum(len(f.states) for row in read.rows for f in row["fields"].values() if f.kind == "ticks")
