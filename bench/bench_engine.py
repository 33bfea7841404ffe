"""Engine benchmark: our engine against Deepwave, each engine in its own process.

A driver (the default mode) spawns one worker process per engine, case and round
(``bench_engine.py --worker --engine ours|deepwave --case CASE --json OUT``), so neither
engine's OpenMP runtime, allocator state or page cache warms the other's, and each worker's
peak RSS (``getrusage``) is its own. Both engines run with the default OpenMP environment:
only ``OMP_NUM_THREADS`` (and ``torch.set_num_threads``) is set, to 2, as a user of a
2-core machine would; ``OMP_WAIT_POLICY`` is removed from the workers' environment.

Two problems: 2-D, one shot record of 600 x 200 cells at 10 m (Marmousi), 1 shot, 300
receivers, Ricker 10 Hz, 2.3 s recorded at 4 ms; 3-D, the paper's set-up narrowed to
100 x 100 x 60 cells (x, y, z) at 50 m (layered 1500-4500 m/s), 1 shot at the surface centre,
40 x 40 areal receivers, Ricker 12 Hz, 2.5 s at 4 ms. Both 8th order in space, float32,
absorbing on every side. Two comparisons on each:

(a) "what each user gets by default": our public API with its defaults (``Survey.surface``
    + ``Propagator.from_model`` / ``WaveOperator``, no ``dt``: the engine picks its step and
    C-PML width) against ``deepwave.scalar`` with dt = the recording interval, accuracy 8,
    pml_width 20, pml_freq f0 and max_vel, which sub-steps as its documentation says;
(b) "the same work": both at Deepwave's internal step, for the same number of steps, on the
    same 20-cell absorbing width (our explicit ``dt=``; Deepwave given that dt, so its
    step_ratio is 1, checked through its ``RunInfo``).

In 2-D also the torch bridge, revolve, and a growth sweep of the forward's per-step
throughput over grid sizes; in 3-D the Propagator only (its workers run minutes each).

Usage::

    .venv/bin/python bench/bench_engine.py            # both problems, writes bench/RESULTS.md
    .venv/bin/python bench/bench_engine.py --only 3d  # the 3-D problem alone
    .venv/bin/python bench/bench_engine.py --quick    # smoke run, writes no file

RESULTS.md holds the 2-D document and then its "## 3-D case" section; a run of one problem
(``--only``) rewrites its part and keeps the other's from the existing file.

The 2-D part takes ~10 minutes on an idle 2-core machine, the 3-D part ~15 minutes a round
(the smoke run 1-3 minutes per problem, mostly process start-up); on a loaded one, default
(spinning) OpenMP waits make both engines many times slower, so ``--budget`` (minutes per
problem, default 30) stops starting rounds that would end past it and the report states how
many rounds it got.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "data" / "models"
MARMOUSI = MODELS / "marmousi.npy"
MIB = 2.0**20


def _npts(shape) -> int:
    return int(np.prod(shape))


# A user of a 2-core machine sets 2 threads; BENCH_THREADS changes it (reported as such).
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# Variables that change how OpenMP threads wait; the workers run without them (defaults).
OMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


# -- the problem ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One shot record: cells, spacing (m), record length and interval (s), f0 (Hz).

    2-D (x, z) by default; ``ny`` makes it 3-D (x, y, z), with ``n_receivers`` then the
    (n_x, n_y) areal grid.
    """

    nx: int = 600
    nz: int = 200
    spacing: float = 10.0
    t_max: float = 2.3
    rec_dt: float = 0.004
    f0: float = 10.0
    n_receivers: int | tuple[int, int] = 300
    space_order: int = 8
    pml_width: int = 20  # Deepwave's default; our "same work" C-PML width
    checkpoints: int = 40
    marmousi: bool = True  # a Marmousi window where the shared file has one
    ny: int | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells (x, z) or (x, y, z)."""
        return (self.nx, self.nz) if self.ny is None else (self.nx, self.ny, self.nz)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def points(self) -> int:
        return _npts(self.shape)

    @property
    def receiver_counts(self) -> tuple[int, ...]:
        """Receivers along each horizontal axis (x[, y])."""
        return tuple(np.atleast_1d(self.n_receivers).tolist())

    @property
    def n_receivers_total(self) -> int:
        return _npts(self.receiver_counts)

    @property
    def samples(self) -> int:
        """Recorded samples 0, rec_dt, ..., t_max."""
        return int(round(self.t_max / self.rec_dt)) + 1


FULL = Problem()
QUICK = Problem(nx=240, nz=120, t_max=0.6, n_receivers=100, checkpoints=10)
# The paper's 3-D set-up (160 x 160 x 60 cells at 50 m, 12 Hz, 2.5 s) narrowed to 100 x 100
# in (x, y): at 160 x 160 Deepwave's same-work gradient stores more than this 24 GiB machine
# holds (``deepwave_probe`` reports its own estimate) and a round would take ~30 minutes.
PAPER_3D = (160, 160, 60)
FULL_3D = Problem(nx=100, ny=100, nz=60, spacing=50.0, t_max=2.5, f0=12.0,
                  n_receivers=(40, 40), marmousi=False)
QUICK_3D = Problem(nx=30, ny=30, nz=20, spacing=50.0, t_max=0.4, f0=12.0,
                   n_receivers=(10, 10), marmousi=False)
SWEEP_SIZES = ((200, 100), (400, 150), (600, 200), (1000, 300), (1601, 401))
SWEEP_T_MAX = 1.0  # s; the sweep's record (forward only, layered model at every size)


def sweep_problem(nx: int, nz: int) -> Problem:
    return Problem(nx=nx, nz=nz, t_max=SWEEP_T_MAX, n_receivers=min(300, nx // 2),
                   marmousi=False)


def problem(case: str, quick: bool) -> Problem:
    """The 2-D or 3-D problem ("2d" or "3d"), full or quick."""
    return {("2d", False): FULL, ("2d", True): QUICK, ("3d", False): FULL_3D,
            ("3d", True): QUICK_3D}[case, quick]


def velocity(p: Problem):
    """(x, [y,] z) model in m/s (float32) and a description: a Marmousi window if wanted
    and present (2-D), else a layered 1500-4500 m/s model undulating along x (and y)."""
    if p.marmousi and p.ndim == 2 and MARMOUSI.exists():
        full = np.load(MARMOUSI)
        if full.shape[0] >= p.nx and full.shape[1] >= p.nz:
            about = (f"Marmousi window [0:{p.nx}, 0:{p.nz}] of ../shared/data/models/"
                     f"marmousi.npy (its 15 m cells re-labelled {p.spacing:g} m)")
            return np.ascontiguousarray(full[: p.nx, : p.nz], dtype=np.float32), about
    *across, z = np.meshgrid(*(np.arange(n) for n in p.shape), indexing="ij")
    depth = z / (p.nz - 1) + sum(0.08 * np.sin(2 * np.pi * a / n)
                                 for a, n in zip(across, p.shape[:-1], strict=True))
    values = 1500.0 + 3000.0 * np.clip(depth, 0.0, 1.0) ** 1.5
    along = "x" if p.ndim == 2 else "x and y"
    return (values.astype(np.float32),
            f"layered model 1500-4500 m/s (gently undulating along {along})")


def geometry(p: Problem):
    """Source and receiver cells (ix, [iy,] iz), the rule of ``Survey.surface``: the shot
    at the centre, receivers evenly across the top (an areal grid in 3-D, x outer), both
    two cells deep, snapped to nodes."""
    horizontal = p.shape[:-1]
    src = np.array([[*(int(np.round((n - 1) / 2)) for n in horizontal), 2]])
    lines = []
    for n, count in zip(horizontal, p.receiver_counts, strict=True):
        line = np.round(np.linspace(0, n - 1, count)).astype(int)
        if len(np.unique(line)) != count:
            raise ValueError(f"{count} receivers do not fit on {n} cells")
        lines.append(line)
    grids = np.meshgrid(*lines, indexing="ij")
    rec = np.stack([*(g.ravel() for g in grids), np.full(grids[0].size, 2)], axis=1)
    return src, rec


def ricker(f0: float, t):
    """Ricker of peak f0 (Hz) peaked at 1/f0: our ``Survey``'s default wavelet."""
    arg = (np.pi * f0 * (t - 1.0 / f0)) ** 2
    return (1.0 - 2.0 * arg) * np.exp(-arg)


# -- worker: measuring ---------------------------------------------------------------------
_PAGE = resource.getpagesize()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class Sampler:
    """Samples the RSS every 2 ms in a thread (the engines' C code releases the GIL)."""

    def __enter__(self) -> Sampler:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def measure(fn, baseline: int) -> tuple[dict, object]:
    """A first call (memory: its peak above ``baseline``, the process's ru_maxrss after it),
    then a second, timed call (wall, CPU). Returns the record and the first call's result."""
    before = maxrss_bytes()
    with Sampler() as sampler:
        result = fn()
    after = maxrss_bytes()
    # ru_maxrss is exact when this call set the process's peak; the sampler otherwise.
    peak = max(sampler.peak, after if after > before else 0)
    gc.collect()
    _pair_barrier()
    c0 = os.times()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    c1 = os.times()
    return dict(time=wall, cpu=(c1.user - c0.user) + (c1.system - c0.system),
                sys=c1.system - c0.system, maxrss_mib=after / MIB,
                call_peak_mib=(peak - baseline) / MIB, exact_peak=after > before), result


# Set in a worker run as one of a side-by-side pair: (folder, this worker's index).
_PAIR: list = []


def _pair_barrier() -> None:
    """In a side-by-side pair, start each timed call together with the other worker: say
    ready, then wait for the driver's go (both were ready)."""
    if not _PAIR:
        return
    folder, index = _PAIR
    _pair_barrier.calls = getattr(_pair_barrier, "calls", 0) + 1
    (folder / f"ready-{_pair_barrier.calls}-{index}").touch()
    while not (folder / f"go-{_pair_barrier.calls}").exists():
        time.sleep(0.002)


def _start_worker() -> dict:
    import warnings

    import torch

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(THREADS)
    return dict(load_start=os.getloadavg()[0], numpy=np.__version__, torch=torch.__version__,
                torch_threads=torch.get_num_threads(),
                omp_env={k: v for k, v in os.environ.items()
                         if k.startswith(("OMP_", "GOMP_", "KMP_"))})


def _save(path: str | None, **arrays) -> None:
    if path:
            np.savez(path, **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})


# -- worker: our engine --------------------------------------------------------------------
OUR_CASES = {  # case: (engine options, API, tasks)
    "default-direct": ("default", None, "direct", ("forward", "gradient")),
    "default-bridge": ("default", None, "bridge", ("forward", "gradient")),
    "default-revolve-direct": ("default", "revolve", "direct", ("gradient",)),
    "default-revolve-bridge": ("default", "revolve", "bridge", ("gradient",)),
    "same-direct": ("same", None, "direct", ("forward", "gradient")),
}


def _our_survey(p: Problem, vp, t_max: float | None = None):
    """``Survey.surface`` on model ``vp``: the positions of :func:`geometry` (checked)."""
    from devito_crfwi.physics import Survey

    n_receivers = p.n_receivers if p.ndim == 2 else p.receiver_counts
    survey = Survey.surface(vp, 1, n_receivers, p.f0, t_max or p.t_max, dt=p.rec_dt)
    src, rec = geometry(p)
    if not (np.array_equal(survey.source_positions, src * p.spacing)
            and np.array_equal(survey.receiver_positions[0], rec * p.spacing)):
        raise RuntimeError("Survey.surface and geometry() place the shot or receivers apart")
    return survey


def _dataarray(values, h: float):
    """The model as our API takes it: (x, [y,] z) in m/s, coords in m."""
    import xarray as xr

    dims = ("x", "z") if values.ndim == 2 else ("x", "y", "z")
    return xr.DataArray(values, dims=dims, attrs={"units": "m/s"},
                        coords={d: np.arange(n) * h for d, n in zip(dims, values.shape,
                                                                   strict=True)})


def our_worker(case: str, p: Problem, dt: float | None, save: str | None) -> dict:
    """One of OUR_CASES: compile (untimed, on a short record), then measure each task."""
    rec = _start_worker()
    import devito
    import torch

    import devito_crfwi
    from devito_crfwi.bridge import WaveOperator
    from devito_crfwi.physics import Propagator

    kind, memory, api, tasks = OUR_CASES[case]
    values, about = velocity(p)
    vp = _dataarray(values, p.spacing)
    # (a): the defaults, nothing given; (b): Deepwave's internal step and absorbing width.
    options = {} if kind == "default" else dict(dt=dt, boundary_width=p.pml_width)
    if memory == "revolve":
        options["checkpoints"] = p.checkpoints
    survey = _our_survey(p, vp)
    observed = np.zeros((1, survey.nt, survey.n_receivers), np.float32)
    vp_t = torch.from_numpy(values.copy())

    def calls(srv, obs):
        if api == "direct":
            prop = Propagator.from_model(vp, srv, **options)

            def forward():
                return prop.forward(values)

            def gradient():
                return prop.misfit_gradient(values, obs)[1]
        else:
            op = WaveOperator(srv, vp, **options)
            prop = op.propagator()

            def forward():
                with torch.no_grad():
                    return op(vp_t).numpy()

            def gradient():
                v = vp_t.clone().requires_grad_(True)
                loss = 0.5 * ((op(v) - torch.from_numpy(obs)) ** 2).sum()
                loss.backward()
                return v.grad.numpy()

        return prop, dict(forward=forward, gradient=gradient)

    # Compile every kernel the tasks use (Devito JIT) on a short record of the same grid.
    t0 = time.perf_counter()
    short = _our_survey(p, vp, t_max=min(p.t_max, 30 * p.rec_dt))
    _, warm = calls(short, np.zeros((1, short.nt, short.n_receivers), np.float32))
    for task in tasks:
        warm[task]()
    del warm
    gc.collect()
    rec["compile_s"] = time.perf_counter() - t0
    baseline = rss_bytes()
    prop, run = calls(survey, observed)
    results = {}
    rec["tasks"] = {}
    for task in tasks:
        rec["tasks"][task], results[task] = measure(run[task], baseline)
    if "forward" in results:
        results["forward"] = np.asarray(results["forward"])[0]  # (time, receiver)
    _save(save, **results)
    rec.update(
        engine="ours", case=case, about=about, devito=devito.__version__,
        package=getattr(devito_crfwi, "__version__", "?"), baseline_mib=baseline / MIB,
        settings={k: v for k, v in prop.settings.as_dict().items() if v is not None},
        dt=prop.dt, nt_levels=prop.nt, steps=prop.nt - 2,  # levels 0..nt-1: nt-2 updates
        subsample=prop.subsample,
        padded=list(prop.grid.padded_shape),
        pads=[w for pair in prop.grid.pad_widths for w in pair],
        dtype=str(prop.dtype), vmax=prop.vmax, load_end=os.getloadavg()[0])
    return rec


def our_probe(p: Problem, dt: float, sweep_dt: float | None) -> dict:
    """Our step counts for explicit steps (the same-work case and, in 2-D, the sweep), no
    kernels."""
    from devito_crfwi.physics import Propagator

    out = {}
    jobs = [("same", p, dt)]
    if sweep_dt is not None:
        jobs.append(("sweep", sweep_problem(*SWEEP_SIZES[0]), sweep_dt))
    for name, prob, step in jobs:
        values, _ = velocity(prob)
        vp = _dataarray(values, prob.spacing)
        prop = Propagator.from_model(vp, _our_survey(prob, vp), dt=step,
                                     boundary_width=prob.pml_width)
        out[name] = dict(steps=prop.nt - 2, dt=prop.dt)
    return out


def our_sweep(sizes, dt: float) -> dict:
    rec = _start_worker()
    from devito_crfwi.physics import Propagator

    rec["sizes"] = []
    for nx, nz in sizes:
        p = sweep_problem(nx, nz)
        values, _ = velocity(p)
        vp = _dataarray(values, p.spacing)
        prop = Propagator.from_model(vp, _our_survey(p, vp), dt=dt,
                                     boundary_width=p.pml_width, vmax=4500.0)
        forward = functools.partial(prop.forward, values)
        forward()  # compiles (untimed)
        m, _ = measure(forward, rss_bytes())
        rec["sizes"].append(dict(nx=nx, nz=nz, time=m["time"], cpu=m["cpu"],
                                 steps=prop.nt - 2, padded=list(prop.grid.padded_shape)))
    rec.update(engine="ours", case="sweep", load_end=os.getloadavg()[0])
    return rec


# -- worker: Deepwave ----------------------------------------------------------------------
def _deepwave_call(p: Problem, values, dt: float, n: int, vmax: float | None = None):
    """deepwave.scalar on the record of ``p`` with user step ``dt`` and ``n`` samples."""
    import deepwave
    import torch

    src, rec = geometry(p)
    amplitudes = torch.from_numpy(ricker(p.f0, np.arange(n) * dt).astype(np.float32))
    vmax = float(values.max()) if vmax is None else vmax
    settings = dict(
        source_amplitudes=amplitudes.reshape(1, 1, -1),
        source_locations=torch.from_numpy(src).long().reshape(1, 1, p.ndim),
        receiver_locations=torch.from_numpy(rec).long().reshape(1, -1, p.ndim),
        accuracy=p.space_order, pml_width=p.pml_width, pml_freq=p.f0, max_vel=vmax)

    def call(v):
        return deepwave.scalar(v, p.spacing, dt, **settings)

    return call


def _info(out) -> dict:
    i = out.info
    keys = ("step_ratio", "internal_dt", "courant_number", "nt", "pml_freq", "max_vel",
            "model_gradient_stride", "backend", "backward_backend")
    return {k: (getattr(i, k) if isinstance(getattr(i, k, None), int | float | None)
                else str(getattr(i, k))) for k in keys} | {"dtype": str(i.dtype),
                                                          "storage": str(i.storage)}


def deepwave_worker(case: str, p: Problem, dt: float | None, steps: int | None,
                    save: str | None) -> dict:
    rec = _start_worker()
    import deepwave
    import torch

    values, about = velocity(p)
    v0 = torch.from_numpy(values.copy())
    if case == "default":  # the recording interval; Deepwave chooses its internal step
        user_dt, n = p.rec_dt, p.samples
    else:  # "same": its own internal step as the user step, for our number of steps
        user_dt, n = dt, steps
    call = _deepwave_call(p, values, user_dt, n)
    observed = torch.zeros(1, p.n_receivers_total, n)

    def forward():
        with torch.no_grad():
            out = call(v0)
        forward.info = _info(out)
        forward.domain = list(out.wavefield_0.shape[1:])
        forward.dtype = str(out.receiver_amplitudes.dtype)
        return out.receiver_amplitudes.numpy()[0].T  # (time, receiver)

    def gradient():
        v = v0.clone().requires_grad_(True)
        out = call(v)
        loss = 0.5 * ((out.receiver_amplitudes - observed) ** 2).sum()
        loss.backward()
        gradient.info = _info(out)
        return v.grad.numpy()

    baseline = rss_bytes()
    results = {}
    rec["tasks"] = {}
    for task, fn in (("forward", forward), ("gradient", gradient)):
        rec["tasks"][task], results[task] = measure(fn, baseline)
    info = forward.info
    if case == "same" and info["step_ratio"] != 1:
        raise RuntimeError(f"Deepwave sub-steps at dt = {user_dt}: {info}")
    _save(save, **results)
    rec.update(engine="deepwave", case=case, about=about, deepwave=deepwave.__version__,
               info=info, gradient_info=gradient.info, dt=info["internal_dt"],
               steps=info["nt"] * info["step_ratio"], padded=forward.domain,
               pads=[p.pml_width] * 2 * p.ndim, dtype=forward.dtype, input_dtype=str(v0.dtype),
               baseline_mib=baseline / MIB, vmax=float(values.max()),
               load_end=os.getloadavg()[0])
    return rec


def deepwave_probe(p: Problem) -> dict:
    """Deepwave's own internal step for the record (its RunInfo), main problem and, in 2-D,
    the sweep; in 3-D also its memory estimate (GiB, a lower bound by its docs) for the
    same-work gradient on the paper's grid."""
    import deepwave
    import torch

    out = {}
    jobs = [("main", p, None)]
    if p.ndim == 2:
        jobs.append(("sweep", sweep_problem(*SWEEP_SIZES[0]), 4500.0))
    for name, prob, vmax in jobs:
        values, _ = velocity(prob)
        call = _deepwave_call(prob, values, prob.rec_dt, 4, vmax=vmax)  # a few samples
        with torch.no_grad():
            info = _info(call(torch.from_numpy(values.copy())))
        out[name] = dict(internal_dt=info["internal_dt"], step_ratio=info["step_ratio"],
                         courant=info["courant_number"])
    if p.ndim == 3:
        main = out["main"]
        # Same work on the paper's record (FULL_3D's): every internal step stored.
        nt = int(round(FULL_3D.t_max / main["internal_dt"])) + 1
        estimate = deepwave.estimate_memory(
            "scalar", PAPER_3D, nt, 1, accuracy=p.space_order, pml_width=p.pml_width,
            models_requiring_grad=["v"])
        out["paper_grid"] = dict(shape=list(PAPER_3D), nt=nt,
                                 gib=estimate["total_bytes_lower_bound"] / 2**30)
    return out


def _no_grad_call(call, v):
    import torch

    with torch.no_grad():
        return call(v)


def deepwave_sweep(sizes, dt: float, steps: int) -> dict:
    rec = _start_worker()
    import torch

    rec["sizes"] = []
    for nx, nz in sizes:
        p = sweep_problem(nx, nz)
        values, _ = velocity(p)
        forward = functools.partial(_no_grad_call, _deepwave_call(p, values, dt, steps,
                                                                  vmax=4500.0),
                                    torch.from_numpy(values.copy()))
        out = forward()
        if out.info.step_ratio != 1:
            raise RuntimeError(f"Deepwave sub-steps in the sweep: {out.info}")
        m, _ = measure(forward, rss_bytes())
        rec["sizes"].append(dict(nx=nx, nz=nz, time=m["time"], cpu=m["cpu"], steps=steps,
                                 padded=list(out.wavefield_0.shape[1:])))
    rec.update(engine="deepwave", case="sweep", load_end=os.getloadavg()[0])
    return rec


def worker_main(args) -> int:
    p = problem(args.problem, args.quick)
    if args.pair:
        _PAIR[:] = [Path(args.pair), args.pair_index]
    sizes = SWEEP_SIZES[:2] if args.quick else SWEEP_SIZES
    if args.engine == "ours":
        if args.case == "probe":
            rec = our_probe(p, args.dt, args.sweep_dt)
        elif args.case == "sweep":
            rec = our_sweep(sizes, args.dt)
        else:
            rec = our_worker(args.case, p, args.dt, args.save)
    else:
        if args.case == "probe":
            rec = deepwave_probe(p)
        elif args.case == "sweep":
            rec = deepwave_sweep(sizes, args.dt, args.steps)
        else:
            rec = deepwave_worker(args.case, p, args.dt, args.steps, args.save)
    Path(args.json).write_text(json.dumps(rec, default=float))
    return 0


# -- driver --------------------------------------------------------------------------------
def worker_env() -> tuple[dict, list[str]]:
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
    removed = [f"{k}={env.pop(k)}" for k in OMP_WAIT_VARIABLES if k in env]
    return env, removed


class Driver:
    """Spawns the workers of one problem ("2d" or "3d") and reads back their records."""

    def __init__(self, args, tmp: Path, dims: str) -> None:
        self.args, self.tmp, self.dims = args, tmp, dims
        self.env, self.removed = worker_env()
        self.count = 0

    def run(self, engine: str, case: str, **extra) -> dict:
        self.count += 1
        out = self.tmp / f"w{self.count}.json"
        cmd = [sys.executable, __file__, "--worker", "--engine", engine, "--case", case,
               "--problem", self.dims, "--json", str(out)] + (["--quick"] if self.args.quick
                                                               else [])
        for key, value in extra.items():
            if value is not None:
                cmd += [f"--{key.replace('_', '-')}", str(value)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                              timeout=self.args.worker_timeout)
        if done.returncode:
            raise RuntimeError(f"worker {engine} {case} failed ({done.returncode}):\n"
                               f"{done.stderr[-4000:]}")
        rec = json.loads(out.read_text())
        rec["process_s"] = time.perf_counter() - t0
        return rec

    def run_pair(self, engine: str, case: str, **extra) -> list[dict]:
        """Two workers of one case at once, their timed calls started together (the
        machine shared by two users' runs); one record each."""
        self.count += 1
        signals = self.tmp / f"pair{self.count}"
        signals.mkdir()
        outs = [self.tmp / f"w{self.count}-{i}.json" for i in range(2)]
        procs = []
        for i, out in enumerate(outs):
            cmd = [sys.executable, __file__, "--worker", "--engine", engine, "--case", case,
                   "--problem", self.dims, "--json", str(out), "--pair", str(signals),
                   "--pair-index", str(i)] + (["--quick"] if self.args.quick else [])
            for key, value in extra.items():
                if value is not None:
                    cmd += [f"--{key.replace('_', '-')}", str(value)]
            with open(signals / f"stderr-{i}", "w") as err:
                procs.append(subprocess.Popen(cmd, env=self.env, stderr=err,
                                              stdout=subprocess.DEVNULL))
        deadline = time.perf_counter() + self.args.worker_timeout
        call = 1
        while any(p.poll() is None for p in procs):
            if time.perf_counter() > deadline:
                for p in procs:
                    p.kill()
                raise RuntimeError(f"side-by-side {engine} {case} timed out")
            if all((signals / f"ready-{call}-{i}").exists() for i in range(2)):
                (signals / f"go-{call}").touch()
                call += 1
            if any(p.poll() not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                err = "".join((signals / f"stderr-{i}").read_text() for i in range(2))
                raise RuntimeError(f"side-by-side {engine} {case} failed:\n{err[-4000:]}")
            time.sleep(0.002)
        return [json.loads(out.read_text()) for out in outs]


# The jobs of a round, per problem. 3-D: (a) and (b) through the Propagator only (each of its
# workers runs minutes; the bridge and revolve are measured in 2-D).
JOBS = {
    "2d": (("ours", "default-direct"), ("deepwave", "default"), ("ours", "default-bridge"),
           ("ours", "same-direct"), ("deepwave", "same"),
           ("ours", "default-revolve-direct"), ("ours", "default-revolve-bridge")),
    "3d": (("ours", "default-direct"), ("deepwave", "default"), ("ours", "same-direct"),
           ("deepwave", "same")),
}
DEFAULT_ROUNDS = {"2d": 5, "3d": 3}
# Run as two processes at once on the same cores (2-D): each engine's defaults.
SIDE_JOBS = (("ours", "default-direct"), ("deepwave", "default"))


def drive(args, dims: str, log) -> dict:
    """All rounds of the 2-D or 3-D problem (and, in 2-D, the growth sweep)."""
    p = problem(dims, args.quick)
    jobs_of_round = JOBS[dims]
    planned = args.rounds or (1 if args.quick else DEFAULT_ROUNDS[dims])
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmp_name:
        tmp = Path(tmp_name)
        d = Driver(args, tmp, dims)
        started = time.perf_counter()
        loads = {"before": os.getloadavg()[0], "rounds": [], "sweep": []}
        dw = d.run("deepwave", "probe")
        ours = d.run("ours", "probe", dt=dw["main"]["internal_dt"],
                     sweep_dt=dw["sweep"]["internal_dt"] if "sweep" in dw else None)
        log(f"{dims}: Deepwave's internal step {dw}; our steps at it {ours}")
        extra = {
            ("ours", "same-direct"): dict(dt=dw["main"]["internal_dt"]),
            ("deepwave", "same"): dict(dt=dw["main"]["internal_dt"],
                                       steps=ours["same"]["steps"]),
        }
        runs: dict[tuple[str, str], list[dict]] = {job: [] for job in jobs_of_round}
        budget = args.budget * 60.0
        share = 0.75 if dims == "2d" else 1.0  # in 2-D the sweep follows
        round_s: list[float] = []
        for r in range(planned):
            # Stop before a round that would run past the main part's share of the budget
            # (the machine's load can make rounds many times slower than on an idle one).
            elapsed = time.perf_counter() - started
            if r and elapsed + statistics.mean(round_s) > share * budget:
                log(f"  time budget: stopping after {r} of {planned} rounds")
                break
            r0 = time.perf_counter()
            jobs = jobs_of_round if r % 2 == 0 else jobs_of_round[::-1]
            for job in jobs:
                save = str(tmp / f"{job[0]}-{job[1]}.npz") if r == 0 else None
                rec = d.run(*job, save=save, **extra.get(job, {}))
                runs[job].append(rec)
                t = " ".join(f"{k} {v['time']:.3f} s" for k, v in rec["tasks"].items())
                log(f"  {dims} round {r + 1}/{planned} {job[0]:>8s} {job[1]:<24s} {t} "
                    f"(process {rec['process_s']:.1f} s, load {rec['load_end']:.2f})")
            loads["rounds"].append(os.getloadavg()[0])
            round_s.append(time.perf_counter() - r0)
        arrays = {f"{e}-{c}": dict(np.load(tmp / f"{e}-{c}.npz")) for e, c in jobs_of_round}
        side: dict[tuple[str, str], list[dict]] = {}
        for r in range(args.side_rounds if dims == "2d" else 0):
            for job in SIDE_JOBS if r % 2 == 0 else SIDE_JOBS[::-1]:
                pair = d.run_pair(*job, **extra.get(job, {}))
                side.setdefault(job, []).extend(pair)
                t = ", ".join(f"{k} " + " / ".join(f"{w['tasks'][k]['time']:.3f}" for w in pair)
                              + " s" for k in pair[0]["tasks"])
                log(f"  {dims} side by side {r + 1}/{args.side_rounds} {job[0]:>8s} "
                    f"{job[1]:<16s} {t}")
        sweep: dict[str, list[dict]] = {"ours": [], "deepwave": []}
        sweep_s: list[float] = []
        sweep_jobs = (("ours", dict(dt=dw["sweep"]["internal_dt"])),
                      ("deepwave", dict(dt=dw["sweep"]["internal_dt"],
                                        steps=ours["sweep"]["steps"]))) if "sweep" in dw else ()
        for r in range(args.sweep_rounds if sweep_jobs else 0):
            elapsed = time.perf_counter() - started
            if r and elapsed + statistics.mean(sweep_s) > budget:
                log(f"  time budget: stopping the sweep after {r} of {args.sweep_rounds} rounds")
                break
            r0 = time.perf_counter()
            for engine, kw in (sweep_jobs if r % 2 == 0 else sweep_jobs[::-1]):
                rec = d.run(engine, "sweep", **kw)
                sweep[engine].append(rec)
                log(f"  sweep round {r + 1}/{args.sweep_rounds} {engine:>8s} " + ", ".join(
                    f"{s['nx']}x{s['nz']} {s['time']:.3f} s" for s in rec["sizes"]))
            loads["sweep"].append(os.getloadavg()[0])
            sweep_s.append(time.perf_counter() - r0)
        total = time.perf_counter() - started
    return dict(dims=dims, problem=p, planned=planned, probe=dict(deepwave=dw, ours=ours),
                runs=runs, side=side, arrays=arrays, sweep=sweep, loads=loads, total_s=total,
                removed=d.removed, workers=d.count)


# -- report --------------------------------------------------------------------------------
def machine() -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = f"{names[0]} x {len(names)} logical CPUs" if names else cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024 / 2**30
    except OSError:
        mem = float("nan")
    caches = []
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            caches.append(f"L{level} {size}")
    return dict(cpu=cpu, mem_gib=mem, kernel=platform.release(),
                python=platform.python_version(), caches=", ".join(caches) or "unknown")


@dataclass
class Stat:
    """Per-round values of one quantity: median, min, max."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def fmt(self, digits: int = 3) -> str:
        return (f"{self.median:.{digits}f} ({min(self.values):.{digits}f}-"
                f"{max(self.values):.{digits}f})")


def stat(recs: list[dict], task: str, key: str = "time") -> Stat:
    return Stat([r["tasks"][task][key] for r in recs])


ROW_LABELS = {
    ("ours", "default-direct"): "ours, Propagator (defaults)",
    ("ours", "default-bridge"): "ours, WaveOperator (defaults)",
    ("ours", "default-revolve-direct"): "ours, Propagator, checkpoints={c}",
    ("ours", "default-revolve-bridge"): "ours, WaveOperator, checkpoints={c}",
    ("deepwave", "default"): "Deepwave, scalar (its defaults)",
    ("ours", "same-direct"): "ours, Propagator, dt=, boundary_width={w}",
    ("deepwave", "same"): "Deepwave, scalar at its internal dt",
}


def label(job, p: Problem) -> str:
    return ROW_LABELS[job].format(c=p.checkpoints, w=p.pml_width)


def cells(shape) -> str:
    """A grid shape as "nx x [ny x] nz"."""
    return " x ".join(str(n) for n in shape)


def comparison_table(res: dict, jobs, p: Problem) -> list[str]:
    lines = ["| run | task | dt (ms) x steps | padded grid | median wall (s) (min-max) | "
             "CPU (s) | GPts/s padded | GPts/s physical | peak RSS (MiB) | call peak "
             "above start (MiB) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for job in jobs:
        recs = res["runs"][job]
        r0 = recs[0]
        for task in r0["tasks"]:
            t = stat(recs, task)
            steps = r0["steps"]
            pad = _npts(r0["padded"])
            peak = statistics.median(r["tasks"][task]["call_peak_mib"] for r in recs)
            exact = all(r["tasks"][task]["exact_peak"] for r in recs)
            lines.append(
                f"| {label(job, p)} | {task} | {r0['dt'] * 1e3:.4g} x {steps} | "
                f"{cells(r0['padded'])} | {t.fmt()} | "
                f"{stat(recs, task, 'cpu').median:.2f} | "
                f"{pad * steps / t.median / 1e9:.4g} | {p.points * steps / t.median / 1e9:.4g} | "
                f"{statistics.median(r['tasks'][task]['maxrss_mib'] for r in recs):.0f} | "
                f"{'' if exact else '~'}{peak:.0f} |")
    return lines


Ratio = tuple[str, float, str, str, bool | None]  # what, value, per-round range, target, met


def _speed(res, slow, fast, task) -> tuple[float, str]:
    """Ratio of medians slow/fast, and the range of the per-round ratios."""
    a, b = res["runs"][slow], res["runs"][fast]
    per = [x["tasks"][task]["time"] / y["tasks"][task]["time"] for x, y in zip(a, b, strict=True)]
    return stat(a, task).median / stat(b, task).median, f"{min(per):.2f}-{max(per):.2f}"


def ratios(res: dict, p: Problem) -> list[Ratio]:
    dd, ds = ("deepwave", "default"), ("deepwave", "same")
    od, ob = ("ours", "default-direct"), ("ours", "default-bridge")
    rd, rb = ("ours", "default-revolve-direct"), ("ours", "default-revolve-bridge")
    os_ = ("ours", "same-direct")
    c = p.checkpoints
    out: list[Ratio] = []

    def made(*jobs) -> bool:
        return all(job in res["runs"] for job in jobs)

    def verdict(value, target, stretch):
        return "met, stretch met" if value >= stretch else "met" if value >= target else \
            "not met"

    for what, slow, fast in (("(a) defaults, WaveOperator", dd, ob),
                             ("(a) defaults, Propagator", dd, od),
                             ("(b) same work, Propagator", ds, os_)):
        if not made(slow, fast):
            continue
        v, rng = _speed(res, slow, fast, "forward")
        target = 1.3 if what.startswith("(b)") else 1.6
        out.append((f"forward speed vs Deepwave, {what}", v, rng,
                    f">= {target:g}x (stretch 2x)", verdict(v, target, 2.0)))
    for what, slow, fast in (("(a) defaults, WaveOperator, full storage", dd, ob),
                             ("(a) defaults, Propagator, full storage", dd, od),
                             (f"(a) defaults, WaveOperator, checkpoints={c}", dd, rb),
                             ("(b) same work, Propagator, full storage", ds, os_)):
        if not made(slow, fast):
            continue
        v, rng = _speed(res, slow, fast, "gradient")
        out.append((f"gradient speed vs Deepwave, {what}", v, rng, ">= 5x (stretch 7x)",
                    verdict(v, 5.0, 7.0)))
    for what, slow, fast, task in (("forward", ob, od, "forward"),
                                   ("gradient, full storage", ob, od, "gradient"),
                                   (f"gradient, checkpoints={c}", rb, rd, "gradient")):
        if not made(slow, fast):
            continue
        v, rng = _speed(res, slow, fast, task)
        lo, hi = (float(x) - 1 for x in rng.split("-"))
        out.append((f"torch-bridge overhead (WaveOperator / Propagator - 1), {what}", v - 1,
                    f"{100 * lo:+.0f}% to {100 * hi:+.0f}%", "<= 5%",
                    "met" if v - 1 <= 0.05 else "not met"))
    for what, rev, full in (("Propagator", rd, od), ("WaveOperator", rb, ob)):
        if not made(rev, full):
            continue
        v, rng = _speed(res, rev, full, "gradient")
        out.append((f"checkpoints={c} time / full-storage time, {what}", v, rng, "<= 1.5x",
                    "met" if v <= 1.5 else "not met"))
        mem = [x["tasks"]["gradient"]["call_peak_mib"] / y["tasks"]["gradient"]["call_peak_mib"]
               for x, y in zip(res["runs"][rev], res["runs"][full], strict=True)]
        m = statistics.median(mem)
        out.append((f"checkpoints={c} memory / full-storage memory (call peak above start), "
                    f"{what}", m, f"{100 * min(mem):.1f}%-{100 * max(mem):.1f}%", "<= 5%",
                    "met" if m <= 0.05 else "not met"))
    return out


def _fmt(what: str, value: float) -> str:
    if "overhead" in what:
        return f"{100 * value:+.1f}%"
    if "memory" in what:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}x"


def sweep_table(res: dict) -> tuple[list[str], dict]:
    lines = ["| grid (cells) | ours padded grid | ours GPts/s padded (min-max) | ours GPts/s "
             "physical | Deepwave padded grid | Deepwave GPts/s padded (min-max) | "
             "Deepwave GPts/s physical | speed ratio (Deepwave time / ours) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    per: dict[str, list[float]] = {"ours": [], "deepwave": []}
    sizes = res["sweep"]["ours"][0]["sizes"]
    for i, s in enumerate(sizes):
        cells = []
        times = {}
        for engine in ("ours", "deepwave"):
            recs = [r["sizes"][i] for r in res["sweep"][engine]]
            t = Stat([x["time"] for x in recs])
            times[engine] = t.median
            pad, steps = _npts(recs[0]["padded"]), recs[0]["steps"]
            g = Stat([pad * steps / x / 1e9 for x in t.values])
            per[engine].append(g.median)
            cells += [f"{recs[0]['padded'][0]} x {recs[0]['padded'][1]}", g.fmt(),
                      f"{s['nx'] * s['nz'] * steps / t.median / 1e9:.3f}"]
        lines.append(f"| {s['nx']} x {s['nz']} | " + " | ".join(cells) +
                     f" | {times['deepwave'] / times['ours']:.2f}x |")
    return lines, per


def checks(res: dict, p: Problem) -> list[str]:
    a = res["arrays"]

    def rel(x, y):
        return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30))

    def corr(x, y):
        return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])

    def grad(case):
        return a[case]["gradient"]

    out = []
    if "ours-default-bridge" in a:
        fwd_b = rel(a["ours-default-bridge"]["forward"], a["ours-default-direct"]["forward"])
        out.append(
            f"relative difference WaveOperator vs Propagator (defaults): forward {fwd_b:.1e}, "
            f"gradient {rel(grad('ours-default-bridge'), grad('ours-default-direct')):.1e}")
    if "ours-default-revolve-direct" in a:
        out.append(
            f"relative difference checkpoints={p.checkpoints} vs full storage, gradient: "
            "Propagator "
            f"{rel(grad('ours-default-revolve-direct'), grad('ours-default-direct')):.1e}, "
            "WaveOperator "
            f"{rel(grad('ours-default-revolve-bridge'), grad('ours-default-bridge')):.1e}")
    ours, dw = a["ours-default-direct"]["forward"], a["deepwave-default"]["forward"]
    n = min(len(ours), len(dw)) - 3
    best = max((abs(corr(ours[lag:lag + n], dw[:n])), lag) for lag in range(3))
    out.append(f"ours vs Deepwave forward data, (a): correlation {best[0]:.3f} at a lag of "
               f"{best[1]} sample(s) (amplitude conventions and absorbers differ)")
    out.append("ours vs Deepwave gradient, (a): correlation "
               f"{corr(grad('ours-default-direct'), grad('deepwave-default')):.3f}; (b): "
               f"{corr(grad('ours-same-direct'), grad('deepwave-same')):.3f} "
               "(scales differ with the source normalisation)")
    return out


SECTION_3D = "## 3-D case"


def report(res: dict, args) -> str:
    """The Markdown report of one problem: the whole document in 2-D, the section
    ``SECTION_3D ...`` (its headings one level down) in 3-D."""
    p: Problem = res["problem"]
    three = res["dims"] == "3d"
    sub = "#" if three else ""  # 3-D: a section of RESULTS.md, headings one level down
    m = machine()
    runs = res["runs"]
    od = runs[("ours", "default-direct")][0]
    osd = runs[("ours", "same-direct")][0]
    dd = runs[("deepwave", "default")][0]
    ds = runs[("deepwave", "same")][0]
    bridge = ("ours", "default-bridge") in runs
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    loads = res["loads"]
    wl = [r["load_start"] for recs in runs.values() for r in recs]
    omp = od["omp_env"]
    dinfo, ginfo = dd["info"], dd["gradient_info"]
    n_rounds = len(runs[("ours", "default-direct")])
    compile_s = statistics.median(r["compile_s"] for r in runs[("ours", "default-direct")])
    produced = (f"Produced by `{args.command}` on {now} ({res['workers']} worker processes, "
                f"{res['total_s'] / 60:.1f} min).")
    sweep_loads = (f"; after each sweep round {', '.join(f'{x:.2f}' for x in loads['sweep'])}"
                   if loads["sweep"] else "")
    receivers = (f"{p.n_receivers} receivers 2 cells deep across the top" if not three else
                 f"{' x '.join(map(str, p.receiver_counts))} = {p.n_receivers_total} "
                 "receivers 2 cells deep on an areal grid (x outer, y inner) across the top")
    lines = [SECTION_3D + f" ({cells(p.shape)} cells)" if three else "# Engine benchmark", ""]
    if three:
        paper = res["probe"]["deepwave"]["paper_grid"]
        lines += [
            f"The paper's 3-D set-up is {cells(paper['shape'])} cells at 50 m, 12 Hz, "
            f"{FULL_3D.t_max:g} s; this case runs {cells(p.shape)} cells at {p.spacing:g} m, "
            f"{p.f0:g} Hz, {p.t_max:g} s. At the paper's size Deepwave's same-work gradient "
            f"(every internal step stored, {paper['nt']} steps) needs at least "
            f"{paper['gib']:.1f} GiB by "
            "`deepwave.estimate_memory` (a lower bound by its docs) on this "
            f"{m['mem_gib']:.0f} GiB machine, and its gradients run minutes each, so the "
            "interleaved rounds would not fit the time the machine could be kept quiet.",
            "",
        ]
    lines += [
        produced,
        "",
        f"{sub}## Environment",
        "",
        f"- Machine: {m['cpu']}, {m['mem_gib']:.0f} GiB RAM, caches per core {m['caches']}, "
        f"Linux {m['kernel']}.",
        f"- Software: Python {m['python']}, NumPy {od['numpy']}, torch {od['torch']}, Devito "
        f"{od['devito']}, devito-crfwi {od['package']}, Deepwave {dd['deepwave']} "
        f"(backend {dinfo['backend']}, backward {ginfo['backward_backend']}).",
        f"- Threads: {THREADS} for both engines, as a user of a {THREADS}-core machine would "
        f"set them: the workers' OpenMP variables were {omp} and torch.get_num_threads() = "
        f"{od['torch_threads']}. No OMP_WAIT_POLICY (nor GOMP_SPINCOUNT, KMP_BLOCKTIME): "
        "both OpenMP runtimes wait in their default way"
        + (f" (removed from this shell's environment for the workers: {res['removed']})"
           if res["removed"] else "") + ".",
        f"- Load average (1 min): {loads['before']:.2f} before; after each round "
        f"{', '.join(f'{x:.2f}' for x in loads['rounds'])}{sweep_loads}; at the workers' "
        f"starts {min(wl):.2f}-{max(wl):.2f} (median {statistics.median(wl):.2f}). **The "
        "machine is shared** (other sessions' jobs run on it, niced or not): absolute times "
        "are noisy and a load above the thread count means the engines waited for cores. "
        "Ratios within this one run, whose rounds interleave the engines, are what count.",
        f"- Precision: float32 for both. Our engine's dtype {od['dtype']}; Deepwave's input "
        f"model {dd['input_dtype']}, output receiver data {dd['dtype']}, RunInfo dtype "
        f"{dinfo['dtype']}.",
        "",
        f"{sub}## Method",
        "",
        f"- Problem: {cells(p.shape)} cells at {p.spacing:g} m, {od['about']}, "
        f"{float(np.min(velocity(p)[0])):.0f}-{od['vmax']:.0f} m/s; 1 shot (centre, 2 cells "
        f"deep), {receivers}, on grid nodes (`Survey.surface`'s positions, checked); Ricker "
        f"f0 = {p.f0:g} Hz peaked at 1/f0; {p.t_max:g} s recorded at {p.rec_dt * 1e3:g} ms "
        f"({p.samples} samples); order {p.space_order} in space; absorbing on every side "
        "for both (our `free_surface=False`, Deepwave's PML on every face).",
        f"- Process per engine, case and round: a driver spawns `bench_engine.py --worker "
        f"--engine ours|deepwave --case CASE --problem {res['dims']} --json OUT` {n_rounds} "
        f"times per case ({n_rounds} of {res['planned']} planned rounds within the "
        f"{args.budget:g}-minute time budget), in rounds that interleave the engines and "
        f"reverse their order every other round (round 1: "
        f"{', '.join(f'{e} {cs}' for e, cs in runs)}; round 2 the reverse; ...). Each "
        "worker makes a first call of each task (untimed: it measures memory) and then a "
        "second, timed one; tables show the median over rounds and the min-max. Our workers "
        "first compile their kernels on a short record of the same grid (Devito JIT, "
        f"{compile_s:.1f} s, untimed); Deepwave's kernels are precompiled. Our engine keeps "
        "its full-storage buffers between calls, Deepwave allocates per call: the timed "
        "second call is the one an inversion loop repeats.",
        "- Gradient: of the L2 misfit 0.5 ||d(v) - d_obs||^2 with d_obs = 0 (so the adjoint "
        "source is the data itself), w.r.t. the velocity. Ours: `Propagator.misfit_gradient` "
        + ("(direct) and `loss.backward()` through `WaveOperator` (bridge)" if bridge else
           "(the `WaveOperator` bridge and revolve are measured in 2-D only)")
        + "; Deepwave: `loss.backward()` with its default in-memory, uncompressed storage.",
        "- Peak RSS: `getrusage(RUSAGE_SELF).ru_maxrss` of the worker after the task's first "
        "call (the process's whole peak: interpreter, libraries, compiled kernels included). "
        "\"Call peak above start\": that call's peak minus the RSS once the worker was set "
        "up (our kernels compiled); exact where the call set the process's peak, else "
        "sampled every 2 ms (marked ~)." + (" Revolve's memory ratio uses the latter."
                                            if not three else ""),
        "- GPts/s = grid points x time steps / median wall time, on each engine's padded "
        f"grid (the points it updates) and on the physical grid ({cells(p.shape)}); for "
        "gradients the same numerator (the forward's steps), i.e. gradient throughput "
        "(forward and adjoint sweep" + (", and revolve's recomputation)." if not three
                                        else ")."),
        "",
        f"{sub}### (a) What each user gets by default",
        "",
        "- Ours: `Survey.surface(...)` and `Propagator.from_model(vp, survey)`"
        + (" / `WaveOperator(survey, vp)`" if bridge else "")
        + f" with no options: {od['settings']} (so a {od['pads'][0]}-cell C-PML, padded "
        f"grid {cells(od['padded'])}); the engine picked dt = {od['dt'] * 1e3:.4g} ms "
        f"({p.rec_dt / od['dt']:.3g} steps per recorded sample), {od['steps']} steps (levels "
        f"0..{od['nt_levels'] - 1}), resampled to the recording axis."
        + (f" The WaveOperator's engine: dt = {runs[('ours', 'default-bridge')][0]['dt'] * 1e3:.4g}"
           f" ms, {runs[('ours', 'default-bridge')][0]['steps']} steps." if bridge else ""),
        f"- Deepwave: `deepwave.scalar(v, {p.spacing:g}, dt={p.rec_dt:g}, accuracy="
        f"{p.space_order}, pml_width={p.pml_width}, pml_freq={p.f0:g}, max_vel=v.max())` "
        f"with the Ricker sampled at {p.rec_dt * 1e3:g} ms ({p.samples} samples); its RunInfo: "
        f"step_ratio {dinfo['step_ratio']}, internal_dt {dinfo['internal_dt'] * 1e3:.4g} ms "
        f"(Courant number {dinfo['courant_number']:.3g}, its default), {dd['steps']} internal "
        f"steps on a {cells(dd['padded'])} domain; the gradient's model_gradient_stride "
        f"{ginfo['model_gradient_stride']} (Deepwave correlates and stores the forward "
        "wavefield every step_ratio internal steps by default; our full storage keeps the "
        f"forward wavefield every {od['subsample']} step(s), as `subsample='auto'` picks).",
        "",
        *comparison_table(res, sorted((job for job in runs if job[1].startswith("default")),
                                      key=lambda job: job[0] == "deepwave"), p),
        "",
        f"{sub}### (b) The same work",
        "",
        f"- Both at Deepwave's internal step dt = {osd['dt'] * 1e3:.4g} ms for {osd['steps']} "
        f"steps with a {p.pml_width}-cell absorbing layer. Ours: `Propagator.from_model(vp, "
        f"survey, dt={osd['dt']:.6g}, boundary_width={p.pml_width})` ({osd['steps']} steps, "
        f"padded grid {cells(osd['padded'])}, C-PML). Deepwave: user dt = its internal "
        f"step, the Ricker sampled at it ({ds['info']['nt']} samples), RunInfo step_ratio "
        f"{ds['info']['step_ratio']} (checked), {ds['steps']} steps, domain "
        f"{cells(ds['padded'])} (C-PML), model_gradient_stride "
        f"{ds['gradient_info']['model_gradient_stride']}.",
        "",
        *comparison_table(res, [("ours", "same-direct"), ("deepwave", "same")], p),
        "",
    ]
    big: list[int] = []
    if res["sweep"]["ours"]:
        sweep_lines, per = sweep_table(res)
        sw = res["sweep"]["ours"][0]["sizes"]
        lines += [
            "### Growth sweep (forward only)",
            "",
            f"- Each engine's own process per round ({len(res['sweep']['ours'])} of "
            f"{args.sweep_rounds} planned rounds, alternating which engine goes first), all "
            "sizes in one process; layered 1500-4500 m/s model at every size, "
            f"{SWEEP_T_MAX:g} s record, both at Deepwave's internal step for vmax 4500 m/s "
            f"({res['probe']['deepwave']['sweep']['internal_dt'] * 1e3:.4g} ms, "
            f"{sw[0]['steps']} steps), {p.pml_width}-cell absorbing layer, up to 300 "
            "receivers (nx / 2). First call untimed (compiles ours), second timed.",
            "",
            *sweep_lines,
            "",
        ]
        # Flatness past the caches: the sizes from 600 x 200 up (working sets > L2 per core).
        big = [i for i, s in enumerate(sw) if s["nx"] * s["nz"] >= 600 * 200]
        flat = {e: max(per[e][i] for i in big) / min(per[e][i] for i in big) - 1
                for e in per} if big else {}
    if res["side"]:
        lines += side_by_side(res)
    lines += [
        f"{sub}## Targets (ratios from this run)",
        "",
        "Speed ratios are Deepwave's median wall time over ours (> 1: ours faster); the "
        "per-round range pairs the two workers of each round."
        + (" The targets are the 2-D case's, applied here as they stand." if three else ""),
        "",
        "| ratio | value (from medians) | per-round range | target | verdict |",
        "|---|---:|---:|---:|:---:|",
    ]
    for what, value, rng, target, met in ratios(res, p):
        lines.append(f"| {what} | {_fmt(what, value)} | {rng} | {target} | {met} |")
    for job, (task, solo, side) in side_ratios(res).items():
        ratio = side.median / solo.median
        lines.append(f"| two runs side by side, {job[0]} {job[1]}, {task}: time beside "
                     f"another / alone | {ratio:.2f}x | {side.fmt()} s vs {solo.fmt()} s | "
                     f"<= 2.5x | {'met' if ratio <= 2.5 else 'not met'} |")
    for engine, name in (("ours", "ours"), ("deepwave", "Deepwave")):
        if big:
            lines.append(
                f"| growth sweep, {name}: per-step GPts/s (padded) spread max/min - 1 over "
                f"{', '.join('{}x{}'.format(sw[i]['nx'], sw[i]['nz']) for i in big)} | "
                f"{100 * flat[engine]:.0f}% | - | <= 20% | "
                f"{'met' if flat[engine] <= 0.2 else 'not met'} |")
    lines += ["", f"{sub}## Consistency checks", "", *[f"- {x}" for x in checks(res, p)], ""]
    lines += [f"{sub}## Raw per-round times (s)", ""]
    for job, recs in runs.items():
        for task in recs[0]["tasks"]:
            lines.append(f"- {job[0]} {job[1]} {task}: "
                         + ", ".join(f"{r['tasks'][task]['time']:.3f}" for r in recs))
    return "\n".join(lines) + "\n"


def side_ratios(res: dict) -> dict:
    """Per side-by-side job and task: (task, solo times from the rounds, side-by-side times
    of both workers of every pair)."""
    return {job + (task,): (task, stat(res["runs"][job], task), stat(recs, task))
            for job, recs in res["side"].items() for task in recs[0]["tasks"]}


def side_by_side(res: dict) -> list[str]:
    """The "two runs side by side" section: each engine's defaults, two processes at once."""
    lines = [
        "### Two runs side by side",
        "",
        f"- Two worker processes of the same default case at once on the {THREADS} cores "
        f"(each with OMP_NUM_THREADS={THREADS}, as two users' runs, or a notebook beside a "
        "background inversion, would be), their timed calls started together (each waits "
        "for the other before every timed call); "
        f"{len(next(iter(res['side'].values()))) // 2} pair(s) per engine. Alone = the same "
        "case's times in the rounds above. Fair sharing of the cores is 2x.",
        "- Ours picks its kernels' thread count at every run from the CPUs other processes "
        "leave free (`devito_crfwi.physics.threads`: /proc/loadavg's runnable count minus its "
        "own threads, at least 1): beside a busy process it runs on one thread instead of "
        "spinning at OpenMP barriers while its other thread waits for a core. Deepwave runs "
        "as its users run it.",
        "",
        "| engine, case | task | alone: median (min-max) s | side by side: median (min-max) s "
        "| side by side / alone |",
        "|---|---|---:|---:|---:|",
    ]
    for job, (task, solo, side) in side_ratios(res).items():
        lines.append(f"| {job[0]} {job[1]} | {task} | {solo.fmt()} | {side.fmt()} | "
                     f"{side.median / solo.median:.2f}x |")
    lines.append("")
    for job, recs in res["side"].items():
        for task in recs[0]["tasks"]:
            lines.append(f"- raw side by side, {job[0]} {job[1]} {task}: "
                         + ", ".join(f"{r['tasks'][task]['time']:.3f}" for r in recs))
    return lines + [""]


def merge(old: str, text_2d: str | None, text_3d: str | None) -> str:
    """RESULTS.md from the previous file and this run's reports: the 2-D document first, the
    3-D section (from ``SECTION_3D`` to the end) after it; a part this run did not make is
    kept from ``old``."""
    head, sep, tail = old.partition(SECTION_3D)
    two = (text_2d if text_2d is not None else head).rstrip("\n") + "\n"
    three = text_3d if text_3d is not None else sep + tail
    return two + ("\n" + three if three else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small grid, 1 round, 2 sweep sizes (~1 min)")
    parser.add_argument("--only", choices=("2d", "3d"), default=None,
                        help="run one problem: 2d (600 x 200 Marmousi, with the growth sweep) "
                             "or 3d (100 x 100 x 60 layered); default both, 2-D first")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per problem (default 5 in 2-D, 3 in 3-D; quick 1)")
    parser.add_argument("--sweep-rounds", type=int, default=None,
                        help="growth-sweep rounds (default 3; quick 1)")
    parser.add_argument("--side-rounds", type=int, default=None,
                        help="rounds of the side-by-side pairs (2-D; default 2, quick 1)")
    parser.add_argument("--budget", type=float, default=None,
                        help="minutes per problem: no round starts that would end past it "
                             "(default 30; quick 5); the report states the rounds done")
    parser.add_argument("--worker-timeout", type=float, default=900.0,
                        help="seconds one worker may run (default 900)")
    parser.add_argument("--output", default=None,
                        help="Markdown report ('' for none; default bench/RESULTS.md, "
                             "none with --quick)")
    worker = parser.add_argument_group("worker (spawned by the driver)")
    worker.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    worker.add_argument("--engine", choices=("ours", "deepwave"))
    worker.add_argument("--case")
    worker.add_argument("--problem", choices=("2d", "3d"), default="2d")
    worker.add_argument("--json", help="where the worker writes its record")
    worker.add_argument("--dt", type=float)
    worker.add_argument("--sweep-dt", type=float)
    worker.add_argument("--steps", type=int)
    worker.add_argument("--save", help="npz of the worker's results (checks)")
    worker.add_argument("--pair", help="folder of a side-by-side pair's start signals")
    worker.add_argument("--pair-index", type=int, default=0)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    args.sweep_rounds = args.sweep_rounds or (1 if args.quick else 3)
    args.side_rounds = args.side_rounds if args.side_rounds is not None else (
        1 if args.quick else 2)
    args.budget = args.budget or (5.0 if args.quick else 30.0)
    if args.output is None:
        args.output = "" if args.quick else str(REPO / "bench" / "RESULTS.md")
    prefix = "" if THREADS == 2 else f"BENCH_THREADS={THREADS} "
    args.command = prefix + shlex.join(["bench/bench_engine.py", *argv])

    def log(msg: str) -> None:
        print(msg, flush=True)

    texts = {}
    for dims in (args.only,) if args.only else ("2d", "3d"):
        texts[dims] = report(drive(args, dims, log), args)
        print("\n" + texts[dims])
    if args.output:
        out = Path(args.output)
        old = out.read_text() if out.exists() else ""
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(merge(old, texts.get("2d"), texts.get("3d")))
        os.replace(tmp, out)
        log(f"wrote {out}" + (f" (its {'3-D' if args.only == '2d' else '2-D'} part kept)"
                              if args.only and old else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
