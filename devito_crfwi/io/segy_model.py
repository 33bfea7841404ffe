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
  (0 for a line), all with SourceGroupScalar (the smallest power of ten that stores
  every coordinate exactly, see :func:`devito_crfwi.io.headers.choose_scalar`); CDP
  and the trace sequence numbers count traces from 1; INLINE_3D = y index + 1 (1 for
  a line) and CROSSLINE_3D = x index + 1. Cubes are inline-sorted (inline by inline,
  crosslines increasing), which segyio opens as a structured 3-D file.
* samples: 4-byte IEEE float, big-endian.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import segyio
import xarray as xr

from .atomic import check_target
from .axes import axis_values, regular_axis
from .errors import SegyError
from .headers import (
    MODEL_TITLE,
    MODEL_TITLE_3D,
    apply_scalar,
    choose_scalar,
    float_field,
    gather_structure,
    make_textual_header,
    parse_text_fields,
    scale_to_int,
)
from .schema import MODEL_DIMS, MODEL_DIMS_3D, check_model
from .segy_file import create_segy, open_segy
from .units import VELOCITY_UNITS, check_units, velocity_to_si

__all__ = ["read_segy", "write_segy"]

_TF = segyio.TraceField
_BF = segyio.BinField
_MIN_DZ_FROM_HEADER = 0.1  # m; a smaller dz from the sample interval is taken as a misread
_INTERVAL_MAX = 32767  # segyio reads the 2-byte interval field as signed


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


def _text_spacing(path: Path, fields: Mapping[str, str], key: str) -> float | None:
    """A spacing stated in the textual header (``dx=``/``dz=``), None when absent."""
    value = float_field(fields, key)
    if value is not None and value <= 0:
        raise SegyError(
            path,
            f"the textual header says {key}={fields[key]}",
            f"pass {key}=<metres> to read_segy",
        )
    return value


def _grid_traces(path: Path, inlines: np.ndarray,
                 crosslines: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Indices of the traces of a full inline x crossline grid, in C order of (x, y).

    x follows the crossline numbers (along an inline), y the inline numbers. Refuses
    unevenly stepped line numbers (whole lines missing), a pair held by several traces
    and pairs without a trace, so the cube is never silently padded or warped.
    """
    for field, numbers in (("INLINE_3D (bytes 189-192)", inlines),
                           ("CROSSLINE_3D (bytes 193-196)", crosslines)):
        steps = np.unique(np.diff(np.unique(numbers)))
        if steps.size > 1:
            raise SegyError(
                path,
                f"the {field} numbers are not evenly stepped (steps "
                f"{', '.join(str(v) for v in steps[:5])}): lines are missing from the grid",
                "read one line with inline=<number> or crossline=<number>",
            )
    inline_numbers, y_index = np.unique(inlines, return_inverse=True)
    crossline_numbers, x_index = np.unique(crosslines, return_inverse=True)
    nx, ny = crossline_numbers.size, inline_numbers.size
    cell = x_index.ravel() * ny + y_index.ravel()
    counts = np.bincount(cell, minlength=nx * ny)

    def pair(c: int) -> str:
        return f"inline {inline_numbers[c % ny]}, crossline {crossline_numbers[c // ny]}"

    doubled = np.flatnonzero(counts > 1)
    if doubled.size:
        traces = np.flatnonzero(cell == doubled[0])[:3] + 1
        raise SegyError(
            path,
            f"{pair(doubled[0])} (INLINE_3D, CROSSLINE_3D) is held by {counts[doubled[0]]} "
            f"traces ({', '.join(map(str, traces))}; {doubled.size} pair(s) duplicated)",
            "read_segy needs one trace per (inline, crossline); read pre-stack gathers with "
            "read_shots",
        )
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise SegyError(
            path,
            f"the inline x crossline grid is incomplete: {cell.size} traces for {ny} inlines x "
            f"{nx} crosslines; {pair(empty[0])} (INLINE_3D, CROSSLINE_3D) has no trace "
            f"({empty.size} missing)",
            "complete the cube, or read one line with inline=<number> or crossline=<number>",
        )
    order = np.empty(nx * ny, dtype=np.int64)
    order[cell] = np.arange(cell.size)
    return order, (nx, ny)


def _select_traces(path: Path, inlines: np.ndarray, crosslines: np.ndarray,
                   inline: int | None, crossline: int | None
                   ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Indices of the traces that form the model, in model order, and its lateral shape.

    A 3-D file (several inlines and crosslines forming more than a diagonal) gives its
    whole grid, shape (nx, ny) with the traces in C order (see :func:`_grid_traces`),
    unless ``inline`` (that line's traces ordered by crossline) or ``crossline`` (ordered
    by inline) picks one line. A 2-D line, or one picked line, gives shape (n,).
    """
    n = inlines.size
    lines = {"inline": (inlines, crosslines, inline), "crossline": (crosslines, inlines, crossline)}
    unique_il, unique_xl = np.unique(inlines), np.unique(crosslines)
    is_3d = unique_il.size > 1 and unique_xl.size > 1 and n > max(unique_il.size, unique_xl.size)
    if not is_3d:
        for name, (numbers, _, chosen) in lines.items():
            unique = np.unique(numbers)
            if chosen is not None and not (unique.size == 1 and chosen == unique[0]):
                raise SegyError(
                    path,
                    f"{name}={chosen} was given but the file is a 2-D line ({name} numbers "
                    f"{unique.min()}..{unique.max()})",
                    f"leave {name}=None to read its traces in file order",
                )
        return np.arange(n), (n,)
    if inline is None and crossline is None:
        return _grid_traces(path, inlines, crosslines)
    spans = (f"inlines {unique_il.min()}..{unique_il.max()}, "
             f"crosslines {unique_xl.min()}..{unique_xl.max()}")
    if inline is not None and crossline is not None:
        raise SegyError(path, f"inline={inline} and crossline={crossline} were both given",
                        "pass one of them to read that line as a 2-D model")
    name = "inline" if inline is not None else "crossline"
    numbers, across, number = lines[name]
    chosen = np.flatnonzero(numbers == number)
    if chosen.size == 0:
        raise SegyError(path, f"{name} {number} is not in the file ({spans})")
    positions = across[chosen]
    if np.unique(positions).size != positions.size:
        raise SegyError(
            path,
            f"{name} {number} holds several traces at one position (pre-stack gathers?)",
            "read_segy needs one trace per x position; read gathers with read_shots",
        )
    chosen = chosen[np.argsort(positions, kind="stable")]
    return chosen, (chosen.size,)


def _grid_axes(x: np.ndarray, y: np.ndarray, x_name: str,
               y_name: str) -> dict[str, tuple[float, float]]:
    """(origin, spacing) in m of x and y from coordinates of shape (nx, ny), by dim.

    The grid must be aligned with the coordinate axes: x changes only along the x index
    (crossline number) and y only along the y index (inline number); a rotated survey
    is refused rather than resampled. A coordinate constant over the whole cube gives
    nothing for its dim.
    """
    if np.any(x != x[:, :1]) or np.any(y != y[:1, :]):
        angle = np.degrees(np.arctan2(y[1, 0] - y[0, 0], x[1, 0] - x[0, 0]))
        raise ValueError(
            f"{x_name} changes along crosslines or {y_name} along inlines: the survey grid is "
            f"rotated ({angle:.6g} degrees between increasing crossline numbers and {x_name}) "
            "or irregular, and read_segy does not resample"
        )
    axes = (("x", x[:, 0], x_name), ("y", y[0, :], y_name))
    return {dim: regular_axis(values, name) for dim, values, name in axes if np.ptp(values)}


def _coordinate_axes(
    path: Path, headers: Mapping[str, np.ndarray], shape: tuple[int, ...], *, strict: bool
) -> dict[str, tuple[float, float]]:
    """(origin, spacing) in m of the lateral axes the trace coordinates give, by dim.

    Tries CDP_X/CDP_Y, then SourceX/SourceY, then GroupX/GroupY, all with
    SourceGroupScalar, skipping a pair that does not vary. ``headers`` are in model
    order, ``shape`` is (n,) for a line or (nx, ny) for a cube. On a line, when y varies
    too, x is the distance along the line from the first trace (origin 0); a cube needs
    a grid aligned with the x and y coordinates (:func:`_grid_axes`). Empty when no pair
    varies; with ``strict``, irregular coordinates raise :class:`SegyError`, otherwise
    they give an empty dict too.
    """
    scalar = headers["SourceGroupScalar"]
    for x_name, y_name in (("CDP_X", "CDP_Y"), ("SourceX", "SourceY"), ("GroupX", "GroupY")):
        x = apply_scalar(headers[x_name], scalar).reshape(shape)
        y = apply_scalar(headers[y_name], scalar).reshape(shape)
        if x.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
            continue
        try:
            if len(shape) == 2:
                return _grid_axes(x, y, x_name, y_name)
            position = x if np.ptp(y) == 0 else np.hypot(x - x[0], y - y[0])
            return {"x": regular_axis(position, x_name)}
        except ValueError as err:
            if not strict:
                return {}
            if len(shape) == 2:
                what = "a regular x, y grid"
                hint = ("pass dx=<metres> and dy=<metres> to place the traces by crossline and "
                        "inline number")
            else:
                what = "a regular x axis"
                hint = "pass dx=<metres> to read the traces in file order with that spacing"
            raise SegyError(path, f"trace coordinates do not give {what} ({err})",
                            hint) from err
    return {}


def _lateral_coords(path: Path, fields: Mapping[str, str], headers: Mapping[str, np.ndarray],
                    shape: tuple[int, ...], given: Mapping[str, float | None],
                    text_names: Mapping[str, str]) -> dict[str, np.ndarray]:
    """The x (and for a cube y) coords in m, by the precedence :func:`read_segy` states.

    Spacing: ``given`` > textual header ``d<name>=`` > trace coordinates; origin: textual
    ``<name>0=`` > trace coordinates > 0, where ``text_names`` maps each dim to the
    name the textual header uses for it.
    """
    dims = MODEL_DIMS_3D[: len(shape)]
    steps = {d: given[d] if given[d] is not None
             else _text_spacing(path, fields, f"d{text_names[d]}") for d in dims}
    origins = {d: float_field(fields, f"{text_names[d]}0") for d in dims}
    missing = [d for d in dims if steps[d] is None]
    coords = {}
    if missing or None in origins.values():
        coords = _coordinate_axes(path, headers, shape, strict=bool(missing))
    missing = [d for d in missing if d not in coords]
    if missing:
        names, along = (("CDP_X, SourceX, GroupX", "") if len(shape) == 1 else
                        ("CDP_X/CDP_Y, SourceX/SourceY, GroupX/GroupY",
                         f" along {' and '.join(missing)}"))
        raise SegyError(
            path,
            f"no {' and '.join(missing)} spacing: the textual header has no "
            f"{' or '.join(repr(f'd{d}=') for d in missing)} and the trace coordinates "
            f"({names}) do not vary{along}",
            f"pass {' and '.join(f'd{d}=<metres>' for d in missing)} to read_segy",
        )
    result = {}
    for dim, n in zip(dims, shape, strict=True):
        step = steps[dim] if steps[dim] is not None else coords[dim][1]
        origin = (origins[dim] if origins[dim] is not None
                  else coords[dim][0] if dim in coords else 0.0)
        result[dim] = axis_values(origin, step, n)
    return result


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
    line numbers, and trace coordinates used for the spacing must lie on a grid aligned
    with them (a rotated survey is refused, not resampled).

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
        "source" (the path, str), "textual_header" (str).

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
        order, shape = _select_traces(path, all_headers["INLINE_3D"],
                                      all_headers["CROSSLINE_3D"], inline, crossline)
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
    coords = _lateral_coords(path, fields, headers, shape, {"x": dx, "y": dy}, text_names)

    # z: argument > textual header > sample interval in mm.
    step_z = dz if dz is not None else _text_spacing(path, fields, "dz")
    if step_z is None:
        interval = layout.sample_interval or int(headers["TRACE_SAMPLE_INTERVAL"][0]) & 0xFFFF
        if interval == 0:
            raise SegyError(
                path,
                "no depth spacing: the textual header has no 'dz=' and the sample interval is 0",
                "pass dz=<metres> to read_segy",
            )
        step_z = interval / 1000.0
        if step_z < _MIN_DZ_FROM_HEADER:
            raise SegyError(
                path,
                f"the sample interval {interval} would mean dz = {step_z:g} m (this package reads "
                "a depth model's sample interval as millimetres), which is implausible",
                "pass dz=<metres> to read_segy",
            )
    origin_z = float_field(fields, "z0") or 0.0

    if units is None:
        stated = fields.get("units")
        units = stated if stated in VELOCITY_UNITS else "m/s"
    try:
        values = velocity_to_si(raw, units)
    except ValueError as err:
        raise SegyError(path, str(err)) from err
    coords["z"] = axis_values(origin_z, step_z, layout.n_samples)
    dims = MODEL_DIMS_3D if len(shape) == 2 else MODEL_DIMS
    return xr.DataArray(
        values.reshape(*shape, layout.n_samples),
        dims=dims,
        coords={dim: coords[dim] for dim in dims},
        attrs={"units": "m/s", "source": str(path), "textual_header": text},
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
    coords are ``origin + spacing * arange(n)``.

    Parameters
    ----------
    da : xarray.DataArray, dims ("x", "z") or ("x", "y", "z"), m/s
        The model, as :func:`~devito_crfwi.io.schema.check_model` requires it: coords
        "x", ("y",) "z" in m, regular and increasing, at least two points each;
        ``attrs["units"]``, when present, "m/s"; finite positive values from 10 to
        10 000 m/s (so :func:`read_segy` reads every file written back without a
        ``units=``). Stored as float32. Not modified.
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
        non-positive values, or values that look like km/s or ft/s.
    """
    model = check_model(da, "da", where="write_segy")
    path = check_target(path, overwrite=overwrite)
    values = np.ascontiguousarray(model.values, dtype=np.float32)
    (x0, *_, z0), (dx, *_, dz) = model.origin, model.spacing
    nx, nz = values.shape[0], values.shape[-1]
    x = axis_values(x0, dx, nx)
    if model.y is None:
        ny, y = 1, np.zeros(1)  # y headers stay 0, as in files written before cubes
    else:
        ny, (y0, dy) = values.shape[1], (model.origin[1], model.spacing[1])
        y = axis_values(y0, dy, ny)
    scalar, _ = choose_scalar(np.concatenate([x, y]))  # inexact only beyond 0.1 mm
    x_int, y_int = scale_to_int(x, scalar), scale_to_int(y, scalar)
    interval = round(dz * 1000.0)
    if not 1 <= interval <= _INTERVAL_MAX:
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
            "Inline-sorted: INLINE_3D = y index + 1, CROSSLINE_3D = x index + 1.",
        ]
        positions = f"CDP_X/Y, SourceX/Y, GroupX/Y: x, y in m, SourceGroupScalar={scalar}."
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
                out.header[t] = {
                    _TF.TRACE_SEQUENCE_LINE: t + 1,
                    _TF.TRACE_SEQUENCE_FILE: t + 1,
                    _TF.CDP: t + 1,
                    _TF.CDP_TRACE: 1,
                    _TF.TraceIdentificationCode: 1,
                    _TF.SourceGroupScalar: scalar,
                    _TF.SourceX: int(x_int[i]),
                    _TF.SourceY: int(y_int[j]),
                    _TF.GroupX: int(x_int[i]),
                    _TF.GroupY: int(y_int[j]),
                    _TF.CDP_X: int(x_int[i]),
                    _TF.CDP_Y: int(y_int[j]),
                    _TF.CoordinateUnits: 1,
                    _TF.TRACE_SAMPLE_COUNT: nz,
                    _TF.TRACE_SAMPLE_INTERVAL: interval,
                    _TF.INLINE_3D: j + 1,
                    _TF.CROSSLINE_3D: i + 1,
                }
                out.trace[t] = traces[i, j]
    return path
