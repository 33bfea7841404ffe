"""The wave engine: forward modelling, adjoint-state gradient and Born modelling.

A :class:`Propagator` binds one survey to one model grid. It speaks SI at its surface
(velocity in m/s, data on the survey's recording axis) and Devito units inside. The
simulation time step comes from the CFL limit of a maximum velocity fixed at
construction, so the compiled operators and bound arguments stay valid while the model
changes during an inversion.

Its parts: the time axes (:mod:`.time_axes`), the operators (:mod:`.operators`) bound to
the shots' sources and receivers (:mod:`.points`), and for gradients the tapes
(:mod:`.checkpointing`) planned by :mod:`.storage` within the memory free (:mod:`.memory`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from devito import configuration

from ..io.schema import check_model
from . import units
from .boundary import cpml_coefficients
from .checkpointing import RevolveTape, SegmentRunner, Segments, StoredTape, saved_levels
from .grid import ModelGrid, default_boundary_width, validate_velocity
from .memory import require_memory, tape_budget, wavefield_bytes
from .operators import (
    BoundOperator,
    OperatorKey,
    devito_grid,
    gather_points,
    get_operator,
    halo_shape,
    memory_names,
    model_function,
    pml_axes,
    pml_profile_name,
    profile_function,
    storage_factor_argument,
    stored_wavefield,
    wavefield,
)
from .points import Shot, ShotPoints
from .settings import EngineSettings
from .storage import (
    ALIASED_FRACTION_LIMIT,
    GradientStorage,
    MemoryPlan,
    aliased_fraction,
    storage_factor,
)
from .survey import Survey
from .time_axes import TimeAxes, simulation_step


@dataclass(frozen=True)
class _Modelling:
    """A full-length ``forward`` or ``born`` operator, bound to its own wavefields (zeroed
    per shot) and source and receivers."""

    operator: BoundOperator
    wavefields: tuple
    points: ShotPoints


class Propagator:
    """Forward, adjoint-gradient and Born modelling of ``survey`` on ``grid``.

    Parameters
    ----------
    grid : ModelGrid
        The padded grid (its C-PML width and free surface are those of ``settings``).
    survey : Survey
        Its ``f0`` (Hz) tunes the C-PML's frequency shift.
    vp_reference : ndarray (x, z) or (x, y, z), m/s
        A model on the grid (checked); its maximum is the default ``vmax``, which sets the
        time step and the C-PML's damping (fixed, so derivatives are exact).
    settings : EngineSettings
        Stencil order, ``vmax`` (default: the reference model's maximum; sets the time
        step), an explicit ``dt`` (``ValueError`` if it breaks the CFL limit), and the
        gradient memory mode: ``checkpoints`` (revolve snapshots per shot) or
        ``memory_limit`` (bytes for one call's tapes: full storage when it fits, otherwise
        the revolve plan with the fewest bytes; every plan costs about the same time), and
        ``subsample`` (every how many steps the tapes keep; ``"auto"``: see
        :meth:`tape_engine`).
    dtype : numpy dtype
        Precision of the simulation (float32 or float64).
    """

    def __init__(
        self,
        grid: ModelGrid,
        survey: Survey,
        *,
        vp_reference: np.ndarray,
        settings: EngineSettings | None = None,
        dtype=np.float32,
    ) -> None:
        settings = settings or EngineSettings()
        space_order, vmax, dt = settings.space_order, settings.vmax, settings.dt
        self.settings = settings
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        vp_reference = validate_velocity(vp_reference, grid.shape, "reference model")
        survey.check_inside(grid.extent)
        self.grid = grid
        self.survey = survey
        self.space_order = space_order
        self.checkpoints = settings.checkpoints
        self.memory_limit = settings.memory_limit
        self.vmax = float(vp_reference.max() if vmax is None else vmax)
        self.time_axes = TimeAxes(simulation_step(grid, self.vmax, space_order, survey.t_max, dt),
                                  survey, self.dtype)
        self.subsample = storage_factor(settings.subsample, survey.highest_frequency(), self.dt)
        self._level_bytes = wavefield_bytes(halo_shape(grid, space_order), self.dtype)
        self._require_modelling_memory()

        self._dgrid = devito_grid(grid, self.dtype.name)
        so = space_order
        self._vp2 = model_function("vp2", self._dgrid, so)  # 1/m, what the kernels take
        self._profiles = self._pml_profiles()
        self._grad = model_function("grad", self._dgrid, so)
        self._dm = model_function("dm", self._dgrid, so)
        self._bound: dict[str, _Modelling] = {}  # by operator kind
        self._adjoint_fields: dict | None = None  # every runner's: one adjoint runs at a time
        self._revolve: SegmentRunner | None = None  # revolve's buffer, shared by its tapes
        self._stored: list[SegmentRunner] = []  # full-storage buffers, reused across calls
        self._exact: Propagator | None = None  # exact(), built on first use
        self.exact_recordings = 0  # shots jacobian_adjoint recorded again, every step stored

    def __getstate__(self) -> dict:
        # Bound operators hold ctypes arguments and the pooled buffers; both are caches that
        # the next call rebuilds, so pickles and deep copies leave them out.
        state = self.__dict__.copy()
        state.update(_bound={}, _adjoint_fields=None, _revolve=None, _stored=[], _exact=None)
        return state

    def exact(self) -> Propagator:
        """This engine storing every step (``subsample`` 1), sharing its model arrays.

        Its ``jacobian_adjoint`` is the exact adjoint of ``born`` for any data vector; a
        subsampled tape alone is accurate only for band-limited adjoint sources (residuals).
        Built once and kept (with its buffers) for the next call; it keeps ``checkpoints``
        and ``memory_limit`` (without either, :func:`.memory.tape_budget` when it is built),
        so under a memory budget its tapes are revolve's.
        """
        if self.subsample == 1:
            return self
        if self._exact is None:
            twin = copy.copy(self)  # __getstate__: no bound operators or buffers are shared
            twin.settings = EngineSettings.create(self.settings, subsample=1)
            twin.subsample = 1
            if self.checkpoints is None and self.memory_limit is None:
                # Every step of a shot may not fit where every k-th did: past the tape
                # budget now, its tape is revolve's (exact too, one more forward).
                twin.memory_limit = tape_budget()
            self._exact = twin
        return self._exact

    @classmethod
    def from_model(cls, vp, survey: Survey, settings: EngineSettings | None = None, *,
                   dtype=np.float32, **options) -> Propagator:
        """A propagator on the grid of ``vp`` (``xr.DataArray`` (x, [y,] z), m/s, coords in m,
        checked with :func:`~devito_crfwi.io.schema.check_model`).

        ``settings`` (an :class:`EngineSettings`), with any of its fields given as keywords
        (``space_order``, ``boundary_width``, ``free_surface``, ``vmax``, ``dt``,
        ``checkpoints``, ``memory_limit``) replacing its values. Warns when the grid
        under-samples the shortest wavelength.
        """
        settings = EngineSettings.create(settings, **options)
        model = check_model(vp, where="Propagator.from_model")
        values = model.values
        vmax = float(values.max()) if settings.vmax is None else settings.vmax
        boundary_width = settings.boundary_width
        if boundary_width is None:
            boundary_width = default_boundary_width(model.spacing, vmax, survey.f0)
        grid = ModelGrid(model.shape, model.spacing, model.origin, nbl=boundary_width,
                         free_surface=settings.free_surface)
        grid.check_dispersion(float(values.min()), survey.f0)
        return cls(grid, survey, vp_reference=values,
                   settings=EngineSettings.create(settings, vmax=vmax), dtype=dtype)

    def _require_modelling_memory(self) -> None:
        """Refuse (``MemoryError``) before allocating what forward modelling needs.

        The padded grid grows with the absorbing layer (by default ~0.4 of the longest
        wavelength, ``vmax / f0``) and the steps with ``vmax``: a coordinate unit or a
        velocity bound off by 1000x shows here, sized, not as numpy's failure in ``np.pad``.
        """
        grid = self.grid
        cells = int(np.prod(grid.shape))
        padded = int(np.prod(grid.padded_shape))
        require_memory(
            f"modelling on the {_shape(grid.shape)} grid padded to {_shape(grid.padded_shape)} "
            f"(absorbing layers of {grid.nbl} cells; vmax = {self.vmax:g} m/s) over {self.nt - 2} "
            f"steps of {self.dt:.3g} s", {
                # set_model: the model and its squared velocity in float64, then padded
                "padding the model": (2 * cells + padded) * np.dtype(np.float64).itemsize,
                "squared velocity (the kernels' model)": self._level_bytes,
                "forward wavefields": self._wavefields_bytes(("u",)),
            }, "; check that coordinates are in m and velocities in m/s, and vmax (or the "
               "bounds) and boundary_width")

    def _wavefields_bytes(self, fields: tuple[str, ...]) -> int:
        """Bytes of the wavefields ``fields`` an operator advances (three levels each) and of
        their C-PML memory variables (two levels each)."""
        memories = sum(len(memory_names(self.grid, name)) for name in fields)
        return (3 * len(fields) + 2 * memories) * self._level_bytes

    # -- the time axes ------------------------------------------------------------------
    @property
    def dt(self) -> float:
        """The simulation time step, s."""
        return self.time_axes.dt

    @property
    def nt(self) -> int:
        """Simulation time levels ``0..nt-1`` (``nt - 2`` steps are run)."""
        return self.time_axes.nt

    # -- small helpers ------------------------------------------------------------------
    def _pml_profiles(self) -> dict:
        """The C-PML coefficient profiles, bound to every operator by name."""
        profiles = {}
        coefficients = cpml_coefficients(self.grid, self.vmax, self.survey.f0, self.dt)
        for axis in pml_axes(self.grid):
            for name, values in zip("ab", coefficients[axis], strict=True):
                f = profile_function(pml_profile_name(name, axis), self._dgrid, axis,
                                     self.space_order)
                f.data[:] = values
                profiles[f.name] = f
        return profiles

    def _wavefields(self, *fields: str) -> dict:
        """New zeroed wavefields ``fields`` and their C-PML memory variables, by name."""
        waves = {name: wavefield(name, self._dgrid, self.space_order) for name in fields}
        for name in fields:
            waves.update({mem: wavefield(mem, self._dgrid, self.space_order, time_order=1)
                          for mem in memory_names(self.grid, name)})
        return waves

    def _op(self, kind: str):
        return get_operator(OperatorKey(self.grid, self.space_order, self.dtype.name, kind))

    @property
    def _dt_devito(self) -> float:
        return units.time_to_devito(self.dt)

    def _shots(self, shots: Sequence[int] | None) -> np.ndarray:
        return self.survey.shot_indices(shots)

    def set_model(self, vp: np.ndarray) -> None:
        """Load a velocity model (x, [y,] z) in m/s, after checking it."""
        vp = validate_velocity(vp, self.grid.shape)
        if vp.max() > self.vmax * (1 + 1e-6):
            raise ValueError(
                f"vp reaches {vp.max():.1f} m/s, above vmax = {self.vmax:.1f} m/s that fixed "
                "the time step; build the operator with a larger vmax"
            )
        self._vp2.data[:] = self.grid.pad(units.velocity2_to_devito(vp.astype(np.float64)))

    # -- modelling ----------------------------------------------------------------------
    def _model_shots(self, kind: str, fields: tuple[str, ...], idx: np.ndarray,
                     **functions) -> np.ndarray:
        """Run the full-length ``kind`` operator once per shot; data on the recording axis.

        ``fields`` are the wavefields the operator advances (zeroed per shot); ``functions``
        are further model-space inputs bound to the operator (e.g. ``dm``).
        """
        require_memory(f"{kind} modelling of {len(idx)} shot(s)", {
            "wavefields": self._wavefields_bytes(fields),
            "gathers": len(idx) * self.survey.nt * self.survey.n_receivers * self.dtype.itemsize,
        })
        if kind not in self._bound:
            points = ShotPoints(self._dgrid, self.survey.n_receivers, self.nt)
            waves = self._wavefields(*fields)
            operator = BoundOperator(
                self._op(kind), vp2=self._vp2, src=points.source, rec=points.receivers,
                **self._profiles, dt=self._dt_devito, time_m=1, time_M=self.nt - 2, **waves,
                **functions)
            self._bound[kind] = _Modelling(operator, tuple(waves.values()), points)
        modelling = self._bound[kind]
        points = modelling.points
        points.source.data[:] = self.time_axes.wavelet
        out = np.empty((len(idx), self.survey.nt, self.survey.n_receivers), self.dtype)
        for i, index in enumerate(idx):
            shot = Shot.of(self.survey, index)
            points.place(shot)
            for wave in modelling.wavefields:
                wave.data_with_halo[:] = 0
            points.receivers.data[:] = 0
            modelling.operator.run(1, self.nt - 2)
            out[i] = shot.keep_live(self.time_axes.to_recording(gather_points(points.receivers)))
        return out

    def forward(self, vp: np.ndarray, shots: Sequence[int] | None = None) -> np.ndarray:
        """Receiver data (shot, time, receiver) on the recording axis for model ``vp`` (m/s);
        zero at the survey's missing receivers (:attr:`Survey.live_receivers`)."""
        self.set_model(vp)
        return self._model_shots("forward", ("u",), self._shots(shots))

    def born(self, vp: np.ndarray, dvp: np.ndarray, shots: Sequence[int] | None = None
             ) -> np.ndarray:
        """Linearised data J dvp (shot, time, receiver) for a velocity perturbation (m/s).

        ``dvp`` (..., x, [y,] z) with leading batch dimensions gives (..., shot, time, receiver):
        the model is loaded once and each perturbation runs every shot.
        """
        self.set_model(vp)
        dvp = np.asarray(dvp, dtype=np.float64)
        ndim = self.grid.ndim
        if dvp.shape[dvp.ndim - ndim:] != self.grid.shape or not np.all(np.isfinite(dvp)):
            raise ValueError(f"dvp must be finite with shape (..., "
                             f"{', '.join(map(str, self.grid.shape))}), got {dvp.shape}")
        idx = self._shots(shots)
        batch = dvp.shape[: dvp.ndim - ndim]
        out = np.empty((int(np.prod(batch)), len(idx), self.survey.nt, self.survey.n_receivers),
                       self.dtype)
        vp64 = vp.astype(np.float64)
        for b, perturbation in enumerate(dvp.reshape(-1, *self.grid.shape)):
            dm = units.velocity_perturbation_to_slowness2(vp64, perturbation)
            self._dm.data[:] = self.grid.pad(dm)  # the model's edge padding is part of F(vp)
            out[b] = self._model_shots("born", ("u", "du"), idx, dm=self._dm)
        return out.reshape(*batch, *out.shape[1:])

    # -- gradients ----------------------------------------------------------------------
    @property
    def _storage(self) -> GradientStorage:
        """The sizes of this engine's tapes (its ``subsample``, ``checkpoints`` and
        ``memory_limit`` as they are now: :meth:`exact` changes them on its twin)."""
        return GradientStorage(
            steps=self.nt - 2, subsample=self.subsample,
            level_bytes=self._level_bytes,
            saved_level_bytes=wavefield_bytes(self.grid.padded_shape, self.dtype),
            memories=len(memory_names(self.grid, "u")), checkpoints=self.checkpoints,
            memory_limit=self.memory_limit)

    @property
    def stored_levels(self) -> int:
        """Time levels a full-storage tape holds: ``0, k, 2k, ...`` up to ``nt - 1``."""
        return self._storage.stored_levels

    def memory_plan(self, n_shots: int) -> MemoryPlan:
        """The tape mode for a call with ``n_shots`` shots (see ``checkpoints``, ``memory_limit``;
        :meth:`.storage.GradientStorage.plan`)."""
        return self._storage.plan(n_shots)

    def _require_gradient_memory(self, n_shots: int) -> MemoryPlan:
        """The tape plan of a gradient of ``n_shots`` shots (:meth:`memory_plan`), after
        refusing it (``MemoryError`` naming the sizes) when its new buffers exceed the free
        memory."""
        plan = self.memory_plan(n_shots)
        gathers = n_shots * self.survey.nt * self.survey.n_receivers * self.dtype.itemsize
        if plan.mode == "full":
            new = self._new_stored_tapes(n_shots)
            require_memory(f"the gradient of {n_shots} shot(s) with full storage", {
                f"{new} new tape(s) of {self.stored_levels} levels (every {self.subsample} of "
                f"{self.nt - 2} steps)": new * self._storage.stored_bytes, "gathers": gathers,
            }, "; set memory_limit (revolve checkpointing) or a larger subsample")
        else:
            require_memory(f"the gradient of {n_shots} shot(s) with {plan.checkpoints} revolve "
                           "snapshots", {"snapshots and buffer": plan.bytes_per_call,
                                         "gathers": gathers})
        return plan

    def _runner(self, segments: Segments) -> SegmentRunner:
        """A segment runner: a three-level forward wavefield, the segment's saved levels
        (every ``subsample``-th), its own source and receivers, and the ``forward_stored`` and
        ``jacobian_adjoint`` operators bound to them."""
        points = ShotPoints(self._dgrid, self.survey.n_receivers, segments.length + 2,
                            adjoint=True)
        if self._adjoint_fields is None:
            self._adjoint_fields = self._wavefields("v")
        adjoint_fields = self._adjoint_fields
        forward_fields = self._wavefields("u")
        saved = stored_wavefield(self._dgrid, saved_levels(segments.length, self.subsample),
                                 self.subsample)
        common = dict(vp2=self._vp2, dt=self._dt_devito, time_m=1, time_M=segments.length,
                      usave=saved, **self._profiles,
                      **storage_factor_argument(self._dgrid, self.subsample))
        forward = BoundOperator(self._op("forward_stored"), src=points.source,
                                rec=points.receivers, **forward_fields, **common)
        adjoint = BoundOperator(self._op("jacobian_adjoint"), rec=points.adjoint_receivers,
                                grad=self._grad, **adjoint_fields, **common)
        return SegmentRunner(forward, adjoint, list(forward_fields.values()), saved,
                             list(adjoint_fields.values()), points, segments, self.subsample)

    def _idle_stored_runner(self) -> SegmentRunner:
        """A full-storage buffer that no live tape holds, allocated only when none is idle.

        Buffers are kept between calls: allocating (and page-faulting) ``nt`` wavefields
        per shot and call cost ~0.5 s on a 600 x 200 grid with 2000 steps.
        """
        for runner in self._stored:
            if not runner.busy:
                return runner
        steps = self.nt - 2
        runner = self._runner(Segments(steps, steps))
        self._stored.append(runner)
        return runner

    def _new_stored_tapes(self, n_shots: int) -> int:
        """Full-storage buffers a call with ``n_shots`` shots allocates (the idle ones are
        reused)."""
        return max(0, n_shots - sum(not runner.busy for runner in self._stored))

    def tape_engine(self, n_shots: int) -> Propagator:
        """The engine whose tapes :meth:`record` makes for a call with ``n_shots`` shots.

        With ``subsample="auto"``: :meth:`exact` (every step stored, so no adjoint source
        needs a second forward) where its full-storage tapes of the call fit, that is
        within ``memory_limit`` if set (and no ``checkpoints``), and their new buffers within
        :func:`.memory.tape_budget` now; otherwise this engine (every ``subsample``-th step,
        full or revolve, and :meth:`jacobian_adjoint` records a shot again where its adjoint
        source needs it). Any other ``subsample``: this engine.
        """
        if self.settings.subsample != "auto" or self.subsample == 1:
            return self
        exact = self.exact()
        new_bytes = exact._new_stored_tapes(n_shots) * exact._storage.stored_bytes
        if exact.memory_plan(n_shots).mode == "full" and new_bytes <= tape_budget():
            return exact
        return self

    def record(self, vp: np.ndarray, shots: Sequence[int] | None = None
               ) -> tuple[np.ndarray, list]:
        """Forward data (shot, time, receiver) and one tape per shot for ``jacobian_adjoint``,
        made by :meth:`tape_engine`."""
        if configuration["mpi"]:
            raise NotImplementedError(
                "gradients are not supported under Devito MPI (DEVITO_MPI is set): forward "
                "and Born modelling are; run gradients shot-parallel on Dask instead"
            )
        idx = self._shots(shots)
        engine = self.tape_engine(len(idx))
        if engine is not self:
            return engine.record(vp, idx)
        plan = self._require_gradient_memory(len(idx))
        self.set_model(vp)
        steps = self.nt - 2
        out = np.empty((len(idx), self.survey.nt, self.survey.n_receivers), self.dtype)
        recorded = np.zeros((self.nt, self.survey.n_receivers), self.dtype)
        tapes = []
        if plan.mode == "revolve":
            segments = Segments.for_snapshots(steps, plan.checkpoints, self.subsample)
            if self._revolve is None or self._revolve.segments != segments:
                self._revolve = self._runner(segments)
        for i, index in enumerate(idx):
            shot = Shot.of(self.survey, index)
            if plan.mode == "full":
                tape = StoredTape(self._idle_stored_runner(), shot, self.time_axes.wavelet)
            else:
                tape = RevolveTape(self._revolve, shot, self.time_axes.wavelet,
                                   plan.checkpoints)
            recorded[:] = 0
            tape.record(recorded)
            tapes.append(tape)
            out[i] = shot.keep_live(self.time_axes.to_recording(recorded))
        return out, tapes

    def aliased_fraction(self, adjoint_source: np.ndarray) -> np.ndarray:
        """Per shot, the fraction (0..1, of the L2 norm) of ``adjoint_source`` that the stored
        interval aliases into the gradient.

        ``adjoint_source`` (..., shot, time, receiver) is on the recording axis; on the
        simulation axis (where the adjoint runs), the part above ``1 / (subsample dt) -
        f_max`` (Hz) beats with the forward wavefield's band onto the storage rate. Returns
        (..., shot); 0 where ``subsample`` is 1 or the source is zero.
        """
        return self._per_shot(self._aliased_fraction, adjoint_source)

    def needs_exact_storage(self, adjoint_source: np.ndarray) -> np.ndarray:
        """Per shot (..., shot), whether :meth:`jacobian_adjoint` records the shot again with
        every step stored for ``adjoint_source`` (..., shot, time, receiver) when its tape is
        this engine's subsampled one: with ``subsample="auto"``, where
        :meth:`aliased_fraction` exceeds ``ALIASED_FRACTION_LIMIT``.
        """
        return self._per_shot(self._needs_exact, adjoint_source).astype(bool)

    def _per_shot(self, function: Callable[[np.ndarray], float],
                  adjoint_source: np.ndarray) -> np.ndarray:
        """``function`` of each shot's adjoint source on the simulation axis, (..., shot)."""
        adjoint_source = np.asarray(adjoint_source)
        traces = adjoint_source.reshape(-1, *adjoint_source.shape[-2:])
        values = [function(self.time_axes.to_simulation(source)) for source in traces]
        return np.array(values, dtype=np.float64).reshape(adjoint_source.shape[:-2])

    def _needs_exact(self, source: np.ndarray) -> bool:
        return (self.settings.subsample == "auto"
                and self._aliased_fraction(source) > ALIASED_FRACTION_LIMIT)

    def _aliased_fraction(self, source: np.ndarray) -> float:
        """:meth:`aliased_fraction` of one shot's adjoint source (time, receiver) on the
        simulation axis."""
        return aliased_fraction(source, self.dt, self.subsample,
                                self.survey.highest_frequency())

    def _replay(self, tape: StoredTape | RevolveTape, sources: list[tuple[int, np.ndarray]],
                out: np.ndarray) -> None:
        """Run ``tape``'s adjoint once per (index, source on the simulation axis) of
        ``sources``, adding each gradient w.r.t. the padded slowness² to ``out[index]``."""
        for b, source in sources:
            self._grad.data[:] = 0
            tape.replay_adjoint(source)
            out[b] += self._grad.data

    def jacobian_adjoint(self, vp: np.ndarray, tapes: list, adjoint_source: np.ndarray
                         ) -> np.ndarray:
        """Gradient (x, [y,] z) w.r.t. vp (m/s) of ``sum(adjoint_source * data)`` for tapes.

        ``adjoint_source`` (shot, time, receiver) is dL/d(data) on the recording axis, one
        row per tape, so any loss works: for L2 it is the residual. Leading batch dimensions
        (..., shot, time, receiver) give one gradient each, (..., x, [y,] z): every tape is
        replayed once per batch item, and a shot whose adjoint source is zero is skipped.

        With ``subsample="auto"`` the gradient is exact for any adjoint source. Tapes with
        every step stored (:meth:`tape_engine`: wherever they fit) are replayed as they are.
        On a subsampled tape, a shot whose :meth:`aliased_fraction` exceeds
        ``ALIASED_FRACTION_LIMIT`` (residuals cut at ``t_max``, noise, spiky or
        trace-normalised misfits, white vectors) is recorded again by :meth:`exact`, one
        shot at a time (one more forward of that shot and one exact tape in memory; counted
        in ``exact_recordings``); band-limited ones replay the subsampled tape. A fixed
        ``subsample`` > 1 always replays its tapes.
        """
        self.set_model(vp)
        adjoint_source = np.asarray(adjoint_source)
        expected = (len(tapes), self.survey.nt, self.survey.n_receivers)
        if adjoint_source.shape[-3:] != expected:
            raise ValueError(f"adjoint source must have shape (..., {', '.join(map(str, expected))}"
                             f"), got {adjoint_source.shape}")
        batch = adjoint_source.shape[:-3]
        sources = adjoint_source.reshape(-1, *expected)
        padded = np.zeros((len(sources), *self.grid.padded_shape))
        for i, tape in enumerate(tapes):
            stored, aliased = [], []
            subsampled = tape.runner.factor > 1
            for b, source in enumerate(sources[:, i]):
                source = tape.shot.keep_live(source)  # the adjoint of zeroed traces
                if not source.any():
                    continue  # adds exactly zero
                sim = np.asarray(self.time_axes.to_simulation(source), dtype=self.dtype)
                (aliased if subsampled and self._needs_exact(sim) else stored).append((b, sim))
            if stored:
                self._replay(tape, stored, padded)
            if aliased:
                engine = self.exact()
                _, (exact_tape,) = engine.record(vp, [tape.shot.index])
                engine._replay(exact_tape, aliased, padded)
                del exact_tape  # frees its buffer for the next shot
                self.exact_recordings += 1
        vp64 = vp.astype(np.float64)
        grads = np.empty((len(sources), *self.grid.shape))
        for b, grad_m in enumerate(padded):
            grads[b] = units.slowness2_gradient_to_velocity(vp64, self.grid.pad_adjoint(grad_m))
        return grads.reshape(*batch, *self.grid.shape)

    def misfit_gradient(self, vp: np.ndarray, observed: np.ndarray,
                        shots: Sequence[int] | None = None) -> tuple[float, np.ndarray]:
        """L2 misfit ``0.5 ||d(vp) - observed||²`` and its gradient (model-shaped) w.r.t. vp (m/s).

        ``observed`` (shot, time, receiver) holds either every shot of the survey or just
        the selected ``shots``.
        """
        idx = self._shots(shots)
        observed = np.asarray(observed, dtype=np.float64)
        if len(observed) == self.survey.n_shots and len(idx) != len(observed):
            observed = observed[idx]
        data, tapes = self.record(vp, idx)
        residual = data.astype(np.float64) - observed
        return 0.5 * float(np.sum(residual**2)), self.jacobian_adjoint(vp, tapes, residual)


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))
