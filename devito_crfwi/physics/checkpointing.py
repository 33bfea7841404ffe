"""Wavefield tapes for the adjoint-state gradient: full storage or revolve checkpointing.

Time is cut into segments of ``K`` steps. The ``forward_stored`` operator advances one whole
segment per call on a three-level (modulo) wavefield, saving every ``factor``-th level of
the segment into ``usave``; the ``jacobian_adjoint`` operator runs back over the segment in
one call, correlating those saved levels. A *tape* records one shot's forward pass so that
its adjoint can run later:

* :class:`StoredTape` keeps one segment of all ``nt - 2`` steps (factor 1 saves every
  level: the exact gradient);
* :class:`RevolveTape` keeps ``C`` snapshots of the forward state, and pyrevolve's Revolve schedule
  (over segments) decides what to store and recompute. With ``C`` snapshots of a run of
  ``S`` steps the segment length is ``ceil(S / C)`` rounded up to a multiple of the factor,
  so each segment is recomputed once and the saved levels fall on the same global steps as
  full storage's (the two gradients are equal).

A :class:`SegmentRunner` runs the operators over one segment on its buffers; the tapes hand
it the shot, its wavelet, and the traces to record or the adjoint source to inject.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyrevolve

from .operators import BoundOperator
from .points import Shot, ShotPoints


@dataclass(frozen=True)
class Segments:
    """``n_steps`` time steps ``1..n_steps`` cut into segments of ``length`` steps."""

    n_steps: int
    length: int

    @classmethod
    def for_snapshots(cls, n_steps: int, snapshots: int, factor: int) -> Segments:
        """About ``snapshots`` segments whose length is a multiple of ``factor``.

        The saved levels (local steps ``factor, 2 factor, ...`` of each segment) then fall
        on the global multiples of ``factor``, as with one segment of every step.
        """
        length = -(-n_steps // max(1, snapshots))
        return cls(n_steps, -(-length // factor) * factor)

    @property
    def count(self) -> int:
        return -(-self.n_steps // self.length)

    def span(self, c: int) -> tuple[int, int]:
        """(first global step - 1, number of steps) of segment ``c``."""
        start = c * self.length
        return start, min(self.length, self.n_steps - start)


def saved_levels(length: int, factor: int) -> int:
    """``usave`` levels of a segment of ``length`` steps: indices ``0 .. (length + 1) // factor``.

    (Index 0 is never written: the segment's level 0 is the previous one's last.)
    """
    return (length + 1) // factor + 1


class SegmentRunner:
    """Runs the ``forward_stored`` and ``jacobian_adjoint`` operators segment by segment on
    one buffer.

    Holds the live forward state (two time levels of the wavefield and the current level of
    each C-PML memory variable), the forward and adjoint fields the operators advance (the
    wavefield first, three modulo levels, then its memory variables, two), the saved levels
    of the current segment (the bound operators point into its data; every ``factor``-th
    step, 1 for the exact tape), the shot's source and receivers (``points``, bound to both
    operators) and the bound operators.
    """

    def __init__(self, forward: BoundOperator, adjoint: BoundOperator, forward_fields: list,
                 saved, adjoint_fields: list, points: ShotPoints, segments: Segments,
                 factor: int) -> None:
        self.forward_stored = forward
        self.jacobian_adjoint = adjoint
        # (3, x, z) and (2, x, z) modulo views
        self.buffer, *self.memories = [np.asarray(f.data_with_halo) for f in forward_fields]
        self.v, *self.adjoint_memories = [np.asarray(f.data_with_halo) for f in adjoint_fields]
        # The bound operators hold raw pointers into these levels: keep them alive here.
        self.saved = saved
        self.points = points
        self.src = np.asarray(points.source.data)  # (K + 2, 1)
        self.rec_fwd = np.asarray(points.receivers.data)  # (K + 2, receiver)
        self.rec_adj = np.asarray(points.adjoint_receivers.data)
        self.segments = segments
        self.factor = factor
        self.state = np.zeros((2 + len(self.memories), *self.buffer.shape[1:]),
                              dtype=self.buffer.dtype)
        self.busy = False  # a live tape holds this runner's buffers

    def start(self, shot: Shot) -> None:
        """Place the source and receivers at ``shot``; zero the live forward state and the
        adjoint fields."""
        self.points.place(shot)
        self.state[:] = 0
        self.reset_adjoint()

    def reset_adjoint(self) -> None:
        """Zero the adjoint wavefield and its memory variables (before a reverse sweep)."""
        self.v[:] = 0
        for memory in self.adjoint_memories:
            memory[:] = 0

    def advance(self, c: int, wavelet: np.ndarray, recorded: np.ndarray | None = None
                ) -> None:
        """Run the forward over segment ``c`` from the live state, saving its levels.

        ``wavelet`` (nt, 1) is the source on the simulation axis; ``recorded`` (nt, receiver),
        if given, receives the segment's traces.
        """
        start, k = self.segments.span(c)
        self.src[: k + 2] = wavelet[start : start + k + 2]
        # Local levels 0 and 1 in their modulo slots; the operator then writes 2 .. k + 1. A
        # memory variable is read at slot t % 2 and written at (t + 1) % 2 in step t.
        self.buffer[:2] = self.state[:2]
        for memory, level in zip(self.memories, self.state[2:], strict=True):
            memory[1] = level
        self.forward_stored.run(1, k)
        if recorded is not None:
            recorded[start + 1 : start + k + 1] = self.rec_fwd[1 : k + 1]
        self.state[:2] = self.buffer[[k % 3, (k + 1) % 3]]
        for memory, level in zip(self.memories, self.state[2:], strict=True):
            level[:] = memory[(k + 1) % 2]

    def reverse(self, c: int, residual: np.ndarray) -> None:
        """Run the adjoint back over segment ``c``, whose saved levels are in ``saved``, with
        the adjoint source ``residual`` (nt, receiver) on the simulation axis."""
        start, k = self.segments.span(c)
        # The adjoint state (v at local levels 1 and 0 of the segment after this one) moves
        # to the modulo slots of local levels k + 1 and k of this segment.
        self.v[[(k + 1) % 3, k % 3, (k + 2) % 3]] = self.v[[1, 0, 2]]
        # The memories' last write (step 1 of that segment) is slot 0; step k reads k % 2.
        for memory in self.adjoint_memories:
            memory[k % 2] = memory[0]
        self.rec_adj[: k + 2] = 0
        self.rec_adj[1 : k + 1] = residual[start + 1 : start + k + 1]
        self.jacobian_adjoint.run(1, k)


class StoredTape:
    """One shot's full forward wavefield, in its own buffer (full-storage mode).

    ``shot`` is recorded with the source ``wavelet`` (nt, 1) on the simulation axis. The
    buffer is the tape's until the tape is garbage-collected; then the propagator may reuse
    it for another shot.
    """

    def __init__(self, runner: SegmentRunner, shot: Shot, wavelet: np.ndarray) -> None:
        if runner.busy:
            raise RuntimeError("a full-storage buffer was handed to two live tapes")
        self.runner = runner
        self.shot = shot
        self.wavelet = wavelet
        runner.busy = True
        weakref.finalize(self, setattr, runner, "busy", False)

    def record(self, recorded: np.ndarray) -> None:
        """Run the shot's forward, keeping its wavefield; its traces go to ``recorded``
        (nt, receiver)."""
        self.runner.start(self.shot)
        self.runner.advance(0, self.wavelet, recorded)

    def replay_adjoint(self, residual: np.ndarray) -> None:
        """Run the adjoint of the recorded shot for the adjoint source ``residual``
        (nt, receiver), accumulating into the operator's gradient."""
        # The source and receivers are still at this shot: the buffer is this tape's alone.
        self.runner.reset_adjoint()
        self.runner.reverse(0, residual)


class _LiveState(pyrevolve.Checkpoint):
    """What a revolve snapshot saves: the live forward state (levels and memories)."""

    def __init__(self, runner: SegmentRunner) -> None:
        self.runner = runner

    @property
    def dtype(self):
        return self.runner.state.dtype

    @property
    def size(self) -> int:
        return self.runner.state.size

    def get_data(self, timestep):
        return [self.runner.state]

    def get_data_location(self, timestep):
        return [self.runner.state]


class _SegmentSweep(pyrevolve.Operator):
    """pyrevolve's forward or reverse operator: ``step`` on segments ``t_start..t_end - 1``,
    in increasing order or (``backward``) decreasing."""

    def __init__(self, step: Callable[[int], None], *, backward: bool = False) -> None:
        self.step = step
        self.backward = backward

    def apply(self, t_start: int, t_end: int) -> None:
        segments = range(t_start, t_end)
        for c in reversed(segments) if self.backward else segments:
            self.step(c)


class RevolveTape:
    """One shot's revolve snapshots (``n_checkpoints`` forward states) on a runner that
    other shots' tapes share.

    ``shot`` is recorded with the source ``wavelet`` (nt, 1) on the simulation axis.
    Revolve's reverse sweep consumes its schedule and snapshots, so a second
    :meth:`replay_adjoint` of a multi-segment tape first records the shot again (one more
    forward).
    """

    def __init__(self, runner: SegmentRunner, shot: Shot, wavelet: np.ndarray,
                 n_checkpoints: int) -> None:
        self.runner = runner
        self.shot = shot
        self.wavelet = wavelet
        self.n_checkpoints = n_checkpoints
        self.last_state: np.ndarray | None = None
        self.revolver: pyrevolve.MemoryRevolver | None = None
        self.spent = False  # the reverse sweep ran: record again before the next one
        # pyrevolve calls its operators with segment ranges only: the traces to record and
        # the adjoint source are held here while record() and replay_adjoint() run.
        self._recorded: np.ndarray | None = None
        self._residual: np.ndarray | None = None

    def _advance(self, c: int) -> None:
        if c == self.runner.segments.count - 1 and self.last_state is None:
            # Kept so the reverse sweep can rebuild the last segment later, after other
            # shots have used the shared buffer.
            self.last_state = self.runner.state.copy()
        self.runner.advance(c, self.wavelet, self._recorded)

    def _reverse(self, c: int) -> None:
        self.runner.reverse(c, self._residual)

    def record(self, recorded: np.ndarray | None = None) -> None:
        """Run the shot's forward, keeping the snapshots; its traces go to ``recorded``
        (nt, receiver) if given."""
        self.runner.start(self.shot)
        self.last_state = None
        count = self.runner.segments.count
        self.revolver = pyrevolve.MemoryRevolver(
            _LiveState(self.runner), _SegmentSweep(self._advance),
            _SegmentSweep(self._reverse, backward=True),
            max(1, min(self.n_checkpoints, count - 1)), count
        ) if count > 1 else None
        self._recorded = recorded
        try:
            if self.revolver is None:
                self._advance(0)
            else:
                self.revolver.apply_forward()
        finally:
            self._recorded = None
        self.spent = False

    def replay_adjoint(self, residual: np.ndarray) -> None:
        """Run the adjoint of the recorded shot for the adjoint source ``residual``
        (nt, receiver), accumulating into the operator's gradient."""
        if self.spent:
            self.record()
        else:
            self.runner.points.place(self.shot)  # the shared runner may be at another shot
        # The shared buffer may hold another shot: rebuild this shot's last segment.
        last = self.runner.segments.count - 1
        self.runner.reset_adjoint()
        self.runner.state[:] = self.last_state
        self.runner.advance(last, self.wavelet)
        self._residual = residual
        try:
            if self.revolver is None:
                self._reverse(0)
            else:
                self.revolver.apply_reverse()
        finally:
            self._residual = None
        self.spent = self.revolver is not None  # one segment: rebuilt from last_state
