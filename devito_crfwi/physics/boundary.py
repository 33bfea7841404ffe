"""Boundary conditions: the convolutional PML on absorbing sides, the image free surface on top.

**C-PML** (Komatitsch & Martin 2007, in the second-order form of Pasalic & McGarry 2010).
Along each axis ``d`` the derivative is stretched, ``∂d -> ∂d / s_d`` with
``s_d = 1 + d_d / (α_d + iω)``, and the convolution with ``1 / s_d`` is a recursive memory
variable. At step ``n``, with ``D`` the centred first and ``D2`` the second derivative:

    ψ_d^n = b_d ψ_d^{n-1} + a_d D u^n                       (memory of ∂d u)
    ζ_d^n = b_d ζ_d^{n-1} + a_d (D2 u^n + D ψ_d^n)          (memory of ∂d (∂d u / s_d))
    u^{n+1} = 2 u^n - u^{n-1} + dt²/m Σ_d (D2 u^n + D ψ_d^n + ζ_d^n) + sources

``a_d``, ``b_d`` vanish outside the boundary strips of axis ``d``, so the memory variables are
updated only there. The profiles (``d(ξ) = d0 ξ²``, ``α(ξ) = α_max (1 - ξ)`` at the relative
depth ``ξ`` into a strip, ``d0 = -3 vmax ln(R) / (2 L)`` for a strip ``L`` m wide) depend on a
fixed ``vmax`` and ``f0``, never on the model being modelled, so derivatives with respect to
the model stay exact; the adjoint kernel is the exact transpose of this recursion (see
:mod:`.operators`).

**Free surface.** The pressure vanishes on the model's top row, ``z = z0``: the wavefield is
extended above it as its antisymmetric mirror, ``u(z0 - k h) = -u(z0 + k h)``, so the row
itself stays zero (sources injecting into it are masked). The mirrored second derivative in
depth is the plain stencil minus a correction on the top ``K = space_order / 2`` rows, a
symmetric matrix, so the forward and adjoint kernels share it. The result is the image-source
solution: the same source minus its mirror image about ``z0``, in an unbounded medium.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import sympy

from .grid import ModelGrid

# Reflection coefficient the PML profile is designed for at normal incidence.
PML_REFLECTION = 1e-3
# Polynomial order of the damping profile d(ξ) = d0 ξ^N.
PML_ORDER = 2
# α_max = PML_ALPHA_FRACTION π f0. Measured with bench/bench_boundary.py (20 cells, 2000 m/s
# at 10 m, layer designed for 10 Hz; largest echo / direct peak over all receivers, with a
# Ricker at 10 Hz and at 5 Hz): fraction 1: 0.23%, 0.46%; 0.5: 0.14%, 0.19%; 0.25: 0.12%,
# 0.12%. A smaller shift absorbs the low frequencies better, grazing waves still well.
PML_ALPHA_FRACTION = 0.25


def cpml_coefficients(grid: ModelGrid, vmax: float, f0: float, dt: float
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per axis, the recursion coefficients ``(a, b)`` of the C-PML memory variables.

    Parameters
    ----------
    grid : ModelGrid
        Its padding (``pad_widths``) holds the strips; a side of width 0 has no PML.
    vmax : float, m/s
        Velocity the damping is designed for (the reference model's maximum).
    f0 : float, Hz
        Dominant frequency: ``α_max = PML_ALPHA_FRACTION π f0`` keeps grazing and
        low-frequency waves absorbed.
    dt : float, s
        Simulation time step.

    Returns
    -------
    list of (a, b), one per axis (x, [y,] z), each an array (n_padded,) along that axis;
    both are 0 outside the strips.
    """
    coefficients = []
    for n, (lo, hi), h in zip(grid.padded_shape, grid.pad_widths, grid.spacing, strict=True):
        xi = np.zeros(n)
        if lo:
            xi[:lo] = np.arange(lo, 0, -1) / lo
        if hi:
            xi[n - hi:] = np.arange(1, hi + 1) / hi
        width = max(lo, hi) * h
        a = np.zeros(n)
        b = np.zeros(n)
        inside = xi > 0
        if inside.any():
            d0 = -(PML_ORDER + 1) * vmax * np.log(PML_REFLECTION) / (2.0 * width)
            damping = d0 * xi[inside] ** PML_ORDER
            alpha = PML_ALPHA_FRACTION * np.pi * f0 * (1.0 - xi[inside])
            b[inside] = np.exp(-(damping + alpha) * dt)
            a[inside] = damping * (b[inside] - 1.0) / (damping + alpha)
        coefficients.append((a, b))
    return coefficients


@cache
def second_derivative_weights(space_order: int) -> tuple[float, ...]:
    """Centred second-derivative weights ``c_0 .. c_K`` (times h²), ``K = space_order / 2``:
    Devito's own stencil, ``D2 u_i = Σ_k c_|k| u_{i+k} / h²``."""
    half = space_order // 2
    weights = sympy.finite_diff_weights(2, list(range(-half, half + 1)), 0)[2][-1]
    return tuple(float(w) for w in weights[half:])


def mirror_correction(space_order: int) -> dict[int, dict[int, float]]:
    """The free surface's depth-stencil correction, times h²: ``{row r: {row j: weight}}``.

    Under the mirror ``u_{-j} = -u_j`` the second derivative at row ``r < K`` loses the
    halo terms and gains ``-Σ_{j = 1}^{K - r} c_{r + j} u_j``: the weights here. The matrix
    ``(r, j) -> c_{r + j}`` is symmetric, so forward and adjoint add the same correction.
    """
    c = second_derivative_weights(space_order)
    half = len(c) - 1
    return {r: {j: -c[r + j] for j in range(1, half - r + 1)} for r in range(half)}
