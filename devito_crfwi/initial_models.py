"""Initial models for FWI: smoothed, linear-gradient and constant models, and the water mask.

Every helper takes a velocity model ``vp`` as an ``xr.DataArray`` with dims ("x", "z") or
("x", "y", "z") (depth increasing along z, always the last dim), coords in m and values in m/s
(checked with :func:`~devito_crfwi.io.schema.check_model`), and returns a new DataArray on the
same grid with ``vp``'s coords and attrs (``vp`` is never modified). One code path serves both:
per-column operations run along the last (depth) axis. numpy, scipy and xarray only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter

from .io.schema import check_model

# Cells within this many m/s of the water velocity count as water in :func:`water_mask`.
WATER_TOLERANCE = 5.0


def _like(vp: xr.DataArray, values: np.ndarray) -> xr.DataArray:
    """A new DataArray with ``vp``'s dims, coords, attrs and name, holding ``values``."""
    return xr.DataArray(
        np.asarray(values, dtype=vp.dtype if vp.dtype.kind == "f" else np.float32),
        dims=vp.dims,
        coords=vp.coords,
        attrs=dict(vp.attrs),
        name=vp.name,
    )


def smooth(vp: xr.DataArray, sigma: float | Sequence[float] = 300.0, *,
           keep=None) -> xr.DataArray:
    """Gaussian-smoothed copy of a velocity model.

    Parameters
    ----------
    vp : xr.DataArray (x, z) or (x, y, z), m/s
        The model; coords in m.
    sigma : float or sequence of float, m
        Standard deviation of the Gaussian: one value for every axis, or one per axis
        (``(sigma_x, sigma_z)``, or ``(sigma_x, sigma_y, sigma_z)`` in 3-D); converted to
        cells with each axis' own spacing. 0 leaves an axis unsmoothed.
    keep : array-like of bool, the model's shape, optional
        Cells that keep ``vp``'s value after smoothing, e.g. ``water_mask(vp)`` to keep the
        water layer (and a sharp sea floor) in the initial model.

    Returns
    -------
    xr.DataArray, dims of ``vp``, m/s
        Same coords and attrs as ``vp``. Edges are extended by their nearest value.
    """
    spacing = np.asarray(check_model(vp, where="smooth").spacing)
    sigmas = np.asarray(sigma, dtype=np.float64)
    if (sigmas.ndim > 1 or sigmas.size not in (1, spacing.size)
            or not np.all(np.isfinite(sigmas)) or np.any(sigmas < 0)):
        per_axis = ", ".join(f"sigma_{d}" for d in vp.dims)
        raise ValueError(f"sigma must be >= 0 m (one value or ({per_axis})), got {sigma!r}")
    values = np.asarray(vp, dtype=np.float64)
    out = gaussian_filter(values, sigma=tuple(sigmas * np.ones(spacing.size) / spacing),
                          mode="nearest")
    if keep is not None:
        mask = np.asarray(keep, dtype=bool)
        if mask.shape != values.shape:
            raise ValueError(f"keep must have the model's shape {values.shape}, got {mask.shape}")
        out = np.where(mask, values, out)
    return _like(vp, out)


def constant(vp: xr.DataArray, value: float) -> xr.DataArray:
    """A homogeneous model of ``value`` (m/s) on ``vp``'s grid."""
    check_model(vp, where="constant")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"value must be a positive velocity in m/s, got {value!r}")
    return _like(vp, np.full(vp.shape, value))


def water_mask(vp: xr.DataArray, velocity: float = 1500.0, tol: float = WATER_TOLERANCE
               ) -> xr.DataArray:
    """Cells of the top water layer: per column, the unbroken run from the top within ``tol``.

    Parameters
    ----------
    vp : xr.DataArray (x, z) or (x, y, z), m/s
        The model.
    velocity : float, m/s
        Velocity of the water.
    tol : float, m/s
        Largest difference from ``velocity`` that counts as water.

    Returns
    -------
    xr.DataArray of bool, dims of ``vp``
        True from the top of each column (each x, or each (x, y) in 3-D) down to
        (excluding) the first cell that is not water; False everywhere in a column whose top
        cell is not water. Pass it as ``water_mask=`` to :class:`~devito_crfwi.CRFWIProblem`
        to hold the water fixed.
    """
    check_model(vp, where="water_mask")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0 m/s, got {tol!r}")
    water = np.abs(np.asarray(vp, dtype=np.float64) - float(velocity)) <= tol
    mask = np.logical_and.accumulate(water, axis=-1)  # unbroken from the top (z is last) down
    return xr.DataArray(
        mask, dims=vp.dims, coords=vp.coords, attrs={"description": "water layer"},
        name="water_mask",
    )


def linear_gradient(vp: xr.DataArray, v_top: float, v_bottom: float, *,
                    water_velocity: float | None = None,
                    water_depth: float | None = None) -> xr.DataArray:
    """A model whose velocity grows linearly with depth, optionally under a water layer.

    Parameters
    ----------
    vp : xr.DataArray (x, z) or (x, y, z), m/s
        The model whose grid (and water layer, see below) is used.
    v_top, v_bottom : float, m/s
        Velocity at the top of the gradient and at the deepest cell.
    water_velocity : float, m/s, optional
        Velocity of a water layer on top. With ``water_depth`` unset, the layer is detected in
        ``vp`` column by column (:func:`water_mask` with this velocity), so the gradient starts
        at each column's sea floor (per x, or per (x, y) in 3-D) and reaches ``v_bottom`` at
        the deepest cell.
    water_depth : float, m, optional
        Thickness of a flat water layer below the model top (1500 m/s unless
        ``water_velocity`` is given); the gradient starts at this depth.

    Returns
    -------
    xr.DataArray, dims of ``vp``, m/s
        Same coords and attrs as ``vp``.
    """
    z = check_model(vp, where="linear_gradient").z
    for name, value in (("v_top", v_top), ("v_bottom", v_bottom)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive velocity in m/s, got {value!r}")
    if water_depth is not None:
        if not 0 <= water_depth <= z[-1] - z[0]:
            raise ValueError(
                f"water_depth must be in [0, {z[-1] - z[0]:g}] m (the model's depth range), "
                f"got {water_depth!r}"
            )
        water_velocity = 1500.0 if water_velocity is None else water_velocity
        mask = np.broadcast_to(z < z[0] + water_depth - 1e-9 * (z[1] - z[0]), vp.shape)
    elif water_velocity is not None:
        mask = np.asarray(water_mask(vp, water_velocity))
    else:
        mask = np.zeros(vp.shape, dtype=bool)
    # Depth of the gradient's top per column (z is the last axis): the first non-water cell.
    first = np.where(mask.all(axis=-1), len(z) - 1, np.argmin(mask, axis=-1))  # (x[, y])
    z_top = z[first][..., None]  # (x[, y], 1)
    span = np.maximum(z[-1] - z_top, 1e-12)
    fraction = np.clip((z - z_top) / span, 0.0, 1.0)  # the model's shape
    values = v_top + (v_bottom - v_top) * fraction
    if water_velocity is not None:
        values = np.where(mask, float(water_velocity), values)
    return _like(vp, values)
