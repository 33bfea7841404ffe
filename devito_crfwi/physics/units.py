"""The one place where SI units meet Devito's seismic convention.

The public API speaks SI: metres, seconds, hertz, m/s. Devito's seismic examples use
metres, milliseconds, kilohertz and km/s (= m/ms), and the squared slowness
``m = 1 / vp**2`` in s²/km². Every conversion goes through this module.
"""

from __future__ import annotations

import numpy as np

MS_PER_S = 1000.0


def time_to_devito(t_s: float) -> float:
    """Time or time step, s -> ms."""
    return t_s * MS_PER_S


def frequency_to_devito(f_hz: float) -> float:
    """Frequency, Hz -> kHz."""
    return f_hz / MS_PER_S


def velocity_to_devito(vp_ms: np.ndarray) -> np.ndarray:
    """Velocity, m/s -> km/s (= m/ms)."""
    return vp_ms / MS_PER_S


def velocity2_to_devito(vp_ms: np.ndarray) -> np.ndarray:
    """Squared velocity 1/m = vp², (km/s)², from velocity in m/s (what the kernels take)."""
    vp_kms = velocity_to_devito(vp_ms)
    return vp_kms * vp_kms


def velocity_perturbation_to_slowness2(vp_ms: np.ndarray, dvp_ms: np.ndarray) -> np.ndarray:
    """Chain rule dm = -2 dvp / vp³ (Born input), velocities in m/s, dm in s²/km²."""
    vp_kms = velocity_to_devito(vp_ms)
    return -2.0 * velocity_to_devito(dvp_ms) / (vp_kms * vp_kms * vp_kms)


def slowness2_gradient_to_velocity(vp_ms: np.ndarray, grad_m: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`velocity_perturbation_to_slowness2`: dJ/dvp (per m/s) from dJ/dm."""
    vp_kms = velocity_to_devito(vp_ms)
    return grad_m * (-2.0 / (vp_kms * vp_kms * vp_kms)) / MS_PER_S
