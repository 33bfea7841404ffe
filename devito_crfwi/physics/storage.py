"""How a gradient keeps the forward wavefield: every ``subsample``-th level (the factor, and
when its tape is not exact enough), of the whole run or of revolve's segments, and the bytes
of each plan.

Sizes count wavefield time levels: a *level* is one time level of a wavefield with its halo
(what the operators advance), a *saved level* one of the padded grid (``usave``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checkpointing import Segments, saved_levels

# The stored forward wavefield is sampled this many times faster than the Nyquist rate of
# the source's highest frequency. Measured relative L2 error of the gradient against every
# step stored (600 x 200 cells at 10 m, 1500-4500 m/s, Ricker 10 Hz, 2.3 s at 4 ms, 1.17 ms
# step): k = 3, 4, 6: 1e-5..7e-5; k = 7 (this margin): 1.4e-4; k = 8: 5e-3; k = 10: 1.3e-2;
# k = 13 (near Nyquist): 0.36. Small test problem (6 Hz, k = 6): 2.4e-4. Those are L2
# residuals of clean data: band-limited adjoint sources.
STORAGE_NYQUIST_MARGIN = 2.0
SUBSAMPLED_GRADIENT_TOLERANCE = 1e-3
# Stored every k steps, the imaging condition sums u * v_tt at the rate fs = 1 / (k dt): the
# adjoint field's content above fs - f_max (f_max: the source's highest frequency) beats
# with the forward band onto multiples of fs and aliases into the gradient. Residuals are
# rarely free of it: the record's cut at t_max is a broadband edge, and noise, spiky or
# trace-normalised misfits are broadband throughout. With "auto", a shot whose adjoint
# source has more than this fraction of its L2 norm (simulation axis) above fs - f_max is
# recorded again with every step stored. Measured gradient error of the subsampled tape
# against every step stored, per unit of that fraction (float64; 40 x 30 layered at 10 m,
# 6-10 Hz, 0.4-1.2 s, k = 5-7; 80 x 40 at 15 m, 5 Hz, free surface; Marmousi 288 x 94 at
# 15 m, 8 Hz, 1.9 s, k = 7): 0.1-5 where the fraction is below 1e-3 (clean L2 and NCC
# residuals 1e-4..1e-2 of it, with errors up to 1.2e-2), 1-70 for noisy, L1 and
# trace-normalised ones (fraction 1e-3..0.8). 1e-4 keeps the error under
# SUBSAMPLED_GRADIENT_TOLERANCE with a factor 2 to spare; what stays subsampled is an
# adjoint source that is band-limited and fades out before t_max.
ALIASED_FRACTION_LIMIT = 1e-4


def storage_factor(setting: int | str, highest_frequency: float, dt: float) -> int:
    """Every how many steps of ``dt`` (s) gradients keep the forward wavefield.

    ``"auto"``: the stored interval is at most ``1 / (2 STORAGE_NYQUIST_MARGIN f_max)`` for
    the source's ``highest_frequency`` ``f_max`` (Hz; 3 f0 for a Ricker, see
    :mod:`.wavelet`). Adjoint sources that this interval would alias are served with every
    step stored instead (see :func:`aliased_fraction`).
    """
    if setting != "auto":
        return int(setting)
    interval = 1.0 / (2.0 * STORAGE_NYQUIST_MARGIN * highest_frequency)
    return max(1, int(interval / dt))


def aliased_fraction(source: np.ndarray, dt: float, subsample: int,
                     highest_frequency: float) -> float:
    """The fraction (0..1, of the L2 norm) of one shot's adjoint ``source`` (time, receiver)
    on the simulation axis (step ``dt``, s) that a tape of every ``subsample``-th step aliases
    into the gradient: its content above ``1 / (subsample dt) - highest_frequency`` (Hz),
    which beats with the forward wavefield's band onto the storage rate."""
    if subsample == 1:
        return 0.0
    power = np.abs(np.fft.rfft(np.asarray(source, dtype=np.float64), axis=0)) ** 2
    total = float(power.sum())
    if total == 0.0:
        return 0.0
    frequency = np.fft.rfftfreq(len(source), dt)
    aliased = frequency > 1.0 / (subsample * dt) - highest_frequency
    return float(np.sqrt(power[aliased].sum() / total))


@dataclass(frozen=True)
class MemoryPlan:
    """How gradients keep the forward wavefield: ``"full"`` or ``"revolve"`` snapshots."""

    mode: str
    checkpoints: int | None = None
    bytes_per_call: int = 0


@dataclass(frozen=True)
class GradientStorage:
    """The tapes of one engine's gradients: their levels, bytes, and the plan of a call.

    ``steps`` time steps (levels ``1..steps`` are advanced), every ``subsample``-th kept;
    ``level_bytes`` and ``saved_level_bytes`` are the bytes of a level and a saved level;
    ``memories`` the C-PML memory variables of one wavefield; ``checkpoints`` and
    ``memory_limit`` (bytes) are the engine's settings.
    """

    steps: int
    subsample: int
    level_bytes: int
    saved_level_bytes: int
    memories: int
    checkpoints: int | None = None
    memory_limit: int | None = None

    @property
    def stored_levels(self) -> int:
        """Time levels a full-storage tape holds: ``0, k, 2k, ...`` up to ``steps + 1``.

        (Level ``steps + 1`` is never correlated; Devito sizes the buffer to the traces'.)
        """
        return saved_levels(self.steps, self.subsample)

    @property
    def live_levels(self) -> int:
        """Levels a gradient's operators advance: the forward and adjoint fields (three
        levels each) and their C-PML memory variables (two each)."""
        return 6 + 2 * 2 * self.memories

    @property
    def snapshot_levels(self) -> int:
        """Levels of one forward state: two levels and the memories."""
        return 2 + self.memories

    @property
    def stored_bytes(self) -> int:
        """Bytes of one shot's full-storage tape: the stored levels and the live fields."""
        return (self.stored_levels * self.saved_level_bytes
                + self.live_levels * self.level_bytes)

    def revolve_bytes(self, n_shots: int, checkpoints: int) -> int:
        """Bytes of a call's revolve tapes with ``checkpoints`` snapshots per shot."""
        # per shot: the snapshots + the last segment's start; shared: the live fields and
        # one segment's saved levels
        length = Segments.for_snapshots(self.steps, checkpoints, self.subsample).length
        return (n_shots * self.snapshot_levels * (checkpoints + 1) * self.level_bytes
                + self.live_levels * self.level_bytes
                + saved_levels(length, self.subsample) * self.saved_level_bytes)

    def plan(self, n_shots: int) -> MemoryPlan:
        """The tape mode for a call with ``n_shots`` shots (see ``checkpoints``,
        ``memory_limit``).

        Both modes keep every ``subsample``-th level: full storage of the whole run, revolve
        of the one segment being reversed (so their gradients are equal). Every revolve plan
        recomputes each segment once (cost ~ 2 forwards + 1 adjoint), so under a memory
        budget the plan with the fewest bytes is taken.
        """
        full = n_shots * self.stored_bytes
        if self.checkpoints is None and (self.memory_limit is None
                                         or full <= self.memory_limit):
            return MemoryPlan("full", None, full)
        if self.checkpoints is not None:
            c = int(self.checkpoints)
            return MemoryPlan("revolve", c, self.revolve_bytes(n_shots, c))
        c = min(range(1, self.steps + 1), key=lambda c: self.revolve_bytes(n_shots, c))
        needed = self.revolve_bytes(n_shots, c)
        if needed > self.memory_limit:
            raise MemoryError(
                f"memory_limit = {self.memory_limit} bytes cannot hold the gradient of "
                f"{n_shots} shot(s): revolve needs at least {needed} bytes; "
                "raise the limit or use fewer shots per call"
            )
        return MemoryPlan("revolve", c, needed)
