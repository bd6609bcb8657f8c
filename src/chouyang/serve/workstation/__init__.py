"""Round-level steps of the web workstation (`chouyang serve`): what its pages call, one module per page.

The same shape as steps/: load through the Round, call pure functions (progress, review, keyed,
feedback), write through the Round's store in one `BEGIN IMMEDIATE` transaction per write, and log
every write with the web user's name.  Results reach the store only through `steps.ingest` /
`steps.ingest_entries` (the validation and single transaction of `chouyang ingest`), case statuses
only through `steps.set_case_status` (the same function as `chouyang case`), scores only through
`steps.score`.

core (the write queue, the register and checklist caches, users), progress, review (and workbooks,
its background writer), entry, cases, reports, log.  The pages call `workstation.<step>`; every
name below is its module's own.
"""

from __future__ import annotations

from chouyang.serve.workstation.cases import TownshipCases, case_history, case_table, feedback_pdf, township_cases
from chouyang.serve.workstation.core import (
    content_sha256,
    entered_units,
    has_users,
    login,
    round_register,
    unit_checklist,
    warm,
    writing,
)
from chouyang.serve.workstation.entry import (
    Adjudication,
    KeyedForm,
    KeyedUnit,
    adjudication,
    keyed_form,
    keyed_overview,
    keyed_save,
    keyed_settle,
)
from chouyang.serve.workstation.log import ACTION_LABELS, audit_rows
from chouyang.serve.workstation.progress import Progress, open_review_counts, progress_fingerprint, progress_view, scan_pages
from chouyang.serve.workstation.reports import REPORT_FILES, Report, report_file, report_view
from chouyang.serve.workstation.review import (
    WORKBOOKS,
    Decided,
    ReviewState,
    ReviewUnit,
    review_decide,
    review_ingest,
    review_items,
    review_overview,
    review_state,
    review_units,
    write_review_workbook,
)
from chouyang.serve.workstation.workbooks import WorkbookWriter

__all__ = [
    "ACTION_LABELS", "REPORT_FILES", "WORKBOOKS", "Adjudication", "Decided", "KeyedForm", "KeyedUnit", "Progress",
    "Report", "ReviewState", "ReviewUnit", "TownshipCases", "WorkbookWriter", "adjudication", "audit_rows",
    "case_history", "case_table", "content_sha256", "entered_units", "feedback_pdf", "has_users", "keyed_form",
    "keyed_overview", "keyed_save", "keyed_settle", "login", "open_review_counts", "progress_fingerprint",
    "progress_view", "report_file", "report_view", "review_decide", "review_ingest", "review_items",
    "review_overview", "review_state", "review_units", "round_register", "scan_pages", "township_cases",
    "unit_checklist", "warm", "write_review_workbook", "writing",
]
