"""Engine benchmark: our forward and gradients (direct, torch bridge, revolve) against Deepwave.

One invocation builds every engine and compiles our kernels (not timed), calls each row
once to measure its memory, then runs the rows round-robin, rotating the order every
round, and reports medians. Deepwave is a bench-only extra (``make bench`` installs it);
it is never a dependency of the package.

Problem (issue 2, item 6): a 600 x 200 grid at 10 m, 8th-order stencils, 2000 time steps,
one shot, 300 receivers, 2 threads. Both codes run the same time step ``dt`` (ours, fixed
explicitly; Deepwave gets a ``courant_number`` so it does not sub-step, checked through its
``RunInfo``) and the same 20-cell absorbing layer (our sponge, Deepwave's C-PML).

Usage::

    .venv/bin/python bench/bench_engine.py                 # full run, writes bench/RESULTS.md
    .venv/bin/python bench/bench_engine.py --quick --output ''   # smoke run, no file
    BENCH_THREADS=1 .venv/bin/python bench/bench_engine.py --profile --output ''
"""

# ruff: noqa: E402  (the thread count is set before numpy, torch and Devito are imported)
from __future__ import annotations

import os

# The issue fixes 2 threads; BENCH_THREADS changes it (for experiments, reported as such).
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# Before numpy, torch or Devito load: their OpenMP runtimes read these once.
os.environ["OMP_NUM_THREADS"] = str(THREADS)
# Waiting threads sleep instead of spinning. On a shared machine a spinning thread holds a
# core while the thread it waits for is descheduled, and each of the thousands of per-step
# barriers then costs a scheduler time slice: measured here, 2 spinning threads ran our
# forward 60x (Deepwave's 15x) slower than one thread. Same setting for both codes.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import datetime
import gc
import platform
import resource
import shlex
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from devito_crfwi.bridge import WaveOperator
from devito_crfwi.physics import Propagator, Survey
from devito_crfwi.physics.grid import CFL_MARGIN, ModelGrid

REPO = Path(__file__).resolve().parents[1]
MARMOUSI = REPO.parent / "shared" / "data" / "models" / "marmousi.npy"
MIB = 2.0**20


# -- problem -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Sizes of the benchmark problem (grid cells, spacing in m, steps, Hz)."""

    nx: int = 600
    nz: int = 200
    spacing: float = 10.0
    nt: int = 2000
    n_receivers: int = 300
    f0: float = 10.0
    space_order: int = 8
    pml_width: int = 20
    checkpoints: int = 40

    @property
    def points(self) -> int:
        """Physical model points (the GPts/s numerator; padding excluded)."""
        return self.nx * self.nz


QUICK = Problem(nx=240, nz=120, nt=400, n_receivers=100, checkpoints=10)


def velocity_model(p: Problem) -> tuple[xr.DataArray, str]:
    """A (x, z) model in m/s: a Marmousi window if the shared data is there, else layered."""
    if MARMOUSI.exists():
        full = np.load(MARMOUSI).astype(np.float32)
        if full.shape[0] >= p.nx and full.shape[1] >= p.nz:
            values = full[: p.nx, : p.nz]
            about = (f"Marmousi window [0:{p.nx}, 0:{p.nz}] of ../shared/data/models/"
                     f"marmousi.npy (15 m cells re-labelled {p.spacing:g} m)")
            return _dataarray(values, p.spacing), about
    x, z = np.meshgrid(np.arange(p.nx), np.arange(p.nz), indexing="ij")
    depth = z / (p.nz - 1) + 0.08 * np.sin(2 * np.pi * x / p.nx)
    values = 1500.0 + 2500.0 * np.clip(depth, 0.0, 1.0) ** 1.5
    return _dataarray(values, p.spacing), "synthetic smooth layered model 1500-4000 m/s"


def _dataarray(values: np.ndarray, h: float) -> xr.DataArray:
    nx, nz = values.shape
    return xr.DataArray(
        np.ascontiguousarray(values, dtype=np.float32), dims=("x", "z"),
        coords={"x": np.arange(nx) * h, "z": np.arange(nz) * h}, attrs={"units": "m/s"},
    )


@dataclass
class Setup:
    """Everything both codes share: model, time step, acquisition (cells and metres)."""

    problem: Problem
    vp: xr.DataArray
    about: str
    dt: float
    survey: Survey
    source_cells: np.ndarray  # (1, 2) (ix, iz)
    receiver_cells: np.ndarray  # (receiver, 2) (ix, iz)
    wavelet: np.ndarray  # (nt,) on the simulation axis

    @property
    def vmax(self) -> float:
        return float(self.vp.max())


def build_setup(p: Problem) -> Setup:
    vp, about = velocity_model(p)
    vmax = float(vp.max())
    grid = ModelGrid((p.nx, p.nz), (p.spacing, p.spacing), nbl=p.pml_width)
    # Our automatic step (CFL_MARGIN of the limit), rounded down to 10 us so it prints well.
    dt = np.floor(CFL_MARGIN * grid.max_stable_dt(vmax, p.space_order) * 1e5) / 1e5
    src = np.array([[p.nx // 2, 2]])
    rec_x = np.unique(np.linspace(0, p.nx - 1, p.n_receivers).round().astype(int))
    if len(rec_x) != p.n_receivers:
        raise ValueError(f"{p.n_receivers} receivers do not fit on {p.nx} cells")
    rec = np.stack([rec_x, np.full_like(rec_x, 2)], axis=1)
    # Recording interval = simulation step, so our engine does not resample: nt steps.
    survey = Survey(src * p.spacing, rec * p.spacing, p.f0, p.nt * dt, dt=dt)
    time_axis = np.arange(p.nt) * dt
    wavelet = survey.source_wavelet(time_axis).astype(np.float32)
    return Setup(p, vp, about, float(dt), survey, src, rec, wavelet)


# -- memory --------------------------------------------------------------------------------
_PAGE = resource.getpagesize()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRSS:
    """Peak resident memory above the level at entry, over a ``with`` block.

    A background thread samples ``/proc/self/statm`` every ``interval`` s (Devito and
    Deepwave allocate outside Python's tracers; their C calls release the GIL, so the
    sampler runs during them). Where the kernel lets us reset ``VmHWM``, its exact peak is
    taken too and the larger of the two is kept.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak = 0

    def __enter__(self) -> PeakRSS:
        gc.collect()
        self.base = rss_bytes()
        self._sampled = self.base
        self._hwm = _reset_hwm()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._sampled = max(self._sampled, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        top = max(self._sampled, rss_bytes(), _hwm_bytes() if self._hwm else 0)
        self.peak = top - self.base


# -- rows ----------------------------------------------------------------------------------
@dataclass
class Row:
    """One benchmarked call: ``run()`` does the work once and returns a result to check."""

    name: str
    run: Callable[[], np.ndarray]
    times: list[float] = field(default_factory=list)
    cpu: list[tuple[float, float]] = field(default_factory=list)  # (user, sys) s per call
    peak: int = 0  # bytes, first call on a fresh engine (all its buffers allocated in it)
    result: np.ndarray | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        """Median CPU time (user + sys) of the process over a call, s."""
        return statistics.median(u + s for u, s in self.cpu)


def _engine_kwargs(s: Setup, checkpoints: int | None) -> dict:
    p = s.problem
    return dict(space_order=p.space_order, boundary_width=p.pml_width, vmax=s.vmax, dt=s.dt,
                checkpoints=checkpoints)


def our_rows(s: Setup) -> list[Row]:
    """Our forward and gradients; each row has its own engine so its memory is its own."""
    vp = np.asarray(s.vp.values)
    vp_t = torch.from_numpy(vp.copy())

    def propagator(checkpoints=None) -> Propagator:
        return Propagator.from_model(s.vp, s.survey, **_engine_kwargs(s, checkpoints))

    def operator(checkpoints=None) -> WaveOperator:
        return WaveOperator(s.survey, s.vp, **_engine_kwargs(s, checkpoints))

    def forward_direct(prop):
        return lambda: prop.forward(vp, [0])

    def forward_bridge(op):
        def run():
            with torch.no_grad():
                return op(vp_t, shots=[0]).numpy()

        return run

    def gradient_direct(prop):
        def run():
            data, tapes = prop.record(vp, [0])
            return prop.jacobian_adjoint(vp, tapes, data)  # d(0.5 ||d||²)/dd = d

        return run

    def gradient_bridge(op):
        def run():
            v = vp_t.clone().requires_grad_(True)
            loss = 0.5 * (op(v, shots=[0]) ** 2).sum()
            loss.backward()
            return v.grad.numpy()

        return run

    c = s.problem.checkpoints
    return [
        Row("ours forward, direct", forward_direct(propagator())),
        Row("ours forward, bridge (no grad)", forward_bridge(operator())),
        Row("ours gradient, direct, full storage", gradient_direct(propagator())),
        Row("ours gradient, bridge, full storage", gradient_bridge(operator())),
        Row(f"ours gradient, direct, revolve({c})", gradient_direct(propagator(c))),
        Row(f"ours gradient, bridge, revolve({c})", gradient_bridge(operator(c))),
    ]


def deepwave_rows(s: Setup) -> tuple[list[Row], dict]:
    """Deepwave's scalar propagator on the same model, step, cells and wavelet."""
    import deepwave
    from deepwave.discretisation import critical_courant_number

    p = s.problem
    v0 = torch.from_numpy(np.asarray(s.vp.values).copy())
    # The Courant number our dt implies; asking for it (a hair above) gives step_ratio 1.
    courant = s.dt * s.vmax * np.sqrt(2.0) / p.spacing
    crit = critical_courant_number(p.space_order, propagator="scalar")
    if courant > crit:
        raise ValueError(f"dt = {s.dt} s gives Courant number {courant:.4f} above Deepwave's "
                         f"critical {crit:.4f} for accuracy {p.space_order}")
    settings = dict(
        source_amplitudes=torch.from_numpy(s.wavelet).reshape(1, 1, -1),
        source_locations=torch.from_numpy(s.source_cells).long().reshape(1, 1, 2),
        receiver_locations=torch.from_numpy(s.receiver_cells).long().reshape(1, -1, 2),
        accuracy=p.space_order, pml_width=p.pml_width, pml_freq=p.f0, max_vel=s.vmax,
        courant_number=min(crit, courant * (1 + 1e-6)),
    )

    def call(v):
        return deepwave.scalar(v, p.spacing, s.dt, **settings)

    with torch.no_grad():
        info = call(v0).info
    if info.step_ratio != 1 or abs(info.internal_dt - s.dt) > 1e-12 or info.nt != p.nt:
        raise RuntimeError(f"Deepwave sub-steps or changes nt: step_ratio={info.step_ratio}, "
                           f"internal_dt={info.internal_dt}, nt={info.nt}")

    def forward():
        with torch.no_grad():
            return call(v0).receiver_amplitudes.numpy()

    def gradient():
        v = v0.clone().requires_grad_(True)
        loss = 0.5 * (call(v).receiver_amplitudes ** 2).sum()
        loss.backward()
        return v.grad.numpy()

    rows = [Row("deepwave forward", forward),
            Row("deepwave gradient (full storage)", gradient)]
    meta = dict(version=deepwave.__version__, step_ratio=info.step_ratio,
                internal_dt=info.internal_dt, courant=info.courant_number, crit=crit,
                pml_freq=info.pml_freq, max_vel=info.max_vel)
    return rows, meta


# -- running -------------------------------------------------------------------------------
def warm_up(s: Setup) -> float:
    """Compile our kernels on a throwaway engine (Devito JIT), outside every measurement."""
    t0 = time.perf_counter()
    prop = Propagator.from_model(s.vp, s.survey, **_engine_kwargs(s, None))
    vp = np.asarray(s.vp.values)
    prop.forward(vp, [0])
    data, tapes = prop.record(vp, [0])
    prop.jacobian_adjoint(vp, tapes, data)
    return time.perf_counter() - t0


def measure(rows: list[Row], repeats: int, log: Callable[[str], None]) -> list[float]:
    """A memory probe call per row, then ``repeats`` timed rounds, order rotated each round.

    Returns the 1-minute load average after each round.
    """
    for row in rows:
        with PeakRSS() as mem:
            row.result = row.run()
        row.peak = mem.peak
        log(f"  probe {row.name:<40s} peak +{row.peak / MIB:8.1f} MiB")
    loads = []
    for r in range(repeats):
        k = r % len(rows)
        for row in rows[k:] + rows[:k]:
            # Same conditions as the probe (a gc pass, the 2 ms sampler), peak not kept.
            with PeakRSS():
                c0 = os.times()
                t0 = time.perf_counter()
                row.run()
                row.times.append(time.perf_counter() - t0)
                c1 = os.times()
            row.cpu.append((c1.user - c0.user, c1.system - c0.system))
        loads.append(os.getloadavg()[0])
        log(f"  round {r + 1}/{repeats} done, load {loads[-1]:.2f}")
    return loads


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def checks(rows: dict[str, Row], c: int) -> list[str]:
    """Do the rows compute the same thing? (Bridge = direct, revolve ~ full storage.)"""
    out = []
    pairs = [
        ("ours forward, bridge (no grad)", "ours forward, direct"),
        ("ours gradient, bridge, full storage", "ours gradient, direct, full storage"),
        (f"ours gradient, direct, revolve({c})", "ours gradient, direct, full storage"),
        (f"ours gradient, bridge, revolve({c})", "ours gradient, bridge, full storage"),
    ]
    for a, b in pairs:
        out.append(f"relative difference {a} vs {b}: "
                   f"{_relative(rows[a].result, rows[b].result):.1e}")
    if "deepwave forward" in rows:
        ours = rows["ours forward, direct"].result[0]  # (time, receiver), t = 0..nt
        theirs = rows["deepwave forward"].result[0].T  # (time, receiver), t = 0..nt-1
        n = len(theirs) - 4
        best = max(
            (abs(np.corrcoef(ours[lag : lag + n].ravel(), theirs[:n].ravel())[0, 1]), lag)
            for lag in range(0, 4)
        )
        out.append(f"ours vs Deepwave forward data: correlation {best[0]:.3f} at a lag of "
                   f"{best[1]} step(s) (amplitude conventions and absorbers differ)")
        g_ours = rows["ours gradient, direct, full storage"].result
        g_dw = rows["deepwave gradient (full storage)"].result
        corr = np.corrcoef(g_ours.ravel(), g_dw.ravel())[0, 1]
        out.append(f"ours vs Deepwave gradient: correlation {corr:.3f} (their scales differ "
                   "with the source normalisation)")
    return out


# -- profile -------------------------------------------------------------------------------
def profile(rows: list[Row], p: Problem, log: Callable[[str], None]) -> list[str]:
    """Where our gradients spend their time: compiled kernels, the engine, the bridge.

    Times ``BoundOperator.run`` (the compiled call) by operator, and ``Propagator.record`` plus
    ``Propagator.adjoint``, for one call of each of our gradient rows. The engine's time
    outside its kernels is allocation, page faults, copies, resampling and Python; the
    row's time outside the engine is the torch bridge (or the direct call's own Python).
    """
    from devito_crfwi.physics import operators

    spent: dict[str, list] = {}

    def timed(name_of, original):
        def wrapper(obj, *args, **kwargs):
            t0 = time.perf_counter()
            out = original(obj, *args, **kwargs)
            entry = spent.setdefault(name_of(obj, args), [0.0, 0, 0])
            entry[0] += time.perf_counter() - t0
            entry[1] += 1
            if len(args) == 2 and isinstance(args[0], int):  # BoundOperator.run(time_m, time_M)
                entry[2] += args[1] - args[0] + 1
            return out

        return wrapper

    patches = [
        (operators.BoundOperator, "run", lambda k, a: k.op.name.removeprefix("crfwi_")),
        (Propagator, "record", lambda *_: "record"),
        (Propagator, "jacobian_adjoint", lambda *_: "jacobian_adjoint call"),
    ]
    saved = [(cls, attr, getattr(cls, attr)) for cls, attr, _ in patches]
    for cls, attr, name_of in patches:
        setattr(cls, attr, timed(name_of, getattr(cls, attr)))
    lines = ["| run | total (s) | kernels: time (s), calls, steps, ns/point/step | "
             "engine outside kernels (s) | outside engine (s) | sys CPU (s) |",
             "|---|---:|---|---:|---:|---:|"]
    try:
        for row in rows:
            if not row.name.startswith("ours gradient"):
                continue
            spent.clear()
            gc.collect()
            c0 = os.times()
            t0 = time.perf_counter()
            row.run()
            total = time.perf_counter() - t0
            sys_s = os.times().system - c0.system
            engine = spent.pop("record")[0] + spent.pop("adjoint call")[0]
            kernels = sum(v[0] for v in spent.values())
            parts = "; ".join(
                f"{name}: {t:.3f}, {n}, {k}, {t / k / p.points * 1e9:.2f}"
                for name, (t, n, k) in sorted(spent.items()))
            lines.append(f"| {row.name} | {total:.3f} | {parts} | {engine - kernels:.3f} | "
                         f"{total - engine:.3f} | {sys_s:.2f} |")
            log(lines[-1])
    finally:
        for cls, attr, original in saved:
            setattr(cls, attr, original)
    return lines


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
    import devito

    return dict(cpu=cpu, mem_gib=mem, kernel=platform.release(),
                python=platform.python_version(), devito=devito.__version__,
                torch=torch.__version__, numpy=np.__version__)


def table(rows: list[Row], p: Problem) -> list[str]:
    lines = [
        "| run | median (s) | min-max (s) | GPts/s | CPU user / sys (s) | peak memory (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        gpts = p.points * p.nt / row.median / 1e9
        user = statistics.median(u for u, _ in row.cpu)
        sys_s = statistics.median(s for _, s in row.cpu)
        lines.append(f"| {row.name} | {row.median:.3f} | {min(row.times):.3f}-"
                     f"{max(row.times):.3f} | {gpts:.3f} | {user:.2f} / {sys_s:.2f} | "
                     f"{row.peak / MIB:.1f} |")
    return lines


Ratio = tuple[str, float, float, float, str, bool]  # what, medians, minima, CPU, target, met


def ratios(rows: dict[str, Row], c: int) -> list[Ratio]:
    """The issue's targets as ratios of this run's medians (and, for reference, of the
    fastest calls and of the median CPU times)."""
    def both(a: str, b: str) -> tuple[float, float, float]:
        ra, rb = rows[a], rows[b]
        return (ra.median / rb.median, min(ra.times) / min(rb.times),
                ra.cpu_median / rb.cpu_median)

    full_d, full_b = "ours gradient, direct, full storage", "ours gradient, bridge, full storage"
    rev_d, rev_b = f"ours gradient, direct, revolve({c})", f"ours gradient, bridge, revolve({c})"
    out: list[Ratio] = []
    if "deepwave forward" in rows:
        for label, ours in (("bridge", "ours forward, bridge (no grad)"),
                            ("direct", "ours forward, direct")):
            med, low, cpu = both("deepwave forward", ours)
            out.append((f"forward speed vs Deepwave ({label})", med, low, cpu, ">= 2.0x",
                        med >= 2.0))
        for label, ours in (("bridge, full storage", full_b), ("direct, full storage", full_d),
                            (f"bridge, revolve({c})", rev_b)):
            med, low, cpu = both("deepwave gradient (full storage)", ours)
            out.append((f"gradient speed vs Deepwave ({label})", med, low, cpu, ">= 7x",
                        med >= 7.0))
    for label, a, b in (("full storage", full_b, full_d), (f"revolve({c})", rev_b, rev_d)):
        med, low, cpu = both(a, b)
        out.append((f"bridge overhead over direct, {label}", med - 1, low - 1, cpu - 1,
                    "<= +5%", med - 1 <= 0.05))
    for label, a, b in (("direct", rev_d, full_d), ("bridge", rev_b, full_b)):
        med, low, cpu = both(a, b)
        out.append((f"revolve({c}) time / full-storage time, {label}", med, low, cpu,
                    "<= 1.5x", med <= 1.5))
        mem = rows[a].peak / max(rows[b].peak, 1)
        out.append((f"revolve({c}) memory / full-storage memory, {label}", mem, mem, mem,
                    "<= 5%", mem <= 0.05))
    return out


def _fmt_ratio(what: str, value: float) -> str:
    if "overhead" in what:
        return f"{100 * value:+.1f}%"
    if "memory" in what:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}x"


def report(s: Setup, rows: list[Row], meta: dict, loads: dict, warm_s: float, args,
           profile_lines: list[str]) -> str:
    p = s.problem
    by_name = {r.name: r for r in rows}
    m = machine()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    padded = (p.nx + 2 * p.pml_width) * (p.nz + 2 * p.pml_width)
    rounds = ", ".join(f"{x:.2f}" for x in loads["rounds"])
    title = "Engine benchmark" + ("" if THREADS == 2 else f", BENCH_THREADS={THREADS}")
    lines = [
        f"# {title}",
        "",
        f"Produced by `{args.command}` on {now}.",
        "",
        f"- Machine: {m['cpu']}, {m['mem_gib']:.0f} GiB RAM, Linux {m['kernel']}; "
        f"{THREADS} thread{'s' if THREADS != 1 else ''} (OMP_NUM_THREADS={THREADS}, "
        f"torch.set_num_threads({THREADS}), "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']} for both codes).",
        f"- Software: Python {m['python']}, Devito {m['devito']}, torch {m['torch']}, "
        f"NumPy {m['numpy']}" + (f", Deepwave {meta['version']}" if meta else "") + ".",
        f"- Load average (1 min): {loads['before']:.2f} before, {rounds} after each round. "
        "The machine is shared: absolute times are noisy, and ratios within this one run "
        "are what count.",
        f"- Problem: {p.nx} x {p.nz} cells at {p.spacing:g} m, {s.about}, "
        f"{s.vp.min().item():.0f}-{s.vmax:.0f} m/s; order {p.space_order} in space; "
        f"dt = {s.dt * 1e3:.3g} ms (Courant {s.dt * s.vmax * np.sqrt(2) / p.spacing:.3f}), "
        f"{p.nt} time steps ({p.nt * s.dt:.2f} s); 1 shot (centre, 2 cells deep), "
        f"{p.n_receivers} receivers on grid nodes; Ricker f0 = {p.f0:g} Hz; "
        f"{p.pml_width}-cell absorbing layer on every side (ours: sponge, "
        f"{padded} points padded; Deepwave: C-PML).",
        f"- Method: {args.repeats} rounds, every row once per round, order rotated each "
        f"round; median (and min-max) wall time. Kernels compiled beforehand "
        f"({warm_s:.0f} s of warm-up, not timed).",
        f"- GPts/s = {p.nx} x {p.nz} physical points x {p.nt} steps / median time, the same "
        "numerator for every row (padding excluded), so GPts/s ratios are speed ratios; for "
        "gradients it is gradient throughput (a forward plus an adjoint sweep, plus the "
        "recomputation for revolve). CPU = median user and system time of the process "
        "over a call (system time is mostly page faults on fresh buffers).",
        "- Peak memory = peak RSS minus RSS before the call (`/proc/self/statm` sampled every "
        "2 ms in a thread, and the kernel's VmHWM after resetting it), measured on the first "
        "call of a fresh engine whose kernels are already compiled, so buffers an engine "
        "keeps between calls (revolve's segment buffer) are counted.",
    ]
    if meta:
        lines.append(
            f"- Deepwave: `deepwave.scalar(v, {p.spacing:g}, dt, accuracy={p.space_order}, "
            f"pml_width={p.pml_width}, pml_freq={p.f0:g}, max_vel=vmax, "
            f"courant_number={meta['courant']:.4f})`; RunInfo: step_ratio = "
            f"{meta['step_ratio']}, internal_dt = {meta['internal_dt'] * 1e3:.4g} ms "
            f"(critical Courant number {meta['crit']:.4f}); gradient of "
            "0.5 * sum(receiver_amplitudes**2) with default (in-memory) storage. Our "
            "gradients differentiate the same loss.")
    lines += ["", *table(rows, p), "", "## Targets (ratios from this run)", "",
              "Speed ratios are Deepwave's time over ours. The verdict uses the medians of "
              "wall time; the ratios of the fastest calls and of the median CPU times "
              "(user + sys, which waiting for a core does not inflate) are shown beside it "
              "as references that depend less on the machine's load.",
              "", "| ratio | from medians | from minima | from CPU time | target | met |",
              "|---|---:|---:|---:|---:|:---:|"]
    for what, med, low, cpu, target, met in ratios(by_name, p.checkpoints):
        lines.append(f"| {what} | {_fmt_ratio(what, med)} | {_fmt_ratio(what, low)} | "
                     f"{_fmt_ratio(what, cpu)} | {target} | {'yes' if met else 'no'} |")
    lines += ["", "## Consistency checks", ""]
    lines += [f"- {c}" for c in checks(by_name, p.checkpoints)]
    if profile_lines:
        lines += ["", "## Where our gradient time goes (`--profile`, one call each)", "",
                  *profile_lines]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid and nt (smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--no-deepwave", action="store_true", help="skip the Deepwave rows")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, split our gradients' time by kernel")
    parser.add_argument("--output", default=str(REPO / "bench" / "RESULTS.md"),
                        help="Markdown report to write ('' for none; default bench/RESULTS.md)")
    parser.add_argument("--append", action="store_true",
                        help="append the report to --output instead of replacing it")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    prefix = "" if THREADS == 2 else f"BENCH_THREADS={THREADS} "
    args.command = prefix + shlex.join(["bench/bench_engine.py", *argv])
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    torch.set_num_threads(THREADS)
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    def log(msg: str) -> None:
        print(msg, flush=True)

    loads = {"before": os.getloadavg()[0]}
    s = build_setup(QUICK if args.quick else Problem())
    log(f"{s.problem}; dt = {s.dt * 1e3:.4g} ms; {s.about}; load {loads['before']:.2f}")
    warm_s = warm_up(s)
    log(f"warm-up (JIT) {warm_s:.1f} s")
    rows = our_rows(s)
    meta: dict = {}
    if not args.no_deepwave:
        dw_rows, meta = deepwave_rows(s)
        rows += dw_rows
    loads["rounds"] = measure(rows, args.repeats, log)
    profile_lines = profile(rows, s.problem, log) if args.profile else []
    text = report(s, rows, meta, loads, warm_s, args, profile_lines)
    print("\n" + text)
    if args.output:
        out = Path(args.output)
        if args.append and out.exists():
            text = out.read_text() + "\n" + text
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
