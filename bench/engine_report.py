"""The engine benchmark's Markdown report (bench/RESULTS.md) from the driver's records.

Kept apart from the workers (bench_engine.py), which measure; this module only formats.
"""

from __future__ import annotations

import datetime
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from engine_problems import FULL_3D, SWEEP_T_MAX, THREADS, Problem, npts, protocol, velocity


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
    ("ours", "epoch"): "ours, WaveOperator (as an inversion runs it)",
    ("deepwave", "epoch"): "Deepwave, scalar, the shots batched",
}


def label(job, p: Problem) -> str:
    return ROW_LABELS[job].format(c=p.checkpoints, w=p.pml_width)


def cells(shape) -> str:
    """A grid shape as "nx x [ny x] nz"."""
    return " x ".join(str(n) for n in shape)


def storage_lines(runs: dict, jobs) -> list[str]:
    """How each of our gradient jobs kept its tape, per round: the plan, the shots recorded
    again with every step stored, and the free memory the plan was sized from."""
    lines = []
    for job in jobs:
        rounds = [r["storage"] for r in runs.get(job, []) if "storage" in r]
        if not rounds:
            continue
        kinds = sorted({f"revolve, {s['checkpoints']} snapshots" if s["checkpoints"]
                        else f"{s['mode']} tape" for s in rounds})
        again = sorted({s["exact_recordings"] for s in rounds})
        free = [s["free_mib"] / 1024 for s in rounds]
        lines.append(f"- Our gradient's storage, {job[0]} {job[1]}: {' / '.join(kinds)}; shots "
                     f"recorded again with every step stored, per call: "
                     f"{', '.join(f'{a:g}' for a in again)}; free memory at the calls "
                     f"{min(free):.1f}-{max(free):.1f} GiB (`subsample='auto'` sizes the "
                     "tapes from it).")
    return lines


def comparison_table(res: dict, jobs, p: Problem) -> list[str]:
    """Per job and task: steps, grid, times, throughput (over ``p.n_shots`` shots), memory."""
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
            pad = npts(r0["padded"]) * p.n_shots  # points updated per step, all shots
            peak = statistics.median(r["tasks"][task]["call_peak_mib"] for r in recs)
            exact = all(r["tasks"][task]["exact_peak"] for r in recs)
            lines.append(
                f"| {label(job, p)} | {task} | {r0['dt'] * 1e3:.4g} x {steps} | "
                f"{cells(r0['padded'])} | {t.fmt()} | "
                f"{stat(recs, task, 'cpu').median:.2f} | "
                f"{pad * steps / t.median / 1e9:.4g} | "
                f"{p.points * p.n_shots * steps / t.median / 1e9:.4g} | "
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

    if made(("deepwave", "epoch"), ("ours", "epoch")):
        v, rng = _speed(res, ("deepwave", "epoch"), ("ours", "epoch"), "epoch")
        out.append(("paper-protocol epoch vs Deepwave, defaults", v, rng, ">= 3x",
                    "met" if v >= 3.0 else "not met"))
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
            pad, steps = npts(recs[0]["padded"]), recs[0]["steps"]
            g = Stat([pad * steps / x / 1e9 for x in t.values])
            per[engine].append(g.median)
            cells += [f"{recs[0]['padded'][0]} x {recs[0]['padded'][1]}", g.fmt(),
                      f"{s['nx'] * s['nz'] * steps / t.median / 1e9:.3f}"]
        lines.append(f"| {s['nx']} x {s['nz']} | " + " | ".join(cells) +
                     f" | {times['deepwave'] / times['ours']:.2f}x |")
    return lines, per


def corr(x, y) -> float:
    return float(np.corrcoef(np.ravel(x), np.ravel(y))[0, 1])


def checks(res: dict, p: Problem) -> list[str]:
    a = res["arrays"]

    def rel(x, y):
        return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30))

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
SECTION_EPOCH = "## Paper-protocol epoch"
PARTS = ("2d", "3d", "epoch")  # RESULTS.md's parts, in its order
HEADINGS = {"3d": SECTION_3D, "epoch": SECTION_EPOCH}  # the 2-D document starts the file


def produced(res: dict, args) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"Produced by `{args.command}` on {now} ({res['workers']} worker processes, "
            f"{res['total_s'] / 60:.1f} min).")


def environment(res: dict, od: dict, dd: dict, sub: str, m: dict) -> list[str]:
    """The Environment section from one of our workers' records (``od``) and one of
    Deepwave's (``dd``); ``sub`` deepens the heading ("#" in a section), ``m`` = machine()."""
    loads = res["loads"]
    wl = [r["load_start"] for recs in res["runs"].values() for r in recs]
    omp = od["omp_env"]
    dinfo, ginfo = dd["info"], dd["gradient_info"]
    sweep_loads = (f"; after each sweep round {', '.join(f'{x:.2f}' for x in loads['sweep'])}"
                   if loads["sweep"] else "")
    return [
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
    ]


def rounds_method(res: dict, args) -> str:
    """The Method bullet on the worker processes and the interleaved rounds."""
    runs = res["runs"]
    n_rounds = len(next(iter(runs.values())))
    return (f"- Process per engine, case and round: a driver spawns `bench_engine.py --worker "
            f"--engine ours|deepwave --case CASE --problem {res['dims']} --json OUT` "
            f"{n_rounds} times per case ({n_rounds} of {res['planned']} planned rounds within "
            f"the {args.budget:g}-minute time budget), in rounds that interleave the engines "
            f"and reverse their order every other round (round 1: "
            f"{', '.join(f'{e} {cs}' for e, cs in runs)}; round 2 the reverse; ...). Each "
            "worker makes a first call of each task (untimed: it measures memory) and then a "
            "second, timed one; tables show the median over rounds and the min-max.")


def targets_table(res: dict, p: Problem, sub: str, note: str = "") -> list[str]:
    """The Targets heading and table with the rows of :func:`ratios` (callers append more)."""
    lines = [
        f"{sub}## Targets (ratios from this run)",
        "",
        "Speed ratios are Deepwave's median wall time over ours (> 1: ours faster); the "
        "per-round range pairs the two workers of each round." + note,
        "",
        "| ratio | value (from medians) | per-round range | target | verdict |",
        "|---|---:|---:|---:|:---:|",
    ]
    for what, value, rng, target, met in ratios(res, p):
        lines.append(f"| {what} | {_fmt(what, value)} | {rng} | {target} | {met} |")
    return lines


def raw_times(res: dict, sub: str) -> list[str]:
    lines = [f"{sub}## Raw per-round times (s)", ""]
    for job, recs in res["runs"].items():
        for task in recs[0]["tasks"]:
            lines.append(f"- {job[0]} {job[1]} {task}: "
                         + ", ".join(f"{r['tasks'][task]['time']:.3f}" for r in recs))
    return lines


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
    dinfo, ginfo = dd["info"], dd["gradient_info"]
    compile_s = statistics.median(r["compile_s"] for r in runs[("ours", "default-direct")])
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
        produced(res, args),
        "",
        *environment(res, od, dd, sub, m),
        f"{sub}## Method",
        "",
        f"- Problem: {cells(p.shape)} cells at {p.spacing:g} m, {od['about']}, "
        f"{float(np.min(velocity(p)[0])):.0f}-{od['vmax']:.0f} m/s; 1 shot (centre, 2 cells "
        f"deep), {receivers}, on grid nodes (`Survey.surface`'s positions, checked); Ricker "
        f"f0 = {p.f0:g} Hz peaked at 1/f0; {p.t_max:g} s recorded at {p.rec_dt * 1e3:g} ms "
        f"({p.samples} samples); order {p.space_order} in space; absorbing on every side "
        "for both (our `free_surface=False`, Deepwave's PML on every face).",
        rounds_method(res, args) + " Our workers first compile their kernels on a short "
        "record of the same grid (Devito JIT, "
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
        *storage_lines(runs, [job for job in runs if job[1].startswith("default")]),
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
        *storage_lines(runs, [("ours", "same-direct")]),
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
    lines += targets_table(res, p, sub, " The targets are the 2-D case's, applied here as "
                           "they stand." if three else "")
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
    lines += raw_times(res, sub)
    return "\n".join(lines) + "\n"


def epoch_checks(res: dict) -> list[str]:
    """The two engines' epoch gradients: correlation over the model and below the source
    and receiver rows (whose point imprints dominate both)."""
    ours, dw = (res["arrays"][f"{e}-epoch"]["gradient"] for e in ("ours", "deepwave"))
    rows = 1 + max(res["probe"]["setup"]["receiver_cells"][2],
                   max(z for _, z in res["probe"]["setup"]["source_cells"]))
    return [f"ours vs Deepwave epoch gradient (x, z) {cells(ours.shape)}: correlation "
            f"{corr(ours, dw):.3f} over the model, {corr(ours[:, rows:], dw[:, rows:]):.3f} "
            f"below the top {rows} rows (the sources' and receivers'); scales differ with "
            "the source normalisation, and Deepwave's free surface lies one cell above the "
            "top row, ours on it (bench/CROSSENGINE.md)"]


def epoch_report(res: dict, args) -> str:
    """The section ``SECTION_EPOCH ...`` of RESULTS.md: one epoch of the paper protocol."""
    p: Problem = res["problem"]
    setup = res["probe"]["setup"]
    runs = res["runs"]
    ours, dw = runs[("ours", "epoch")], runs[("deepwave", "epoch")]
    od, dd = ours[0], dw[0]
    dinfo = dd["info"]
    columns = [c for c, _ in setup["source_cells"]]
    step = columns[1] - columns[0] if len(columns) > 1 else 0
    per_call = statistics.median(r["exact_recordings"] / 2 for r in ours)
    lines = [
        f"{SECTION_EPOCH} ({p.n_shots} shots, {cells(p.shape)}, free surface)",
        "",
        produced(res, args),
        "",
        *environment(res, od, dd, "#", machine()),
        "### Method",
        "",
        f"- Problem: `bench/protocol/protocol.toml`'s Marmousi table, built by the package's "
        f"`experiments.scenarios` as the benchmark runner builds it: {setup['about']}, "
        f"{setup['true_range'][0]:.0f}-{setup['true_range'][1]:.0f} m/s; {p.n_shots} shots "
        f"at columns {columns[0]}..{columns[-1]} every {step}, row {setup['source_cells'][0][1]}"
        f" ({setup['source_cells'][0][1] * p.spacing:g} m deep); {p.n_receivers} receivers "
        f"on columns {setup['receiver_cells'][0]}..{setup['receiver_cells'][1]}, row "
        f"{setup['receiver_cells'][2]}; Ricker f0 = {p.f0:g} Hz peaked at 1/f0 (the "
        f"survey's wavelet, Deepwave given its samples); {p.t_max:g} s recorded at "
        f"{p.rec_dt * 1e3:g} ms ({setup['nt']} samples); order {p.space_order} in space; "
        "free surface on top, absorbing on the three other sides; float32."
        + (" **Smoke run** (`--quick`): fewer shots and a shorter record than the protocol."
           if args.quick else ""),
        f"- One epoch: the gradient of the L2 misfit 0.5 ||d(v) - d_obs||^2 w.r.t. the "
        f"velocity over all {p.n_shots} shots (one call, `loss.backward()` through torch), "
        f"at the protocol's smooth start (Gaussian of "
        f"{protocol()['scenarios']['smooth']['sigma']:g} m, the water layer kept; "
        f"{setup['start_range'][0]:.0f}-{setup['start_range'][1]:.0f} m/s); d_obs = each "
        "engine's own modelling of the true model, in the worker before the timed calls "
        "(untimed).",
        f"- Ours: `WaveOperator(survey, start, **{setup['options']})`, the options "
        "`CRFWIProblem` gives it in the protocol's runs (protocol.toml's engine table; vmax "
        "= the upper velocity bound, which fixes the step), the rest default: "
        f"{od['settings']}; {od['pads'][0]}-cell C-PML on the sides and bottom, padded grid "
        f"{cells(od['padded'])}; dt = {od['dt'] * 1e3:.4g} ms, {od['steps']} steps; "
        f"gradient tapes every {od['tape_subsample']} step(s) as `subsample='auto'` decided "
        f"at the call (auto factor {od['subsample']}; shots recorded again with every step "
        f"stored: {per_call:g} per call). The first, untimed d_obs call compiles the "
        f"kernels ({statistics.median(r['observed_s'] for r in ours):.1f} s with its "
        "modelling).",
        f"- Deepwave: one `deepwave.scalar(v, {p.spacing:g}, dt={p.rec_dt:g}, accuracy="
        f"{p.space_order}, "
        + ", ".join(f"{k}={v}" for k, v in dd["faces"].items())
        + f", pml_freq={p.f0:g}, max_vel={dd['vmax']:.0f})` call with the {p.n_shots} shots "
        "batched (source_amplitudes (shot, 1, time)), its free surface on the top face as "
        "its docstring states (zero PML width there; `boundary` 'free': the exact odd image "
        "about the node one cell above the top row); max_vel = the true model's maximum for "
        f"d_obs and the gradient alike; RunInfo: step_ratio {dinfo['step_ratio']}, "
        f"internal_dt {dinfo['internal_dt'] * 1e3:.4g} ms (Courant number "
        f"{dinfo['courant_number']:.3g}), {dd['steps']} internal steps on a "
        f"{cells(dd['padded'])} domain per shot; model_gradient_stride "
        f"{dd['gradient_info']['model_gradient_stride']}; default in-memory storage.",
        rounds_method(res, args),
        "- Peak RSS: `getrusage(RUSAGE_SELF).ru_maxrss` of the worker after the epoch's "
        "first call; \"call peak above start\" as in the 2-D part. GPts/s = padded (or "
        f"physical) points x steps x {p.n_shots} shots / median wall time.",
        "",
        *comparison_table(res, list(runs), p),
        "",
        *targets_table(res, p, "#"),
        "",
        "### Consistency checks",
        "",
        *[f"- {x}" for x in epoch_checks(res)],
        "",
        *raw_times(res, "#"),
    ]
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


def split(old: str) -> dict[str, str]:
    """RESULTS.md's parts by :data:`PARTS` key: the 2-D document from the start, each other
    part from its heading (:data:`HEADINGS`) to the next part; parts it lacks are absent."""
    starts = {"2d": 0} | {key: old.find(h) for key, h in HEADINGS.items() if h in old}
    order = sorted(starts, key=starts.get)
    ends = [starts[key] for key in order[1:]] + [len(old)]
    parts = {key: old[starts[key]:end].strip("\n") for key, end in zip(order, ends,
                                                                         strict=True)}
    return {key: text for key, text in parts.items() if text}


def merge(old: str, texts: dict[str, str]) -> str:
    """RESULTS.md from the previous file and this run's reports (by :data:`PARTS` key), in
    the order of PARTS: a part this run did not make is kept from ``old``."""
    parts = split(old) | {key: text.strip("\n") for key, text in texts.items()}
    return "\n\n".join(parts[key] for key in PARTS if key in parts) + "\n"
