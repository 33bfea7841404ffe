"""Shared small problems: tiny grids and few time steps keep Devito runs at seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "models"


def model_dataarray(values: np.ndarray, spacing: float, origin=(0.0, 0.0)) -> xr.DataArray:
    """A velocity model (x, z) in m/s on a regular grid."""
    nx, nz = values.shape
    return xr.DataArray(
        values.astype(np.float32),
        dims=("x", "z"),
        coords={"x": origin[0] + np.arange(nx) * spacing, "z": origin[1] + np.arange(nz) * spacing},
        attrs={"units": "m/s"},
    )


@pytest.fixture(scope="session")
def layered():
    """A 40 x 30 model at 10 m: two layers and a smooth lens (m/s)."""
    nx, nz = 40, 30
    x, z = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    vp = np.where(z < 12, 2000.0, 2400.0)
    vp += 250.0 * np.exp(-((x - 22) ** 2 + (z - 20) ** 2) / 20.0)
    return model_dataarray(vp, 10.0)


@pytest.fixture(scope="session")
def small_survey(layered):
    from devito_crfwi import Survey

    return Survey.surface(layered, n_shots=2, n_receivers=15, f0=15.0, t_max=0.3)


def crosswell(f0: float = 15.0, t_max: float = 0.4):
    """3 sources down the left side of ``layered``, 15 receivers down the right.

    Transmission through the lens makes a tiny inversion well posed (CR-FWI tests).
    """
    from devito_crfwi import Survey

    sources = np.array([[20.0, 40.0], [20.0, 140.0], [20.0, 240.0]])
    receivers = np.stack([np.full(15, 370.0), np.linspace(20.0, 270.0, 15)], axis=1)
    return Survey(sources, receivers, f0=f0, t_max=t_max)


@pytest.fixture(scope="session")
def crosswell_survey():
    """:func:`crosswell` at 15 Hz, 0.4 s."""
    return crosswell()


@pytest.fixture(scope="session")
def crosswell_observed(layered, crosswell_survey):
    """Gathers of ``layered`` for ``crosswell_survey`` (shot, time, receiver)."""
    from devito_crfwi import simulate

    return simulate(layered, crosswell_survey)


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
