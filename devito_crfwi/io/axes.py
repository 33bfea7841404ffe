"""Regular coordinate axes: origin + spacing * arange(n), recovered exactly when possible."""

from __future__ import annotations

import numpy as np

__all__ = ["axis_values", "regular_axis", "rounding_rtol"]

_RTOL = 1e-6
# Steps deviate by up to this many ulps of the largest coordinate from rounding alone: each
# value is within half an ulp (<= eps |v| / 2) of the exact grid, so a difference of two is
# within eps max|v|; twice that spares the mean step's own rounding.
_ROUNDING_ULPS = 2.0


def rounding_rtol(values: np.ndarray) -> float:
    """How far, relative to its largest magnitude, rounding to ``values``' dtype may move a
    difference of two of them (0 for integers): ``_ROUNDING_ULPS`` eps."""
    dtype = np.asarray(values).dtype
    return _ROUNDING_ULPS * float(np.finfo(dtype).eps) if dtype.kind == "f" else 0.0


def axis_values(origin: float, step: float, n: int) -> np.ndarray:
    """The axis ``origin + step * arange(n)``, float64, shape (n,).

    Readers build every axis this way, so an axis made the same way by the caller
    round-trips bit for bit.
    """
    return origin + step * np.arange(n, dtype=np.float64)


def regular_axis(values: np.ndarray, name: str) -> tuple[float, float]:
    """Origin and spacing of a regular, increasing axis.

    The spacing is chosen among ``values[1] - values[0]``, the mean step, and their
    shortest decimal forms (12 and 15 significant digits), preferring one that
    rebuilds ``values`` exactly with :func:`axis_values`.

    Parameters
    ----------
    values : numpy.ndarray, shape (n,), n >= 2
        Coordinates (any unit).
    name : str
        Axis name for messages.

    Returns
    -------
    origin : float
    step : float
        Positive spacing.

    Raises
    ------
    ValueError
        Fewer than two points, non-finite, non-increasing or irregular values: a step
        deviating from the mean step by more than 1e-6 of it plus what rounding to the
        values' dtype explains (2 eps max|values|: float32 axes are regular to ~1e-7 of
        their largest value, not of their step).
    """
    rtol = rounding_rtol(values)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(
            f"coordinate {name!r} needs at least 2 points to define a spacing, got shape "
            f"{values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"coordinate {name!r} holds NaN or Inf")
    steps = np.diff(values)
    if np.any(steps <= 0):
        raise ValueError(
            f"coordinate {name!r} must increase strictly, got a step of {steps.min():g}"
        )
    origin = float(values[0])
    mean_step = float((values[-1] - values[0]) / (values.size - 1))
    rounding = rtol * float(np.max(np.abs(values)))
    if np.max(np.abs(steps - mean_step)) > _RTOL * mean_step + rounding:
        raise ValueError(
            f"coordinate {name!r} is not regularly spaced: steps range from {steps.min():g} to "
            f"{steps.max():g}; a regular grid is needed"
        )
    first_step = float(steps[0])
    candidates = [first_step, mean_step]
    candidates += [float(f"{c:.12g}") for c in candidates] + [
        float(f"{c:.15g}") for c in candidates
    ]
    for step in candidates:
        if np.array_equal(axis_values(origin, step, values.size), values):
            return origin, step
    return origin, mean_step
