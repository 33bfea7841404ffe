"""Engine benchmark: our engine against Deepwave, each engine in its own process.

A driver (the default mode) spawns one worker process per engine, case and round
(``bench_engine.py --worker --engine ours|deepwave --case CASE --json OUT``), so neither
engine's OpenMP runtime, allocator state or page cache warms the other's, and each worker's
peak RSS (``getrusage``) is its own. Both engines run with the default OpenMP environment:
only ``OMP_NUM_THREADS`` (and ``torch.set_num_threads``) is set, to 2, as a user of a
2-core machine would; ``OMP_WAIT_POLICY`` is removed from the workers' environment.

Three problems: 2-D, one shot record of 600 x 200 cells at 10 m (Marmousi), 1 shot, 300
receivers, Ricker 10 Hz, 2.3 s recorded at 4 ms; 3-D, the paper's set-up narrowed to
100 x 100 x 60 cells (x, y, z) at 50 m (layered 1500-4500 m/s), 1 shot at the surface centre,
40 x 40 areal receivers, Ricker 12 Hz, 2.5 s at 4 ms; and the paper-protocol epoch (below).
The first two 8th order in space, float32, absorbing on every side, with two comparisons:

(a) "what each user gets by default": our public API with its defaults (``Survey.surface``
    + ``Propagator.from_model`` / ``WaveOperator``, no ``dt``: the engine picks its step and
    C-PML width) against ``deepwave.scalar`` with dt = the recording interval, accuracy 8,
    pml_width 20, pml_freq f0 and max_vel, which sub-steps as its documentation says;
(b) "the same work": both at Deepwave's internal step, for the same number of steps, on the
    same 20-cell absorbing width (our explicit ``dt=``; Deepwave given that dt, so its
    step_ratio is 1, checked through its ``RunInfo``).

In 2-D also the torch bridge, revolve, and a growth sweep of the forward's per-step
throughput over grid sizes; in 3-D the Propagator only (its workers run minutes each).

The epoch (``--only epoch``) is one epoch of ``bench/protocol/protocol.toml`` as the package
runs it: the shared Marmousi resampled to 288 x 94 nodes at 15 m (``experiments.scenarios``;
skipped with a message where the file is absent), 13 shots, 288 receivers, Ricker 8 Hz,
1.9 s at 1.9 ms, free surface on top; the gradient of 0.5 ||d(v) - d_obs||^2 over all 13
shots at the protocol's smooth start (d_obs: each engine's own modelling of the true model,
untimed). Ours: ``WaveOperator(survey, start, free_surface=True, vmax=6000)``, the options
``CRFWIProblem`` gives it in the protocol's runs, ``loss.backward()``; Deepwave: the 13
shots in one ``deepwave.scalar`` call, dt = the recording interval, accuracy 8, pml_width
20 with its free surface on the top face, pml_freq f0, max_vel = the true model's maximum,
``loss.backward()``. A setup worker writes the arrays Deepwave's workers read. The smoke run
(``--quick``) takes 3 shots and 0.38 s of record.

Usage::

    .venv/bin/python bench/bench_engine.py            # all three, writes bench/RESULTS.md
    .venv/bin/python bench/bench_engine.py --only 3d  # the 3-D problem alone
    .venv/bin/python bench/bench_engine.py --only epoch  # the paper-protocol epoch alone
    .venv/bin/python bench/bench_engine.py --quick    # smoke run, writes no file

The problems (grids, models, acquisition) live in ``engine_problems.py`` and the Markdown
report in ``engine_report.py``; this script holds the workers and the driver.

RESULTS.md holds the 2-D document, then its "## 3-D case" and "## Paper-protocol epoch"
sections; a run of one problem (``--only``) rewrites its part and keeps the others from the
existing file.

The 2-D part takes ~10 minutes on an idle 2-core machine, the 3-D part ~15 minutes a round,
the epoch ~2-3 minutes a round (the smoke run 1-4 minutes per problem, mostly process
start-up and compiling); on a loaded one, default (spinning) OpenMP waits make both engines
many times slower, so ``--budget`` (minutes per problem, default 30) stops starting rounds
that would end past it and the report states how many rounds it got.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from engine_problems import (
    FULL_3D,
    MIB,
    OMP_WAIT_VARIABLES,
    PAPER_3D,
    REPO,
    SWEEP_SIZES,
    THREADS,
    Problem,
    epoch_data,
    epoch_spec,
    geometry,
    problem,
    protocol,
    ricker,
    sweep_problem,
    velocity,
)
from engine_report import PARTS, epoch_report, merge, report, split

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


def _l2_gradient(data, v0, observed):
    """d/dv of 0.5 ||data(v) - observed||^2 at ``v0`` through torch (``loss.backward()``):
    the gradient an inversion step takes; ndarray shaped as ``v0``."""
    v = v0.clone().requires_grad_(True)
    loss = 0.5 * ((data(v) - observed) ** 2).sum()
    loss.backward()
    return v.grad.numpy()


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
    from devito_crfwi.physics.memory import available_memory

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
                return _l2_gradient(op, vp_t, torch.from_numpy(obs))

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
    free_mib = available_memory() / MIB  # the default gradient's storage follows it
    for task in tasks:
        rec["tasks"][task], results[task] = measure(run[task], baseline)
    if "gradient" in tasks:
        plan = prop.memory_plan(1)
        # Two gradient calls were made (measure's first and timed): recordings per call.
        rec["storage"] = dict(mode=plan.mode, checkpoints=plan.checkpoints, free_mib=free_mib,
                              exact_recordings=prop.exact_recordings / 2)
    if "forward" in results:
        results["forward"] = np.asarray(results["forward"])[0]  # (time, receiver)
    _save(save, **results)
    rec.update(
        engine="ours", case=case, about=about, devito=devito.__version__,
        package=getattr(devito_crfwi, "__version__", "?"), baseline_mib=baseline / MIB,
        settings={k: v for k, v in prop.settings.as_dict().items() if v is not None},
        dt=prop.dt, nt_levels=prop.nt, steps=prop.nt - 2,  # levels 0..nt-1: nt-2 updates
        subsample=prop.tape_engine(1).subsample,  # the factor of a 1-shot gradient's tapes
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
def _deepwave_scalar(p: Problem, sources, receivers, wavelet, dt: float, vmax: float):
    """deepwave.scalar for shots at cells ``sources`` (shot, ndim), each recorded by
    ``receivers`` (receiver, ndim) cells, all in one batched call, the source ``wavelet``
    (time,) sampled at ``dt`` (s); accuracy, PML width and pml_freq from ``p``, ``max_vel``
    ``vmax`` (m/s). With ``p.free_surface`` the top face (the start of the depth axis) is
    Deepwave's free surface: zero PML width and ``boundary="free"`` there, as its
    docstring states (the exact odd image about the node one cell above the top row)."""
    import deepwave
    import torch

    n, ndim = len(sources), p.ndim
    widths, faces = [p.pml_width] * (2 * ndim), ["pml"] * (2 * ndim)
    if p.free_surface:  # faces: [x lo, x hi, (y lo, y hi,) z top, z bottom]
        widths[-2], faces[-2] = 0, "free"
    boundary = dict(pml_width=widths, boundary=faces) if p.free_surface else dict(
        pml_width=p.pml_width)
    settings = dict(
        source_amplitudes=torch.from_numpy(np.asarray(wavelet, np.float32)).reshape(
            1, 1, -1).repeat(n, 1, 1),
        source_locations=torch.from_numpy(np.asarray(sources)).long().reshape(n, 1, ndim),
        receiver_locations=torch.from_numpy(np.asarray(receivers)).long().reshape(
            1, -1, ndim).repeat(n, 1, 1),
        accuracy=p.space_order, pml_freq=p.f0, max_vel=vmax, **boundary)

    def call(v):
        return deepwave.scalar(v, p.spacing, dt, **settings)

    call.pads, call.faces = widths, boundary
    return call


def _deepwave_call(p: Problem, values, dt: float, n: int, vmax: float | None = None):
    """deepwave.scalar on the record of ``p`` with user step ``dt`` and ``n`` samples."""
    src, rec = geometry(p)
    return _deepwave_scalar(p, src, rec, ricker(p.f0, np.arange(n) * dt), dt,
                            float(values.max()) if vmax is None else vmax)


def _recorder(call, holder):
    """``call`` returning its receiver data only, its RunInfo kept as ``holder.info``."""
    def data(v):
        out = call(v)
        holder.info = _info(out)
        return out.receiver_amplitudes

    return data


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
        return _l2_gradient(_recorder(call, gradient), v0, observed)

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


# -- workers: the paper-protocol epoch ------------------------------------------------------
def epoch_inputs(quick: bool):
    """The protocol as the package's runner builds it (``experiments.scenarios``): the true
    model (the shared Marmousi resampled), the smooth start, the survey, and the options of
    the ``WaveOperator`` that ``CRFWIProblem`` makes: the protocol's engine table
    (free_surface) and vmax = its upper velocity bound (m/s)."""
    from devito_crfwi.experiments.scenarios import initial_model, prepare_model, survey_of

    config, spec = protocol(), epoch_spec(quick)
    vp = prepare_model("marmousi", spec, str(config["benchmark"]["data_dir"]))
    start = initial_model(vp, config["scenarios"]["smooth"], spec)
    options = dict(config["benchmark"].get("engine", {}), vmax=float(spec["bounds"][1]))
    return vp, start, survey_of(vp, spec), options


def epoch_setup(quick: bool, save: str) -> dict:
    """Writes the epoch's arrays for Deepwave to ``save`` (npz): the true and starting
    models (x, z) in m/s, source and receiver cells (ix, iz), the survey's wavelet (time,)
    and recording interval (s); returns a description."""
    vp, start, survey, options = epoch_inputs(quick)
    h = float(vp.x[1] - vp.x[0])
    cells = {}
    for name, pos in (("sources", survey.source_positions),
                      ("receivers", survey.receiver_positions[0])):
        cells[name] = np.rint(pos / h).astype(np.int64)
        if not np.allclose(cells[name] * h, pos):
            raise RuntimeError(f"the protocol's {name} are off the grid nodes")
    if not survey.fixed_spread:
        raise RuntimeError("the protocol's shots record different receivers")
    np.savez(save, true=np.asarray(vp, np.float32), start=np.asarray(start, np.float32),
             wavelet=survey.source_wavelet(survey.time).astype(np.float32),
             dt=survey.dt, **cells)
    # The file as seen from the repository (../shared/...), not this machine's absolute path.
    source = Path(vp.attrs.get("source", "marmousi.sgy")).name
    return dict(about=f"{vp.attrs.get('name', 'marmousi')} from "
                      f"../shared/data/models/{source} resampled to "
                      f"{vp.sizes['x']} x {vp.sizes['z']} nodes at {h:g} m",
                true_range=[float(vp.min()), float(vp.max())],
                start_range=[float(start.min()), float(start.max())],
                source_cells=cells["sources"].tolist(),  # (column, row) of each shot
                receiver_cells=[int(cells["receivers"][:, 0].min()),  # first, last column, row
                                int(cells["receivers"][:, 0].max()),
                                int(cells["receivers"][0, 1])],
                nt=survey.nt, dt=survey.dt, options=options)


def our_epoch(quick: bool, save: str | None) -> dict:
    """Our epoch: ``WaveOperator(survey, start, free_surface=True, vmax=6000)`` as
    ``CRFWIProblem`` builds it, ``loss.backward()`` over the 13 shots."""
    rec = _start_worker()
    import devito
    import torch

    import devito_crfwi
    from devito_crfwi.bridge import WaveOperator

    vp, start, survey, options = epoch_inputs(quick)
    op = WaveOperator(survey, start, **options)
    prop = op.propagator()
    t0 = time.perf_counter()
    with torch.no_grad():  # d_obs, untimed (compiles the forward)
        observed = op(torch.from_numpy(np.asarray(vp, np.float32)))
    rec["observed_s"] = time.perf_counter() - t0
    baseline = rss_bytes()
    v0 = torch.from_numpy(np.asarray(start, np.float32))
    rec["tasks"] = {}
    tape_subsample = prop.tape_engine(survey.n_shots).subsample  # as the call will decide
    rec["tasks"]["epoch"], grad = measure(lambda: _l2_gradient(op, v0, observed), baseline)
    _save(save, gradient=grad)
    rec.update(
        engine="ours", case="epoch", devito=devito.__version__,
        package=getattr(devito_crfwi, "__version__", "?"), baseline_mib=baseline / MIB,
        settings={k: v for k, v in prop.settings.as_dict().items() if v is not None},
        dt=prop.dt, nt_levels=prop.nt, steps=prop.nt - 2, subsample=prop.subsample,
        tape_subsample=tape_subsample, exact_recordings=prop.exact_recordings,
        padded=list(prop.grid.padded_shape),
        pads=[w for pair in prop.grid.pad_widths for w in pair], dtype=str(prop.dtype),
        vmax=prop.vmax, load_end=os.getloadavg()[0])
    return rec


def deepwave_epoch(p: Problem, setup: str, save: str | None) -> dict:
    """Deepwave's epoch: the 13 shots in one ``deepwave.scalar`` call at dt = the recording
    interval, max_vel = the true model's maximum (the same for d_obs and the gradient)."""
    rec = _start_worker()
    import deepwave
    import torch

    arrays = np.load(setup)
    true, start = arrays["true"], arrays["start"]
    vmax = float(true.max())
    call = _deepwave_scalar(p, arrays["sources"], arrays["receivers"], arrays["wavelet"],
                            float(arrays["dt"]), vmax)
    with torch.no_grad():  # d_obs, untimed
        out = call(torch.from_numpy(true))
    observed, info = out.receiver_amplitudes, _info(out)
    v0 = torch.from_numpy(start)

    def epoch():
        return _l2_gradient(_recorder(call, epoch), v0, observed)

    baseline = rss_bytes()
    rec["tasks"] = {}
    rec["tasks"]["epoch"], grad = measure(epoch, baseline)
    _save(save, gradient=grad)
    rec.update(engine="deepwave", case="epoch", deepwave=deepwave.__version__, info=info,
               gradient_info=epoch.info, dt=info["internal_dt"],
               steps=info["nt"] * info["step_ratio"], padded=list(out.wavefield_0.shape[1:]),
               pads=call.pads, faces=call.faces, dtype=str(observed.dtype),
               input_dtype=str(v0.dtype), baseline_mib=baseline / MIB,
               vmax=vmax, load_end=os.getloadavg()[0])
    return rec


def worker_main(args) -> int:
    p = problem(args.problem, args.quick)
    if args.pair:
        _PAIR[:] = [Path(args.pair), args.pair_index]
    sizes = SWEEP_SIZES[:2] if args.quick else SWEEP_SIZES
    if args.problem == "epoch":
        rec = (epoch_setup(args.quick, args.save) if args.case == "setup" else
               our_epoch(args.quick, args.save) if args.engine == "ours" else
               deepwave_epoch(p, args.setup, args.save))
    elif args.engine == "ours":
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
    """Spawns the workers of one problem ("2d", "3d", "epoch") and reads back their records."""

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
    "epoch": (("ours", "epoch"), ("deepwave", "epoch")),
}
DEFAULT_ROUNDS = {"2d": 5, "3d": 3, "epoch": 3}
# Run as two processes at once on the same cores (2-D): each engine's defaults.
SIDE_JOBS = (("ours", "default-direct"), ("deepwave", "default"))


def prepare(d: Driver, dims: str, log) -> tuple[dict, dict]:
    """Before the rounds: (the probes' records, extra worker arguments per job). 2-D, 3-D:
    Deepwave's internal step and our step counts at it; epoch: the setup worker writes the
    protocol's arrays, which Deepwave's workers read."""
    if dims == "epoch":
        arrays = d.tmp / "epoch.npz"
        setup = d.run("ours", "setup", save=str(arrays))
        log(f"epoch: {setup}")
        return dict(setup=setup), {("deepwave", "epoch"): dict(setup=str(arrays))}
    dw = d.run("deepwave", "probe")
    ours = d.run("ours", "probe", dt=dw["main"]["internal_dt"],
                 sweep_dt=dw["sweep"]["internal_dt"] if "sweep" in dw else None)
    log(f"{dims}: Deepwave's internal step {dw}; our steps at it {ours}")
    return dict(deepwave=dw, ours=ours), {
        ("ours", "same-direct"): dict(dt=dw["main"]["internal_dt"]),
        ("deepwave", "same"): dict(dt=dw["main"]["internal_dt"], steps=ours["same"]["steps"]),
    }


def drive(args, dims: str, log) -> dict:
    """All rounds of one problem (2-D, 3-D or the paper-protocol epoch; in 2-D also the
    side-by-side pairs and the growth sweep)."""
    p = problem(dims, args.quick)
    jobs_of_round = JOBS[dims]
    planned = args.rounds or (1 if args.quick else DEFAULT_ROUNDS[dims])
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmp_name:
        tmp = Path(tmp_name)
        d = Driver(args, tmp, dims)
        started = time.perf_counter()
        loads = {"before": os.getloadavg()[0], "rounds": [], "sweep": []}
        probe, extra = prepare(d, dims, log)
        dw, ours = probe.get("deepwave", {}), probe.get("ours", {})
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
    return dict(dims=dims, problem=p, planned=planned, probe=probe,
                runs=runs, side=side, arrays=arrays, sweep=sweep, loads=loads, total_s=total,
                removed=d.removed, workers=d.count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small grids (the epoch: 3 shots, 0.38 s), 1 round, "
                             "2 sweep sizes (1-4 min per problem)")
    parser.add_argument("--only", choices=PARTS, default=None,
                        help="run one problem: 2d (600 x 200 Marmousi, with the growth sweep), "
                             "3d (100 x 100 x 60 layered) or epoch (the paper protocol's 13 "
                             "shots on 288 x 94, free surface); default all three in that "
                             "order")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per problem (default 5 in 2-D, 3 in 3-D and for the "
                             "epoch; quick 1)")
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
    worker.add_argument("--problem", choices=PARTS, default="2d")
    worker.add_argument("--json", help="where the worker writes its record")
    worker.add_argument("--dt", type=float)
    worker.add_argument("--sweep-dt", type=float)
    worker.add_argument("--steps", type=int)
    worker.add_argument("--save", help="npz of the worker's results (checks)")
    worker.add_argument("--setup", help="npz of the epoch's arrays (Deepwave's epoch worker)")
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
    for dims in (args.only,) if args.only else PARTS:
        if dims == "epoch" and epoch_data() is None:
            log(f"epoch: skipped, the protocol's Marmousi is absent from "
                f"{protocol()['benchmark']['data_dir']} (marmousi.sgy or .npy and "
                "manifest.json)")
            continue
        texts[dims] = (epoch_report if dims == "epoch" else report)(drive(args, dims, log),
                                                                    args)
        print("\n" + texts[dims])
    if args.output and texts:
        out = Path(args.output)
        old = out.read_text() if out.exists() else ""
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(merge(old, texts))
        os.replace(tmp, out)
        kept = [part for part in PARTS if part not in texts and part in split(old)]
        log(f"wrote {out}" + (f" (kept from it: {', '.join(kept)})" if kept else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
