"""pdf.py: the font subset holds exactly the characters asked for, and a missing glyph is an error."""

import pytest

from chouyang.errors import ChouyangError
from chouyang.render.pdf import ASCII, ChinesePDF, check_glyphs, full_font, subset_font


def test_subset_covers_text_and_ascii_only():
    font = subset_font("王秀英", extra="")
    assert font.covered == frozenset(ord(c) for c in "王秀英" + ASCII)
    assert subset_font("英秀王").path == font.path  # same characters, same cached file


def test_extra_text_is_kept_only_where_the_font_has_it():
    font = subset_font("王", extra="李\U0010FFFF")  # a private-use plane character the font lacks
    assert ord("李") in font.covered and 0x10FFFF not in font.covered


def test_subset_font_refuses_a_character_outside_it():
    pdf = ChinesePDF(font=subset_font("王"))
    pdf.add_page()
    pdf.cell(20, 8, "王")
    with pytest.raises(ChouyangError, match="「李」"):
        pdf.cell(20, 8, "李")


def test_missing_glyph_names_the_character_and_its_code_point():
    with pytest.raises(ChouyangError, match=r"U\+10FFFF"):
        check_glyphs("王\U0010FFFF", full_font())
    check_glyphs("㴔滩镇", full_font())  # the rare 㴔 (U+3D14) is in Noto Sans CJK SC
