"""Helpers shared by the tests (import them: ``from tests.helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
"""The repository root."""
SHARED_MODELS = ROOT.parent / "shared" / "data" / "models"
"""The shared benchmark models (absent on a user's machine: tests that need them skip)."""
NOTEBOOKS = ROOT / "notebooks"
SAMPLES = ROOT / "segy_samples"


def model_dataarray(values: np.ndarray, spacing: float, origin=(0.0, 0.0)) -> xr.DataArray:
    """A velocity model (x, z) in m/s on a regular grid."""
    nx, nz = values.shape
    return xr.DataArray(
        values.astype(np.float32),
        dims=("x", "z"),
        coords={"x": origin[0] + np.arange(nx) * spacing, "z": origin[1] + np.arange(nz) * spacing},
        attrs={"units": "m/s"},
    )


# A raw binary grid for the convert tests: 7 x 4 cells.
NX, NZ = 7, 4


def grid_kms() -> np.ndarray:
    """An (x, z) grid in km/s whose values encode their position."""
    ix, iz = np.meshgrid(np.arange(NX), np.arange(NZ), indexing="ij")
    return (1.5 + 0.1 * ix + 0.01 * iz).astype(np.float32)


def smooth_perturbation(shape, rng, amplitude=50.0):
    """A random perturbation (x, z) in m/s, smooth so it is well resolved."""
    from scipy.ndimage import gaussian_filter

    dvp = gaussian_filter(rng.standard_normal(shape), 2.0)
    return amplitude * dvp / np.abs(dvp).max()


def crosswell(f0: float = 15.0, t_max: float = 0.4):
    """3 sources down the left side of ``layered``, 15 receivers down the right.

    Transmission through the lens makes a tiny inversion well posed (CR-FWI tests).
    """
    from devito_crfwi import Survey

    sources = np.array([[20.0, 40.0], [20.0, 140.0], [20.0, 240.0]])
    receivers = np.stack([np.full(15, 370.0), np.linspace(20.0, 270.0, 15)], axis=1)
    return Survey(sources, receivers, f0=f0, t_max=t_max)


def notebook_kernel_name(tmp_path: Path, monkeypatch) -> str:
    """"python3" when it runs this interpreter, else a temporary kernelspec that does."""
    import json
    import sys

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


def run_notebook(path: Path, tmp_path: Path, monkeypatch, timeout: int = 600):
    """Execute a notebook stored without outputs; fail on any error cell.

    Returns ``(outputs, text, n_images)``: every code cell's outputs, their stream text joined,
    and the number of PNG images.
    """
    import warnings

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), (
        f"{path.name} must be stored without outputs")
    client = nbclient.NotebookClient(
        nb, kernel_name=notebook_kernel_name(tmp_path, monkeypatch), timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    text = "".join(o.get("text", "") for o in outputs)
    return outputs, text, sum("image/png" in o.get("data", {}) for o in outputs)

