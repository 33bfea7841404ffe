"""The model grid: physical extent, absorbing padding and the CFL limit.

A :class:`ModelGrid` is a frozen value: it keys the operator cache, so two equal grids
share compiled operators. Arrays on it are ``(x, z)`` in 2-D or ``(x, y, z)`` in 3-D, depth
always last and increasing along z; every method serves both from one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy

from ..io.schema import check_model, check_velocities
from ..io.warn import warn
from .wavelet import RICKER_RESOLVED_FACTOR

# Fraction of the CFL limit used when the time step is chosen automatically. Measured
# (float32, constant 4500 m/s at 5 m, free surface, 20-cell absorbing layer, 6 s = ~10^4
# steps, space orders 2, 8 and 16; and 1500-4500 m/s linear in depth): stable up to 1.0 of
# the limit, NaN at 1.005; at 1.0 the late-time amplitude is ~2x that at 0.99 (a marginal mode).
# 0.95 keeps 5% below that sharp edge (tests/physics/test_time_axes.py runs it).
CFL_MARGIN = 0.95
# Explicit steps below this fraction of the CFL limit are refused: they buy no accuracy
# that the resampled recording needs, only run time and memory.
MIN_DT_FRACTION = 0.1
MIN_POINTS_PER_WAVELENGTH = 5.0
# Above this many points per minimum wavelength the spacing is implausible for the
# velocities: a grid past ~20 is already fine enough for 8th-order stencils, and one at 1000
# would cost (1000 / 5)^3 = 8e6 times the run time of a 5-point grid in 2-D (cells x steps).
# Coordinates in km with velocities in m/s multiply the count by 1000, so any grid sensible
# in metres (>= 5) lands at >= 5000: the threshold has a factor 5 to spare both ways.
MAX_POINTS_PER_WAVELENGTH = 1000.0


@cache
def _laplacian_symbol_max(space_order: int) -> float:
    """max |symbol| of the centred 2nd-derivative stencil of ``space_order`` (times h²), per
    axis: the laplacian's bound is the sum over the ``ndim`` axes of this over h²."""
    half = space_order // 2
    weights = sympy.finite_diff_weights(2, list(range(-half, half + 1)), 0)[2][-1]
    # At the Nyquist wavenumber the stencil's symbol is sum_k w_k (-1)^k.
    return float(abs(sum(w * (-1) ** (k - half) for k, w in enumerate(weights))))


@dataclass(frozen=True)
class ModelGrid:
    """Geometry of a 2-D or 3-D model and its absorbing padding.

    Parameters
    ----------
    shape : (nx, nz) or (nx, ny, nz)
        Cells of the physical model (depth last).
    spacing : (dx, dz) or (dx, dy, dz), m
    origin : (x0, z0) or (x0, y0, z0), m
        Coordinates of the first cell; default all zero.
    nbl : int
        Width of the absorbing C-PML, in cells, on each padded side (every side of every
        axis, but the top under a free surface); see :mod:`.boundary`.
    free_surface : bool
        If True the top is not padded and the pressure vanishes on the model's top row
        (``z = z0``): the image-source solution (see :mod:`.boundary`).
    """

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...] | None = None
    nbl: int = 20
    free_surface: bool = False

    def __post_init__(self) -> None:
        if len(self.shape) not in (2, 3) or min(self.shape) < 2:
            raise ValueError("model shape must be (nx, nz) or (nx, ny, nz), each >= 2, got "
                             f"{self.shape}")
        if len(self.spacing) != self.ndim or min(self.spacing) <= 0:
            raise ValueError(f"spacing must be {self.ndim} positive metres (one per axis of "
                             f"shape {self.shape}), got {self.spacing}")
        if self.origin is None:
            object.__setattr__(self, "origin", (0.0,) * self.ndim)
        if len(self.origin) != self.ndim:
            raise ValueError(f"origin must have {self.ndim} coordinates (m), got {self.origin}")
        if self.nbl < 0:
            raise ValueError(f"boundary width must be >= 0 cells, got {self.nbl}")

    @classmethod
    def from_dataarray(cls, vp, *, nbl: int, free_surface: bool = False) -> ModelGrid:
        """The grid of a velocity model ``xr.DataArray`` (x, z) or (x, y, z), coords in m
        (checked with :func:`~devito_crfwi.io.schema.check_model`)."""
        model = check_model(vp, where="ModelGrid.from_dataarray")
        return cls(shape=model.shape, spacing=model.spacing, origin=model.origin,
                   nbl=int(nbl), free_surface=free_surface)

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return len(self.shape)

    # -- padding ----------------------------------------------------------------------
    @property
    def pad_widths(self) -> tuple[tuple[int, int], ...]:
        """Cells added (lo, hi) per axis, depth last; no top padding under a free surface."""
        top = 0 if self.free_surface else self.nbl
        return ((self.nbl, self.nbl),) * (self.ndim - 1) + ((top, self.nbl),)

    @property
    def padded_shape(self) -> tuple[int, ...]:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.shape, self.pad_widths, strict=True))

    @property
    def padded_origin(self) -> tuple[float, ...]:
        return tuple(o - lo * h for o, (lo, _), h in zip(self.origin, self.pad_widths,
                                                         self.spacing, strict=True))

    @property
    def extent(self) -> tuple[tuple[float, float], ...]:
        """((x0, x1), [(y0, y1),] (z0, z1)) of the physical model, m (cell centres)."""
        return tuple(
            (o, o + (n - 1) * h)
            for o, n, h in zip(self.origin, self.shape, self.spacing, strict=True)
        )

    def pad(self, field: np.ndarray) -> np.ndarray:
        """Extend a model-shaped field into the absorbing strips by repeating its edges."""
        return np.pad(field, self.pad_widths, mode="edge")

    def pad_adjoint(self, padded: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`pad`: fold the strips' values back onto the edge cells."""
        result = padded
        for axis, (lo, hi) in enumerate(self.pad_widths):
            n = result.shape[axis]
            inner = np.take(result, np.arange(lo, n - hi), axis=axis)  # a copy
            first = [slice(None)] * self.ndim
            last = list(first)
            first[axis], last[axis] = 0, -1
            inner[tuple(first)] += np.take(result, np.arange(lo), axis=axis).sum(axis=axis)
            inner[tuple(last)] += np.take(result, np.arange(n - hi, n), axis=axis).sum(axis=axis)
            result = inner
        return result

    def crop(self, padded: np.ndarray) -> np.ndarray:
        """The physical part of a padded model-shaped field (a view)."""
        return padded[tuple(slice(lo, n - hi) for n, (lo, hi) in zip(padded.shape,
                                                                     self.pad_widths,
                                                                     strict=True))]

    # -- stability and dispersion -----------------------------------------------------
    def max_stable_dt(self, vmax: float, space_order: int) -> float:
        """CFL limit of the leapfrog scheme for velocity ``vmax`` (m/s), s.

        ``2 / (vmax sqrt(sum_axes S / h²))`` with ``S`` the per-axis stencil bound: the
        laplacian's symbol bound grows with the number of axes, so 3-D steps are shorter.
        """
        symbol = _laplacian_symbol_max(space_order)
        lam = sum(symbol / h**2 for h in self.spacing)
        return 2.0 / (vmax * np.sqrt(lam))

    def check_dispersion(self, vmin: float, f0: float) -> float:
        """Warn if the grid has fewer than ~5 points per minimum wavelength (at the Ricker's
        resolved band, 2.5 ``f0``, see :mod:`.wavelet`), or implausibly many (above
        ``MAX_POINTS_PER_WAVELENGTH``: likely coordinates in km with velocities in m/s);
        return that count."""
        fmax = RICKER_RESOLVED_FACTOR * f0
        ppw = vmin / (fmax * max(self.spacing))
        if ppw > MAX_POINTS_PER_WAVELENGTH:
            warn(
                f"{ppw:.0f} grid points per minimum wavelength (vmin = {vmin:.0f} m/s, fmax ~ "
                f"{fmax:.1f} Hz, spacing {max(self.spacing):g} m): the spacing is implausibly "
                "small for the velocities. Are the coordinates in km? Give them in m (e.g. "
                "vp.assign_coords(x=vp.x * 1000, z=vp.z * 1000)); velocities are m/s."
            )
        if ppw < MIN_POINTS_PER_WAVELENGTH:
            warn(
                f"only {ppw:.2f} grid points per minimum wavelength (vmin = {vmin:.0f} m/s, "
                f"fmax ~ {fmax:.1f} Hz = {RICKER_RESOLVED_FACTOR} f0, spacing "
                f"{max(self.spacing):g} m); at least {MIN_POINTS_PER_WAVELENGTH:.0f} are "
                "advised: expect numerical dispersion. Refine the grid or lower f0."
            )
        return ppw


# Default C-PML width: BOUNDARY_WAVELENGTHS of the longest dominant wavelength, at least
# MIN_BOUNDARY_CELLS. Measured largest echo / direct peak (bench/bench_boundary.py geometry,
# f0 = 10 Hz at 10 m; Ricker at f0, at 0.5 f0): 2000 m/s (wavelength 20 cells): 10 cells
# 0.12%, 0.64%; 14 cells 0.07%, 0.16%; 20 cells 0.12%, 0.15%. 4500 m/s (45 cells): 14 cells
# 0.10%, 0.36%; 23 cells 0.12%, 0.15%. Long wavelengths need more cells at 0.5 f0.
MIN_BOUNDARY_CELLS = 14
BOUNDARY_WAVELENGTHS = 0.4


def default_boundary_width(spacing: tuple[float, ...], vmax: float, f0: float) -> int:
    """C-PML width in cells: ``BOUNDARY_WAVELENGTHS`` of the longest dominant wavelength
    ``vmax / f0`` (m/s, Hz) on the finest ``spacing`` (m), at least ``MIN_BOUNDARY_CELLS``."""
    cells = BOUNDARY_WAVELENGTHS * vmax / f0 / min(spacing)
    return int(max(MIN_BOUNDARY_CELLS, np.ceil(cells)))


def validate_velocity(vp: np.ndarray, shape: tuple[int, ...], name: str = "vp") -> np.ndarray:
    """Check a velocity array (x, z) or (x, y, z) in m/s: the shape, then finite and positive.

    The numeric check of every model the engine loads (models in DataArrays are checked
    once more fully at the entry points, with :func:`~devito_crfwi.io.schema.check_model`).
    """
    vp = np.asarray(vp)
    if vp.shape != tuple(shape):
        axes = "(nx, nz)" if len(shape) == 2 else "(nx, ny, nz)"
        raise ValueError(f"{name} must have shape {axes} = {tuple(shape)}, got {vp.shape}")
    return check_velocities(vp, name)
