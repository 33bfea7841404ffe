"""The model grid: physical extent, absorbing padding, damping and the CFL limit.

A :class:`ModelGrid` is a frozen value: it keys the operator cache, so two equal grids
share compiled operators. Arrays on it are ``(x, z)`` with depth increasing along z.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy

from ..io.schema import check_model, check_velocities
from ..io.warn import warn

# Reflection coefficient the sponge aims for (Collino & Tsogka style profile).
_SPONGE_REFLECTION = 1e-3
# Fraction of the CFL limit used when the time step is chosen automatically. Measured
# (float32, constant 4500 m/s at 5 m, free surface, 20-cell sponge, 6 s = ~10^4 steps, space
# orders 2, 8 and 16; and 1500-4500 m/s linear in depth): stable up to 1.0 of the limit,
# NaN at 1.005; at 1.0 the late-time amplitude is ~2x that at 0.99 (a marginal mode).
# 0.95 keeps 5% below that sharp edge (tests/physics/test_time_axes.py runs it).
CFL_MARGIN = 0.95
# Explicit steps below this fraction of the CFL limit are refused: they buy no accuracy
# that the resampled recording needs, only run time and memory.
MIN_DT_FRACTION = 0.1
# The Ricker spectrum is ~3% of its peak at 2.5 f0: the highest frequency that matters.
RICKER_FMAX_FACTOR = 2.5
MIN_POINTS_PER_WAVELENGTH = 5.0


@cache
def _laplacian_symbol_max(space_order: int) -> float:
    """max |symbol| of the centred 2nd-derivative stencil of ``space_order`` (times h²)."""
    half = space_order // 2
    weights = sympy.finite_diff_weights(2, list(range(-half, half + 1)), 0)[2][-1]
    # At the Nyquist wavenumber the stencil's symbol is sum_k w_k (-1)^k.
    return float(abs(sum(w * (-1) ** (k - half) for k, w in enumerate(weights))))


@dataclass(frozen=True)
class ModelGrid:
    """Geometry of a 2-D model and its absorbing padding.

    Parameters
    ----------
    shape : (nx, nz)
        Cells of the physical model.
    spacing : (dx, dz), m
    origin : (x0, z0), m
        Coordinates of the first cell.
    nbl : int
        Width of the absorbing sponge, in cells, on each padded side.
    free_surface : bool
        If True the top is not padded and the pressure is zero in the stencil's halo
        above it: a pressure-free surface acting about one cell above the top row
        (z0 - dz). It is exactly self-adjoint; its ghosts match the image-source answer
        to ~10% (not an exact antisymmetric mirror).
    """

    shape: tuple[int, int]
    spacing: tuple[float, float]
    origin: tuple[float, float] = (0.0, 0.0)
    nbl: int = 20
    free_surface: bool = False

    def __post_init__(self) -> None:
        if len(self.shape) != 2 or min(self.shape) < 2:
            raise ValueError(f"model shape must be (nx, nz) with both >= 2, got {self.shape}")
        if len(self.spacing) != 2 or min(self.spacing) <= 0:
            raise ValueError(f"spacing (dx, dz) must be positive metres, got {self.spacing}")
        if self.nbl < 0:
            raise ValueError(f"boundary width must be >= 0 cells, got {self.nbl}")

    @classmethod
    def from_dataarray(cls, vp, *, nbl: int, free_surface: bool = False) -> ModelGrid:
        """The grid of a velocity model ``xr.DataArray`` (x, z), coords in m (checked with
        :func:`~devito_crfwi.io.schema.check_model`)."""
        model = check_model(vp, where="ModelGrid.from_dataarray")
        return cls(shape=model.shape, spacing=model.spacing, origin=model.origin,
                   nbl=int(nbl), free_surface=free_surface)

    # -- padding ----------------------------------------------------------------------
    @property
    def pad_widths(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Cells added ((left, right), (top, bottom)); no top padding under a free surface."""
        top = 0 if self.free_surface else self.nbl
        return ((self.nbl, self.nbl), (top, self.nbl))

    @property
    def padded_shape(self) -> tuple[int, int]:
        (left, right), (top, bottom) = self.pad_widths
        return (self.shape[0] + left + right, self.shape[1] + top + bottom)

    @property
    def padded_origin(self) -> tuple[float, float]:
        (left, _), (top, _) = self.pad_widths
        return (self.origin[0] - left * self.spacing[0], self.origin[1] - top * self.spacing[1])

    @property
    def extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x0, x1), (z0, z1)) of the physical model, m (cell centres)."""
        return tuple(
            (o, o + (n - 1) * h)
            for o, n, h in zip(self.origin, self.shape, self.spacing, strict=True)
        )

    def pad(self, field: np.ndarray) -> np.ndarray:
        """Extend a (x, z) field into the sponge by repeating its edge values."""
        return np.pad(field, self.pad_widths, mode="edge")

    def pad_adjoint(self, padded: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`pad`: fold the sponge's values back onto the edge cells."""
        (left, right), (top, bottom) = self.pad_widths
        nx, nz = padded.shape
        out = padded[left : nx - right].copy()
        out[0] += padded[:left].sum(axis=0)
        out[-1] += padded[nx - right :].sum(axis=0)
        result = out[:, top : nz - bottom].copy()
        result[:, 0] += out[:, :top].sum(axis=1)
        result[:, -1] += out[:, nz - bottom :].sum(axis=1)
        return result

    def crop(self, padded: np.ndarray) -> np.ndarray:
        """The physical part of a padded (x, z) field (a view)."""
        (left, right), (top, bottom) = self.pad_widths
        return padded[left : padded.shape[0] - right, top : padded.shape[1] - bottom]

    def damping(self, vp_reference: np.ndarray) -> np.ndarray:
        """Sponge coefficient on the padded grid, in Devito units (s²/km² per ms).

        The padded equation is ``m u_tt - lap(u) + damp u_t = f`` with
        ``damp = m_ref * eta``, where ``eta(d) = eta0 (d / L)²`` grows with the distance
        ``d`` into a sponge of width ``L`` and ``eta0 = 3 v log(1/R) / (2 L)``. It is built
        from a fixed reference model, so derivatives with respect to the model stay exact.
        """
        from .units import slowness2_from_velocity, velocity_to_devito

        vp_pad = self.pad(np.asarray(vp_reference, dtype=np.float64))
        eta = np.zeros(self.padded_shape)
        for axis, (lo, hi) in enumerate(self.pad_widths):
            n = self.padded_shape[axis]
            d = np.zeros(n)
            d[:lo] = np.arange(lo, 0, -1)
            d[n - hi :] = np.arange(1, hi + 1)
            if self.nbl:
                profile = (d / self.nbl) ** 2
                shape = [1, 1]
                shape[axis] = n
                eta = eta + profile.reshape(shape)
        if self.nbl:
            width = self.nbl * min(self.spacing)
            eta0 = 3.0 * velocity_to_devito(vp_pad) * np.log(1 / _SPONGE_REFLECTION) / (2 * width)
            eta = eta0 * eta
        return slowness2_from_velocity(vp_pad) * eta

    # -- stability and dispersion -----------------------------------------------------
    def max_stable_dt(self, vmax: float, space_order: int) -> float:
        """CFL limit of the leapfrog scheme for velocity ``vmax`` (m/s), s."""
        symbol = _laplacian_symbol_max(space_order)
        lam = sum(symbol / h**2 for h in self.spacing)
        return 2.0 / (vmax * np.sqrt(lam))

    def check_dispersion(self, vmin: float, f0: float) -> float:
        """Warn if the grid has fewer than ~5 points per minimum wavelength; return that count."""
        fmax = RICKER_FMAX_FACTOR * f0
        ppw = vmin / (fmax * max(self.spacing))
        if ppw < MIN_POINTS_PER_WAVELENGTH:
            warn(
                f"only {ppw:.2f} grid points per minimum wavelength (vmin = {vmin:.0f} m/s, "
                f"fmax ~ {fmax:.1f} Hz = {RICKER_FMAX_FACTOR} f0, spacing "
                f"{max(self.spacing):g} m); at least {MIN_POINTS_PER_WAVELENGTH:.0f} are "
                "advised: expect numerical dispersion. Refine the grid or lower f0."
            )
        return ppw


def default_boundary_width(spacing: tuple[float, float], vmax: float, f0: float) -> int:
    """Sponge width in cells: half the longest dominant wavelength, at least 20 cells."""
    return int(max(20, np.ceil(0.5 * vmax / f0 / min(spacing))))


def validate_velocity(vp: np.ndarray, shape: tuple[int, int], name: str = "vp") -> np.ndarray:
    """Check a velocity array (x, z) in m/s: the shape, then finite and positive values.

    The numeric check of every model the engine loads (models in DataArrays are checked
    once more fully at the entry points, with :func:`~devito_crfwi.io.schema.check_model`).
    """
    vp = np.asarray(vp)
    if vp.shape != tuple(shape):
        raise ValueError(f"{name} must have shape (nx, nz) = {tuple(shape)}, got {vp.shape}")
    return check_velocities(vp, name)
