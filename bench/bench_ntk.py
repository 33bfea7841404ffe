"""Time and peak memory of the top-k eigenvalues of the wave kernel and of each NTK.

Default: a 100 x 50 model at 10 m, 4 shots, 100 receivers, f0 = 10 Hz, t_max = 0.8 s, top 50
eigenvalues, for the wave kernel and the NTK of each representation (all parameters, and the
encoding parameters of grid and IG). ``--quick``: 40 x 20, 2 shots, top 10.

Each kernel runs in its own child process so that its peak resident memory (``ru_maxrss`` from
``os.wait4``) is its own; ``base`` is the child's RSS before the solve (interpreter, torch,
Devito, the compiled kernels, the recorded tapes) and, with ``--trace``, ``traced`` the peak
of numpy/Python allocations during the solve (tracemalloc: the Lanczos basis and network
copies; it slows torch down several times, so timings are taken without it).

    .venv/bin/python bench/bench_ntk.py [--quick] [--k 50] [--only wave inr] [--trace]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

KERNELS = ("wave", "pixel", "inr", "grid", "ig", "lowrank", "grid[encoding]", "ig[encoding+sine]")
FULL = dict(nx=100, nz=50, shots=4, receivers=100, f0=10.0, t_max=0.8, k=50)
QUICK = dict(nx=40, nz=20, shots=2, receivers=40, f0=15.0, t_max=0.4, k=10)


def model(nx: int, nz: int):
    import xarray as xr

    x, z = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    values = np.where(z < 0.4 * nz, 2000.0, 2400.0)
    values = values + 250.0 * np.exp(-((x - nx / 2) ** 2 + (z - 0.7 * nz) ** 2) / (0.02 * nx * nz))
    return xr.DataArray(values, dims=("x", "z"),
                        coords={"x": np.arange(nx) * 10.0, "z": np.arange(nz) * 10.0},
                        attrs={"units": "m/s"})


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_one(name: str, cfg: dict) -> dict:
    """Child: one kernel's spectrum; returns the measurements."""
    from devito_crfwi import Survey, WaveOperator
    from devito_crfwi.ntk import ENCODING_PARAMETERS, TangentKernel
    from devito_crfwi.representations import make_representation

    vp = model(cfg["nx"], cfg["nz"])
    survey = Survey.surface(vp, n_shots=cfg["shots"], n_receivers=cfg["receivers"],
                            f0=cfg["f0"], t_max=cfg["t_max"])
    op = WaveOperator(survey, vp)
    base_name = name.split("[")[0]
    rep = None if name == "wave" else make_representation(base_name, vp.values)
    subset = ENCODING_PARAMETERS[base_name] if "[" in name else None
    kernel = TangentKernel(op, vp, rep, parameters=subset)
    # warm up outside the timing: the engine compiles or loads its kernels and records the
    # tapes, torch.func traces the network once
    warm = kernel.operator()
    warm.matvec(np.random.default_rng(1).standard_normal(warm.shape[0]))
    base = rss_mb()
    if cfg.get("trace"):
        tracemalloc.start()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values, _ = kernel.eigen(cfg["k"], tol=cfg.get("tol", 1e-6))
    seconds = time.perf_counter() - start
    traced = float("nan")
    if cfg.get("trace"):
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    ratio = values / values[0]
    return dict(
        kernel=name, P=kernel.n_parameters, N=kernel.n_model, D=kernel.n_data,
        space=kernel.choose_space(), products=kernel.products, seconds=seconds,
        base_mb=base, traced_mb=traced, last_ratio=float(ratio[-1]),
        mean_log10=float(np.mean(np.log10(np.clip(ratio, 1e-300, None)))),
        warnings=[str(w.message) for w in caught if "devito_crfwi" in w.filename
                  or w.category is RuntimeWarning],
    )


def spawn(name: str, cfg: dict) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--config", json.dumps(cfg)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: child failed with status {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 x 20, 2 shots, k = 10")
    parser.add_argument("--k", type=int, default=None, help="number of eigenvalues")
    parser.add_argument("--tol", type=float, default=1e-6, help="Lanczos tolerance")
    parser.add_argument("--only", nargs="+", default=list(KERNELS), choices=KERNELS,
                        metavar="KERNEL", help=f"subset of {', '.join(KERNELS)}")
    parser.add_argument("--trace", action="store_true",
                        help="also trace numpy/Python allocations (slows torch down ~5x)")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, json.loads(args.config))))
        return 0
    cfg = dict(QUICK if args.quick else FULL, tol=args.tol, trace=args.trace)
    if args.k is not None:
        cfg["k"] = args.k
    print(f"model {cfg['nx']} x {cfg['nz']}, {cfg['shots']} shots x {cfg['receivers']} receivers, "
          f"f0 {cfg['f0']} Hz, t_max {cfg['t_max']} s, top {cfg['k']}, tol {cfg['tol']}; "
          f"load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cpus")
    header = (f"{'kernel':<18} {'P':>7} {'space':>9} {'prod':>5} {'s':>7} {'s/prod':>7} "
              f"{'peak MB':>8} {'base MB':>8} {'traced':>7} {'l_k/l_1':>9} {'mean lg':>8}")
    print(header)
    rows = []
    start = time.perf_counter()
    for name in args.only:
        r = spawn(name, cfg)
        rows.append(r)
        print(f"{r['kernel']:<18} {r['P']:>7d} {r['space']:>9} {r['products']:>5d} "
              f"{r['seconds']:>7.1f} {r['seconds'] / max(r['products'], 1):>7.3f} "
              f"{r['peak_mb']:>8.0f} {r['base_mb']:>8.0f} {r['traced_mb']:>7.1f} "
              f"{r['last_ratio']:>9.2e} {r['mean_log10']:>8.3f}", flush=True)
        for w in r["warnings"]:
            print(f"  warning: {w}")
    print(f"total {time.perf_counter() - start:.0f} s; parent peak "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": cfg, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
