"""notebooks/01_quickstart.ipynb runs top to bottom at its SMALL size (nbclient)."""

from __future__ import annotations

import pytest

from tests.helpers import NOTEBOOKS, run_notebook

nbformat = pytest.importorskip("nbformat")

NOTEBOOK = NOTEBOOKS / "01_quickstart.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.smoke
def test_quickstart_runs_small(tmp_path, monkeypatch):
    """Smoke: every cell runs without error, draws its figures and writes its SEG-Y files."""
    monkeypatch.setenv("DEVITO_CRFWI_SMALL", "1")
    monkeypatch.setenv("DEVITO_CRFWI_OUT", str(tmp_path / "out"))
    _, text, images = run_notebook(NOTEBOOK, tmp_path, monkeypatch)
    assert images >= 4  # shots, models, loss
    assert "ssim" in text and "wrote" in text
    assert (tmp_path / "out" / "inverted.sgy").exists()
    assert (tmp_path / "out" / "shots.sgy").exists()
