"""Observed gathers checked against the survey that recorded them (no torch here).

Entry points that fit observed data with modelled data (``CRFWIProblem``,
``estimate_wavelet``) take gathers that must match their survey sample for sample:
:func:`check_gathers` is their one check, naming the entry point in each message.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ..io.schema import SHOT_DIMS, check_gather_values, check_shots, wavelet_difference
from .survey import Survey

_POSITION_TOL = 1e-3  # m: SEG-Y stores coordinates to 0.1 mm


def check_gathers(observed, survey: Survey, *, where: str, wavelet: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """Observed gathers as float32 (shot, time, receiver), checked against the survey, with
    missing traces (all NaN, :mod:`~devito_crfwi.io.traces`) set to zero; and the recorded
    traces, bool (shot, receiver), or None when none is missing.

    A DataArray (its dims in any order) is checked with
    :func:`~devito_crfwi.io.schema.check_shots` (the coords it has); a numpy array is taken
    to be (shot, time, receiver) on the survey's axes. A trace recorded where the survey
    has no receiver is refused; one missing where it has one is for the caller to leave
    out of its fit. ``where`` names the public entry point in the messages. ``wavelet``:
    also check the source the gathers record (``attrs["wavelet"]``) against the survey's;
    False where the caller estimates the wavelet instead of modelling the survey's.

    Raises
    ------
    TypeError
        ``observed`` is neither a DataArray nor a numpy array.
    ValueError
        Gathers that do not match the survey (shots, samples, receivers, dt, positions,
        wavelet, a trace recorded where the survey has no receiver), hold NaN (but as whole
        missing traces) or Inf, or are all zero.
    """
    dt = None
    if isinstance(observed, xr.DataArray):
        if set(observed.dims) == set(SHOT_DIMS):
            observed = observed.transpose(*SHOT_DIMS)
        dt = check_shots(observed, "observed", where=where, complete=False)
    elif not isinstance(observed, np.ndarray):
        raise TypeError(
            f"{where}: observed must be an xarray.DataArray (shot, time, receiver), e.g. from "
            f"simulate or read_shots, or a numpy array, got {type(observed).__name__}"
        )
    values = np.asarray(observed, dtype=np.float32)
    expected = (survey.n_shots, survey.nt, survey.n_receivers)
    if values.ndim != 3:
        raise ValueError(f"{where}: observed must be 3-D (shot, time, receiver) = {expected}, "
                         f"got shape {values.shape}")
    problems = [
        f"{name}: observed {got}, survey {want}"
        for name, got, want in zip(("shots", "time samples", "receivers"), values.shape, expected,
                                   strict=True)
        if got != want
    ]
    if dt is not None and not math.isclose(dt, survey.dt, rel_tol=1e-6):
        problems.append(f"dt: observed {dt:g} s, survey {survey.dt:g} s")
    missing = check_gather_values(values, "observed", where=where)
    unmodelled = np.argwhere(~missing & ~survey.live_receivers) if not problems else []
    if len(unmodelled):
        problems.append(f"{len(unmodelled)} trace(s) recorded where the survey has no receiver "
                        f"(first: shot {unmodelled[0][0]}, receiver {unmodelled[0][1]})")
    if isinstance(observed, xr.DataArray) and not problems:
        problems += _position_mismatches(observed, survey)
        if wavelet:
            problems += _wavelet_mismatch(observed, survey)
    if problems:
        raise ValueError(
            f"{where}: observed data do not match the survey (" + "; ".join(problems) + "); "
            "build the survey that recorded them (same shots, receivers, t_max, dt and wavelet)"
        )
    if missing.any():
        values = np.where(missing[:, None, :], np.float32(0), values)
    if not np.any(values):
        raise ValueError(f"{where}: observed data are all zero: nothing to fit; check the file "
                         "or the modelling")
    return values, (~missing if missing.any() else None)


def _position_mismatches(observed: xr.DataArray, survey: Survey) -> list[str]:
    found = []
    axes = "xz" if survey.ndim == 2 else "xyz"
    checks = [(f"source_{d}", survey.source_positions[:, i]) for i, d in enumerate(axes)]
    checks += [(f"receiver_{d}", survey.receiver_positions[..., i]) for i, d in enumerate(axes)]
    for name, want in checks:
        if name not in observed.coords:
            continue
        got = np.asarray(observed[name], dtype=np.float64)
        if got.ndim == 1 and want.ndim == 2 and got.shape == want.shape[1:]:
            got = np.broadcast_to(got, want.shape)  # a fixed spread, stored once
        if got.shape != want.shape:
            found.append(f"{name} differs (shapes {got.shape} and {want.shape})")
            continue
        # Missing receivers (NaN) are not compared: the traces have been matched above.
        both = ~np.isnan(got) & ~np.isnan(want)
        if not np.allclose(got[both], want[both], rtol=0, atol=_POSITION_TOL):
            largest = float(np.max(np.abs(got[both] - want[both])))
            found.append(f"{name} differs (largest difference {largest:g} m)")
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
