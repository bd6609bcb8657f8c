"""The progress page's step (进度): the dashboard's tables, and what says when they may have changed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chouyang import steps
from chouyang.round.folder import Round
from chouyang.scan import review
from chouyang.serve.workstation.core import round_register
from chouyang.serve.workstation.review import review_items, review_units
from chouyang.survey import progress


def scan_pages(rnd: Round) -> dict[str, tuple[int, int | None]]:
    """Scan pages received (by the latest scan of each unit) and expected (its form's page count)."""
    expected = {unit: len(layout.get("pages", [])) for unit, layout in rnd.layouts().items()}
    received: dict[str, int] = {}
    for entry in rnd.log_entries("scan"):
        received.update({u: int(n) for u, n in entry["detail"].get("units", {}).items()})
    units = set(expected) | set(received)
    return {u: (received.get(u, 0), expected.get(u)) for u in units}


def open_review_counts(rnd: Round) -> dict[str, int]:
    with rnd.store() as con:
        decided = review.decisions(con)
    return {u: sum(review.is_open(i, decided.get(u, {})) for i in review_items(rnd, u)) for u in review_units(rnd)}


def progress_fingerprint(rnd: Round) -> tuple:
    """Changes whenever anything the dashboard shows may have changed (store, scans, forms)."""
    paths = [rnd.store_path, rnd.scan_dir / "review", rnd.forms_dir, rnd.plan_path]
    paths += sorted((rnd.scan_dir / "review").glob("*.json")) if (rnd.scan_dir / "review").exists() else []
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.exists())


@dataclass
class Progress:
    units: pd.DataFrame
    by_team_day: pd.DataFrame
    by_township: pd.DataFrame
    totals: dict[str, int]


def progress_view(rnd: Round) -> Progress:
    rnd.require_unchanged_since_draw()
    entries = rnd.entries()
    units = progress.unit_progress(rnd.primaries(), rnd.plan(), set(entries),
                                   steps.cases(rnd, register=round_register(rnd), entries=entries),
                                   scan_pages(rnd), open_review_counts(rnd))
    return Progress(units, progress.rollup(units, ["team_id", "date", "township_code"]),
                    progress.rollup(units, ["township_code"]), progress.totals(units))
