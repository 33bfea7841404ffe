"""Figures of velocity models, loss histories and shot gathers (matplotlib).

Every function builds a :class:`matplotlib.figure.Figure` without pyplot, so it works with the
Agg backend (no display) and leaves pyplot's global state alone; a notebook shows the returned
figure, ``fig.savefig(path)`` writes it. Axes are in m: x to the right, depth down. 3-D models
(x, y, z) are shown as inline, crossline and depth slices (:func:`plot_slices`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from . import metrics as _metrics

__all__ = ["plot_loss", "plot_models", "plot_shots", "plot_slices", "save_summary_figure"]

MODEL_CMAP = "viridis"
SHOT_CMAP = "seismic"
DIMS_2D = ("x", "z")
DIMS_3D = ("x", "y", "z")
LengthUnits = Literal["m", "km"]
_LENGTH_SCALE = {"m": 1.0, "km": 1e-3}


def _edges(model: xr.DataArray, dim: str, scale: float = 1.0) -> tuple[float, float]:
    """First and last cell edges along ``dim`` (cell-centred coords, m times ``scale``)."""
    c = np.asarray(model[dim], dtype=np.float64)
    h = (c[1] - c[0]) / 2 if len(c) > 1 else 0.5
    return (c[0] - h) * scale, (c[-1] + h) * scale


def _extent(vp: xr.DataArray, across: str = "x", down: str = "z",
            scale: float = 1.0) -> list[float]:
    """imshow extent of a section (across, down), cell-centred, ``down`` increasing downwards."""
    top, bottom = _edges(vp, down, scale)
    return [*_edges(vp, across, scale), bottom, top]


def _as_model(vp, name: str, dims: tuple[str, ...] = DIMS_2D) -> xr.DataArray:
    if isinstance(vp, xr.Dataset):
        vp = vp["vp"]
    if not isinstance(vp, xr.DataArray) or set(vp.dims) != set(dims):
        raise TypeError(f"{name} must be an xr.DataArray with dims {dims}, got {vp!r:.80}")
    return vp.transpose(*dims)


def _panels(caller: str, models, titles: Sequence[str] | None,
            dims: tuple[str, ...]) -> list[tuple[str, xr.DataArray]]:
    """(title, model) of the models given (true, initial, inverted; None skipped)."""
    named = zip(("true", "initial", "inverted"), models, strict=True)
    panels = [(label, _as_model(m, label, dims)) for label, m in named if m is not None]
    if not panels:
        raise ValueError(f"{caller} needs at least one model")
    if titles is not None:
        if len(titles) != len(panels):
            raise ValueError(f"titles must hold {len(panels)} names, got {len(titles)}")
        panels = [(t, m) for t, (_, m) in zip(titles, panels, strict=True)]
    return panels


def _colour_range(panels, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    lo = min(float(m.min()) for _, m in panels) if vmin is None else vmin
    hi = max(float(m.max()) for _, m in panels) if vmax is None else vmax
    return lo, hi


def _scored(title: str, model: xr.DataArray, reference: xr.DataArray | None) -> str:
    """``title`` with SSIM and RMSE against ``reference`` (when given and not ``model``)."""
    if reference is None or model is reference:
        return title
    s = _metrics.all_metrics(model, reference)
    return f"{title}\nSSIM {s['ssim']:.3f}, RMSE {s['rmse']:.0f} m/s"


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
    panels = _panels("plot_models", (true, initial, inverted), titles, DIMS_2D)
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
    lo, hi = _colour_range(panels, vmin, vmax)
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True, squeeze=False)[0]
    image = None
    for ax, (title, model) in zip(axes, panels, strict=True):
        image = ax.imshow(np.asarray(model).T, extent=_extent(model), cmap=cmap, vmin=lo,
                          vmax=hi, aspect="equal", interpolation="nearest")
        ax.set_title(_scored(title, model, reference))
        ax.set_xlabel("x (m)")
    axes[0].set_ylabel("depth (m)")
    fig.colorbar(image, ax=list(axes), label="vp (m/s)", shrink=0.9)


def plot_slices(
    true: xr.DataArray | None = None,
    initial: xr.DataArray | None = None,
    inverted: xr.DataArray | xr.Dataset | None = None,
    *,
    x: float | None = None,
    y: float | None = None,
    z: float | None = None,
    titles: Sequence[str] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = MODEL_CMAP,
    scores: bool = True,
    units: LengthUnits = "m",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Inline, crossline and depth slices of 3-D velocity models on one colour scale.

    Parameters
    ----------
    true, initial, inverted : xr.DataArray (x, y, z), m/s, optional
        Models to show, one row each (None are skipped); ``inverted`` may be a result Dataset
        of :meth:`~devito_crfwi.CRFWIProblem.solve` (its "vp" is used). All on one grid.
    x, y, z : float, m, optional
        Where to cut: the crossline at ``x``, the inline at ``y``, the depth slice at ``z``
        (the nearest cell); default the middle cell of each axis.
    titles : sequence of str, optional
        One per model shown; default "true", "initial", "inverted".
    vmin, vmax : float, m/s, optional
        Colour range; default the range of all models shown (all cells, not only the slices).
    cmap : str
        Matplotlib colour map.
    scores : bool
        With ``true`` given, add SSIM and RMSE of the whole 3-D model against it to the other
        rows' titles.
    units : {"m", "km"}
        Unit of the axes.
    figsize : (float, float), inches, optional

    Returns
    -------
    matplotlib.figure.Figure
        Per model three panels: the inline (x across, depth down), the crossline (y across,
        depth down) and the depth slice (x across, y up), dashed lines marking where the
        other two cut; one colour bar (m/s).
    """
    if units not in _LENGTH_SCALE:
        raise ValueError(f"units must be one of {sorted(_LENGTH_SCALE)}, got {units!r}")
    panels = _panels("plot_slices", (true, initial, inverted), titles, DIMS_3D)
    grid = panels[0][1]
    at = _cuts(grid, x=x, y=y, z=z)
    reference = grid if true is not None and scores else None  # rows below it get scores
    fig = Figure(figsize=figsize or _slices_size(grid, len(panels)), layout="constrained")
    _draw_slices(fig, panels, reference, vmin, vmax, cmap, at, units)
    return fig


def _cuts(grid: xr.DataArray, **positions: float | None) -> dict[str, float]:
    """Coordinate (m) of the cell nearest each position (m) along x, y, z; None: the middle."""
    at = {}
    for dim in DIMS_3D:
        coord = np.asarray(grid[dim], dtype=np.float64)
        position = positions.get(dim)
        if position is None:
            at[dim] = coord[len(coord) // 2]
            continue
        low, high = _edges(grid, dim)
        if not low <= position <= high:
            raise ValueError(f"{dim} = {position!r} m is outside the model ({low:g} to "
                             f"{high:g} m)")
        at[dim] = coord[np.argmin(np.abs(coord - position))]
    return at


def _slices_size(grid: xr.DataArray, rows: int) -> tuple[float, float]:
    """Inches for rows of (inline, crossline, depth slice) at one scale in m."""
    lx, ly, lz = (np.subtract(*_edges(grid, d)[::-1]) for d in DIMS_3D)
    inches = 12.0 / (2 * lx + ly)  # per m
    return 13.5, rows * (max(lz, ly) * inches + 0.9) + 0.3


def _draw_slices(fig, panels, reference, vmin, vmax, cmap, at, units) -> None:
    """Draw one row of (inline, crossline, depth slice) per (title, model), one colour bar."""
    lo, hi = _colour_range(panels, vmin, vmax)
    scale = _LENGTH_SCALE[units]
    grid = panels[0][1]
    lx, ly = (np.subtract(*_edges(grid, d)[::-1]) for d in ("x", "y"))
    axes = fig.subplots(len(panels), 3, squeeze=False, gridspec_kw={"width_ratios": [lx, ly, lx]})
    # Per panel: (the dim held fixed, across, down, whether down increases downwards).
    views = (("y", "x", "z", "inline"), ("x", "y", "z", "crossline"),
             ("z", "x", "y", "depth slice"))
    image = None
    for row, (title, model) in zip(axes, panels, strict=True):
        for ax, (fixed, across, down, name) in zip(row, views, strict=True):
            section = model.sel({fixed: at[fixed]}).transpose(across, down)
            extent = _extent(section, across, down, scale)
            if fixed == "z":  # a map: y up, as seen from above
                extent = [extent[0], extent[1], extent[3], extent[2]]
            image = ax.imshow(np.asarray(section).T, extent=extent, cmap=cmap, vmin=lo,
                              vmax=hi, aspect="equal", interpolation="nearest",
                              origin="lower" if fixed == "z" else "upper")
            ax.axvline(at[across] * scale, color="w", lw=0.8, ls="--")
            ax.axhline(at[down] * scale, color="w", lw=0.8, ls="--")
            ax.set_title(f"{name}, {fixed} = {at[fixed] * scale:g} {units}")
            ax.set_xlabel(f"{across} ({units})")
            ax.set_ylabel(f"{'depth' if down == 'z' else down} ({units})")
        row[0].set_title(f"{_scored(title, model, reference)}\n{row[0].get_title()}")
    fig.colorbar(image, ax=axes.ravel().tolist(), label="vp (m/s)", shrink=0.9)


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


def _receiver_values(data: xr.DataArray, coord: str, shot: int) -> np.ndarray:
    """Receiver coord ``coord`` (m) of one shot, whether stored (receiver,) or (shot, receiver)."""
    values = np.asarray(data[coord], dtype=np.float64)
    return values[shot] if values.ndim == 2 else values


def plot_shots(data: xr.DataArray, shot: int = 0, *, line_y: float | None = None,
               clip: float = 99.0, figsize: tuple[float, float] = (5.0, 5.0)) -> Figure:
    """One shot gather: receivers across, time down.

    Parameters
    ----------
    data : xr.DataArray (shot, time, receiver)
        Gathers from :func:`~devito_crfwi.simulate` or :func:`~devito_crfwi.read_shots`.
    shot : int
        Position of the shot along the "shot" dim.
    line_y : float, m, optional
        Of 3-D gathers (a "receiver_y" coord, an areal spread): the receiver line to show,
        the receivers at the y nearest ``line_y``; default the line nearest the source.
    clip : float, percent
        Colour range ``±`` this percentile of the absolute amplitudes (of the traces shown).
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
    title = f"shot {shot}"
    if "source_x" in data.coords:
        title += f" (source x = {float(data['source_x'][shot]):g} m"
        title += f", y = {float(data['source_y'][shot]):g} m)" if "source_y" in data.coords \
            else ")"
    traces = np.arange(data.sizes["receiver"])
    if "receiver_y" in data.coords:  # an areal spread: one line of it
        ry = _receiver_values(data, "receiver_y", shot)
        lines = np.unique(ry)
        if line_y is None:
            line_y = float(data["source_y"][shot]) if "source_y" in data.coords else ry.mean()
        y0 = lines[np.argmin(np.abs(lines - line_y))]
        traces = np.flatnonzero(ry == y0)
        title += f"\nreceiver line y = {y0:g} m"
    elif line_y is not None:
        raise ValueError("line_y selects a receiver line of 3-D gathers (with a 'receiver_y' "
                         "coord); these gathers are 2-D")
    gather = np.asarray(data.isel(shot=shot, receiver=traces), dtype=np.float64)
    time = np.asarray(data["time"]) if "time" in data.coords else np.arange(gather.shape[0])
    rx, xlabel = np.arange(gather.shape[1], dtype=np.float64), "receiver"
    for coord, label in (("receiver_x", "receiver x (m)"), ("receiver_z", "receiver depth (m)")):
        if coord in data.coords:
            values = _receiver_values(data, coord, shot)[traces]
            if values[-1] != values[0]:  # a line along this axis (crosswell: along z)
                rx, xlabel = values, label
                break
    scale = float(np.percentile(np.abs(gather), clip)) or 1.0
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.imshow(gather, extent=[rx[0], rx[-1], time[-1], time[0]], cmap=SHOT_CMAP, vmin=-scale,
              vmax=scale, aspect="auto", interpolation="bilinear")
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
    true : xr.DataArray (x, z) or (x, y, z), m/s, or None
    initial : xr.DataArray (x, z) or (x, y, z), m/s
        3-D models are drawn as the central inline, crossline and depth slices
        (:func:`plot_slices`).
    result : xr.Dataset
        From :meth:`~devito_crfwi.CRFWIProblem.solve`.
    dpi : int

    Returns
    -------
    pathlib.Path
        The file written.
    """
    dims = DIMS_3D if initial.ndim == 3 else DIMS_2D
    panels = _panels("save_summary_figure", (true, initial, result["vp"]), None, dims)
    reference = panels[0][1] if true is not None else None
    if dims == DIMS_3D:
        w1, h1 = _slices_size(panels[0][1], len(panels))
    else:
        w1, h1 = _models_size(panels)
    h2 = 3.0
    fig = Figure(figsize=(w1, h1 + h2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[h1, h2])
    if dims == DIMS_3D:
        _draw_slices(top, panels, reference, None, None, MODEL_CMAP, _cuts(panels[0][1]), "m")
    else:
        _draw_models(top, panels, reference, None, None, MODEL_CMAP)
    ssim = np.asarray(result["ssim"]) if "ssim" in result else None
    _draw_loss(bottom, np.asarray(result["iteration"]), np.asarray(result["loss"]), ssim, True)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
