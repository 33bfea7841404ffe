"""notebooks/04_3d.ipynb (pixel FWI and IG-FWI on a 3-D model) runs top to bottom at its SMALL
size (nbclient). It is stored with the outputs of its full-size run, which this test drops."""

from __future__ import annotations

import pytest

from tests.helpers import NOTEBOOKS, run_notebook

pytest.importorskip("nbformat")

NOTEBOOK = NOTEBOOKS / "04_3d.ipynb"


@pytest.mark.slow
@pytest.mark.smoke
def test_3d_notebook_runs_small(tmp_path, monkeypatch):
    """Smoke: every cell runs without error and prints and draws what it should (the
    inversions' quality is measured by tests/inversion/test_3d.py, not here)."""
    monkeypatch.setenv("DEVITO_CRFWI_SMALL", "1")
    _, text, images = run_notebook(NOTEBOOK, tmp_path, monkeypatch, stored_outputs=True)
    assert images == 7  # true model, shot, true + initial, 2 losses, 2 x (true, initial, inverted)
    assert "3-D model 20 x 14 x 12 cells" in text
    assert "pixel: 2 iterations" in text and "ig: 2 iterations" in text
    assert "SSIM" in text
