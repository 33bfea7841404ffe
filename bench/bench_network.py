"""Network cost per epoch against one shot's wave-equation gradient, eager and torch.compile.

For the paper-size networks (``preset="paper"``, the paper's additive output) — IFWI's SIREN
[2, 128, 128, 128, 128, 1] with omega0 = 30, MPE (16 hashed levels of 2**8 rows), IG and
LR-FWI (rank 47) — on a 288 x 94 grid at 15 m, times one epoch's forward and
backward over all 288 * 94 coordinates (``loss = sum(vp**2)``), and compares it with one shot's
``Propagator.misfit_gradient`` (Ricker 8 Hz, 1.9 s, float32) on the same grid. With
``torch.compile`` of the representation: its compile time (first epoch minus an eager epoch)
and its steady epoch time.

    .venv/bin/python bench/bench_network.py [--threads 2] [--repeats 5] [--no-compile]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

NX, NZ, SPACING = 288, 94, 15.0  # cells, m
NETWORKS = {"IFWI (SIREN)": "inr", "MPE (hash grid)": "grid", "IG": "ig", "LR-FWI": "lowrank"}


def initial_model():
    """A velocity increasing with depth, 1500 to 4000 m/s (x, z), as an xr.DataArray."""
    import xarray as xr

    z = np.arange(NZ) * SPACING
    values = np.repeat((1500.0 + 2500.0 * z / z[-1])[None, :], NX, axis=0)
    return xr.DataArray(values.astype(np.float32), dims=("x", "z"),
                        coords={"x": np.arange(NX) * SPACING, "z": z}, attrs={"units": "m/s"})


def best_of(fn, repeats: int) -> float:
    """Fastest of ``repeats`` calls of ``fn``, s."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def epoch(module) -> None:
    """One forward and backward over every coordinate of the grid."""
    module.zero_grad(set_to_none=True)
    (module() ** 2).sum().backward()


def wave_gradient_time(vp, repeats: int) -> float:
    """One shot's misfit_gradient (forward with tapes + adjoint), s, after a warm-up call."""
    from devito_crfwi import Survey
    from devito_crfwi.physics import Propagator

    survey = Survey.surface(vp, n_shots=1, n_receivers=NX, f0=8.0, t_max=1.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dispersion warning of the shallow, slow layer
        prop = Propagator.from_model(vp, survey)
    values = vp.values
    observed = prop.forward(values * 0.98)
    prop.misfit_gradient(values, observed)  # compile and allocate
    return best_of(lambda: prop.misfit_gradient(values, observed), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    from devito_crfwi.representations import make_representation

    torch.set_num_threads(args.threads)
    vp = initial_model()
    wave = wave_gradient_time(vp, max(1, args.repeats // 2))
    rows = []
    for label, name in NETWORKS.items():
        module = make_representation(name, vp.values, seed=0, preset="paper", output="additive")
        n_params = sum(p.numel() for p in module.parameters())
        epoch(module)  # warm-up
        eager = best_of(lambda m=module: epoch(m), args.repeats)
        compiled = compile_s = None
        if not args.no_compile:
            fast = torch.compile(module)
            start = time.perf_counter()
            epoch(fast)
            compile_s = time.perf_counter() - start - eager
            compiled = best_of(lambda m=fast: epoch(m), args.repeats)
        rows.append((label, n_params, eager, compiled, compile_s))
    print(f"grid {NX} x {NZ} at {SPACING:g} m, {args.threads} threads, torch {torch.__version__}")
    print(f"one shot's wave-equation gradient (8 Hz, 1.9 s, float32): {wave:.3f} s\n")
    print("| network | parameters | eager epoch (s) | / wave gradient | compiled epoch (s) "
          "| compiled / eager | compile (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, n_params, eager, compiled, compile_s in rows:
        extra = ("| — | — | — |" if compiled is None else
                 f"| {compiled:.3f} | {compiled / eager:.2f} | {compile_s:.1f} |")
        print(f"| {label} | {n_params} | {eager:.3f} | {eager / wave:.2f} {extra}")


if __name__ == "__main__":
    main()
