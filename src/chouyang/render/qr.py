"""QR payload of a form page: round | unit | form | page i/n | MAC (SPEC §4).

MAC = the first 16 hex digits (64 bits, upper case) of
HMAC-SHA256(round secret, "round|unit|form|i/n" in UTF-8).  The secret is made
at `init` and stays in the round folder, so a page printed for another round,
or with any character changed, fails verification.  No personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M

MAC_HEX_DIGITS = 16
MASK_PATTERN = 2


@dataclass(frozen=True)
class PageId:
    round_id: str
    unit_code: str
    form_code: str
    page: int
    pages: int

    @property
    def body(self) -> str:
        return f"{self.round_id}|{self.unit_code}|{self.form_code}|{self.page}/{self.pages}"


def mac(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode("utf-8"), hashlib.sha256).hexdigest()[:MAC_HEX_DIGITS].upper()


def payload(secret: bytes, page: PageId) -> str:
    return f"{page.body}|{mac(secret, page.body)}"


def parse_payload(secret: bytes, text: str) -> PageId | None:
    """The page a payload names, or None when it is malformed or its MAC fails."""
    parts = text.strip().split("|")
    if len(parts) != 5 or "/" not in parts[3]:
        return None
    body, given = "|".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac(secret, body), given.upper()):
        return None
    try:
        i, n = (int(x) for x in parts[3].split("/", 1))
    except ValueError:
        return None
    return PageId(parts[0], parts[1], parts[2], i, n)


def qr_matrix(text: str) -> list[list[bool]]:
    """Module matrix (True = dark), without quiet zone; error correction M.

    The mask pattern is fixed: choosing the "best" of eight costs more than
    drawing the page, and any mask decodes.
    """
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=MASK_PATTERN)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def draw_qr(pdf, text: str, x: float, y: float, size: float) -> None:
    """Draw the code as vector rectangles.

    Horizontal runs of dark modules that repeat on the following rows are
    merged into one rectangle, which roughly halves the drawing operations.
    """
    matrix = qr_matrix(text)
    module = size / len(matrix)
    open_runs: dict[tuple[int, int], int] = {}  # (start, end) -> first row

    def runs(row):
        c, out = 0, []
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                out.append((start, c))
            else:
                c += 1
        return out

    for r, row in enumerate(matrix + [[False] * len(matrix)]):
        current = set(runs(row))
        for run in list(open_runs):
            if run not in current:
                top = open_runs.pop(run)
                pdf.rect(x + run[0] * module, y + top * module, (run[1] - run[0]) * module,
                         (r - top) * module, style="F")
        for run in current:
            open_runs.setdefault(run, r)


def draw_page_markers(pdf, geometry: dict, secret: bytes, page: PageId) -> dict:
    """The four corner marks and the QR code of a scannable page (survey form or checklist).

    `geometry` is the form's [form] table (corner_mark size, corner_marks, qr_position, qr_size, mm).
    Returns the page's layout-record entries the scan reader locates the page by:
    {"page", "qr": {x, y, w, h, payload}, "corner_marks": [{x, y, w, h}, ...]}.
    """
    size = float(geometry["corner_mark"])
    pdf.set_fill_color(0, 0, 0)
    marks = []
    for x, y in geometry["corner_marks"]:
        pdf.rect(x, y, size, size, style="F")
        marks.append({"x": x, "y": y, "w": size, "h": size})
    qx, qy = geometry["qr_position"]
    qs = float(geometry["qr_size"])
    text = payload(secret, page)
    draw_qr(pdf, text, qx, qy, qs)
    return {"page": page.page, "qr": {"x": qx, "y": qy, "w": qs, "h": qs, "payload": text}, "corner_marks": marks}
