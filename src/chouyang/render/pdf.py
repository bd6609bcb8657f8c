"""Chinese PDF documents: the CJK font from PyPI, and missing glyphs as hard errors.

The font is Noto Sans CJK SC (index 2 of the collection in the
`noto-cjk-sans-otc` package), embedded as a subset.  fpdf2 only logs a
missing glyph and prints a blank; a person would not notice a township name
printed without its first character (㴔滩镇), so every text is checked first.

fpdf2 parses the whole 19 MB collection for every new document (about 0.8 s
here).  For many documents, `subset_font` cuts the font once to the characters
a job needs; each document then parses a few dozen kilobytes.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import noto_cjk_sans_otc
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable
from fpdf import FPDF

from chouyang.errors import ChouyangError

FAMILY = "NotoSansSC"
COLLECTION_INDEX = 2  # Noto Sans CJK SC inside the OTC
ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
# Largest distance (font units of a 1000-unit em) a quadratic outline may stray from the cubic
# original: 3 units is under 0.02 mm at 16 pt, and fewer points make every document's font
# subset (which fpdf2 rebuilds per document) cheaper.
MAX_ERR = 3.0


@dataclass(frozen=True)
class FontFile:
    path: str
    collection_index: int
    covered: frozenset[int]


def _collection_path() -> str:
    return str(noto_cjk_sans_otc.FONT_PATH)


@lru_cache(maxsize=1)
def full_font() -> FontFile:
    font = TTFont(_collection_path(), fontNumber=COLLECTION_INDEX, lazy=True)
    return FontFile(_collection_path(), COLLECTION_INDEX, frozenset(font.getBestCmap()))


def subset_font(text: str, extra: str = "") -> FontFile:
    """A font file holding the glyphs of `text` (plus ASCII), cached on disk by content.

    Every character of `text` must be in the font; characters of `extra` (fixed
    wording gathered from source files) are kept only where the font has them.
    """
    full = full_font()
    check_glyphs(text, full)
    chars = sorted(set(text + ASCII) | {c for c in extra if ord(c) in full.covered})
    digest = hashlib.sha256("".join(chars).encode("utf-8")).hexdigest()[:24]
    cache = Path(tempfile.gettempdir()) / "chouyang-fonts"
    target = cache / f"noto-sc-{digest}-e{MAX_ERR:g}.ttf"
    if not target.exists():

        font = TTFont(full.path, fontNumber=COLLECTION_INDEX)
        options = subset.Options()
        options.name_IDs = ["*"]
        options.notdef_outline = True
        # Chinese needs no OpenType layout features here, and the GSUB/GPOS tables of the collection
        # are the slowest part of subsetting.
        options.layout_features = []
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF"]
        options.hinting = False
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(chars))
        subsetter.subset(font)
        _cff_to_truetype(font)
        buf = io.BytesIO()
        font.save(buf)
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(target)
    return FontFile(str(target), 0, frozenset(ord(c) for c in chars))


def _cff_to_truetype(font) -> None:
    """Replace CFF outlines by quadratic TrueType ones, in place.

    fpdf2 re-subsets the embedded font at every output; for CFF that costs
    about 2 s per document here, for TrueType outlines a few milliseconds.
    TrueType outlines also extract as text correctly with more PDF readers.
    """

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=MAX_ERR, reverse_direction=True))
        glyphs[name] = pen.glyph()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.numGlyphs = len(order)
    maxp.maxZones = 1
    for field_name in ("maxPoints", "maxContours", "maxCompositePoints", "maxCompositeContours",
                       "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                       "maxStackElements", "maxSizeOfInstructions", "maxComponentElements",
                       "maxComponentDepth"):
        setattr(maxp, field_name, 0)  # recomputed from glyf when the font is saved
    font["maxp"] = maxp
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"


def data_font(texts, sources) -> FontFile:
    """A subset font for a document whose text comes from tables (`texts`: any strings) and from the
    literal wording of some source files (`sources`: module files).  Characters the font lacks are
    left out here; drawing one raises the usual missing-glyph error."""
    literal = "".join(Path(p).read_text(encoding="utf-8") for p in sources)
    return subset_font("", "".join(map(str, texts)) + literal)


def check_glyphs(text: str, font: FontFile | None = None) -> None:
    covered = (font or full_font()).covered
    missing = sorted({ch for ch in text if ord(ch) not in covered and ch not in "\n\r\t"})
    if missing:
        listed = "、".join(f"「{ch}」(U+{ord(ch):04X})" for ch in missing)
        raise ChouyangError(f"字体缺少以下字符，无法正确打印：{listed}。原文：{text[:40]}")


class ChinesePDF(FPDF):
    """A4 document with the CJK font loaded and every text checked for glyphs."""

    def __init__(self, orientation: str = "P", font: FontFile | None = None):
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self._font_file = font or full_font()
        self.add_font(FAMILY, "", self._font_file.path,
                      collection_font_number=self._font_file.collection_index)
        self.set_font(FAMILY, size=10)
        self.set_auto_page_break(auto=True, margin=15)

    def normalize_text(self, text: str) -> str:
        check_glyphs(text, self._font_file)
        return super().normalize_text(text)

    def multi_cell(self, w, h=None, text="", *args, align="L", **kwargs):
        """Paragraphs flush left by default: fpdf2 justifies, and a justified Chinese line with a few
        Latin words or numbers in it stretches the spaces around them into wide gaps."""
        return super().multi_cell(w, h, text, *args, align=align, **kwargs)


def write_split(data: bytes, parts: list[tuple[str, tuple[int, int], dict]], folder: Path) -> int:
    """One document drawn for many subjects, split into `<stem>.pdf` and `<stem>.layout.json` per subject.

    Drawing many subjects into one document cuts the font once (fpdf2 subsets it at every output);
    `parts` are (file stem, (first page, end page), layout record).  Returns the pages written."""
    import json

    import pypdfium2 as pdfium

    from chouyang.atomic import atomic_path, write_text

    whole = pdfium.PdfDocument(data)
    for stem, (first, end), record in parts:
        doc = pdfium.PdfDocument.new()
        doc.import_pages(whole, list(range(first, end)))
        with atomic_path(folder / f"{stem}.pdf") as tmp:
            doc.save(str(tmp))
        doc.close()
        write_text(folder / f"{stem}.layout.json", json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    whole.close()
    return sum(end - first for _, (first, end), _ in parts)
