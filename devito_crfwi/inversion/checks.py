"""Checks of :class:`~devito_crfwi.CRFWIProblem`'s data and models: one validator per
argument, each naming the argument, what it expects and what it got (its other options are
resolved in :mod:`.settings`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..io.schema import (
    SHOT_DIMS,
    check_finite,
    check_same_grid,
    check_shots,
    locate_sample,
    wavelet_difference,
)
from ..physics import Survey

_POSITION_TOL = 1e-3  # m: SEG-Y stores coordinates to 0.1 mm


def check_observed(observed, survey: Survey) -> np.ndarray:
    """Observed gathers as float32 (shot, time, receiver), checked against the survey.

    A DataArray (its dims in any order) is checked with
    :func:`~devito_crfwi.io.schema.check_shots` (the coords it has); a numpy array is taken
    to be (shot, time, receiver) on the survey's axes.
    """
    dt = None
    if isinstance(observed, xr.DataArray):
        if set(observed.dims) == set(SHOT_DIMS):
            observed = observed.transpose(*SHOT_DIMS)
        dt = check_shots(observed, "observed", where="CRFWIProblem", complete=False)
    elif not isinstance(observed, np.ndarray):
        raise TypeError(
            "observed must be an xarray.DataArray (shot, time, receiver), e.g. from simulate "
            f"or read_shots, or a numpy array, got {type(observed).__name__}"
        )
    values = np.asarray(observed, dtype=np.float32)
    expected = (survey.n_shots, survey.nt, survey.n_receivers)
    if values.ndim != 3:
        raise ValueError(
            f"observed must be 3-D (shot, time, receiver) = {expected}, got shape {values.shape}"
        )
    problems = [
        f"{name}: observed {got}, survey {want}"
        for name, got, want in zip(("shots", "time samples", "receivers"), values.shape, expected,
                                   strict=True)
        if got != want
    ]
    if dt is not None and not math.isclose(dt, survey.dt, rel_tol=1e-6):
        problems.append(f"dt: observed {dt:g} s, survey {survey.dt:g} s")
    if isinstance(observed, xr.DataArray) and not problems:
        problems += _position_mismatches(observed, survey) + _wavelet_mismatch(observed, survey)
    if problems:
        raise ValueError(
            "observed data do not match the survey (" + "; ".join(problems) + "); build the "
            "survey that recorded them (same shots, receivers, t_max, dt and wavelet)"
        )
    if not isinstance(observed, xr.DataArray):  # check_shots has checked a DataArray's
        check_finite(values, "observed", where="CRFWIProblem", locate=locate_sample)
    if not np.any(values):
        raise ValueError("observed data are all zero: nothing to fit (the relative misfits "
                         "divide by the data's energy); check the file or the modelling")
    return values


def _position_mismatches(observed: xr.DataArray, survey: Survey) -> list[str]:
    found = []
    axes = "xz" if survey.ndim == 2 else "xyz"
    checks = [(f"source_{d}", survey.source_positions[:, i]) for i, d in enumerate(axes)]
    checks += [(f"receiver_{d}", survey.receiver_positions[..., i]) for i, d in enumerate(axes)]
    for name, want in checks:
        if name not in observed.coords:
            continue
        got = np.asarray(observed[name], dtype=np.float64)
        if got.ndim == 1 and want.ndim == 2:  # a fixed spread, stored once
            want = want[0] if survey.fixed_spread else want
        if got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=_POSITION_TOL):
            found.append(f"{name} differs (largest difference "
                         f"{_largest_difference(got, want)} m)")
    return found


def _wavelet_mismatch(observed: xr.DataArray, survey: Survey) -> list[str]:
    """The source the gathers record (``attrs["wavelet"]``, checked by ``check_shots``)
    against the survey's: fitting them with another would fit the wrong source."""
    recorded = observed.attrs.get("wavelet")
    if recorded is None:
        return []
    if survey.wavelet is None:
        return ["wavelet: observed records a user wavelet (attrs['wavelet']), the survey "
                "models a Ricker of f0 (Survey.from_shots(observed) takes the recorded one)"]
    gap = wavelet_difference(recorded, survey.wavelet)
    if gap is not None:
        return [f"wavelet: the survey's differs from the one observed records "
                f"(attrs['wavelet'], largest difference {gap:.3g})"]
    return []


def _largest_difference(a: np.ndarray, b: np.ndarray) -> str:
    try:
        return f"{float(np.max(np.abs(a - b))):g}"
    except ValueError:
        return "n/a: shapes differ"


def check_water_mask(water_mask, initial: xr.DataArray) -> np.ndarray | None:
    """The cells (bool, the initial model's shape) held at ``initial``; None: no mask.

    ``True`` detects the water layer (1500 m/s) with
    :func:`~devito_crfwi.initial_models.water_mask`. A DataArray must lie on ``initial``'s
    grid (dims and coords, :func:`~devito_crfwi.io.schema.check_same_grid`); a plain array
    must have its exact shape.
    """
    if water_mask is None or water_mask is False:
        return None
    if water_mask is True:
        from ..initial_models import water_mask as detect

        return np.asarray(detect(initial))
    return check_same_grid(water_mask, initial, "water_mask", model_name="initial",
                           where="CRFWIProblem").astype(bool)


def jsonable(value: Any) -> Any:
    """``value`` reduced to JSON types (for attrs and checkpoint fingerprints)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, torch.dtype):
        return str(value)
    return repr(value)
