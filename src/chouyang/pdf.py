"""Chinese PDF documents: the CJK font from PyPI, and missing glyphs as hard errors.

The font is Noto Sans CJK SC (index 2 of the collection in the
`noto-cjk-sans-otc` package), embedded as a subset.  fpdf2 only logs a
missing glyph and prints a blank; a person would not notice a township name
printed without its first character (㴔滩镇), so every text is checked first.
"""

from __future__ import annotations

from functools import lru_cache

from fpdf import FPDF

from .errors import ChouyangError

FAMILY = "NotoSansSC"
COLLECTION_INDEX = 2  # Noto Sans CJK SC inside the OTC


def font_path() -> str:
    import noto_cjk_sans_otc

    return str(noto_cjk_sans_otc.FONT_PATH)


@lru_cache(maxsize=1)
def covered_codepoints() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(font_path(), fontNumber=COLLECTION_INDEX, lazy=True)
    return frozenset(font.getBestCmap())


def check_glyphs(text: str) -> None:
    covered = covered_codepoints()
    missing = sorted({ch for ch in text if ord(ch) not in covered and ch not in "\n\r\t"})
    if missing:
        listed = "、".join(f"「{ch}」(U+{ord(ch):04X})" for ch in missing)
        raise ChouyangError(f"字体缺少以下字符，无法正确打印：{listed}。原文：{text[:40]}")


class ChinesePDF(FPDF):
    """A4 portrait document with the CJK font loaded and every text checked for glyphs."""

    def __init__(self, orientation: str = "P"):
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.add_font(FAMILY, "", font_path(), collection_font_number=COLLECTION_INDEX)
        self.set_font(FAMILY, size=10)
        self.set_auto_page_break(auto=True, margin=15)

    def normalize_text(self, text: str) -> str:
        check_glyphs(text)
        return super().normalize_text(text)
