"""Helpers shared by the tests (import them: ``from tests.helpers import ...``)."""

from __future__ import annotations

import re
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


def model_dataarray(values: np.ndarray, spacing: float, origin=None) -> xr.DataArray:
    """A velocity model (x, z) or (x, y, z) in m/s on a regular grid (origin default 0)."""
    dims = ("x", "z") if values.ndim == 2 else ("x", "y", "z")
    origin = (0.0,) * values.ndim if origin is None else origin
    return xr.DataArray(
        values.astype(np.float32),
        dims=dims,
        coords={d: o + np.arange(n) * spacing
                for d, o, n in zip(dims, origin, values.shape, strict=True)},
        attrs={"units": "m/s"},
    )


def _with_value(vp: xr.DataArray, ix: int, iz: int, value: float) -> xr.DataArray:
    out = vp.copy()
    out[ix, iz] = value
    return out


# Bad velocity models, one table for every entry point that takes a model (tests of each
# layer run it through theirs): (change of a good (x, z) m/s model, error, message regex).
# The models of the tests are at least 6 x 6 cells on a 10 m grid from the origin, < 5000 m/s.
BAD_MODELS = [
    pytest.param(lambda vp: vp.values, TypeError,
                 r"got a numpy\.ndarray of shape \(\d+, \d+\); wrap it .*xr\.DataArray\(",
                 id="numpy-array"),
    pytest.param(lambda vp: [[2000.0]], TypeError, "must be an xarray.DataArray.*got list",
                 id="list"),
    pytest.param(lambda vp: vp.T, ValueError, r"dims \('x', 'z'\), got \('z', 'x'\).*transpose",
                 id="transposed"),
    pytest.param(lambda vp: vp.rename(z="depth"), ValueError,
                 r"dims \('x', 'z'\), got \('x', 'depth'\).*rename\(\{'depth': 'z'\}\)",
                 id="misnamed-dim"),
    pytest.param(lambda vp: vp.expand_dims(y=[0.0]), ValueError,
                 r"dims \('x', 'z'\), got \('y', 'x', 'z'\)", id="3-d"),
    pytest.param(lambda vp: vp.drop_vars(["x", "z"]), ValueError,
                 r"needs a coordinate 'x' and 'z' in m.*1 m.*assign_coords", id="no-coords"),
    pytest.param(lambda vp: vp.drop_vars("z"), ValueError,
                 r"needs a coordinate 'z' in m", id="no-z-coord"),
    pytest.param(lambda vp: vp.assign_coords(x=vp.x.values ** 1.5), ValueError,
                 "coordinate 'x' is not regularly spaced", id="irregular-x"),
    pytest.param(lambda vp: vp.isel(z=slice(None, None, -1)), ValueError,
                 "coordinate 'z' must increase strictly", id="decreasing-z"),
    pytest.param(lambda vp: vp.isel(x=[0]), ValueError, "coordinate 'x' needs at least 2 points",
                 id="one-column"),
    pytest.param(lambda vp: vp.assign_coords(x=vp.x.astype(str)), ValueError,
                 "coordinate 'x' must be numbers in m", id="text-coords"),
    pytest.param(lambda vp: (vp / 1000).assign_attrs(units="km/s"), ValueError,
                 r"attrs\['units'\] must be 'm/s', got 'km/s'; convert it: .* \* 1000\)"
                 r"\.assign_attrs\(units='m/s'\)", id="km/s-attrs"),
    pytest.param(lambda vp: vp.assign_attrs(units="ft/s"), ValueError,
                 r"must be 'm/s', got 'ft/s'; convert it: .* \* 0\.3048\)", id="ft/s-attrs"),
    pytest.param(lambda vp: vp.assign_attrs(units="mph"), ValueError,
                 "must be 'm/s', got 'mph'", id="unknown-units"),
    pytest.param(lambda vp: vp / 1000, ValueError,
                 r"largest velocity is \d\.\d+, .*looks like km/s.*\* 1000\)", id="km/s-values"),
    pytest.param(lambda vp: _with_value(vp, 3, 2, 12000.0), ValueError,
                 r"reaches 12000 m/s \(at x=30 m, z=20 m\), above 10000 m/s.*\* 0\.3048",
                 id="above-10000"),
    pytest.param(lambda vp: _with_value(vp, 5, 1, np.nan), ValueError,
                 r"holds 1 NaN or Inf values \(first at x=50 m, z=10 m\)", id="nan"),
    pytest.param(lambda vp: _with_value(vp, 2, 4, np.inf), ValueError,
                 r"NaN or Inf values \(first at x=20 m, z=40 m\)", id="inf"),
    pytest.param(lambda vp: _with_value(vp, 4, 3, 0.0), ValueError,
                 r"must be positive m/s; found 0 at x=40 m, z=30 m", id="zero"),
    pytest.param(lambda vp: _with_value(vp, 1, 1, -1500.0), ValueError,
                 r"must be positive m/s; found -1500 at x=10 m, z=10 m", id="negative"),
    pytest.param(lambda vp: vp.astype(complex), ValueError, "must hold real numbers",
                 id="complex"),
]


def raises_at(where: str, error: type[Exception], match: str):
    """``pytest.raises(error, match=match)`` that also wants the message to start with
    ``where: `` (the entry point the user called)."""
    return pytest.raises(error, match=rf"(?s)^{re.escape(where)}: .*{match}")


# Bad shot gathers, refused alike by write_shots, Survey.from_shots and CRFWIProblem:
# (change of good gathers (shot, time, receiver) with dt = 2 ms, error, message regex).
BAD_SHOTS = [
    pytest.param(lambda g: g.rename(receiver="trace"), ValueError,
                 r"dims \('shot', 'time', 'receiver'\), got \('shot', 'time', 'trace'\).*rename",
                 id="misnamed-dim"),
    pytest.param(lambda g: g.isel(shot=0), ValueError,
                 r"must have dims \('shot', 'time', 'receiver'\), got \('time', 'receiver'\)",
                 id="one-shot-2-d"),
    pytest.param(lambda g: g.assign_coords(time=g.time + 0.1), ValueError,
                 "time axis must start at 0 s", id="time-from-0.1"),
    pytest.param(lambda g: g.assign_coords(time=g.time ** 1.5), ValueError,
                 "coordinate 'time' is not regularly spaced", id="irregular-time"),
    pytest.param(lambda g: g.assign_attrs(dt=0.003), ValueError,
                 r"attrs\['dt'\] = 0.003 s disagrees with the time axis step 0.002 s",
                 id="dt-attr-contradicts-time"),
    pytest.param(lambda g: g.assign_attrs(dt=-0.002), ValueError,
                 r"attrs\['dt'\] must be a positive interval in s, got -0.002", id="negative-dt"),
    pytest.param(lambda g: g.assign_attrs(f0=0.0), ValueError,
                 r"attrs\['f0'\] must be a positive frequency in Hz, got 0.0", id="zero-f0"),
    pytest.param(lambda g: g.assign_attrs(wavelet=np.ones(3)), ValueError,
                 r"attrs\['wavelet'\] must be the source wavelet on the time axis: \d+ finite "
                 r"samples, got shape \(3,\)", id="wavelet-off-the-time-axis"),
    pytest.param(lambda g: g.where(g.time != g.time[3]), ValueError,
                 r"NaN or Inf values \(first at shot 0, time index 3, receiver 0\)", id="nan"),
    pytest.param(lambda g: g.assign_coords(receiver_x=g.receiver_x * np.nan), ValueError,
                 "coordinate 'receiver_x' holds .* NaN or Inf", id="nan-receiver-x"),
    pytest.param(lambda g: g.assign_coords(source_x=("time", g.time.values)), ValueError,
                 r"coordinate 'source_x' must have dims \('shot',\), got \('time',\)",
                 id="source-x-along-time"),
]


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


def rotated_ricker(t: np.ndarray, degrees: float, f0: float = 15.0,
                   t0: float = 0.1) -> np.ndarray:
    """A Ricker of ``f0`` (Hz) peaked at ``t0`` (s) on times ``t`` (s), its phase rotated by
    ``degrees``: a non-Ricker source for the wavelet-estimation tests (scipy's analytic
    signal, padded so that its circular wrap stays off the trace)."""
    import scipy.signal

    from devito_crfwi.physics import ricker

    w = ricker(f0, t, t0=t0)
    analytic = scipy.signal.hilbert(w, 8 * len(w))[: len(w)]
    return np.real(np.exp(-1j * np.deg2rad(degrees)) * analytic)


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


def run_notebook(path: Path, tmp_path: Path, monkeypatch, timeout: int = 600, *,
                 stored_outputs: bool = False):
    """Execute a notebook stored without outputs; fail on any error cell.

    With ``stored_outputs`` the notebook must instead be stored executed (its outputs are the
    documented full-size run); they are dropped before this run.

    Returns ``(outputs, text, n_images)``: every code cell's outputs, their stream text joined,
    and the number of PNG images.
    """
    import warnings

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if stored_outputs:
        assert code and all(c.execution_count for c in code), f"{path.name} must be stored executed"
        for cell in code:
            cell.outputs, cell.execution_count = [], None
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


def resume_problem(vp: xr.DataArray, observed):
    """The problem of the resume tests on :func:`crosswell`: mini-batches and a frequency
    schedule, so that the RNG state, the stage and Adam's moments all survive a restart."""
    from devito_crfwi import CRFWIProblem, smooth

    return CRFWIProblem(
        observed, crosswell(), smooth(vp, 80.0), "pixel", shots_per_iteration=2,
        frequency_schedule=[(12.0, 3), (None, 5)], seed=3,
    )


def dot_test(prop, vp: np.ndarray, seed: int = 1) -> tuple[float, float]:
    """Both sides of <J dvp, dd> = <dvp, Jᵀ dd> for white dvp (m/s) and white dd (in
    ``prop``'s precision) on ``prop``'s shots.

    Also checks the shapes: Born data (shot, time, receiver), Jᵀ dd like ``vp``.
    """
    survey = prop.survey
    rng = np.random.default_rng(seed)
    dvp = rng.standard_normal(vp.shape) * 20.0
    dd = rng.standard_normal((survey.n_shots, survey.nt, survey.n_receivers)).astype(prop.dtype)
    j_dvp = prop.born(vp, dvp)
    assert j_dvp.shape == dd.shape
    _, tapes = prop.record(vp)
    jt_dd = prop.jacobian_adjoint(vp, tapes, dd)
    assert jt_dd.shape == vp.shape
    return float(np.sum(j_dvp.astype(np.float64) * dd)), float(np.sum(dvp * jt_dd))
