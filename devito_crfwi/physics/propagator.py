"""The wave engine: forward modelling, adjoint-state gradient and Born modelling.

A :class:`Propagator` binds one survey to one model grid. It speaks SI at its surface
(velocity in m/s, data on the survey's recording axis) and Devito units inside. The
simulation time step comes from the CFL limit of a maximum velocity fixed at
construction, so the compiled kernels and bound arguments stay valid while the model
changes during an inversion.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from devito import configuration

from ..io.schema import check_model
from . import units
from .boundary import cpml_coefficients
from .checkpointing import (
    RevolveTape,
    SegmentRunner,
    Segments,
    StoredTape,
    saved_levels,
    wavefield_bytes,
)
from .grid import CFL_MARGIN, MIN_DT_FRACTION, ModelGrid, default_boundary_width, validate_velocity
from .operators import (
    BoundOperator,
    OperatorKey,
    devito_grid,
    gather_points,
    get_operator,
    memory_names,
    model_function,
    pml_axes,
    profile_function,
    storage_factor_argument,
    stored_wavefield,
    wavefield,
)
from .points import Shot, ShotPoints
from .resampling import kernel_reach, sinc_resampling
from .settings import EngineSettings
from .survey import Survey


def available_memory() -> int:
    """Bytes the system can still give this process: ``MemAvailable``, else free pages."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def require_memory(what: str, sizes: dict[str, int], hint: str = "") -> None:
    """Raise ``MemoryError`` naming ``sizes`` (bytes) when their sum exceeds free memory."""
    need = sum(sizes.values())
    free = available_memory()
    if need > free:
        parts = ", ".join(f"{name} {_mib(n)}" for name, n in sizes.items())
        raise MemoryError(f"{what} needs {_mib(need)} ({parts}) but only {_mib(free)} of "
                          f"memory is available; nothing was allocated{hint}")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


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


@dataclass(frozen=True)
class _Modelling:
    """A full-length ``forward`` or ``born`` operator, bound to its own wavefields (zeroed
    per shot) and source and receivers."""

    operator: BoundOperator
    wavefields: tuple
    points: ShotPoints


@dataclass(frozen=True)
class MemoryPlan:
    """How gradients keep the forward wavefield: ``"full"`` or ``"revolve"`` snapshots."""

    mode: str
    checkpoints: int | None = None
    bytes_per_call: int = 0


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
        the revolve plan with the fewest bytes; every plan costs about the same time).
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
        dt_stable = grid.max_stable_dt(self.vmax, space_order)
        where = (f"for vmax = {self.vmax:.0f} m/s on spacing {grid.spacing} m with space order "
                 f"{space_order} (CFL limit {dt_stable:.4g} s)")
        if dt is None:
            self.dt = CFL_MARGIN * dt_stable
        elif dt > dt_stable:
            raise ValueError(f"time step dt = {dt:g} s is unstable {where}")
        elif dt < MIN_DT_FRACTION * dt_stable:
            raise ValueError(
                f"time step dt = {dt:g} s is below {MIN_DT_FRACTION:g} of the stable step "
                f"{where}: {int(survey.t_max / dt):d} steps for {survey.t_max:g} s. Leave dt "
                "unset: any recording interval, however fine, is served by interpolation")
        else:
            self.dt = float(dt)
        # Levels 0..nt-1; receivers record levels 1..nt-2, and the resampling kernel reaches
        # that many levels past the last recording time.
        self.nt = (int(np.ceil(survey.t_max / self.dt - 1e-9)) + 2
                   + kernel_reach(self.dt, survey.dt))
        itemsize = self.dtype.itemsize
        nrec = survey.n_receivers
        require_memory(f"the time axes of {self.nt} simulation steps and {survey.nt} samples", {
            "simulation traces": self.nt * (3 * nrec + 2) * itemsize,
            "resampling matrix": survey.nt * 2 * kernel_reach(self.dt, survey.dt) * 12,
        })
        self.time = np.arange(self.nt) * self.dt
        # (survey.nt, nt): simulation -> recording axis; its transpose is the adjoint
        self.resample = sinc_resampling(self.time, survey.time)
        self.wavelet = survey.source_wavelet(self.time).astype(self.dtype)[:, None]
        self.subsample = self._storage_factor(settings.subsample)

        self._dgrid = devito_grid(grid, self.dtype.name)
        so = space_order
        self._m = model_function("m", self._dgrid, so)
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
        and ``memory_limit`` (without either, half the memory free when it is built), so
        under a memory budget its tapes are revolve's.
        """
        if self.subsample == 1:
            return self
        if self._exact is None:
            twin = copy.copy(self)  # __getstate__: no bound operators or buffers are shared
            twin.settings = EngineSettings.create(self.settings, subsample=1)
            twin.subsample = 1
            if self.checkpoints is None and self.memory_limit is None:
                # Every step of a shot may not fit where every k-th did: past half the
                # memory free now, its tape is revolve's (exact too, one more forward).
                twin.memory_limit = available_memory() // 2
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

    # -- small helpers ------------------------------------------------------------------
    def _storage_factor(self, setting: int | str) -> int:
        """Every how many steps full-storage gradients keep the forward wavefield.

        ``"auto"``: the stored interval is at most ``1 / (2 STORAGE_NYQUIST_MARGIN f_max)``
        for the source's highest frequency ``f_max`` (Hz; 3 f0 for a Ricker). Adjoint
        sources that this interval would alias are served by :meth:`exact` instead (see
        :meth:`jacobian_adjoint`).
        """
        if setting != "auto":
            return int(setting)
        interval = 1.0 / (2.0 * STORAGE_NYQUIST_MARGIN * self.survey.highest_frequency())
        return max(1, int(interval / self.dt))

    def _pml_profiles(self) -> dict:
        """The C-PML coefficient profiles, bound to every kernel by name."""
        profiles = {}
        coefficients = cpml_coefficients(self.grid, self.vmax, self.survey.f0, self.dt)
        for axis in pml_axes(self.grid):
            for name, values in zip("ab", coefficients[axis], strict=True):
                f = profile_function(f"pml_{name}_{'xyz'[axis]}", self._dgrid, axis,
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
        if shots is None:
            return np.arange(self.survey.n_shots)
        idx = np.asarray(shots, dtype=int).reshape(-1)
        bad = idx[(idx < 0) | (idx >= self.survey.n_shots)]
        if bad.size:
            raise ValueError(f"shot index {bad[0]} out of range 0..{self.survey.n_shots - 1}")
        return idx

    def set_model(self, vp: np.ndarray) -> None:
        """Load a velocity model (x, [y,] z) in m/s, after checking it."""
        vp = validate_velocity(vp, self.grid.shape)
        if vp.max() > self.vmax * (1 + 1e-6):
            raise ValueError(
                f"vp reaches {vp.max():.1f} m/s, above vmax = {self.vmax:.1f} m/s that fixed "
                "the time step; build the operator with a larger vmax"
            )
        self._m.data[:] = self.grid.pad(units.slowness2_from_velocity(vp.astype(np.float64)))

    def _to_recording(self, sim: np.ndarray) -> np.ndarray:
        return np.asarray(self.resample @ sim, dtype=self.dtype)

    # -- modelling ----------------------------------------------------------------------
    def _model_shots(self, kind: str, fields: tuple[str, ...], idx: np.ndarray,
                     **functions) -> np.ndarray:
        """Run the full-length ``kind`` operator once per shot; data on the recording axis.

        ``fields`` are the wavefields the operator advances (zeroed per shot); ``functions``
        are further model-space inputs bound to the operator (e.g. ``dm``).
        """
        level = wavefield_bytes(self._m.data_with_halo.shape, self.dtype)
        memories = sum(len(memory_names(self.grid, name)) for name in fields)
        require_memory(f"{kind} modelling of {len(idx)} shot(s)", {
            "wavefields": (3 * len(fields) + 2 * memories) * level,
            "gathers": len(idx) * self.survey.nt * self.survey.n_receivers * self.dtype.itemsize,
        })
        if kind not in self._bound:
            points = ShotPoints(self._dgrid, self.survey.n_receivers, self.nt)
            waves = self._wavefields(*fields)
            operator = BoundOperator(
                self._op(kind), m=self._m, src=points.source, rec=points.receivers,
                **self._profiles, dt=self._dt_devito, time_m=1, time_M=self.nt - 2, **waves,
                **functions)
            self._bound[kind] = _Modelling(operator, tuple(waves.values()), points)
        modelling = self._bound[kind]
        points = modelling.points
        points.source.data[:] = self.wavelet
        out = np.empty((len(idx), self.survey.nt, self.survey.n_receivers), self.dtype)
        for i, shot in enumerate(idx):
            points.place(Shot.of(self.survey, shot))
            for wave in modelling.wavefields:
                wave.data_with_halo[:] = 0
            points.receivers.data[:] = 0
            modelling.operator.run(1, self.nt - 2)
            out[i] = self._to_recording(gather_points(points.receivers))
        return out

    def forward(self, vp: np.ndarray, shots: Sequence[int] | None = None) -> np.ndarray:
        """Receiver data (shot, time, receiver) on the recording axis for model ``vp`` (m/s)."""
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
    def stored_levels(self) -> int:
        """Time levels a full-storage tape holds: ``0, k, 2k, ...`` up to ``nt - 1``.

        (Level ``nt - 1`` is never correlated; Devito sizes the buffer to the traces'.)
        """
        return saved_levels(self.nt - 2, self.subsample)

    def _stored_bytes(self) -> int:
        """Bytes of one shot's full-storage tape: the stored levels and the live wavefield."""
        live = self._live_levels * wavefield_bytes(self._m.data_with_halo.shape, self.dtype)
        return self.stored_levels * wavefield_bytes(self.grid.padded_shape, self.dtype) + live

    @property
    def _live_levels(self) -> int:
        """Wavefield-sized arrays a gradient's kernels advance: the forward and adjoint
        fields (three levels each) and their C-PML memory variables (two each)."""
        return 6 + 2 * 2 * len(memory_names(self.grid, "u"))

    @property
    def _snapshot_levels(self) -> int:
        """Wavefield-sized arrays of one forward state: two levels and the memories."""
        return 2 + len(memory_names(self.grid, "u"))

    def memory_plan(self, n_shots: int) -> MemoryPlan:
        """The tape mode for a call with ``n_shots`` shots (see ``checkpoints``, ``memory_limit``).

        Both modes keep every ``subsample``-th level: full storage of the whole run, revolve
        of the one segment being reversed (so their gradients are equal). Every revolve plan
        recomputes each segment once (cost ~ 2 forwards + 1 adjoint), so under a memory
        budget the plan with the fewest bytes is taken.
        """
        level = wavefield_bytes(self._m.data_with_halo.shape, self.dtype)
        saved_level = wavefield_bytes(self.grid.padded_shape, self.dtype)
        steps = self.nt - 2
        full = n_shots * self._stored_bytes()
        if self.checkpoints is None and (self.memory_limit is None or full <= self.memory_limit):
            return MemoryPlan("full", None, full)

        def revolve_bytes(c: int) -> int:
            # per shot: c snapshots + the last segment's start; shared: the live fields
            # and one segment's saved levels
            length = Segments.for_snapshots(steps, c, self.subsample).length
            return (n_shots * self._snapshot_levels * (c + 1) * level
                    + self._live_levels * level
                    + saved_levels(length, self.subsample) * saved_level)

        if self.checkpoints is not None:
            c = int(self.checkpoints)
            return MemoryPlan("revolve", c, revolve_bytes(c))
        c = min(range(1, steps + 1), key=revolve_bytes)
        if revolve_bytes(c) > self.memory_limit:
            raise MemoryError(
                f"memory_limit = {self.memory_limit} bytes cannot hold the gradient of "
                f"{n_shots} shot(s): revolve needs at least {revolve_bytes(c)} bytes; "
                "raise the limit or use fewer shots per call"
            )
        return MemoryPlan("revolve", c, revolve_bytes(c))

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
        common = dict(m=self._m, dt=self._dt_devito, time_m=1, time_M=segments.length,
                      usave=saved, **self._profiles,
                      **storage_factor_argument(self._dgrid, self.subsample))
        forward = BoundOperator(self._op("forward_stored"), src=points.source,
                                rec=points.receivers, **forward_fields, **common)
        adjoint = BoundOperator(self._op("jacobian_adjoint"), rec=points.adjoint_receivers,
                                grad=self._grad, **adjoint_fields, **common)
        return SegmentRunner(forward, adjoint, list(forward_fields.values()), saved,
                             list(adjoint_fields.values()), points, segments)

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

    def release_memory(self) -> None:
        """Drop the full-storage buffers that no live tape holds (also :meth:`exact`'s)."""
        self._stored = [runner for runner in self._stored if runner.busy]
        if self._exact is not None:
            self._exact.release_memory()

    def record(self, vp: np.ndarray, shots: Sequence[int] | None = None
               ) -> tuple[np.ndarray, list]:
        """Forward data (shot, time, receiver) and one tape per shot for ``jacobian_adjoint``."""
        if configuration["mpi"]:
            raise NotImplementedError(
                "gradients are not supported under Devito MPI (DEVITO_MPI is set): forward "
                "and Born modelling are; run gradients shot-parallel on Dask instead"
            )
        self.set_model(vp)
        idx = self._shots(shots)
        plan = self.memory_plan(len(idx))
        steps = self.nt - 2
        gathers = len(idx) * self.survey.nt * self.survey.n_receivers * self.dtype.itemsize
        if plan.mode == "full":
            new = max(0, len(idx) - sum(not runner.busy for runner in self._stored))
            require_memory(f"the gradient of {len(idx)} shot(s) with full storage", {
                f"{new} new tape(s) of {self.stored_levels} levels (every {self.subsample} of "
                f"{steps} steps)": new * self._stored_bytes(), "gathers": gathers,
            }, "; set memory_limit (revolve checkpointing) or a larger subsample")
        else:
            require_memory(f"the gradient of {len(idx)} shot(s) with {plan.checkpoints} revolve "
                           "snapshots", {"snapshots and buffer": plan.bytes_per_call,
                                         "gathers": gathers})
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
                tape = StoredTape(self._idle_stored_runner(), shot, self.wavelet)
            else:
                tape = RevolveTape(self._revolve, shot, self.wavelet, plan.checkpoints)
            recorded[:] = 0
            tape.record(recorded)
            tapes.append(tape)
            out[i] = self._to_recording(recorded)
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
        every step stored for ``adjoint_source`` (..., shot, time, receiver): with
        ``subsample="auto"``, where :meth:`aliased_fraction` exceeds ``ALIASED_FRACTION_LIMIT``.
        """
        return self._per_shot(self._needs_exact, adjoint_source).astype(bool)

    def _per_shot(self, function: Callable[[np.ndarray], float],
                  adjoint_source: np.ndarray) -> np.ndarray:
        """``function`` of each shot's adjoint source on the simulation axis, (..., shot)."""
        adjoint_source = np.asarray(adjoint_source)
        traces = adjoint_source.reshape(-1, *adjoint_source.shape[-2:])
        values = [function(self.resample.T @ source) for source in traces]
        return np.array(values, dtype=np.float64).reshape(adjoint_source.shape[:-2])

    def _needs_exact(self, source: np.ndarray) -> bool:
        return (self.settings.subsample == "auto"
                and self._aliased_fraction(source) > ALIASED_FRACTION_LIMIT)

    def _aliased_fraction(self, source: np.ndarray) -> float:
        """:meth:`aliased_fraction` of one shot's adjoint source (time, receiver) on the
        simulation axis."""
        if self.subsample == 1:
            return 0.0
        power = np.abs(np.fft.rfft(np.asarray(source, dtype=np.float64), axis=0)) ** 2
        total = float(power.sum())
        if total == 0.0:
            return 0.0
        frequency = np.fft.rfftfreq(len(source), self.dt)
        aliased = frequency > 1.0 / (self.subsample * self.dt) - self.survey.highest_frequency()
        return float(np.sqrt(power[aliased].sum() / total))

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

        With ``subsample="auto"`` the gradient is exact for any adjoint source: a shot whose
        :meth:`aliased_fraction` exceeds ``ALIASED_FRACTION_LIMIT`` (noise, spiky or
        trace-normalised misfits, white vectors) is recorded again by :meth:`exact`, one shot
        at a time (one more forward of that shot and one exact tape in memory; counted in
        ``exact_recordings``); band-limited ones replay the subsampled tape. A fixed
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
            for b, source in enumerate(sources[:, i]):
                if not source.any():
                    continue  # adds exactly zero
                sim = np.asarray(self.resample.T @ source, dtype=self.dtype)
                (aliased if self._needs_exact(sim) else stored).append((b, sim))
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
