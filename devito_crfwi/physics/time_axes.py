"""The simulation's time axis: its step (from the CFL limit), its levels, and the link to
the survey's recording axis (the wavelet on it, the receivers' traces off it).

The step is fixed by a maximum velocity at construction, never by the recording interval:
traces move between the two axes through a band-limited resampling matrix ``R``
(:mod:`.resampling`), whose transpose carries adjoint sources back.
"""

from __future__ import annotations

import numpy as np

from .grid import CFL_MARGIN, MIN_DT_FRACTION, ModelGrid
from .memory import require_memory
from .resampling import sinc_reach, sinc_resampling
from .survey import Survey


def simulation_step(grid: ModelGrid, vmax: float, space_order: int, t_max: float,
                    dt: float | None = None) -> float:
    """The simulation step (s): ``CFL_MARGIN`` of the CFL limit for ``vmax`` (m/s) on
    ``grid`` with ``space_order``, or the explicit ``dt`` (s), refused (``ValueError``) past
    the limit or below ``MIN_DT_FRACTION`` of it (``t_max``, s, sizes the message)."""
    dt_stable = grid.max_stable_dt(vmax, space_order)
    where = (f"for vmax = {vmax:.0f} m/s on spacing {grid.spacing} m with space order "
             f"{space_order} (CFL limit {dt_stable:.4g} s)")
    if dt is None:
        return CFL_MARGIN * dt_stable
    if dt > dt_stable:
        raise ValueError(f"time step dt = {dt:g} s is unstable {where}")
    if dt < MIN_DT_FRACTION * dt_stable:
        raise ValueError(
            f"time step dt = {dt:g} s is below {MIN_DT_FRACTION:g} of the stable step "
            f"{where}: {int(t_max / dt):d} steps for {t_max:g} s. Leave dt "
            "unset: any recording interval, however fine, is served by interpolation")
    return float(dt)


class TimeAxes:
    """The simulation axis of step ``dt`` (s) for ``survey``, and its recording axis.

    Attributes: ``dt``; ``nt`` levels ``0..nt-1`` (receivers record levels ``1..nt-2``);
    ``time`` (nt,), s; ``resample`` (survey.nt, nt), the sparse matrix from the simulation
    to the recording axis (its transpose is the adjoint); ``wavelet`` (nt, 1), the
    survey's source on the simulation axis, in ``dtype``.
    """

    def __init__(self, dt: float, survey: Survey, dtype) -> None:
        self.dt = dt
        self.dtype = np.dtype(dtype)
        # Receivers record levels 1..nt-2, and the windowed sinc reaches that many levels
        # past the last recording time.
        self.nt = (int(np.ceil(survey.t_max / dt - 1e-9)) + 2 + sinc_reach(dt, survey.dt))
        nrec = survey.n_receivers
        require_memory(f"the time axes of {self.nt} simulation steps and {survey.nt} samples", {
            "simulation traces": self.nt * (3 * nrec + 2) * self.dtype.itemsize,
            "resampling matrix": survey.nt * 2 * sinc_reach(dt, survey.dt) * 12,
        })
        self.time = np.arange(self.nt) * dt
        self.resample = sinc_resampling(self.time, survey.time)
        self.wavelet = survey.source_wavelet(self.time).astype(self.dtype)[:, None]

    def to_recording(self, traces: np.ndarray) -> np.ndarray:
        """Traces (nt, receiver) on the simulation axis resampled to the recording axis, in
        ``dtype``."""
        return np.asarray(self.resample @ traces, dtype=self.dtype)

    def to_simulation(self, traces: np.ndarray) -> np.ndarray:
        """The adjoint of :meth:`to_recording` (without its cast): ``R.T @ traces``, traces
        (survey.nt, receiver) on the recording axis."""
        return self.resample.T @ traces
