"""Scanned and photographed pages: read completed paper forms and checklists (SPEC §3.6, §4).

For every page image: decode the QR code (zxing-cpp gives its corners in the
code's own orientation, so any turn of the page is known at once), verify its
MAC, predict where the four corner marks are, find those that survived the
scanner's crop and fit a homography from the layout record (mm) to the image
by least squares over the marks and the QR corners.  Three marks are enough;
with fewer, the fit is grown from the QR code and the marks found over the
printed tick boxes (`refine_from_boxes`).

Marks are judged, not thresholded globally, on the page straightened onto a
0.2 mm grid by one perspective warp (`PageSampler`):
- the paper's brightness is estimated locally (a 5 mm grey closing on a 1 mm
  grid), and ink is darkness relative to it, so shadows and uneven light
  drop out and pencil (grey 85-165) reads like ink, only fainter;
- each group of boxes (one field of one row) is registered on its own printed
  outlines (a search of +-1 mm, to a fraction of a sample), and each box's ink
  is measured relative to the darkness of its own outline: inside the box, in
  a ring around it (a circled box) and in the box's share of the field's cell
  (`cell` in the layout record, else the row's height and half the spacing
  of the boxes), for every box of a page at once, and compared with the
  cleanest box of its group;
- a box is empty, marked (tick, cross, slash, circle), filled (scribbled
  solid: cancelled) or uncertain.  Uncertain boxes, two marks in one group, a
  cancelled box with no other mark, and ink beside the boxes of a group that
  reads empty (a mark above, below or between boxes) send the row to review;
  no visible mark ever becomes "empty" silently.

The reader knows fields only by their kind (ticks, write) in the layout record;
boxes of any size are read, each size in its own batch.

Modules, in the order a page goes through them:
- pages: load files and pages, decode and check the QR code, `read_page` (PageImage -> PageRead);
- geometry: homography, the corner marks, `locate_page`, `refine_from_boxes`, crops' warp;
- sampler: the page straightened onto the 0.2 mm grid as darkness (`PageSampler`);
- boxes: tick boxes batched by size, their cells, registration on their printed outlines;
- marks: each box's ink (`box_features`) and its state (`judge_group`: the rules as named predicates);
- rows: `read_rows`, a tick group's value and a row's review reasons (`field_value`, `interpret_row`);
- batch: many files in worker processes (`read_files`), `pick_pages`, problem texts, `ScanSummary`;
- review_items: `fill_workbook`, `ReviewItem`, `review_json`, review crops;
- checklist, review: checklist pages as their workbook; the review queue of the web workstation.

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
