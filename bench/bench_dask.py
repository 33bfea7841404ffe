"""Shot-parallel benchmark: serial in-process vs a Dask ``LocalCluster`` (2 workers x 1 thread).

Problem (issue 6, item 5): 8 shots on a 300 x 100 grid at 10 m (340 x 140 with the
sponge), 8th-order stencils, ~1000 time steps, 150 receivers, float32, full wavefield
storage. Rows, each the median of ``--repeats`` runs after a warm-up (Devito JIT
compilation, worker start-up and first-touch allocations are not timed):

* **forward**: ``op(vp)`` without grad, all shots;
* **iteration**: ``loss(op(vp)).backward()``, one gradient step of an inversion.

Serial runs happen in subprocesses with 1 and with 2 OpenMP threads (Devito reads the
thread count once per process); the Dask run uses 2 single-threaded workers
(``OMP_NUM_THREADS=1``) on the same 2 cores. The ideal Dask time is serial(1 thread) / 2.
The last row, from Dask's task stream, is the wall time not spent computing on the
busiest worker (task round trips, transfers, gathering): the part of the overhead that
does not scale with the shots' length.
A Dask iteration does more work than a serial one: it runs each shot's forward twice
(plain, then with tapes inside the gradient task) and the adjoint once, serial runs one
forward with tapes and the adjoint; the table shows the overhead against both ideals.

Usage::

    .venv/bin/python bench/bench_dask.py            # full run (~2-3 min on 2 idle cores)
    .venv/bin/python bench/bench_dask.py --quick    # smoke run on a small grid
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def problem(quick: bool):
    """(model, survey) of the benchmark: a layered model with a lens, 8 surface shots."""
    import xarray as xr

    from devito_crfwi.physics import Survey

    nx, nz, t_max = (60, 40, 0.3) if quick else (300, 100, 1.3)
    x, z = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    vp = np.where(z < nz // 3, 1800.0, np.where(z < 2 * nz // 3, 2300.0, 2800.0))
    vp += 300.0 * np.exp(-((x - nx / 2) ** 2 + (z - nz / 2) ** 2) / (nz / 4) ** 2)
    model = xr.DataArray(vp.astype(np.float32), dims=("x", "z"),
                         coords={"x": np.arange(nx) * 10.0, "z": np.arange(nz) * 10.0},
                         attrs={"units": "m/s"})
    survey = Survey.surface(model, n_shots=8, n_receivers=min(150, nx), f0=10.0, t_max=t_max)
    return model, survey


def busiest_worker(stream: list[dict]) -> float:
    """Seconds of task computation on the busiest worker, from a Dask task stream."""
    busy: dict[str, float] = {}
    for task in stream:
        for step in task["startstops"]:
            if step["action"] == "compute":
                busy[task["worker"]] = busy.get(task["worker"], 0.0) + step["stop"] - step["start"]
    return max(busy.values(), default=0.0)


def timings(op, model, repeats: int, client=None) -> dict:
    """Median seconds of a forward and of a forward + backward, after one warm-up each.

    With a Dask ``client``, also the median time outside the busiest worker's tasks
    (``*_outside``: scheduling, transfers, gathering; insensitive to the tasks' speed).
    """
    import contextlib

    import torch

    vp0 = torch.tensor(model.values)
    with torch.no_grad():
        observed = op(torch.full_like(vp0, 2300.0))

    def forward():
        with torch.no_grad():
            op(vp0)

    def iteration():
        vp = vp0.clone().requires_grad_(True)
        (0.5 * ((op(vp) - observed) ** 2).sum()).backward()

    out = {"steps": int(op.propagator().nt - 2),
           "grid": list(op.propagator().grid.padded_shape)}
    for name, fn in (("forward", forward), ("iteration", iteration)):
        fn()  # warm-up
        runs, outside = [], []
        for _ in range(repeats):
            if client is None:
                stream = contextlib.nullcontext()
            else:
                from distributed import get_task_stream

                stream = get_task_stream(client)
            with stream as ts:
                start = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - start)
            if client is not None:
                outside.append(runs[-1] - busiest_worker(ts.data))
        out[name] = statistics.median(runs)
        if outside:
            out[f"{name}_outside"] = statistics.median(outside)
    return out


def serial(quick: bool, repeats: int) -> dict:
    """Serial timings in this process (its OMP_NUM_THREADS was set by the caller)."""
    from devito_crfwi import WaveOperator

    model, survey = problem(quick)
    return timings(WaveOperator(survey, model, vmax=3200.0), model, repeats)


def serial_subprocess(threads: int, quick: bool, repeats: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--serial", "--repeats", str(repeats)]
    cmd += ["--quick"] if quick else []
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def dask(quick: bool, repeats: int) -> dict:
    """Timings on a LocalCluster of 2 single-threaded worker processes."""
    from distributed import Client, LocalCluster

    from devito_crfwi import WaveOperator

    model, survey = problem(quick)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, env={"OMP_NUM_THREADS": "1"}) as cluster, \
            Client(cluster) as client:
        op = WaveOperator(survey, model, vmax=3200.0, client=client)
        return timings(op, model, repeats, client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid, smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serial", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serial:  # child process: one serial measurement as JSON
        print(json.dumps(serial(args.quick, args.repeats)))
        return

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    s1 = serial_subprocess(1, args.quick, args.repeats)
    s2 = serial_subprocess(2, args.quick, args.repeats)
    d = dask(args.quick, args.repeats)
    print(f"8 shots, grid {s1['grid'][0]} x {s1['grid'][1]} (with sponge), "
          f"{s1['steps']} steps, median of {args.repeats}")
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    head = f"{'':28s}{'forward (s)':>12s}{'iteration (s)':>15s}"
    print(head)
    print("-" * len(head))
    for name, r in (("serial, 1 thread", s1), ("serial, 2 OpenMP threads", s2),
                    ("Dask, 2 workers x 1 thread", d)):
        print(f"{name:28s}{r['forward']:12.2f}{r['iteration']:15.2f}")
    print("-" * len(head))
    rows = [
        ("speed-up vs serial 1 thr", s1["forward"] / d["forward"],
         s1["iteration"] / d["iteration"], "x"),
        ("speed-up vs serial 2 thr", s2["forward"] / d["forward"],
         s2["iteration"] / d["iteration"], "x"),
        ("overhead: Dask - s1/2", d["forward"] - s1["forward"] / 2,
         d["iteration"] - s1["iteration"] / 2, "s"),
        # the Dask iteration also re-runs each forward (with tapes) in the gradient task
        ("  of which not recompute", d["forward"] - s1["forward"] / 2,
         d["iteration"] - (s1["iteration"] + s1["forward"]) / 2, "s"),
    ]
    rows.append(("Dask time outside tasks", d["forward_outside"], d["iteration_outside"], "s"))
    for name, fwd, it, unit in rows:
        print(f"{name:28s}{fwd:11.2f}{unit}{it:14.2f}{unit}")


if __name__ == "__main__":
    main()
