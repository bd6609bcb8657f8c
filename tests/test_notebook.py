"""The walkthrough notebook runs top to bottom (so it never goes stale), on the session's demo run."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_notebook_executes(tmp_path, demo_dir, monkeypatch):
    monkeypatch.setenv("CHOUYANG_DEMO_DIR", str(demo_dir))  # reuse the shared demo instead of re-running it
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == 2
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "55 sample points entered, 90 confirmed cases" in text  # the demo's figures (see `chouyang demo`)
