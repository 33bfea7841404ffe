"""One shot's source and receivers: the shot's positions, and the Devito sparse functions
that operators are bound to.

Operators are bound once to a :class:`ShotPoints` (its sparse functions and their data
arrays); :meth:`ShotPoints.place` then moves the same functions from shot to shot. Positions
are in m, ``(x, z)`` or ``(x, y, z)``, as in :class:`~.survey.Survey` (Devito's units too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from devito import Grid

from .operators import sparse_points
from .survey import Survey


@dataclass(frozen=True, eq=False)
class Shot:
    """One shot of a survey: its index, source position (ndim,), receiver positions
    (receiver, ndim), m, all finite, and which receivers are live (receiver,) bool.

    A missing receiver of a variable acquisition (NaN position in the survey) sits at the
    source instead, so that no NaN reaches Devito: a receiver only samples the wavefield,
    so where it sits changes no other trace. Its trace is zeroed after modelling and its
    adjoint source zeroed before injection (:meth:`keep_live`).
    """

    index: int
    source: np.ndarray
    receivers: np.ndarray
    live: np.ndarray

    @classmethod
    def of(cls, survey: Survey, index: int) -> Shot:
        """Shot ``index`` of ``survey``."""
        live = survey.live_receivers[index]
        source = survey.source_positions[index]
        receivers = survey.receiver_positions[index]
        if not live.all():
            receivers = np.where(live[:, None], receivers, source)
        return cls(int(index), source, receivers, live)

    def keep_live(self, traces: np.ndarray) -> np.ndarray:
        """``traces`` (..., receiver) zero at the missing receivers (a copy only when some
        are missing)."""
        return traces if self.live.all() else np.where(self.live, traces, 0).astype(traces.dtype)


class ShotPoints:
    """A point source and its receivers as Devito sparse functions of ``length`` time
    samples, placed at one shot at a time.

    ``receivers`` record the forward wavefield; with ``adjoint``, ``adjoint_receivers``
    (at the same positions) inject an adjoint source, so that a forward run does not
    overwrite it. Their names (``src``, ``rec``) are those the operators are built with.
    """

    def __init__(self, grid: Grid, n_receivers: int, length: int, *,
                 adjoint: bool = False) -> None:
        self.source = sparse_points("src", grid, 1, length)
        self.receivers = sparse_points("rec", grid, n_receivers, length)
        self.adjoint_receivers = (sparse_points("rec", grid, n_receivers, length)
                                  if adjoint else None)

    def place(self, shot: Shot) -> None:
        """Move the source and receivers to ``shot``'s positions."""
        self.source.coordinates.data[:] = shot.source
        self.receivers.coordinates.data[:] = shot.receivers
        if self.adjoint_receivers is not None:
            self.adjoint_receivers.coordinates.data[:] = shot.receivers
