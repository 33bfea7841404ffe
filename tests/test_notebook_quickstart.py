"""notebooks/01_quickstart.ipynb runs top to bottom at its SMALL size (nbclient)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"


def _kernel_name(tmp_path: Path, monkeypatch) -> str:
    """"python3" when it runs this interpreter, else a temporary kernelspec that does."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    except NoSuchKernel:
        argv0 = None
    # jupyter_client runs a spec whose argv[0] is "python"/"python3" with sys.executable.
    if argv0 in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                 sys.executable):
        return "python3"
    spec = tmp_path / "jupyter" / "kernels" / "crfwi-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "devito-crfwi tests", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "crfwi-test"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_quickstart_runs_small(tmp_path, monkeypatch):
    monkeypatch.setenv("DEVITO_CRFWI_SMALL", "1")
    monkeypatch.setenv("DEVITO_CRFWI_OUT", str(tmp_path / "out"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=_kernel_name(tmp_path, monkeypatch), timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4  # shots, models, loss
    text = "".join(o.get("text", "") for o in outputs)
    assert "ssim" in text and "wrote" in text
    assert (tmp_path / "out" / "inverted.sgy").exists()
    assert (tmp_path / "out" / "shots.sgy").exists()
