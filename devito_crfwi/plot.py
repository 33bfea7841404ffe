"""Figures of velocity models, loss histories and shot gathers (matplotlib).

Every function builds a :class:`matplotlib.figure.Figure` without pyplot, so it works with the
Agg backend (no display) and leaves pyplot's global state alone; a notebook shows the returned
figure, ``fig.savefig(path)`` writes it. Axes are in m: x to the right, depth down.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from . import metrics as _metrics

__all__ = ["plot_loss", "plot_models", "plot_shots", "save_summary_figure"]

MODEL_CMAP = "viridis"
SHOT_CMAP = "seismic"


def _extent(vp: xr.DataArray) -> list[float]:
    """imshow extent of an (x, z) model, cell-centred, depth increasing downwards (m)."""
    x = np.asarray(vp["x"], dtype=np.float64)
    z = np.asarray(vp["z"], dtype=np.float64)
    hx = (x[1] - x[0]) / 2 if len(x) > 1 else 0.5
    hz = (z[1] - z[0]) / 2 if len(z) > 1 else 0.5
    return [x[0] - hx, x[-1] + hx, z[-1] + hz, z[0] - hz]


def _as_model(vp, name: str) -> xr.DataArray:
    if isinstance(vp, xr.Dataset):
        vp = vp["vp"]
    if not isinstance(vp, xr.DataArray) or set(vp.dims) != {"x", "z"}:
        raise TypeError(f"{name} must be an xr.DataArray with dims ('x', 'z'), got {vp!r:.80}")
    return vp.transpose("x", "z")


def plot_models(
    true: xr.DataArray | None = None,
    initial: xr.DataArray | None = None,
    inverted: xr.DataArray | xr.Dataset | None = None,
    *,
    titles: Sequence[str] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = MODEL_CMAP,
    scores: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Velocity models side by side on one colour scale.

    Parameters
    ----------
    true, initial, inverted : xr.DataArray (x, z), m/s, optional
        Models to show (None are skipped); ``inverted`` may be a result Dataset of
        :meth:`~devito_crfwi.CRFWIProblem.solve` (its "vp" is used).
    titles : sequence of str, optional
        One per model shown; default "true", "initial", "inverted".
    vmin, vmax : float, m/s, optional
        Colour range; default the range of all models shown.
    cmap : str
        Matplotlib colour map.
    scores : bool
        With ``true`` given, add SSIM and RMSE against it to the other titles.
    figsize : (float, float), inches, optional

    Returns
    -------
    matplotlib.figure.Figure
        One panel per model (x in m horizontal, depth in m down) and a shared colour bar.
    """
    named = [("true", true), ("initial", initial), ("inverted", inverted)]
    panels = [(label, _as_model(m, label)) for label, m in named if m is not None]
    if not panels:
        raise ValueError("plot_models needs at least one model")
    if titles is not None:
        if len(titles) != len(panels):
            raise ValueError(f"titles must hold {len(panels)} names, got {len(titles)}")
        panels = [(t, m) for t, (_, m) in zip(titles, panels, strict=True)]
    reference = _as_model(true, "true") if true is not None and scores else None
    fig = Figure(figsize=figsize or _models_size(panels), layout="constrained")
    _draw_models(fig, panels, reference, vmin, vmax, cmap)
    return fig


def _models_size(panels) -> tuple[float, float]:
    model = panels[0][1]
    dx = float(model["x"][1] - model["x"][0])
    dz = float(model["z"][1] - model["z"][0])
    aspect = model.sizes["z"] * dz / (model.sizes["x"] * dx)
    width = 4.5
    return width * len(panels) + 1.0, width * aspect + 1.3


def _draw_models(fig, panels, reference, vmin, vmax, cmap) -> None:
    """Draw (title, model) panels on a figure or subfigure with one colour bar."""
    lo = min(float(m.min()) for _, m in panels) if vmin is None else vmin
    hi = max(float(m.max()) for _, m in panels) if vmax is None else vmax
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True, squeeze=False)[0]
    image = None
    for ax, (title, model) in zip(axes, panels, strict=True):
        image = ax.imshow(np.asarray(model).T, extent=_extent(model), cmap=cmap, vmin=lo,
                          vmax=hi, aspect="equal", interpolation="nearest")
        if reference is not None and model is not reference:
            s = _metrics.all_metrics(model, reference)
            title = f"{title}\nSSIM {s['ssim']:.3f}, RMSE {s['rmse']:.0f} m/s"
        ax.set_title(title)
        ax.set_xlabel("x (m)")
    axes[0].set_ylabel("depth (m)")
    fig.colorbar(image, ax=list(axes), label="vp (m/s)", shrink=0.9)


def plot_loss(result: xr.Dataset | Sequence[float], *, log: bool = True,
              figsize: tuple[float, float] = (6.0, 3.5)) -> Figure:
    """Loss per iteration, with SSIM on a second axis when the result has it.

    Parameters
    ----------
    result : xr.Dataset or sequence of float
        A result of :meth:`~devito_crfwi.CRFWIProblem.solve` (variables "loss" and optionally
        "ssim", dim "iteration"), or loss values.
    log : bool
        Logarithmic loss axis (for positive losses).
    figsize : (float, float), inches

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(result, xr.Dataset):
        loss = np.asarray(result["loss"], dtype=np.float64)
        iterations = np.asarray(result["iteration"]) if "iteration" in result.coords else None
        ssim = np.asarray(result["ssim"], dtype=np.float64) if "ssim" in result else None
    else:
        loss, iterations, ssim = np.asarray(result, dtype=np.float64), None, None
    if loss.ndim != 1:
        raise ValueError(f"the loss must be 1-D (iteration,), got shape {loss.shape}")
    if iterations is None:
        iterations = np.arange(loss.size)
    fig = Figure(figsize=figsize, layout="constrained")
    _draw_loss(fig, iterations, loss, ssim, log)
    return fig


def _draw_loss(fig, iterations, loss, ssim, log: bool) -> None:
    ax = fig.subplots()
    ax.plot(iterations, loss, color="C0", label="loss")
    finite = loss[np.isfinite(loss)]
    if log and finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss", color="C0")
    if ssim is not None:
        twin = ax.twinx()
        twin.plot(iterations, ssim, color="C1", label="SSIM")
        twin.set_ylabel("SSIM", color="C1")
    ax.set_title("data misfit" + (" and model SSIM" if ssim is not None else ""))


def plot_shots(data: xr.DataArray, shot: int = 0, *, clip: float = 99.0,
               figsize: tuple[float, float] = (5.0, 5.0)) -> Figure:
    """One shot gather: receivers across, time down.

    Parameters
    ----------
    data : xr.DataArray (shot, time, receiver)
        Gathers from :func:`~devito_crfwi.simulate` or :func:`~devito_crfwi.read_shots`.
    shot : int
        Position of the shot along the "shot" dim.
    clip : float, percent
        Colour range ``±`` this percentile of the absolute amplitudes.
    figsize : (float, float), inches

    Returns
    -------
    matplotlib.figure.Figure
        x axis: receiver x in m (receiver depth for a vertical line, else the index);
        y axis: time in s.
    """
    if not isinstance(data, xr.DataArray) or set(data.dims) != {"shot", "time", "receiver"}:
        raise TypeError("data must be an xr.DataArray with dims ('shot', 'time', 'receiver')")
    data = data.transpose("shot", "time", "receiver")
    n = data.sizes["shot"]
    if not -n <= shot < n:
        raise ValueError(f"shot must be in 0..{n - 1}, got {shot}")
    gather = np.asarray(data.isel(shot=shot), dtype=np.float64)  # (time, receiver)
    time = np.asarray(data["time"]) if "time" in data.coords else np.arange(gather.shape[0])
    rx, xlabel = np.arange(gather.shape[1], dtype=np.float64), "receiver"
    for coord, label in (("receiver_x", "receiver x (m)"), ("receiver_z", "receiver depth (m)")):
        if coord in data.coords:
            values = np.asarray(data[coord], dtype=np.float64)
            values = values[shot] if values.ndim == 2 else values
            if values[-1] != values[0]:  # a line along this axis (crosswell: along z)
                rx, xlabel = values, label
                break
    scale = float(np.percentile(np.abs(gather), clip)) or 1.0
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.imshow(gather, extent=[rx[0], rx[-1], time[-1], time[0]], cmap=SHOT_CMAP, vmin=-scale,
              vmax=scale, aspect="auto", interpolation="bilinear")
    title = f"shot {shot}"
    if "source_x" in data.coords:
        title += f" (source x = {float(data['source_x'][shot]):g} m)"
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("time (s)")
    return fig


def save_summary_figure(path: str | os.PathLike, true: xr.DataArray | None,
                        initial: xr.DataArray, result: xr.Dataset, *, dpi: int = 110) -> Path:
    """Write a PNG with the models (true, initial, inverted) above the loss history.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (its format from the suffix, e.g. ``.png``).
    true : xr.DataArray (x, z), m/s, or None
    initial : xr.DataArray (x, z), m/s
    result : xr.Dataset
        From :meth:`~devito_crfwi.CRFWIProblem.solve`.
    dpi : int

    Returns
    -------
    pathlib.Path
        The file written.
    """
    named = [("true", true), ("initial", initial), ("inverted", result["vp"])]
    panels = [(t, _as_model(m, t)) for t, m in named if m is not None]
    reference = panels[0][1] if true is not None else None
    w1, h1 = _models_size(panels)
    h2 = 3.0
    fig = Figure(figsize=(w1, h1 + h2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[h1, h2])
    _draw_models(top, panels, reference, None, None, MODEL_CMAP)
    ssim = np.asarray(result["ssim"]) if "ssim" in result else None
    _draw_loss(bottom, np.asarray(result["iteration"]), np.asarray(result["loss"]), ssim, True)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
