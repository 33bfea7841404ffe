"""Quality of an estimated velocity model against the true one: MSE, RMSE, PSNR, SSIM.

Inputs are numpy arrays or xarray DataArrays of velocity in m/s, dims (x, z) or (x, y, z); every
metric covers all cells (SSIM with cubic 7 x 7 x 7 windows in 3-D). MSE and RMSE are reported in
(m/s)² and m/s, or in (km/s)² and km/s with ``units="km/s"`` as in the CR-FWI paper
(arXiv 2603.22362). PSNR and SSIM are unit-free; both use the true model's range
``max(true) - min(true)`` as the data range. Two DataArrays must lie on one grid (same dims,
coords equal to 1e-4 of the spacing): a ValueError names the first differing coordinate.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from .io.schema import check_same_grid

Units = Literal["m/s", "km/s"]
_SCALE = {"m/s": 1.0, "km/s": 1e-3}


def _pair(estimate: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    """Float64 copies of two models of one shape; two DataArrays must share one grid.

    The estimate is transposed to the true model's dims, then its coords must match
    (:func:`~devito_crfwi.io.schema.check_same_grid`): equal values on shifted cells are
    not a perfect estimate.
    """
    if all(hasattr(model, "dims") and hasattr(model, "coords") for model in (estimate, true)):
        if estimate.dims != true.dims and set(estimate.dims) == set(true.dims):
            estimate = estimate.transpose(*true.dims)
        check_same_grid(estimate, true, "estimate", model_name="true")
    est = np.array(estimate, dtype=np.float64)
    ref = np.array(true, dtype=np.float64)
    if est.shape != ref.shape:
        raise ValueError(
            f"estimate and true must have the same shape, got {est.shape} and {ref.shape}"
        )
    return est, ref


def _data_range(true: np.ndarray) -> float:
    data_range = float(true.max() - true.min())
    if not data_range > 0:
        raise ValueError(
            "PSNR and SSIM need a non-constant true model (max - min > 0), "
            f"got max - min = {data_range}"
        )
    return data_range


def mse(estimate: Any, true: Any, *, units: Units = "m/s") -> float:
    """Mean squared error.

    Parameters
    ----------
    estimate, true : numpy.ndarray or xarray.DataArray, shape (nx, nz) or (nx, ny, nz), m/s
        Estimated and true velocity.
    units : {"m/s", "km/s"}
        Velocity unit of the result.

    Returns
    -------
    float, (m/s)² or (km/s)²
        ``mean((estimate - true)**2)``.
    """
    if units not in _SCALE:
        raise ValueError(f"units must be one of {sorted(_SCALE)}, got {units!r}")
    est, ref = _pair(estimate, true)
    return float(np.mean((est - ref) ** 2)) * _SCALE[units] ** 2


def rmse(estimate: Any, true: Any, *, units: Units = "m/s") -> float:
    """Root mean squared error, in m/s or km/s (see :func:`mse`)."""
    return math.sqrt(mse(estimate, true, units=units))


def psnr(estimate: Any, true: Any) -> float:
    """Peak signal-to-noise ratio.

    Parameters
    ----------
    estimate, true : numpy.ndarray or xarray.DataArray, shape (nx, nz) or (nx, ny, nz), m/s
        Estimated and true velocity; ``true`` must not be constant.

    Returns
    -------
    float, dB
        ``10 log10(R² / MSE)`` with ``R = max(true) - min(true)``; ``inf`` for a perfect match.
    """
    est, ref = _pair(estimate, true)
    data_range = _data_range(ref)
    error = float(np.mean((est - ref) ** 2))
    return math.inf if error == 0 else 10.0 * math.log10(data_range**2 / error)


def ssim(estimate: Any, true: Any) -> float:
    """Structural similarity (:func:`skimage.metrics.structural_similarity`, 7-cell windows).

    Parameters
    ----------
    estimate, true : numpy.ndarray or xarray.DataArray, shape (nx, nz) or (nx, ny, nz), m/s
        Estimated and true velocity, at least 7 cells along every axis; ``true`` must not be
        constant.

    Returns
    -------
    float, dimensionless, at most 1
        Mean SSIM over the uniform windows of 7 cells per axis (7 x 7 in 2-D, 7 x 7 x 7 in
        3-D) lying inside the model, with ``data_range = max(true) - min(true)`` and sample
        (co)variances; 1 for identical models.
    """
    est, ref = _pair(estimate, true)
    if min(ref.shape) < 7:  # skimage's message speaks of 7x7 images whatever the dims
        raise ValueError(f"SSIM needs at least 7 cells along every axis, got shape {ref.shape}")
    from skimage.metrics import structural_similarity  # scikit-image loads on first use

    return float(structural_similarity(est, ref, data_range=_data_range(ref)))


def all_metrics(estimate: Any, true: Any, *, units: Units = "m/s") -> dict[str, float]:
    """All metrics at once.

    Parameters
    ----------
    estimate, true : numpy.ndarray or xarray.DataArray, shape (nx, nz) or (nx, ny, nz), m/s
        Estimated and true velocity.
    units : {"m/s", "km/s"}
        Velocity unit of ``mse`` and ``rmse``.

    Returns
    -------
    dict
        ``{"mse": (m/s)² or (km/s)², "rmse": m/s or km/s, "psnr": dB, "ssim": 1}``.
    """
    return {
        "mse": mse(estimate, true, units=units),
        "rmse": rmse(estimate, true, units=units),
        "psnr": psnr(estimate, true),
        "ssim": ssim(estimate, true),
    }
