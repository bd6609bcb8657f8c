"""The reader's decisions on hand-made numbers: the rules that judge a group of tick boxes, a tick group's
issues, and the corner-mark search and fit (the corpus-level checks are in test_scan.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chouyang.scan import geometry
from chouyang.scan.marks import _ABOVE, _BELOW, _LEFT, EMPTY, FILLED, MARKED, UNCERTAIN, group_evidence, judge_group
from chouyang.scan.rows import FieldRead, field_value


def box(ink=0.0, dark=0.0, mask=0, outer=0.0):
    return (ink, dark, float(mask), outer, 0.0)


def test_one_clear_mark_among_clean_boxes():
    states, ink, conf = judge_group([box(), box(0.05, 0.1), box()])
    assert states == [EMPTY, MARKED, EMPTY]
    assert ink == [0.0, 0.05, 0.0]
    assert conf == pytest.approx(0.5 + 0.02 / 0.06)  # the mark's confidence; clean boxes are 1.0


def test_ink_is_taken_relative_to_the_cleanest_box():
    states, ink, _ = judge_group([box(0.02), box(0.06)])  # a grey scan: every box 0.02 darker
    assert states == [EMPTY, MARKED]
    assert ink == [0.0, 0.04]


def test_scribbled_solid_is_cancelled_and_half_dark_uncertain():
    states, _, conf = judge_group([box(0.4, 0.8), box(0.3, 0.55), box()])
    assert states == [FILLED, UNCERTAIN, EMPTY]
    assert conf == 0.3


def test_faint_mark_counts_only_when_the_others_are_clean():
    assert judge_group([box(0.02), box(), box()])[0][0] == MARKED
    # the other box has a little ink: the faint one is no longer taken for a mark
    assert judge_group([box(0.02), box(0.01), box()])[0][0] == UNCERTAIN


def test_circle_around_an_empty_box_is_a_mark():
    states, _, conf = judge_group([box(mask=0xFF), box()])
    assert states == [MARKED, EMPTY]
    assert conf == 1.0  # 8 sectors: 0.5 + 0.25 * (8 - 6)


def test_stroke_from_the_row_above_is_uncertain():
    states, _, conf = judge_group([box(0.02, mask=_ABOVE), box()])
    assert states == [UNCERTAIN, EMPTY]
    assert conf == 0.4
    # ink enough for a clear mark, but below STRAY_INK and only straight below the box: still uncertain
    assert judge_group([box(0.05, mask=_BELOW), box()])[0] == [UNCERTAIN, EMPTY]
    assert judge_group([box(0.08, mask=_BELOW), box()])[0] == [MARKED, EMPTY]


def test_ring_ink_on_the_side_of_a_marked_neighbour_is_its_overshoot():
    # box 1's ring holds ink on its left, where box 0 is marked: explained, so empty (0.8)
    assert judge_group([box(0.05), box(mask=_LEFT & 0b11)])[0] == [MARKED, EMPTY]
    # the same ink on the right side of box 0 (the marked box is on the left): not explained
    assert judge_group([box(mask=_LEFT & 0b11), box(0.05)])[0] == [UNCERTAIN, MARKED]


def test_mark_beside_the_boxes_of_an_empty_group_is_uncertain():
    states, _, conf = judge_group([box(), box(outer=0.6), box(outer=0.1)])
    assert states == [EMPTY, UNCERTAIN, EMPTY]
    assert conf == pytest.approx(0.25)  # 0.5 * (1 - 0.6 / 1.2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.integers(0, 255), st.floats(0, 3)), min_size=1, max_size=6))
def test_every_box_gets_one_state_and_confidence_stays_in_unit_interval(raw):
    features = [box(*r) for r in raw]
    states, ink, conf = judge_group(features)
    assert len(states) == len(ink) == len(features)
    assert set(states) <= {EMPTY, MARKED, FILLED, UNCERTAIN}
    assert 0.0 <= conf <= 1.0
    assert min(ink) == pytest.approx(max(0.0, min(r[0] for r in raw) - 0.05), abs=1e-4)  # the cleanest box sets the base
    evidence = group_evidence(features)
    assert [b.sectors for b in evidence] == [bin(r[2]).count("1") for r in raw]


def _ticks(states, confirm_top=False):
    options = [{"label": lab, "value": v} for lab, v in (("0", 0), ("1", 1), ("2+", 2))]
    return FieldRead("witnesses", "ticks", "反映群众人数", options, states, [0.0] * 3, confirm_top=confirm_top)


def test_tick_group_issues_in_order():
    value, issues = field_value(_ticks([UNCERTAIN, MARKED, MARKED]))
    assert value == ""
    assert issues == ["「反映群众人数」标记不清（0）", "「反映群众人数」同时勾选了 1、2+"]
    value, issues = field_value(_ticks([FILLED, EMPTY, MARKED], confirm_top=True))
    assert value == 2
    assert issues == ["「反映群众人数」勾选了「2+」，按 2 录入；实际更多时请改正"]
    assert field_value(_ticks([EMPTY, MARKED, EMPTY], confirm_top=True)) == (1, [])


def test_corner_mark_found_whole_and_refused_at_the_edge():
    gray = np.full((200, 300), 250, np.uint8)
    gray[40:60, 100:120] = 10  # a 20 px mark, centre (109.5, 49.5)
    gray[0:15, 250:270] = 10  # cut by the top edge
    hit = geometry.find_mark(gray, np.array([105.0, 52.0]), 4.0, 5.0, 5.0)
    assert hit == pytest.approx([109.5, 49.5])
    assert geometry.find_mark(gray, np.array([260.0, 8.0]), 4.0, 5.0, 5.0) is None
    assert geometry.find_mark(gray, np.array([105.0, 140.0]), 4.0, 5.0, 5.0) is None  # nothing there


def test_fit_over_marks_drops_the_mark_that_disagrees():
    h = np.array([[4.0, 0.1, 30.0], [-0.05, 4.1, 20.0], [1e-5, 2e-5, 1.0]])
    qr_mm = geometry.qr_corners_mm({"x": 170, "y": 10, "w": 25, "h": 25})
    marks = [np.array(p, float) for p in ((10, 10), (200, 10), (200, 287), (10, 287))]
    px = [geometry.apply_h(h, m) for m in marks]
    # 10 mm off beside the QR code, which pins the page there (far from it, a perspective could absorb it)
    px[1] = px[1] + [40.0, 0.0]
    fitted, kept_mm, _ = geometry._fit_over_marks(qr_mm, geometry.apply_h(h, qr_mm), marks, px, 4.0)
    assert len(kept_mm) == 3 and not any(np.array_equal(m, marks[1]) for m in kept_mm)
    assert np.allclose(fitted[0], h, rtol=1e-6, atol=1e-9) and fitted[1] < 1e-6
