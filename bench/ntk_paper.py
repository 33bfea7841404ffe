"""The CR-FWI paper's NTK figure on its 1-D problem: eigenvalue decay and movement of the
wave kernel ``J_m J_mᵀ`` and of the wave-based NTK ``(J_m J_θ)(J_m J_θ)ᵀ`` for pixel, IFWI,
LR-FWI, MPE-FWI and IG-FWI, at initialisation and during training (bench/NTK_PAPER.md).

The problem (PAPER.md, "NTK claims"): one Marmousi trace (column 144 of the paper's 288 x 94
grid at 15 m), an 8 Hz Ricker, 1000 samples at 1.9 ms, one source (15 m deep) and one receiver
(30 m deep) at the surface, free surface on top. The engine is 2-D, so the trace is repeated
along x into a laterally invariant model of ``nx`` columns with C-PML sides (the model's edge
padding continues it, so the sides absorb the outgoing waves of an unbounded layered medium),
source and receiver on the centre column. The unknown is the trace (``nz`` depth cells):

* ``J_m`` (1000 x nz) = Born data of each depth cell's perturbation broadcast along x
  (:class:`~devito_crfwi.ntk.ModelJacobian`, float64, every step stored);
* each representation is the paper-size 2-D network built on the trace as a 1 x nz model
  (``preset="paper"``, additive output, LR rank nz // 2 = 47 as on the 288 x 94 grid), so it
  is the 2-D network restricted to one line; ``J_θ`` (nz x P) by vjp rows
  (:class:`~devito_crfwi.ntk.ParameterJacobian`);
* ``Θ = J_m J_θ J_θᵀ J_mᵀ`` (1000 x 1000, rank <= nz) from the factor ``A = J_m U Σ``
  (``J_θ = U Σ Vᵀ``): its eigenvalues are ``σ(A)²``, exact to rounding, with no Lanczos.

Training: Adam for ``epochs`` steps (one shot per epoch) on the relative L2 misfit at the
paper's rates (5 m/s for pixel, 1e-4 for the networks) from the smoothed trace; the kernels
are recomputed at the snapshot epochs (``J_m`` at the current model, ``J_θ`` at the current
parameters). Results per method are cached under ``bench/ntk_paper_cache/`` (resumable);
the summary is ``bench/ntk_paper_results.json`` and the figures ``bench/figures/ntk_paper_*``.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python bench/ntk_paper.py          # ~30 min
    .venv/bin/python bench/ntk_paper.py --report-only   # figures + tables from the cache
    .venv/bin/python bench/ntk_paper.py --tiny --out /tmp/ntk_tiny   # smoke run, seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from devito_crfwi import Survey, WaveOperator, smooth, water_mask  # noqa: E402
from devito_crfwi.experiments.scenarios import prepare_model  # noqa: E402
from devito_crfwi.inversion.losses import l2_loss  # noqa: E402
from devito_crfwi.ntk import (  # noqa: E402
    ENCODING_PARAMETERS,
    ModelJacobian,
    ParameterJacobian,
    TangentKernel,
    mean_log10_decay,
    plot_spectra,
)
from devito_crfwi.representations import make_representation  # noqa: E402

METHODS = ("pixel", "inr", "lowrank", "grid", "ig")
PAPER_NAMES = {"pixel": "FWI (wave kernel)", "inr": "IFWI", "lowrank": "LR-FWI",
               "grid": "MPE-FWI", "ig": "IG-FWI"}
# Parameters that make up θ besides "all": the coordinate encodings without the shared ReLU
# decoder (the package's ENCODING_PARAMETERS) and LR-FWI's factor networks without the core.
SUBSETS: dict[str, tuple[str, ...]] = {"lowrank": ("f1", "f2"), **ENCODING_PARAMETERS}
# The paper's claim, slowest decay first (PAPER.md "NTK claims"): wave, MPE, IG, LR, INR.
PAPER_ORDER = ("pixel", "grid", "ig", "lowrank", "inr")
DECAY_MODES = 50  # mean log10(λ_i/λ_1) over the top DECAY_MODES modes
RATIO_MODES = (5, 10, 20, 50, 90)
TOP = 10  # eigenvalues whose change is tracked


@dataclasses.dataclass(frozen=True)
class Setup:
    """The 1-D problem and the training schedule (SI units)."""

    trace: str = "marmousi"  # "marmousi" (a column of the paper's grid) or "synthetic"
    column: int = 144  # of the 288 x 94 Marmousi grid (x = 2160 m, the model's centre)
    nz: int = 94  # depth cells of a synthetic trace (Marmousi: the whole column, 94)
    nx: int = 41  # columns of the laterally invariant 2-D model (600 m + C-PML)
    spacing: float = 15.0
    f0: float = 8.0
    dt: float = 0.0019
    nt: int = 1000
    source_depth: float = 15.0
    receiver_depth: float = 30.0
    sigma: float = 300.0  # m, Gaussian smoothing of the initial trace (water kept)
    bounds: tuple[float, float] = (1400.0, 6000.0)
    epochs: int = 200
    snapshots: tuple[int, ...] = (0, 25, 50, 100, 200)
    seeds: tuple[int, ...] = (0, 1)  # seed 0 is trained; the others at initialisation only
    methods: tuple[str, ...] = METHODS


TINY = Setup(trace="synthetic", nz=24, nx=9, nt=160, epochs=4, snapshots=(0, 2, 4))


# -- the problem ----------------------------------------------------------------------------
def true_trace(setup: Setup, data_dir: str | None) -> np.ndarray:
    """The true trace (nz,), m/s, depth from the top."""
    if setup.trace == "marmousi":
        vp = prepare_model("marmousi", {"shape": [288, 94], "spacing": setup.spacing},
                           data_dir or str(ROOT.parent / "shared" / "data" / "models"))
        return vp.values[setup.column].astype(np.float64)
    z = np.arange(setup.nz) / setup.nz
    values = 1800.0 + 1800.0 * z + 300.0 * (z > 0.45) - 250.0 * ((z > 0.7) & (z < 0.8))
    values[: max(2, setup.nz // 12)] = 1500.0
    return values


def broadcast(trace, setup: Setup) -> xr.DataArray:
    """The laterally invariant model (x, z) of a trace, m/s."""
    values = np.broadcast_to(np.asarray(trace, dtype=np.float32), (setup.nx, len(trace)))
    return xr.DataArray(values.copy(), dims=("x", "z"),
                        coords={"x": np.arange(setup.nx) * setup.spacing,
                                "z": np.arange(len(trace)) * setup.spacing},
                        attrs={"units": "m/s"})


@dataclasses.dataclass
class Problem:
    setup: Setup
    true: np.ndarray  # (nz,), m/s
    initial: np.ndarray  # (nz,), m/s
    op: WaveOperator
    observed: torch.Tensor  # (1, nt, 1)


def build_problem(setup: Setup, data_dir: str | None = None) -> Problem:
    """True and smoothed traces, the 2-D operator (free surface) and the observed data."""
    true = true_trace(setup, data_dir)
    vp = broadcast(true, setup)
    initial = smooth(vp, setup.sigma, keep=np.asarray(water_mask(vp))).values[0]
    xc = float(vp.x[setup.nx // 2])
    survey = Survey(np.array([[xc, setup.source_depth]]), np.array([[xc, setup.receiver_depth]]),
                    setup.f0, (setup.nt - 1) * setup.dt, setup.dt)
    op = WaveOperator(survey, vp, free_surface=True, vmax=setup.bounds[1])
    with torch.no_grad():
        observed = op(torch.tensor(vp.values))
    return Problem(setup, true, initial.astype(np.float64), op, observed)


class LaterallyInvariant(nn.Module):
    """A trace representation (forward() -> (1, nz)) repeated along ``nx`` columns."""

    def __init__(self, trace: nn.Module, nx: int) -> None:
        super().__init__()
        self.trace, self.nx = trace, int(nx)

    def forward(self) -> torch.Tensor:
        return self.trace().expand(self.nx, -1)  # (nx, nz)


def representation(name: str, problem: Problem, seed: int = 0) -> nn.Module:
    """The paper-size representation ``name`` on the initial trace as a 1 x nz model."""
    initial = problem.initial[None].astype(np.float32)  # (1, nz)
    lo, hi = problem.setup.bounds
    options = {"rank": initial.shape[1] // 2} if name == "lowrank" else {}
    return make_representation(name, initial, vmin=lo, vmax=hi, seed=seed, preset="paper",
                               output="additive", **options)


# -- kernels --------------------------------------------------------------------------------
def trace_jacobian(problem: Problem, trace: np.ndarray) -> np.ndarray:
    """``J_m`` (nt, nz): Born data of each depth cell's perturbation (1 m/s) broadcast along x,
    at the laterally invariant model of ``trace``."""
    nx = problem.setup.nx
    jac = ModelJacobian(problem.op, broadcast(trace, problem.setup).values.astype(np.float64))
    columns = [jac.matvec(np.broadcast_to(e, (nx, len(trace))).ravel())
               for e in np.eye(len(trace))]
    return np.stack(columns, axis=1)


def parameter_factor(module: nn.Module, parameters: tuple[str, ...] | None
                     ) -> tuple[np.ndarray, int]:
    """``U Σ`` (nz, nz) of ``J_θ = U Σ Vᵀ`` (nz x P) for the trace representation ``module``
    (``J_θ J_θᵀ = (U Σ)(U Σ)ᵀ`` without squaring ``J_θ``), and ``P``."""
    pj = ParameterJacobian(module, parameters)
    rows = np.stack([pj.rmatvec(e) for e in np.eye(pj.n_model)])  # (nz, P)
    u, s, _ = np.linalg.svd(rows, full_matrices=False)
    return u * s, pj.n_parameters


def eigenvalues(jm: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Nonzero-space eigenvalues (nz,), descending, of ``Θ = (J_m F)(J_m F)ᵀ``."""
    return np.linalg.svd(jm @ factor, compute_uv=False) ** 2


def kernel_matrix(jm: np.ndarray, factor: np.ndarray) -> np.ndarray:
    a = jm @ factor
    return a @ a.T  # (nt, nt)


def labels(name: str) -> list[tuple[str, tuple[str, ...] | None]]:
    """(kernel label, parameter prefixes or None = all) of a method."""
    out = [(name, None)]
    if name in SUBSETS:
        out.append((f"{name}[{'+'.join(SUBSETS[name])}]", SUBSETS[name]))
    return out


def snapshot(problem: Problem, module: nn.Module, name: str) -> dict:
    """Model trace, ``J_m`` and the parameter factor of every parameter set, now."""
    with torch.no_grad():
        trace = module().detach().double().numpy()[0]
    jm = trace_jacobian(problem, trace)
    factors, counts = {}, {}
    for label, subset in labels(name):
        factors[label], counts[label] = parameter_factor(module, subset)
    return {"trace": trace, "jm": jm, "factors": factors, "counts": counts}


# -- one method -----------------------------------------------------------------------------
def run_method(problem: Problem, name: str, cache: Path | None = None, log=print) -> dict:
    """Train ``name`` (first seed) and take the snapshots; the other seeds at initialisation.

    Returns (and caches as ``cache/<name>.npz``): ``epochs`` (E,), ``traces`` (E, nz) m/s,
    ``jm`` (E, nt, nz), ``factor/<label>`` (E, nz, nz), ``n_parameters/<label>``, ``loss``
    (epochs + 1,) (the last one after the last step), ``seed<s>/jm`` and
    ``seed<s>/factor/<label>`` (initialisation of seed s), ``true`` and ``initial`` (nz,),
    ``seconds``.
    """
    path = None if cache is None else cache / f"{name}.npz"
    if path is not None and path.exists():
        with np.load(path) as f:
            return dict(f)
    setup = problem.setup
    start = time.perf_counter()
    module = representation(name, problem, seed=setup.seeds[0])
    optimizer = torch.optim.Adam(module.parameters(), lr=module.learning_rate)
    snaps, losses = [], []
    for epoch in range(setup.epochs + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = l2_loss(problem.op(module().expand(setup.nx, -1)), problem.observed)
        losses.append(loss.item())
        if epoch in setup.snapshots:
            t = time.perf_counter()
            snaps.append(snapshot(problem, module, name))
            log(f"  {name} epoch {epoch}: misfit {losses[-1]:.4g}, snapshot "
                f"{time.perf_counter() - t:.0f} s", flush=True)
        if epoch == setup.epochs:
            break
        loss.backward()
        optimizer.step()
    out = {"epochs": np.array(sorted(setup.snapshots)),
           "traces": np.array([s["trace"] for s in snaps]),
           "jm": np.array([s["jm"] for s in snaps]), "loss": np.array(losses),
           "true": problem.true, "initial": problem.initial}
    for label, _ in labels(name):
        out[f"factor/{label}"] = np.array([s["factors"][label] for s in snaps])
        out[f"n_parameters/{label}"] = np.array(snaps[0]["counts"][label])
    if name != "pixel":  # the pixel grid has no random initialisation
        for seed in setup.seeds[1:]:
            snap = snapshot(problem, representation(name, problem, seed=seed), name)
            out[f"seed{seed}/jm"] = snap["jm"]
            for label, factor in snap["factors"].items():
                out[f"seed{seed}/factor/{label}"] = factor
    out["seconds"] = np.array(time.perf_counter() - start)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.npz")
        np.savez_compressed(tmp, **out)
        os.replace(tmp, path)
    return out


def matrix_free_check(problem: Problem, name: str = "inr", k: int = 5) -> dict:
    """Top-k eigenvalues at initialisation from the package's matrix-free
    :class:`~devito_crfwi.ntk.TangentKernel` (ARPACK in data space on the 2-D model through
    :class:`LaterallyInvariant`) against the dense path of this script."""
    module = representation(name, problem)
    snap = snapshot(problem, module, name)
    dense = eigenvalues(snap["jm"], snap["factors"][name])[:k]
    start = time.perf_counter()
    kernel = TangentKernel(problem.op, broadcast(snap["trace"], problem.setup).values,
                           LaterallyInvariant(module, problem.setup.nx))
    lanczos, _ = kernel.eigen(k, tol=1e-8)
    kernel.release()
    return {"kernel": name, "k": k, "dense": dense.tolist(), "lanczos": lanczos.tolist(),
            "space": kernel.choose_space(),
            "max_relative_difference": float(np.max(np.abs(lanczos / dense - 1))),
            "products": int(kernel.products), "seconds": time.perf_counter() - start}


# -- summaries ------------------------------------------------------------------------------
def decay_metrics(values: np.ndarray) -> dict:
    """λ_k/λ_1 at RATIO_MODES, mean log10(λ_i/λ_1) over the top DECAY_MODES, the effective
    rank exp(entropy of λ/Σλ) (Roy & Vetterli 2007) and the count above 1e-6 λ_1."""
    values = np.asarray(values, dtype=float)
    ratio = values / values[0]
    p = values[values > 0] / values[values > 0].sum()
    return {**{f"ratio_{k}": float(ratio[k - 1]) for k in RATIO_MODES if k <= len(values)},
            "mean_log10": float(mean_log10_decay(values[: min(DECAY_MODES, len(values))])),
            "effective_rank": float(np.exp(-(p * np.log(p)).sum())),
            "above_1e-6": int((ratio >= 1e-6).sum())}


def movement(jm: np.ndarray, factors: np.ndarray) -> dict:
    """Relative kernel change from the first snapshot, per snapshot: the kernel ``Θ_t``
    (Frobenius), the same with ``J_m`` frozen at the first model (the network's part) and
    with ``J_θ`` frozen at the first parameters (the physics' part), the kernel distance
    ``1 - <Θ_t, Θ_0>_F / (‖Θ_t‖ ‖Θ_0‖)`` (the change of direction alone), and the top-TOP
    eigenvalues (``|λ_i(t)/λ_i(0) - 1|``: λ_1, the largest and the mean over i <= TOP)."""
    k0 = kernel_matrix(jm[0], factors[0])
    norm = np.linalg.norm(k0)
    e0 = eigenvalues(jm[0], factors[0])[:TOP]
    out = {key: [] for key in ("kernel", "network_part", "physics_part", "distance",
                               "lambda_1", "top_max", "top_mean")}
    for j, f in zip(jm, factors, strict=True):
        kt = kernel_matrix(j, f)
        out["kernel"].append(float(np.linalg.norm(kt - k0) / norm))
        # 1 - cosine of Θ_t and Θ_0 (Fort et al. 2020): blind to a change of scale
        out["distance"].append(float(1.0 - np.sum(kt * k0) / (np.linalg.norm(kt) * norm)))
        out["network_part"].append(float(np.linalg.norm(kernel_matrix(jm[0], f) - k0) / norm))
        out["physics_part"].append(
            float(np.linalg.norm(kernel_matrix(j, factors[0]) - k0) / norm))
        change = np.abs(eigenvalues(j, f)[:TOP] / e0 - 1)
        out["lambda_1"].append(float(change[0]))
        out["top_max"].append(float(change.max()))
        out["top_mean"].append(float(change.mean()))
    return out


def summarise(setup: Setup, runs: dict[str, dict]) -> dict:
    """Per kernel label: spectra, decay metrics and movement per snapshot, other seeds;
    per method: loss, trace RMSE (m/s) and run time."""
    kernels = {}
    for name, run in runs.items():
        rmse = [float(np.sqrt(np.mean((t - run["true"]) ** 2))) for t in run["traces"]]
        for label, _ in labels(name):
            factors = run[f"factor/{label}"]
            spectra = np.array([eigenvalues(j, f) for j, f in zip(run["jm"], factors,
                                                                     strict=True)])
            k0 = kernel_matrix(run["jm"][0], factors[0])
            seeds = {}
            for seed in setup.seeds[1:]:
                key = f"seed{seed}/factor/{label}"
                if key in run:
                    other = eigenvalues(run[f"seed{seed}/jm"], run[key])
                    diff = kernel_matrix(run[f"seed{seed}/jm"], run[key]) - k0
                    seeds[str(seed)] = {
                        "kernel_difference": float(np.linalg.norm(diff) / np.linalg.norm(k0)),
                        "metrics": decay_metrics(other),
                        "normalised": (other / other[0]).tolist()}
            kernels[label] = {
                "method": name, "parameters": "all" if label == name else "+".join(SUBSETS[name]),
                "n_parameters": int(run[f"n_parameters/{label}"]),
                "epochs": run["epochs"].tolist(), "lambda_1": spectra[:, 0].tolist(),
                "normalised": (spectra / spectra[:, :1]).tolist(),
                "metrics": [decay_metrics(s) for s in spectra],
                "movement": movement(run["jm"], factors), "seeds": seeds,
                "loss": run["loss"].tolist(), "trace_rmse": rmse,
                "seconds": float(run["seconds"])}
    return kernels


def ordering(kernels: dict, index: int, metric: str = "mean_log10") -> list[str]:
    """Kernel labels from slowest to fastest decay at snapshot ``index`` by ``metric``
    (larger = slower for every metric used here)."""
    return sorted(kernels, key=lambda k: -kernels[k]["metrics"][index][metric])


def claim_holds(kernels: dict, index: int, metric: str = "mean_log10",
                parameters: str = "all") -> tuple[bool, list[str]]:
    """Whether the methods' order (one parameter set) is the paper's, and the order."""
    chosen = {}
    for method in PAPER_ORDER:
        label = method if parameters == "all" or method not in SUBSETS else (
            f"{method}[{'+'.join(SUBSETS[method])}]")
        chosen[method] = kernels[label]
    order = sorted(chosen, key=lambda m: -chosen[m]["metrics"][index][metric])
    return order == list(PAPER_ORDER), order


# -- figures and tables ---------------------------------------------------------------------
def _dataset(kernels: dict, names: list[str], index: int) -> xr.Dataset:
    """The normalised spectra of ``names`` at snapshot ``index`` as plot_spectra reads them
    (the pixel kernel, the wave kernel, named "wave")."""
    rows = np.array([kernels[n]["normalised"][index] for n in names])
    shown = ["wave" if n == "pixel" else n for n in names]
    return xr.Dataset({"eigenvalues": (("kernel", "mode"), rows)},
                      coords={"kernel": shown, "mode": np.arange(1, rows.shape[1] + 1)},
                      attrs={"normalised": 1})


def figures(kernels: dict, traces: dict, folder: Path) -> list[Path]:
    """The spectra at the first and last snapshot, per kernel over the snapshots, the
    movement, and the traces and misfits; ``traces`` holds "true", "initial" (nz,) and each
    method's (E, nz), m/s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    methods = [m for m in METHODS if m in kernels]
    subsets = [lab for lab in kernels if "[" in lab]
    last = len(kernels[methods[0]]["epochs"]) - 1
    for index, tag in ((0, "init"), (last, "trained")):
        epoch = kernels[methods[0]]["epochs"][index]
        fig, axes = plt.subplots(1, 2, figsize=(13.0, 4.2), constrained_layout=True)
        plot_spectra(_dataset(kernels, methods, index), ax=axes[0],
                     title=f"all parameters, epoch {epoch}")
        plot_spectra(_dataset(kernels, ["pixel", "inr", *subsets], index), ax=axes[1],
                     title=f"encodings only (decoder, LR core fixed; IFWI: all), epoch {epoch}")
        for ax in axes:
            ax.set_ylim(1e-22, 2.0)
        written.append(folder / f"ntk_paper_spectra_{tag}.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)

    labels_ = [*methods, *subsets]
    ncol = 4
    nrow = -(-len(labels_) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.9 * nrow), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, label in zip(axes.flat, labels_, strict=False):
        entry = kernels[label]
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(entry["epochs"])))
        for colour, epoch, row in zip(colours, entry["epochs"], entry["normalised"],
                                      strict=True):
            row = np.asarray(row)
            ax.semilogy(np.arange(1, len(row) + 1), np.where(row > 0, row, np.nan),
                        color=colour, label=f"epoch {epoch}")
        ax.set_title("wave kernel (pixel)" if label == "pixel" else label, fontsize="medium")
        ax.set_ylim(1e-22, 2.0)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("i")
    for ax in axes.flat[len(labels_):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("λ_i / λ_1")
    axes[0, 0].legend(fontsize="x-small")
    written.append(folder / "ntk_paper_spectra_epochs.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.0), constrained_layout=True)
    for i, label in enumerate(labels_):
        entry = kernels[label]
        epochs, move = entry["epochs"], entry["movement"]
        colour = f"C{i}"
        name = "wave kernel (pixel)" if label == "pixel" else label
        axes[0].plot(epochs, move["kernel"], "o-", color=colour, label=name)
        axes[1].plot(epochs, move["distance"], "o-", color=colour, label=name)
        axes[2].plot(epochs, move["top_mean"], "o-", color=colour, label=name)
    axes[0].set_title("‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F")
    axes[1].set_title("kernel distance 1 − cos(Θ_t, Θ_0)")
    axes[2].set_title(f"mean |λ_i(t)/λ_i(0) − 1|, i ≤ {TOP}")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(True, alpha=0.3)
    axes[2].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    written.append(folder / "ntk_paper_movement.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), constrained_layout=True)
    first = kernels[methods[0]]
    depth = np.arange(len(first["normalised"][0]))
    axes[0].plot(traces["true"], depth, "k", lw=2, label="true")
    axes[0].plot(traces["initial"], depth, "k--", label="initial")
    for i, m in enumerate(methods):
        axes[0].plot(traces[m][-1], depth, color=f"C{i}",
                     label=f"{PAPER_NAMES[m]}, epoch {first['epochs'][-1]}")
        axes[1].semilogy(kernels[m]["loss"], color=f"C{i}", label=PAPER_NAMES[m])
    axes[0].invert_yaxis()
    axes[0].set_xlabel("vp (m/s)")
    axes[0].set_ylabel("depth cell (15 m)")
    axes[0].legend(fontsize="x-small")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("relative L2 misfit")
    axes[1].grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize="x-small")
    written.append(folder / "ntk_paper_training.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def _fmt(x: float) -> str:
    return f"{x:.2e}" if x != 0 and (abs(x) < 1e-2 or abs(x) >= 1e3) else f"{x:.3g}"


def _order_table(kernels: dict, *indices: int) -> list[str]:
    """Markdown rows: the measured order of the methods against the paper's, per metric."""
    epochs = kernels["pixel"]["epochs"]
    lines = ["**The paper's order** (slowest decay first: wave, MPE, IG, LR, INR) against the "
             "measured one", "",
             "| epoch | parameters | metric | measured order (slowest first) | paper's? |",
             "| ---: | --- | --- | --- | --- |"]
    for index in indices:
        epoch = epochs[index]
        for parameters in ("all", "encodings"):
            for metric in ("mean_log10", "effective_rank", "ratio_10", "ratio_20"):
                holds, measured = claim_holds(kernels, index, metric, parameters)
                names = ", ".join("wave" if m == "pixel" else PAPER_NAMES[m] for m in measured)
                lines.append(f"| {epoch} | {parameters} | {metric} | {names} | "
                             f"{'yes' if holds else 'no'} |")
    return lines


def tables(kernels: dict, check: dict | None) -> str:
    methods = [m for m in METHODS if m in kernels]
    order = [*methods, *[lab for lab in kernels if "[" in lab]]
    last = len(kernels[methods[0]]["epochs"]) - 1
    lines = []
    for index in (0, last):
        epoch = kernels[methods[0]]["epochs"][index]
        lines += [f"**Decay at epoch {epoch}** (λ_k/λ_1; mean log10(λ_i/λ_1) over i ≤ "
                  f"{DECAY_MODES}; effective rank exp(H(λ/Σλ)); count of λ_i ≥ 1e-6 λ_1)", "",
                  "| kernel | parameters | P | " + " | ".join(f"λ_{k}/λ_1" for k in RATIO_MODES)
                  + " | mean log10 | eff. rank | ≥ 1e-6 |",
                  "| --- | --- | ---: | " + " | ".join("---:" for _ in RATIO_MODES)
                  + " | ---: | ---: | ---: |"]
        for label in order:
            e = kernels[label]
            m = e["metrics"][index]
            name = "wave kernel = pixel" if label == "pixel" else PAPER_NAMES[e["method"]]
            lines.append(f"| {name} | {e['parameters']} | {e['n_parameters']} | "
                         + " | ".join(_fmt(m[f"ratio_{k}"]) if f"ratio_{k}" in m else "—"
                                      for k in RATIO_MODES)
                         + f" | {m['mean_log10']:.2f} | {m['effective_rank']:.1f} | "
                         f"{m['above_1e-6']} |")
        lines.append("")
    if all(m in kernels for m in PAPER_ORDER):
        lines += _order_table(kernels, 0, last)
    lines += ["", "**Kernel movement** from epoch 0 (relative Frobenius change of Θ; with J_m "
              "frozen at the initial model; with J_θ frozen at the initial parameters; the "
              "kernel distance 1 − cos(Θ_t, Θ_0); "
              f"|λ_1(t)/λ_1(0) − 1|; mean over i ≤ {TOP}) and, at epoch 0, the kernel of a "
              "second seed against the first", "",
              "| kernel | epoch | ‖ΔΘ‖/‖Θ_0‖ | network part | physics part | distance | "
              f"Δλ_1 | mean Δλ_i≤{TOP} | seed 1 vs 0 |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label in order:
        e = kernels[label]
        mv = e["movement"]
        seed = e["seeds"].get("1", {}).get("kernel_difference")
        for i, epoch in enumerate(e["epochs"]):
            if i == 0:
                continue
            seed_text = _fmt(seed) if (seed is not None and i == 1) else ""
            lines.append(f"| {label} | {epoch} | {_fmt(mv['kernel'][i])} | "
                         f"{_fmt(mv['network_part'][i])} | {_fmt(mv['physics_part'][i])} | "
                         f"{_fmt(mv['distance'][i])} | "
                         f"{_fmt(mv['lambda_1'][i])} | {_fmt(mv['top_mean'][i])} | "
                         f"{seed_text} |")
    lines += ["", "**Training** (relative L2 misfit; RMSE of the trace against the true one)", "",
              "| method | rate | misfit epoch 0 | misfit last | RMSE epoch 0 (m/s) | "
              "RMSE last (m/s) | run time (s) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in methods:
        e = kernels[m]
        rate = "5 m/s" if m == "pixel" else "1e-4"
        lines.append(f"| {PAPER_NAMES[m]} | {rate} | {_fmt(e['loss'][0])} | "
                     f"{_fmt(e['loss'][-1])} | {e['trace_rmse'][0]:.1f} | "
                     f"{e['trace_rmse'][-1]:.1f} | {e['seconds']:.0f} |")
    if check:
        lines += ["", f"**Check**: the top {check['k']} eigenvalues of the {check['kernel']} NTK "
                  "at initialisation from the package's matrix-free `TangentKernel.eigen` "
                  f"(ARPACK in {check['space']} space on the 2-D model, {check['products']} "
                  f"products, {check['seconds']:.0f} s) differ from the dense path's by at most "
                  f"{check['max_relative_difference']:.1e} (relative)."]
    return "\n".join(lines) + "\n"


START, END = "<!-- ntk_paper tables: start -->", "<!-- ntk_paper tables: end -->"


def write_doc(doc: Path, text: str, header: str) -> None:
    """Put ``text`` between the markers of ``doc`` (a new doc holds only them)."""
    body = doc.read_text() if doc.exists() else f"# NTK figure\n\n{START}\n{END}\n"
    if START not in body or END not in body:
        raise ValueError(f"{doc} lacks the markers {START!r} and {END!r}")
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{header}\n\n{text}{END}{tail}")


# -- main -----------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 24-cell synthetic trace, 4 epochs")
    parser.add_argument("--out", type=Path, default=HERE,
                        help="folder of the cache, results JSON, figures/ and NTK_PAPER.md")
    parser.add_argument("--data", default=os.environ.get("DEVITO_CRFWI_DATA"),
                        help="folder of the shared models (default ../shared/data/models)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--no-check", action="store_true",
                        help="skip the matrix-free cross-check")
    parser.add_argument("--report-only", action="store_true",
                        help="figures and tables from the results JSON")
    args = parser.parse_args(argv)
    setup = TINY if args.tiny else Setup()
    setup = dataclasses.replace(setup, methods=tuple(args.methods))
    if args.epochs is not None:
        snaps = tuple(sorted({round(f * args.epochs) for f in (0, 0.125, 0.25, 0.5, 1.0)}))
        setup = dataclasses.replace(setup, epochs=args.epochs, snapshots=snaps)
    results_path = args.out / "ntk_paper_results.json"
    start = time.perf_counter()
    if args.report_only:
        results = json.loads(results_path.read_text())
    else:
        print(f"{setup}\nload {os.getloadavg()[0]:.2f}, {os.cpu_count()} cpus", flush=True)
        problem = build_problem(setup, args.data)
        runs = {}
        for name in setup.methods:
            print(f"{name}:", flush=True)
            runs[name] = run_method(problem, name, args.out / "ntk_paper_cache")
        check_path = args.out / "ntk_paper_cache" / "check.json"
        check = None
        if check_path.exists():
            check = json.loads(check_path.read_text())
        elif not args.no_check:
            check = matrix_free_check(problem, "inr" if "inr" in setup.methods
                                      else setup.methods[-1], k=3 if args.tiny else 5)
            check_path.write_text(json.dumps(check))
        results = {
            "setup": dataclasses.asdict(setup),
            "machine": f"{platform.node()}, {platform.processor() or platform.machine()}, "
                       f"{os.cpu_count()} cpus, OMP_NUM_THREADS="
                       f"{os.environ.get('OMP_NUM_THREADS', 'unset')}",
            "date": datetime.date.today().isoformat(),
            # the computation's time, cached runs included (not this invocation's)
            "seconds": sum(float(r["seconds"]) for r in runs.values())
            + (check["seconds"] if check else 0.0),
            "kernels": summarise(setup, runs), "check": check,
            "traces": {"true": problem.true.tolist(), "initial": problem.initial.tolist(),
                       **{n: r["traces"].tolist() for n, r in runs.items()}},
        }
        results_path.write_text(json.dumps(results, indent=1))
    kernels = results["kernels"]
    figures(kernels, results["traces"], args.out / "figures")
    text = tables(kernels, results["check"])
    header = (f"Generated by `bench/ntk_paper.py` on {results['date']} ({results['machine']}; "
              f"{results['seconds'] / 60:.0f} min).")
    write_doc(args.out / "NTK_PAPER.md", text, header)
    print(text)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
