"""What a scenario does to a benchmark cell: the true model, its initial model, noise, and the
high-pass misfit of the "no low frequencies" scenario."""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .. import initial_models as _models
from ..inversion.filters import butterworth
from ..inversion.losses import LOSSES

__all__ = ["HighpassLoss", "add_noise", "initial_model", "prepare_model", "survey_of",
           "synthetic_model"]


def synthetic_model(nx: int = 40, nz: int = 20, spacing: float = 50.0) -> xr.DataArray:
    """A small layered model with a water layer and a fast lens: xr.DataArray (x, z), m/s."""
    x = np.arange(nx) * spacing
    z = np.arange(nz) * spacing
    zz = z[None, :] / z[-1] + 0.1 * np.sin(2 * np.pi * x[:, None] / x[-1])
    values = 1800.0 + 1700.0 * np.clip(zz, 0, 1)
    lens = np.exp(-(((x[:, None] - x[nx // 2]) / (0.15 * x[-1])) ** 2
                    + ((z[None, :] - z[nz // 2]) / (0.15 * z[-1])) ** 2))
    values = values + 600.0 * lens
    values[:, : max(2, nz // 10)] = 1500.0
    return xr.DataArray(values.astype(np.float32), dims=("x", "z"),
                        coords={"x": x, "z": z}, attrs={"units": "m/s", "name": "synthetic"})


def prepare_model(name: str, spec: dict, data_dir: str) -> xr.DataArray:
    """The true model of a benchmark: a shared model resampled to ``spacing`` (m), or synthetic."""
    if name == "synthetic":
        nx, nz = spec.get("shape", (40, 20))
        return synthetic_model(int(nx), int(nz), float(spec.get("spacing", 50.0)))
    from ..io import load_model

    vp = load_model(name, data_dir)
    if "crop_x" in spec:
        lo, hi = spec["crop_x"]
        vp = vp.sel(x=slice(float(lo), float(hi)))
    step = float(spec.get("spacing", 40.0))
    if "shape" in spec:  # the whole model resampled to (nx, nz) nodes, relabelled at ``step``
        nx, nz = (int(n) for n in spec["shape"])
        x = np.linspace(float(vp.x[0]), float(vp.x[-1]), nx)
        z = np.linspace(float(vp.z[0]), float(vp.z[-1]), nz)
        out = vp.interp(x=x, z=z, method="linear").astype(np.float32)
        out = out.assign_coords(x=np.arange(nx) * step, z=np.arange(nz) * step)
        out.attrs = dict(vp.attrs) | {"resampled_to_shape": [nx, nz], "relabelled_to_m": step}
        return out
    x = np.arange(float(vp.x[0]), float(vp.x[-1]) + 1e-6, step)
    z = np.arange(float(vp.z[0]), float(vp.z[-1]) + 1e-6, step)
    out = vp.interp(x=x, z=z, method="linear").astype(np.float32)
    out.attrs = dict(vp.attrs) | {"resampled_to_m": step}
    return out


def survey_of(vp: xr.DataArray, spec: dict):
    """The survey of a model table: evenly spread shots, or every ``shot_step_columns``-th
    column from ``first_shot_column``; receivers on ``n_receivers`` columns (default all)."""
    from ..physics import Survey

    n_rec = int(spec.get("n_receivers", vp.sizes["x"]))
    n_shots = int(spec.get("n_shots", 16))
    depths = {key: float(spec[key]) for key in ("source_depth", "receiver_depth") if key in spec}
    survey = Survey.surface(vp, n_shots=n_shots, n_receivers=n_rec, f0=float(spec.get("f0", 4.0)),
                            t_max=float(spec.get("t_max", 3.0)), dt=spec.get("dt"), **depths)
    if "first_shot_column" not in spec:
        return survey
    columns = int(spec["first_shot_column"]) + int(spec.get("shot_step_columns", 1)) * np.arange(
        n_shots)
    if columns[-1] >= vp.sizes["x"] or columns[0] < 0:
        raise ValueError(f"shot columns {columns[0]}..{columns[-1]} are outside the model's "
                         f"{vp.sizes['x']} columns")
    sources = survey.source_positions.copy()
    sources[:, 0] = np.asarray(vp["x"])[columns]
    return Survey(sources, survey.receiver_positions, survey.f0, survey.t_max, survey.dt)


class HighpassLoss:
    """A misfit (``base``, a name in LOSSES) of high-passed modelled data against (already
    high-passed) observed data."""

    def __init__(self, cutoff: float, dt: float, base: str = "l2") -> None:
        self.cutoff, self.dt, self.base = float(cutoff), float(dt), base
        self.__name__ = f"{base}_highpass_{self.cutoff:g}Hz"

    def __call__(self, pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return LOSSES[self.base](butterworth(pred, self.cutoff, self.dt, kind="highpass"), obs)


def add_noise(data: np.ndarray, snr_db: float | None = None, seed: int = 0, *,
              sigma: float | None = None) -> np.ndarray:
    """White Gaussian noise at ``snr_db`` (power of all data over power of the noise), or of
    standard deviation ``sigma`` times the clean data's (the paper's "8 sigma0")."""
    if (snr_db is None) == (sigma is None):
        raise ValueError("give exactly one of snr_db and sigma")
    rng = np.random.default_rng(seed)
    clean = np.asarray(data, dtype=np.float64)
    if sigma is None:
        std = np.sqrt(float(np.mean(clean**2)) / 10 ** (snr_db / 10))
    else:
        std = float(sigma) * float(clean.std())
    return (data + std * rng.standard_normal(data.shape)).astype(data.dtype)


def initial_model(vp: xr.DataArray, scenario: dict, spec: dict) -> xr.DataArray:
    """The scenario's initial model; the water layer of ``vp`` is kept in every case."""
    water = np.asarray(_models.water_mask(vp))
    kind = scenario.get("initial", "smooth")
    if kind == "smooth":
        return _models.smooth(vp, float(scenario.get("sigma", 300.0)), keep=water)
    if kind == "constant":
        value = float(spec.get("constant", 2500.0))
        out = _models.constant(vp, value)
        return out.copy(data=np.where(water, np.asarray(vp), value).astype(np.float32))
    v_top, v_bottom = spec.get("linear", (1800.0, 4000.0))
    if water.any():
        return _models.linear_gradient(vp, v_top, v_bottom, water_velocity=1500.0)
    return _models.linear_gradient(vp, v_top, v_bottom)
