"""The scan workbooks, written in the background after the request has been answered (review decisions)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chouyang.round.folder import Round


class WorkbookWriter:
    """Writes decisions into the scan workbooks after the request has been answered.

    Loading and saving a workbook takes most of a second, far longer than storing a decision;
    clerks deciding one item after another should not wait for it.  A unit marked dirty is
    written DELAY seconds later, once for every decision made meanwhile.  Before an ingest the unit is written in
    the request itself (review.write_review_workbook), and `flush` writes every pending unit (at
    shutdown, in tests).  A failed write is kept and shown on the review list; the store stays
    the source of truth, so a later write repairs it.
    """

    DELAY = 3.0

    def __init__(self, write: Callable[[Round, str], object]):
        self._write = write  # write(rnd, unit_code): the unit's workbook from its stored decisions
        self._pending: dict[tuple[str, str], tuple[Round, float]] = {}  # -> (round, when first marked)
        self._flushing = False
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.failures: dict[tuple[str, str], str] = {}

    def mark(self, rnd: Round, unit_code: str) -> None:
        with self._cond:
            self._pending.setdefault((str(rnd.path), unit_code), (rnd, time.monotonic()))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="chouyang-workbooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    due = min((t for _, t in self._pending.values()), default=None)
                    if due is not None and (self._flushing or time.monotonic() >= due + self.DELAY):
                        break
                    self._cond.wait(None if due is None else max(0.0, due + self.DELAY - time.monotonic()))
                key = min(self._pending, key=lambda k: self._pending[k][1])
                rnd, _ = self._pending.pop(key)
                self._busy += 1
            try:
                self._write(rnd, key[1])
                self.failures.pop(key, None)
            except Exception as exc:  # kept and shown on the review list; the store still holds every decision
                self.failures[key] = str(exc)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until every pending workbook is written."""
        with self._cond:
            self._flushing = True
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)
            finally:
                self._flushing = False
