"""Depth velocity models <-> SEG-Y: 2-D lines (x, z) and 3-D cubes (x, y, z).

A model is an ``xr.DataArray`` of float32 m/s with dims ("x", "z") or ("x", "y", "z")
and regular coords in metres; in the file there is one trace per lateral position and
the samples run along z (depth). In a cube, x runs along an inline (increasing
crossline number, CROSSLINE_3D) and y across inlines (increasing inline number,
INLINE_3D), so ``cube.isel(y=j)`` is inline j and ``segyio.tools.cube(f)`` of the file
is ``cube.values.transpose(1, 0, 2)``.

Header convention (what :func:`write_segy` writes and :func:`read_segy` reads)
---------------------------------------------------------------------------
* textual header: ``units=m/s nx=.. nz=..``, ``dx=.. m dz=.. m`` and
  ``x0=.. m z0=.. m`` (a cube also ``ny=``, ``dy=`` and ``y0=``) with every number
  written as the shortest decimal that round-trips a float64 (so ``dx=12.5`` and
  ``dx=0.1`` are exact). When present these take precedence over the binary and
  trace headers.
* binary and trace header sample interval: dz in millimetres (``dz_m * 1000``,
  rounded; 0 when dz is over 32.767 m or under 1 mm).
* trace headers: CDP_X, SourceX and GroupX hold x, CDP_Y, SourceY and GroupY hold y
  (0 for a line), or a rotated cube's world coordinates (its coords ``cdp_x`` and
  ``cdp_y``), all with SourceGroupScalar (the smallest power of ten that stores every
  coordinate exactly, see :func:`devito_crfwi.io.headers.choose_scalar`); CDP and the
  trace sequence numbers count traces from 1; INLINE_3D = y index + 1 (1 for a line) and
  CROSSLINE_3D = x index + 1, or a cube's coords ``iline`` (y) and ``xline`` (x). Cubes
  are inline-sorted (inline by inline, crosslines increasing), which segyio opens as a
  structured 3-D file.

Rotated cubes
-------------
A survey grid rotated against the coordinate axes (or mirrored: inline numbers increasing
clockwise from the inline direction) is read on its own grid, as segysak reads it (lines
``iline``/``xline``, 2-D ``cdp_x``/``cdp_y``), with this package's dims: x along an
inline from 0 at the first trace, y across inlines from 0, spacings from the trace
coordinates; the frame is in ``attrs["rotation"]`` and ``attrs["yflip"]``
(:mod:`devito_crfwi.io.survey_frame` states the convention). It is a regular Cartesian
grid in its own frame, so the wave engine models it as it is; survey positions are then
in that frame, not in world coordinates.
* samples: 4-byte IEEE float, big-endian. Over 65 535 samples per trace the file is
  SEG-Y rev 2: the 2-byte sample counts hold 0 and the binary header's extended count
  (bytes 3269-3272) the number, as segyio reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import segyio
import xarray as xr

from .atomic import check_target
from .axes import axis_values
from .errors import SegyError
from .headers import (
    MODEL_TITLE,
    MODEL_TITLE_3D,
    apply_scalar,
    choose_scalar,
    gather_structure,
    make_textual_header,
    parse_text_fields,
    scale_to_int,
)
from .model_geometry import GeometryError, depth_coords, lateral_coords, select_traces
from .schema import MODEL_DIMS, MODEL_DIMS_3D, check_model
from .segy_file import INTERVAL_MAX, create_segy, open_segy, trace_sample_count
from .survey_coords import check_world_grid, survey_coords, survey_headers
from .units import VELOCITY_UNITS, check_units, velocity_to_si

__all__ = ["read_segy", "write_segy"]

_TF = segyio.TraceField
_BF = segyio.BinField


def _optional_spacing(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number of metres, got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number of metres, got {value!r}")
    return number


@contextmanager
def _in_file(path: Path) -> Iterator[None]:
    """Report header values that give no grid as a :class:`SegyError` naming ``path``."""
    try:
        yield
    except GeometryError as err:
        raise SegyError(path, err.problem, err.hint) from err


def read_segy(
    path: str | os.PathLike[str],
    *,
    dx: float | None = None,
    dy: float | None = None,
    dz: float | None = None,
    units: str | None = None,
    inline: int | None = None,
    crossline: int | None = None,
) -> xr.DataArray:
    """Read a depth velocity model from SEG-Y: a 2-D line (x, z) or a 3-D cube (x, y, z).

    One trace per lateral position, samples along depth. Any sample format segyio decodes
    (IBM float, 4- and 8-byte IEEE float, 1/2/4/8-byte signed and unsigned integers),
    either byte order, extended textual headers, SEG-Y rev 2 and Seismic Unix files are
    accepted (see :mod:`devito_crfwi.io.segy_file`).

    A 3-D post-stack file (several inlines and crosslines in trace header bytes 189 and
    193, INLINE_3D and CROSSLINE_3D) is read as a cube, traces in any order: x runs along
    an inline (increasing crossline number), y across inlines (increasing inline number).
    Its traces must fill the inline x crossline grid exactly once, with evenly stepped
    line numbers (holes and duplicates are refused, naming the lines), and its trace
    coordinates, when they vary, must lie on a rectangular grid, which may be rotated
    against the coordinate axes: within the coordinates' resolution or a tenth of a bin
    (:func:`~devito_crfwi.io.survey_frame.fit_frame`).

    Parameters
    ----------
    path : str or os.PathLike
        SEG-Y file.
    dx, dy, dz : float, optional
        Grid spacing in m along x (between traces; for a cube, between neighbouring
        crosslines), y (a cube's spacing between neighbouring inlines; refused for a 2-D
        result) and z (between samples). They override the file. Otherwise taken, in
        order of precedence, from the textual header (``dx=.. dy=.. dz=..``), then for dx
        and dy from the trace coordinates (CDP_X/CDP_Y, SourceX/SourceY or GroupX/GroupY
        with SourceGroupScalar) and for dz from the sample interval read as millimetres.
        When none gives a value, a :class:`SegyError` asks for it.
    units : {"m/s", "km/s", "ft/s"}, optional
        Unit of the stored values; the result is always m/s. Default: the
        textual header's ``units=`` token if it names one of these, else m/s. Data
        whose largest value is under 10 are refused as m/s (they look like km/s:
        pass ``units="km/s"``), as are data over 10 000 (they look like ft/s: pass
        ``units="ft/s"``) and a conversion that gives over 10 000 m/s.
    inline, crossline : int, optional
        For a 3-D file, read one line as a 2-D model instead of the cube: an inline (its
        traces ordered by crossline) or a crossline (ordered by inline; its spacing and
        origin are the textual header's ``dy=``/``y0=`` when it states them). For a 2-D
        file each must be None or the file's single number. Files without that geometry
        are read in trace order.

    Returns
    -------
    xarray.DataArray, dims ("x", "z") or ("x", "y", "z"), float32, m/s
        Coords "x", ("y",) "z" in m (float64, ``origin + spacing * arange(n)``; the x and y
        origins come from the textual header's ``x0=``/``y0=``, else the first trace's
        coordinates, else 0; the z origin from ``z0=``, else 0). Attrs: "units" ("m/s"),
        "source" (the path, str), "textual_header" (str). A cube whose line numbers are
        not 1, 2, ... also has coords "iline" (y,) and "xline" (x,) (int64, the INLINE_3D
        and CROSSLINE_3D numbers); a rotated or mirrored cube has them, x and y from 0 at
        its first trace, coords "cdp_x" and "cdp_y" (x, y) (the world coordinates of each
        trace, m, from the header pair that gave the grid) and attrs "rotation" (degrees,
        counterclockwise from +cdp_x to +x, in [0, 360)) and "yflip" (+1 or -1).

    Raises
    ------
    SegyError
        Unreadable or malformed file, shot gathers (several receiver positions per
        source, or non-zero offsets: read them with :func:`read_shots`), no spacing
        available, an incomplete, duplicated or unevenly numbered inline x crossline
        grid, irregular or rotated trace coordinates, NaN/Inf samples, or values in the
        wrong unit.

    Warns
    -----
    UserWarning
        Trace headers whose sample count disagrees with the binary header (which wins,
        as in segyio).
    ValueError
        Invalid arguments.
    """
    dx = _optional_spacing(dx, "dx")
    dy = _optional_spacing(dy, "dy")
    dz = _optional_spacing(dz, "dz")
    if units is not None:
        check_units(units)
    for name, number in (("inline", inline), ("crossline", crossline)):
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int | np.integer)
        ):
            raise ValueError(f"{name} must be an int or None, got {number!r}")
    with open_segy(path) as (handle, layout):
        path, text = layout.path, layout.text
        names = ("CDP_X", "CDP_Y", "SourceX", "SourceY", "GroupX", "GroupY", "SourceGroupScalar")
        names += ("INLINE_3D", "CROSSLINE_3D", "TRACE_SAMPLE_INTERVAL", "FieldRecord", "offset")
        all_headers = {name: handle.attributes(getattr(_TF, name))[:] for name in names}
        scalar = all_headers["SourceGroupScalar"]
        gathers = gather_structure(
            text, all_headers["FieldRecord"],
            *(apply_scalar(all_headers[name], scalar)
              for name in ("SourceX", "SourceY", "GroupX", "GroupY")),
            all_headers["offset"],
        )
        if gathers:
            raise SegyError(path, f"holds shot gathers, not a velocity model ({gathers})",
                            "read it with read_shots")
        with _in_file(path):
            order, shape = select_traces(all_headers["INLINE_3D"], all_headers["CROSSLINE_3D"],
                                         inline, crossline)
        raw = handle.trace.raw[:].reshape(layout.n_traces, layout.n_samples)[order]
    if dy is not None and len(shape) == 1:
        raise SegyError(path, f"dy={dy!r} was given but the model read is a 2-D line (x, z)",
                        "leave dy out: dx is the spacing along the line")
    headers = {name: values[order] for name, values in all_headers.items()}
    fields = parse_text_fields(text)

    bad = ~np.isfinite(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, dtype=bool)
    if bad.any():
        trace = int(order[np.flatnonzero(bad.any(axis=1))[0]])
        raise SegyError(
            path, f"{int(bad.sum())} samples are NaN or Inf (first in trace {trace + 1})"
        )

    # A crossline picked from one of our cubes runs along its y axis (dy=, y0=).
    text_names = {"x": "y" if crossline is not None and "dy" in fields else "x", "y": "y"}
    # The binary header's interval, else the first trace's (a 2-byte field read as signed).
    interval = layout.sample_interval or int(headers["TRACE_SAMPLE_INTERVAL"][0]) & 0xFFFF
    with _in_file(path):
        grid = lateral_coords(fields, headers, shape, {"x": dx, "y": dy}, text_names)
        coords = dict(grid.coords)
        coords["z"] = depth_coords(fields, dz, interval, layout.n_samples)

    if units is None:
        stated = fields.get("units")
        units = stated if stated in VELOCITY_UNITS else "m/s"
    try:
        values = velocity_to_si(raw, units)
    except ValueError as err:
        raise SegyError(path, str(err)) from err
    dims = MODEL_DIMS_3D if len(shape) == 2 else MODEL_DIMS
    attrs = {"units": "m/s", "source": str(path), "textual_header": text}
    survey = {}
    if len(shape) == 2:
        survey, frame_attrs = survey_coords(grid, headers, shape)
        attrs |= frame_attrs
    return xr.DataArray(
        values.reshape(*shape, layout.n_samples),
        dims=dims,
        coords={**{dim: coords[dim] for dim in dims}, **survey},
        attrs=attrs,
    )


def _number(value: float) -> str:
    """Shortest decimal that reads back as the same float64."""
    return repr(float(value))


def write_segy(da: xr.DataArray, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a 2-D or 3-D velocity model to SEG-Y (IEEE float32, big-endian), atomically.

    The header convention is described in :mod:`devito_crfwi.io.segy_model`;
    :func:`read_segy` and plain segyio read the file back (a cube as a structured,
    inline-sorted 3-D file: ``f.ilines`` are the y positions, ``f.xlines`` the x
    positions), and values, coords and spacing round-trip exactly for float32 data whose
    coords are ``origin + spacing * arange(n)`` (world coordinates to 0.1 mm).

    Parameters
    ----------
    da : xarray.DataArray, dims ("x", "z") or ("x", "y", "z"), m/s
        The model, as :func:`~devito_crfwi.io.schema.check_model` requires it: coords
        "x", ("y",) "z" in m, regular and increasing, at least two points each;
        ``attrs["units"]``, when present, "m/s"; finite positive values from 10 to
        10 000 m/s (so :func:`read_segy` reads every file written back without a
        ``units=``). Stored as float32. Not modified. A cube may carry the survey coords
        :func:`read_segy` gives: "iline" (y,) and "xline" (x,), integers increasing in
        equal steps, written as INLINE_3D and CROSSLINE_3D; "cdp_x" and "cdp_y" (x, y),
        world coordinates in m written as the trace coordinates, which must form a
        rectangular grid with the spacings of x and y. ``attrs["rotation"]`` and
        ``attrs["yflip"]`` are not read: the frame comes from cdp_x and cdp_y.
    path : str or os.PathLike
        Output file; its folder must exist.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    TypeError
        ``da`` is not a DataArray.
    ValueError
        Wrong dims, missing or irregular coords, units other than m/s, NaN, Inf,
        non-positive values, or values that look like km/s or ft/s; survey coords that
        are not integer lines, or world coordinates that are not a rectangular grid of
        the model's spacing.
    """
    model = check_model(da, "da", where="write_segy")
    path = check_target(path, overwrite=overwrite)
    values = np.ascontiguousarray(model.values, dtype=np.float32)
    (x0, *_, z0), (dx, *_, dz) = model.origin, model.spacing
    nx, nz = values.shape[0], values.shape[-1]
    x = axis_values(x0, dx, nx)
    if model.y is None:
        ny, y = 1, np.zeros(1)  # y headers stay 0, as in files written before cubes
        east, north = x[:, None], y[None, :]
        inlines, crosslines = np.ones(1, dtype=np.int64), np.arange(nx) + 1
    else:
        ny = values.shape[1]
        east, north, inlines, crosslines = survey_headers(da, model)
    world = np.concatenate([east.ravel(), north.ravel()])
    scalar, _ = choose_scalar(world)  # inexact only beyond 0.1 mm
    east_int, north_int = (np.broadcast_to(scale_to_int(v, scalar), (nx, ny))
                           for v in (east, north))
    frame = None
    if model.y is not None and "cdp_x" in da.coords:
        frame = check_world_grid(model, east_int, north_int, scalar, crosslines, inlines)
    interval = round(dz * 1000.0)
    if not 1 <= interval <= INTERVAL_MAX:
        interval = 0
    if model.y is None:
        head = [
            f"{MODEL_TITLE}, dims (x, z): one trace per x",
            f"units=m/s nx={nx} nz={nz}",
            f"dx={_number(dx)} m dz={_number(dz)} m",
            f"x0={_number(x0)} m z0={_number(z0)} m",
        ]
        positions = f"CDP_X, SourceX, GroupX: x in m with SourceGroupScalar={scalar}."
    else:
        # One axis a line: three shortest float64 decimals may not fit 76 characters.
        head = [
            f"{MODEL_TITLE_3D}, dims (x, y, z): one trace per (x, y)",
            f"units=m/s nx={nx} ny={ny} nz={nz}",
            *(f"d{d}={_number(step)} m {d}0={_number(origin)} m"
              for d, step, origin in zip("xyz", model.spacing, model.origin, strict=True)),
            "Inline-sorted: INLINE_3D numbers step along y, CROSSLINE_3D along x.",
        ]
        positions = f"CDP_X/Y, SourceX/Y, GroupX/Y: x, y in m, SourceGroupScalar={scalar}."
        if frame is not None and not frame.aligned:
            head.append(f"Rotated grid: x at {frame.rotation:.10g} deg ccw from CDP_X, "
                        f"yflip {frame.yflip}.")
            positions = (f"CDP_X/Y, SourceX/Y, GroupX/Y: world m, SourceGroupScalar={scalar}.")
    text = make_textual_header([
        *head,
        "Sample interval field: dz in mm (rounded; the values above are exact).",
        positions,
        "Samples: 4-byte IEEE float, velocity in m/s, along depth.",
    ])
    traces = values.reshape(nx, ny, nz)
    with create_segy(path, text=text, n_traces=nx * ny, n_samples=nz, interval=interval,
                     overwrite=overwrite, binary={_BF.Traces: nx}) as out:
        for j in range(ny):  # inline by inline, as segyio expects of an inline-sorted cube
            for i in range(nx):
                t = j * nx + i
                cdp_x, cdp_y = int(east_int[i, j]), int(north_int[i, j])
                out.header[t] = {
                    _TF.TRACE_SEQUENCE_LINE: t + 1,
                    _TF.TRACE_SEQUENCE_FILE: t + 1,
                    _TF.CDP: t + 1,
                    _TF.CDP_TRACE: 1,
                    _TF.TraceIdentificationCode: 1,
                    _TF.SourceGroupScalar: scalar,
                    _TF.SourceX: cdp_x,
                    _TF.SourceY: cdp_y,
                    _TF.GroupX: cdp_x,
                    _TF.GroupY: cdp_y,
                    _TF.CDP_X: cdp_x,
                    _TF.CDP_Y: cdp_y,
                    _TF.CoordinateUnits: 1,
                    _TF.TRACE_SAMPLE_COUNT: trace_sample_count(nz),
                    _TF.TRACE_SAMPLE_INTERVAL: interval,
                    _TF.INLINE_3D: int(inlines[j]),
                    _TF.CROSSLINE_3D: int(crosslines[i]),
                }
                out.trace[t] = traces[i, j]
    return path

