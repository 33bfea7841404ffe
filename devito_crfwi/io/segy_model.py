"""2-D depth velocity models <-> SEG-Y.

A model is an ``xr.DataArray`` of float32 m/s with dims ("x", "z") and regular
coords "x", "z" in metres; in the file there is one trace per x position and the
samples run along z (depth).

Header convention (what :func:`write_segy` writes and :func:`read_segy` reads)
---------------------------------------------------------------------------
* textual header: ``units=m/s nx=.. nz=..``, ``dx=.. m dz=.. m`` and
  ``x0=.. m z0=.. m`` with every number written as the shortest decimal that
  round-trips a float64 (so ``dx=12.5`` and ``dx=0.1`` are exact). When present
  these take precedence over the binary and trace headers.
* binary and trace header sample interval: dz in millimetres (``dz_m * 1000``,
  rounded; 0 when dz is over 32.767 m or under 1 mm).
* trace headers: CDP_X, SourceX and GroupX hold x with SourceGroupScalar (the
  smallest power of ten that stores every x exactly, see
  :func:`devito_crfwi.io.headers.choose_scalar`); CDP and the trace sequence
  numbers count traces from 1; INLINE_3D = 1 and CROSSLINE_3D = trace number.
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
    apply_scalar,
    choose_scalar,
    float_field,
    gather_structure,
    make_textual_header,
    parse_text_fields,
    scale_to_int,
)
from .schema import MODEL_DIMS, check_model
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


def _select_traces(path: Path, inlines: np.ndarray, crosslines: np.ndarray,
                   inline: int | None, crossline: int | None) -> np.ndarray:
    """Indices of the traces that form the 2-D model, in x order.

    A 3-D file (several inlines and crosslines forming more than a diagonal) needs
    ``inline`` (its traces ordered by crossline) or ``crossline`` (ordered by inline).
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
        return np.arange(n)
    spans = (f"inlines {unique_il.min()}..{unique_il.max()}, "
             f"crosslines {unique_xl.min()}..{unique_xl.max()}")
    if inline is None and crossline is None:
        raise SegyError(
            path,
            f"the file is 3-D ({unique_il.size} inlines x {unique_xl.size} crosslines: {spans})",
            "pass inline=<number> or crossline=<number> to read one line as a 2-D model",
        )
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
    return chosen[np.argsort(positions, kind="stable")]


def _coordinate_axis(
    path: Path, headers: Mapping[str, np.ndarray], *, strict: bool
) -> tuple[float, float, str] | None:
    """(origin, spacing, field) from trace coordinates, or None when they are constant.

    Tries CDP_X/CDP_Y, then SourceX/SourceY, then GroupX/GroupY, all with
    SourceGroupScalar. When y varies too, x is the distance along the line from the
    first trace (origin 0). With ``strict``, irregular coordinates raise
    :class:`SegyError`; otherwise they give None.
    """
    scalar = headers["SourceGroupScalar"]
    for x_name, y_name in (("CDP_X", "CDP_Y"), ("SourceX", "SourceY"), ("GroupX", "GroupY")):
        x = apply_scalar(headers[x_name], scalar)
        y = apply_scalar(headers[y_name], scalar)
        if x.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
            continue
        position = x if np.ptp(y) == 0 else np.hypot(x - x[0], y - y[0])
        try:
            origin, step = regular_axis(position, x_name)
        except ValueError as err:
            if not strict:
                return None
            raise SegyError(
                path,
                f"trace coordinates do not give a regular x axis ({err})",
                "pass dx=<metres> to read the traces in file order with that spacing",
            ) from err
        return origin, step, x_name
    return None


def read_segy(
    path: str | os.PathLike[str],
    *,
    dx: float | None = None,
    dz: float | None = None,
    units: str | None = None,
    inline: int | None = None,
    crossline: int | None = None,
) -> xr.DataArray:
    """Read a 2-D depth velocity model from SEG-Y.

    One trace per x position, samples along depth. Any sample format segyio decodes
    (IBM float, 4- and 8-byte IEEE float, 1/2/4/8-byte signed and unsigned integers),
    either byte order, extended textual headers, SEG-Y rev 2 and Seismic Unix files are
    accepted (see :mod:`devito_crfwi.io.segy_file`).

    Parameters
    ----------
    path : str or os.PathLike
        SEG-Y file.
    dx, dz : float, optional
        Grid spacing in m along x (between traces) and z (between samples). They
        override the file. Otherwise taken, in order of precedence, from the
        textual header (``dx=.. dz=..``), then for dx from the trace coordinates
        (CDP_X, SourceX or GroupX with SourceGroupScalar) and for dz from the
        sample interval read as millimetres. When none gives a value, a
        :class:`SegyError` asks for it.
    units : {"m/s", "km/s", "ft/s"}, optional
        Unit of the stored values; the result is always m/s. Default: the
        textual header's ``units=`` token if it names one of these, else m/s. Data
        whose largest value is under 10 are refused as m/s (they look like km/s:
        pass ``units="km/s"``), as are data over 10 000 (they look like ft/s: pass
        ``units="ft/s"``) and a conversion that gives over 10 000 m/s.
    inline, crossline : int, optional
        For a 3-D post-stack file (several inlines and crosslines in trace header bytes
        189 and 193), the one line to read: an inline (its traces ordered by crossline)
        or a crossline (ordered by inline). One of them is required for 3-D files; for
        a 2-D file each must be None or the file's single number. Files without that
        geometry are read in trace order.

    Returns
    -------
    xarray.DataArray, dims ("x", "z"), float32, m/s
        Coords "x" and "z" in m (float64, ``origin + spacing * arange(n)``; the x
        origin comes from the textual header's ``x0=``, else the first trace's
        coordinate, else 0; the z origin from ``z0=``, else 0). Attrs: "units"
        ("m/s"), "source" (the path, str), "textual_header" (str).

    Raises
    ------
    SegyError
        Unreadable or malformed file, shot gathers (several receiver positions per
        source, or non-zero offsets: read them with :func:`read_shots`), no spacing
        available, a 3-D file without ``inline`` or ``crossline``, NaN/Inf samples, or
        values in the wrong unit.

    Warns
    -----
    UserWarning
        Trace headers whose sample count disagrees with the binary header (which wins,
        as in segyio).
    ValueError
        Invalid arguments.
    """
    dx = _optional_spacing(dx, "dx")
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
            text, all_headers["FieldRecord"], apply_scalar(all_headers["SourceX"], scalar),
            apply_scalar(all_headers["GroupX"], scalar), all_headers["offset"],
        )
        if gathers:
            raise SegyError(path, f"holds shot gathers, not a velocity model ({gathers})",
                            "read it with read_shots")
        chosen = _select_traces(path, all_headers["INLINE_3D"], all_headers["CROSSLINE_3D"],
                                inline, crossline)
        raw = handle.trace.raw[:].reshape(layout.n_traces, layout.n_samples)[chosen]
    headers = {name: values[chosen] for name, values in all_headers.items()}
    fields = parse_text_fields(text)

    bad = ~np.isfinite(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, dtype=bool)
    if bad.any():
        trace = int(np.flatnonzero(bad.any(axis=1))[0])
        raise SegyError(
            path, f"{int(bad.sum())} samples are NaN or Inf (first in trace {trace + 1})"
        )

    # x: argument > textual header > trace coordinates; origin: x0= > coordinates > 0.
    text_dx = None if dx is not None else _text_spacing(path, fields, "dx")
    text_x0 = float_field(fields, "x0")
    coords = None
    if dx is None and text_dx is None:
        coords = _coordinate_axis(path, headers, strict=True)
        if coords is None:
            raise SegyError(
                path,
                "no x spacing: the textual header has no 'dx=' and the trace coordinates "
                "(CDP_X, SourceX, GroupX) do not vary",
                "pass dx=<metres> to read_segy",
            )
    elif text_x0 is None:
        coords = _coordinate_axis(path, headers, strict=False)
    step_x = dx if dx is not None else text_dx if text_dx is not None else coords[1]
    origin_x = text_x0 if text_x0 is not None else coords[0] if coords is not None else 0.0

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
    nx, nz = values.shape
    return xr.DataArray(
        values,
        dims=MODEL_DIMS,
        coords={"x": axis_values(origin_x, step_x, nx), "z": axis_values(origin_z, step_z, nz)},
        attrs={"units": "m/s", "source": str(path), "textual_header": text},
    )


def _number(value: float) -> str:
    """Shortest decimal that reads back as the same float64."""
    return repr(float(value))


def write_segy(da: xr.DataArray, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a 2-D velocity model to SEG-Y (IEEE float32, big-endian), atomically.

    The header convention is described in :mod:`devito_crfwi.io.segy_model`;
    :func:`read_segy` and plain segyio read the file back, and values, coords and
    spacing round-trip exactly for float32 data whose coords are
    ``origin + spacing * arange(n)``.

    Parameters
    ----------
    da : xarray.DataArray, dims ("x", "z"), m/s
        The model, as :func:`~devito_crfwi.io.schema.check_model` requires it: coords
        "x" and "z" in m, regular and increasing, at least two points each;
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
    if model.y is not None:
        raise ValueError(
            "write_segy: 3-D models (x, y, z) are not written yet (SEG-Y cubes are an open "
            "item); write 2-D sections instead, e.g. write_segy(da.isel(y=0), path)"
        )
    path = check_target(path, overwrite=overwrite)
    values = np.ascontiguousarray(model.values, dtype=np.float32)
    (x0, z0), (dx, dz) = model.origin, model.spacing
    nx, nz = values.shape
    x = axis_values(x0, dx, nx)
    scalar, _ = choose_scalar(x)  # inexact only beyond 0.1 mm; the textual header is exact
    x_int = scale_to_int(x, scalar)
    interval = round(dz * 1000.0)
    if not 1 <= interval <= _INTERVAL_MAX:
        interval = 0
    text = make_textual_header(
        [
            f"{MODEL_TITLE}, dims (x, z): one trace per x",
            f"units=m/s nx={nx} nz={nz}",
            f"dx={_number(dx)} m dz={_number(dz)} m",
            f"x0={_number(x0)} m z0={_number(z0)} m",
            "Sample interval field: dz in mm (rounded; the values above are exact).",
            f"CDP_X, SourceX, GroupX: x in m with SourceGroupScalar={scalar}.",
            "Samples: 4-byte IEEE float, velocity in m/s, along depth.",
        ]
    )
    with create_segy(path, text=text, n_traces=nx, n_samples=nz, interval=interval,
                     overwrite=overwrite, binary={_BF.Traces: nx}) as out:
        for i in range(nx):
            out.header[i] = {
                _TF.TRACE_SEQUENCE_LINE: i + 1,
                _TF.TRACE_SEQUENCE_FILE: i + 1,
                _TF.CDP: i + 1,
                _TF.CDP_TRACE: 1,
                _TF.TraceIdentificationCode: 1,
                _TF.SourceGroupScalar: scalar,
                _TF.SourceX: int(x_int[i]),
                _TF.GroupX: int(x_int[i]),
                _TF.CDP_X: int(x_int[i]),
                _TF.CoordinateUnits: 1,
                _TF.TRACE_SAMPLE_COUNT: nz,
                _TF.TRACE_SAMPLE_INTERVAL: interval,
                _TF.INLINE_3D: 1,
                _TF.CROSSLINE_3D: i + 1,
            }
            out.trace[i] = values[i]
    return path
