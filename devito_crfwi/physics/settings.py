"""The engine's settings: one frozen value, validated once, hashable, serialisable."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["EngineSettings"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """How the wave engine runs: stencil, boundaries, time step and gradient memory.

    Every entry point that builds an engine (``WaveOperator``, ``simulate``, ``CRFWIProblem``,
    the command line's ``[engine]`` table, the Dask workers) takes these fields by name and
    builds one of these, so each is checked in one place; equal settings hash alike (the
    workers' engine cache) and :meth:`as_dict` is what checkpoints and results record.

    Parameters
    ----------
    space_order : int
        Order of the spatial stencil, even in 2..16.
    boundary_width : int, cells, optional
        C-PML width; default from ``f0`` and the highest velocity (0.4 of the longest dominant
        wavelength, at least 14 cells).
    free_surface : bool
        Pressure zero on the model's top row (``z = z0``, the first depth coordinate)
        instead of an absorbing top: the image-source solution.
    vmax : float, m/s, optional
        Highest velocity any model may reach (sets the time step); default the model's maximum.
    dt : float, s, optional
        Explicit simulation time step, between 1/10 of the CFL limit and the limit; default
        ``CFL_MARGIN`` of the limit. Recording intervals never change it (traces are
        resampled).
    checkpoints : int, optional
        Revolve checkpointing with this many snapshots per shot for gradients (the same
        gradient as full storage, at about one more forward per gradient).
    memory_limit : int, bytes, optional
        Budget for one call's gradient tapes: full storage when it fits, else revolve.
    subsample : "auto" or int >= 1
        Gradients keep every ``subsample``-th time step of the forward wavefield (of the
        whole run with full storage, of the segment being reversed with revolve; 1: every
        step, exact). ``"auto"`` is exact for any adjoint source: it stores every step
        wherever a call's full-storage tapes fit (``memory_limit`` if set, else half the
        memory free; not with ``checkpoints``; ``Propagator.tape_engine``). Where they do
        not, it keeps the largest factor that stays above the Nyquist rate of the source's
        highest frequency, with margin, and a shot whose adjoint source that factor would
        alias (residuals cut at t_max, noise, spiky or normalised misfits) is recorded again
        with every step stored, at one more forward (see ``Propagator.jacobian_adjoint``).
        An explicit factor > 1 always correlates its own levels (approximate for such
        sources).
    """

    space_order: int = 8
    boundary_width: int | None = None
    free_surface: bool = False
    vmax: float | None = None
    dt: float | None = None
    checkpoints: int | None = None
    memory_limit: int | None = None
    subsample: int | str = "auto"

    def __post_init__(self) -> None:
        if not (_is_int(self.space_order) and self.space_order in range(2, 17, 2)):
            raise ValueError(f"space_order must be an even integer in 2..16, "
                             f"got {self.space_order!r}")
        if not isinstance(self.free_surface, bool):
            raise TypeError(f"free_surface must be True or False, got {self.free_surface!r}")
        for name, minimum in (("boundary_width", 0), ("checkpoints", 1), ("memory_limit", 1)):
            value = getattr(self, name)
            if value is not None and not (_is_int(value) and value >= minimum):
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if self.subsample != "auto" and not (_is_int(self.subsample) and self.subsample >= 1):
            raise ValueError(f"subsample must be 'auto' or an integer >= 1, got "
                             f"{self.subsample!r}")
        for name in ("vmax", "dt"):
            value = getattr(self, name)
            if value is not None:
                if not (_is_number(value) and value > 0):
                    raise ValueError(f"{name} must be a positive number, got {value!r}")
                object.__setattr__(self, name, float(value))

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The settings' names, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def create(cls, settings: EngineSettings | None = None, **options: Any) -> EngineSettings:
        """``settings`` with ``options`` replaced; unknown names are refused, listed."""
        unknown = sorted(set(options) - set(cls.fields()))
        if unknown:
            raise TypeError(f"unknown engine setting(s) {unknown}; expected some of "
                            f"{list(cls.fields())}")
        return dataclasses.replace(settings or cls(), **options)

    def as_dict(self) -> dict[str, Any]:
        """Plain values by name (JSON-ready): for results, checkpoints and fingerprints."""
        return dataclasses.asdict(self)
