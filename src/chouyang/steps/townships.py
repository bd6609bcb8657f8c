"""The townships the composite assessment covers (shared by printing, entering and scoring)."""

from __future__ import annotations

import pandas as pd

from chouyang.round.folder import Round


def assessment_townships(rnd: Round) -> pd.DataFrame:
    """Every township of the frame (the assessment covers all of them, visited by the survey or not)."""
    return rnd.frame().drop_duplicates("township_code")[["township_code", "township_name"]].reset_index(drop=True)
