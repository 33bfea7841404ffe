"""Eigenvalue spectra of the wave kernel and of the wave-based NTK of representations.

``spectrum`` gives the top-k eigenvalues of one kernel; ``compare_spectra`` collects the
wave kernel and several representations' NTKs at one model into an ``xr.Dataset``;
``plot_spectra`` draws their normalised decay ``λ_i / λ_1`` on a log scale, as in the CR-FWI
paper (arXiv 2603.22362, fig. 2).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import xarray as xr
from torch import nn

from ..bridge import WaveOperator
from ..representations import REGISTRY, make_representation
from .jacobians import model_values
from .kernels import TangentKernel

DEFAULT_REPRESENTATIONS = tuple(name for name, cls in REGISTRY.items() if cls.paper_method)
"""The paper's methods: "pixel", "inr", "grid", "ig", "lowrank"."""

ENCODING_PARAMETERS: dict[str, tuple[str, ...]] = {
    name: cls.encoding_parameters for name, cls in REGISTRY.items() if cls.encoding_parameters
}
"""Name -> parameter prefixes of the coordinate encoding without the shared ReLU decoder
(each class's ``encoding_parameters``). At the default initialisation (tables U(±1e-4), head
scaled by out_scale = 1e-3) the decoder's nearly constant features dominate the full-parameter
NTK of grid-based models (λ_2/λ_1 ~ 1e-10 on a 24 x 24 test), which hides the encoding's own
kernel."""


def mean_log10_decay(eigenvalues) -> np.ndarray:
    """Mean of log10(λ_i / λ_1) over the last axis of descending ``eigenvalues``.

    0 means a flat spectrum; more negative means faster decay. Non-positive ratios are NaN.
    """
    values = np.asarray(eigenvalues, dtype=float)
    ratio = values / values[..., :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(ratio > 0, ratio, np.nan)).mean(axis=-1)


def _build(representation, op: WaveOperator, vp, seed: int, options: dict | None):
    if isinstance(representation, str):
        return make_representation(representation, model_values(vp, op.shape), seed=seed,
                                   **(options or {}))
    if options:
        raise ValueError(f"options apply to named representations only, got {sorted(options)}")
    return representation


def spectrum(op: WaveOperator, vp, representation: str | nn.Module | None = None, k: int = 20,
             *, shots: Sequence[int] | None = None, return_vectors: bool = False,
             method: str = "lanczos", space: str = "auto", tol: float = 1e-6, seed: int = 0,
             options: dict | None = None, parameters: Sequence[str] | None = None):
    """Top-k eigenvalues of the wave kernel ``J Jᵀ`` or of the NTK ``(J G)(J G)ᵀ``.

    Parameters
    ----------
    op : WaveOperator
        Modelling operator (its float64 engine is used).
    vp : xr.DataArray, ndarray or Tensor, (x, z) or (x, y, z), m/s
        Model at which ``J = ∂d/∂vp`` is evaluated.
    representation : None, str or nn.Module
        None: the wave kernel of conventional FWI. A name ("pixel", "inr", "fourier",
        "grid", "ig", "lowrank"): that representation built on ``vp`` with ``seed`` and
        ``options``. A module: its current parameters define ``G`` (its output should be
        ``vp``).
    k : int
        Number of eigenvalues.
    shots : sequence of int, optional
        Shots in the data space (default all).
    return_vectors : bool
        Also return the mode shapes (k, nx, [ny,] nz): the velocity change of each mode.
    method : {"lanczos", "randomized", "dense"}
        Eigen-solver, see :meth:`TangentKernel.eigen`.
    space : {"auto", "model", "data", "parameter"}
        Where the solver works; "auto" picks the smallest (see :mod:`.kernels`).
    tol : float
        Relative accuracy of Lanczos eigenvalues.
    seed : int
        Seed of the starting vectors and of a named representation.
    options : dict, optional
        Keyword arguments of a named representation.
    parameters : sequence of str, optional
        Name prefixes of the parameters that define ``G`` (e.g. ``("encoding",)`` for the
        grid tables); the others are held fixed. Default: all.

    Returns
    -------
    ndarray (k,), or (ndarray (k,), ndarray (k, nx, [ny,] nz))
        Eigenvalues, descending.

    Examples
    --------
    >>> eigs = spectrum(op, vp0, k=20)                   # wave kernel
    >>> eigs_inr = spectrum(op, vp0, "inr", k=20)        # NTK of a SIREN built on vp0
    """
    module = _build(representation, op, vp, seed, options)
    kernel = TangentKernel(op, vp, module, shots=shots, parameters=parameters)
    values, vectors = kernel.eigen(k, method=method, space=space, tol=tol, seed=seed,
                                   return_vectors=return_vectors)
    kernel.release()
    return (values, vectors) if return_vectors else values


def compare_spectra(op: WaveOperator, vp,
                    representations: Sequence[str | nn.Module] = DEFAULT_REPRESENTATIONS,
                    k: int = 20, normalise: bool = True, *, include_wave: bool = True,
                    shots: Sequence[int] | None = None, method: str = "lanczos",
                    tol: float = 1e-6, seed: int = 0,
                    options: dict[str, dict] | None = None,
                    parameters: dict[str, Sequence[str]] | None = None) -> xr.Dataset:
    """Spectra of the wave kernel and of each representation's NTK at one model.

    Parameters
    ----------
    op, vp, k, shots, method, tol, seed :
        As in :func:`spectrum`.
    representations : sequence of str or nn.Module
        Names (built on ``vp``) or modules (named by their ``name`` attribute or class).
    normalise : bool
        Store ``λ_i / λ_1`` in ``"eigenvalues"`` (the raw ``λ_1`` stays in ``"lambda_1"``).
    include_wave : bool
        Put the wave kernel ``J Jᵀ`` first, as kernel ``"wave"``.
    options : dict, optional
        Per-name keyword arguments of the representations, e.g. ``{"ig": {"alpha": 0.3}}``.
    parameters : dict, optional
        Per-name parameter prefixes that define ``G``, e.g. :data:`ENCODING_PARAMETERS`
        (the others are held fixed); such a kernel is labelled ``"name[prefix+...]"``.

    Returns
    -------
    xr.Dataset
        ``eigenvalues`` (kernel, mode), ``lambda_1`` (kernel), ``mean_log10_decay`` (kernel):
        the mean of ``log10(λ_i / λ_1)`` (closer to 0 = slower decay), ``n_parameters``
        (kernel), ``products`` and ``seconds`` (kernel); ``mode`` counts from 1.
    """
    entries: list[tuple[str, nn.Module | None, tuple | None]] = (
        [("wave", None, None)] if include_wave else [])
    for i, rep in enumerate(representations):
        name = rep if isinstance(rep, str) else getattr(rep, "name", "") or (
            f"{type(rep).__name__.lower()}{i}")
        module = _build(rep, op, vp, seed, (options or {}).get(name)) if isinstance(
            rep, str) else rep
        subset = (parameters or {}).get(name)
        subset = None if subset is None else (
            (subset,) if isinstance(subset, str) else tuple(subset))
        label = name if subset is None else f"{name}[{'+'.join(subset)}]"
        entries.append((label, module, subset))
    names = [name for name, _, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"kernel names must be unique, got {names}")
    values = np.zeros((len(entries), k))
    extra = {"n_parameters": [], "products": [], "seconds": []}
    for row, (_, module, subset) in enumerate(entries):
        start = time.perf_counter()
        kernel = TangentKernel(op, vp, module, shots=shots, parameters=subset)
        values[row], _ = kernel.eigen(k, method=method, tol=tol, seed=seed)
        kernel.release()
        extra["seconds"].append(time.perf_counter() - start)
        extra["products"].append(kernel.products)
        extra["n_parameters"].append(kernel.n_parameters)
    lambda_1 = values[:, 0].copy()
    ratio = values / lambda_1[:, None]
    mean_log = mean_log10_decay(values)
    coords = {"kernel": names, "mode": np.arange(1, k + 1)}
    ds = xr.Dataset(
        {
            "eigenvalues": (("kernel", "mode"), ratio if normalise else values),
            "lambda_1": ("kernel", lambda_1),
            "mean_log10_decay": ("kernel", mean_log),
            **{key: ("kernel", np.asarray(val)) for key, val in extra.items()},
        },
        coords=coords,
        attrs={"normalised": int(bool(normalise)), "method": method, "seed": seed,
               "description": "top-k eigenvalues of the wave kernel J J^T and of the "
                              "wave-based NTK (J G)(J G)^T of each representation"},
    )
    ds["eigenvalues"].attrs["long_name"] = "λ_i / λ_1" if normalise else "λ_i"
    return ds


def plot_spectra(ds: xr.Dataset, ax=None, *, title: str | None = None):
    """Normalised eigenvalue decay ``λ_i / λ_1`` against index, log scale; returns the Figure.

    Parameters
    ----------
    ds : xr.Dataset
        Output of :func:`compare_spectra` (normalised or not).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.
    title : str, optional
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8.0, 4.0), constrained_layout=True)
    else:
        fig = ax.figure
    values = ds["eigenvalues"].values
    if not ds.attrs.get("normalised", 1):
        values = values / values[:, :1]
    modes = ds["mode"].values
    for name, row in zip(ds["kernel"].values, values, strict=True):
        row = np.where(row > 0, row, np.nan)
        label = "wave kernel (conventional FWI)" if name == "wave" else f"NTK {name}"
        # the wave kernel on top: the pixel NTK nearly coincides with it
        style = dict(color="k", lw=2.0, ls="--", zorder=3) if name == "wave" else {}
        ax.semilogy(modes, row, marker=".", label=label, **style)
    ax.set_xlabel("eigenvalue index i")
    ax.set_ylabel("λ_i / λ_1")
    ax.set_title(title or "Kernel eigenvalue decay")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
