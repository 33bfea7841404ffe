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
    """One shot of a survey: its index, source position (ndim,) and receiver positions
    (receiver, ndim), m."""

    index: int
    source: np.ndarray
    receivers: np.ndarray

    @classmethod
    def of(cls, survey: Survey, index: int) -> Shot:
        """Shot ``index`` of ``survey``."""
        return cls(int(index), survey.source_positions[index], survey.receiver_positions[index])


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
