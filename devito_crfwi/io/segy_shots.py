"""Shot gathers <-> SEG-Y.

Gathers are an ``xr.DataArray`` of float32 with dims ("shot", "time", "receiver"):
coords "shot" (labels: by default the shots' indices 0..n-1 in their survey), "time" (s,
from 0, regular), "source_x", "source_z" (dims ("shot",), m) and "receiver_x",
"receiver_z" (dims ("receiver",) when every shot uses the same spread, else ("shot",
"receiver"), m), and for a 3-D survey also "source_y" and "receiver_y"; attrs "dt" (s),
"units", when known "f0" (Hz) and, for a source other than a Ricker of f0, "wavelet"
(time,).

Header convention (what :func:`write_shots` writes and :func:`read_shots` reads)
------------------------------------------------------------------------------
* one trace per (shot, receiver), shot by shot, receivers in order, but none for a
  missing trace (NaN, see :mod:`.traces`): gathers may hold different numbers of traces;
* FieldRecord and EnergySourcePoint = shot label + 1 (labels that are not distinct
  integers 0..2**31-2 are not kept: a warning, and positions 0..n-1 instead), so
  :func:`read_shots` gives our files' labels back; TraceNumber = receiver + 1;
  TRACE_SEQUENCE_LINE/FILE count traces from 1; offset = round(receiver_x - source_x)
  (3-D: the rounded horizontal source-receiver distance);
* SourceX, GroupX: x in m, SourceY, GroupY: y in m (0 for a 2-D survey), all with
  SourceGroupScalar; SourceDepth: source_z (m, depth below the surface, positive
  down), ReceiverGroupElevation: -receiver_z (an elevation is positive up), both
  with ElevationScalar. Each scalar is the
  smallest power of ten that stores every value exactly (37.5 m -> -10);
* sample interval (binary and trace headers): dt in whole microseconds;
* textual header: ``units=.. f0=.. Hz dt=.. s`` written as exact decimals; when
  read back they give attrs "units", "f0" and "dt" (``dt=`` wins over the
  microsecond field, which it must agree with to 0.5 µs); ``survey=3-D`` for a 3-D
  survey, so that one whose y is constant still reads back with y coords;
  ``source=wavelet`` or ``source=ricker``;
* a user wavelet (attrs "wavelet"): in an extended textual header stanza, exact
  (:mod:`devito_crfwi.io.wavelet_stanza`); a Ricker is stated by ``f0=`` alone;
* samples: 4-byte IEEE float, big-endian. Over 65 535 samples per trace the file is
  SEG-Y rev 2: the 2-byte sample counts hold 0 and the binary header's extended count
  (bytes 3269-3272) the number, as segyio reads it. Other attrs and coords are not
  stored: :func:`write_shots` warns, naming them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import segyio
import xarray as xr

from .atomic import check_target
from .axes import axis_values
from .errors import SegyError
from .headers import (
    INT32_MAX,
    MODEL_TITLE,
    MODEL_TITLE_3D,
    SHOTS_TITLE,
    apply_scalar,
    choose_scalar,
    float_field,
    gather_structure,
    make_textual_header,
    parse_text_fields,
    scale_to_int,
    text_title,
)
from .schema import SHOT_DIMS, check_shots
from .segy_file import INTERVAL_MAX, create_segy, open_segy, trace_sample_count
from .traces import mask_dead_traces as mask_dead
from .traces import missing_traces
from .warn import warn
from .wavelet_stanza import WAVELET_STANZA, read_wavelet_stanza, wavelet_records

__all__ = ["read_shots", "write_shots"]

_TF = segyio.TraceField
_BF = segyio.BinField
_DEFAULT_UNITS = "a.u."
#: The attrs that write_shots stores (the textual header and the wavelet stanza).
_KEPT_ATTRS = ("dt", "units", "f0", "wavelet")
_POSITION_COORDS = tuple(f"{kind}_{axis}" for kind in ("source", "receiver") for axis in "xyz")


def _check_text_token(value: str, name: str) -> str:
    if not value or not value.isascii() or any(c.isspace() or c in ",;" for c in value):
        raise ValueError(
            f"attrs[{name!r}] must be a short ASCII word without spaces, commas or semicolons "
            f"to fit the textual header, got {value!r}"
        )
    return value


def _dt_microseconds(dt: float) -> int:
    micro = dt * 1e6
    rounded = round(micro)
    if abs(micro - rounded) > 1e-9 * max(micro, 1.0) or not 1 <= rounded <= INTERVAL_MAX:
        raise ValueError(
            f"dt = {dt!r} s is not a whole number of microseconds between 1 and {INTERVAL_MAX}; "
            "SEG-Y stores the sample interval in a 2-byte µs field (segyio reads it as signed): "
            "resample the gathers first"
        )
    return int(rounded)


def _field_records(da: xr.DataArray, path: Path) -> np.ndarray:
    """FieldRecord (shot,) of each gather: its shot label + 1, or, with a warning when
    the labels are not distinct integers 0..INT32_MAX - 1, its position + 1."""
    n_shots = da.sizes["shot"]
    labels = np.asarray(da["shot"].values) if "shot" in da.coords else np.arange(n_shots)
    if (np.issubdtype(labels.dtype, np.integer) and np.unique(labels).size == n_shots
            and labels.min() >= 0 and labels.max() < INT32_MAX):
        return labels.astype(np.int64) + 1
    shown = ", ".join(map(repr, labels[:4].tolist())) + (", ..." if n_shots > 4 else "")
    warn(f"{path}: the 'shot' labels ({shown}) are not distinct integers 0..{INT32_MAX - 1}, "
         "so FieldRecord cannot hold them: it holds the positions 1..n and read_shots will "
         "give shot = 0..n-1")
    return np.arange(1, n_shots + 1)


def _warn_unkept(da: xr.DataArray, path: Path) -> None:
    """Warn, naming them, about the attrs, coords and name that SEG-Y does not keep."""
    lost = [f"attrs[{key!r}]" for key in da.attrs if key not in _KEPT_ATTRS]
    lost += [f"coord {name!r}" for name in da.coords
             if name not in ("shot", "time", *_POSITION_COORDS)]
    if da.name is not None:
        lost.append(f"name {da.name!r}")
    if lost:
        warn(f"{path}: {', '.join(lost)} are not stored in SEG-Y (write_shots keeps the "
             f"samples, positions, shot labels and attrs {', '.join(_KEPT_ATTRS)}): "
             "read_shots will not give them back")


def write_shots(da: xr.DataArray, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write shot gathers of a 2-D or 3-D survey to SEG-Y (IEEE float32, big-endian), atomically.

    The header convention is described in :mod:`devito_crfwi.io.segy_shots`.
    :func:`read_shots` gives back an identical DataArray (values, coords, shot labels,
    attrs "dt", "units", "f0", "wavelet") when the time axis is ``dt * arange(nt)``.
    A user wavelet goes into an extended textual header stanza (exact); a Ricker source is
    stated by "f0" alone.

    Parameters
    ----------
    da : xarray.DataArray, dims ("shot", "time", "receiver")
        Gathers as returned by ``devito_crfwi.simulate`` (2-D or 3-D): coords "time" (s, from 0,
        regular, dt a whole number of µs up to 32 767), "source_x", "source_z"
        (("shot",), m), "receiver_x", "receiver_z" (("receiver",) or
        ("shot", "receiver"), m), for a 3-D survey also "source_y" and "receiver_y"
        (m, same dims as their x); attrs "dt" (s, optional, must match the time
        axis), "units" (optional, default "a.u."), "f0" (Hz, optional), "wavelet"
        ((time,), the source wavelet when not a Ricker of f0, optional). Shot labels
        (coord "shot") are kept when they are distinct integers from 0. Finite values,
        stored as float32, but for missing traces (all NaN, with NaN receiver positions),
        which are left out of the file. Not modified.
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
        Wrong dims, missing coords, NaN or Inf, a time axis that does not start at
        0 or whose dt is not a whole number of microseconds.

    Warns
    -----
    UserWarning
        When a coordinate cannot be stored exactly with a 0.1 mm scalar (it is
        rounded), when the shot labels cannot be kept (not distinct integers from 0),
        and naming any other attrs, coords or name (not stored).
    """
    dt = check_shots(da, "da", where="write_shots")
    path = check_target(path, overwrite=overwrite)
    n_shots, nt, n_rec = da.shape
    values = np.asarray(da.values, dtype=np.float32)
    dt_us = _dt_microseconds(dt)
    units = _check_text_token(str(da.attrs.get("units", _DEFAULT_UNITS)), "units")
    f0 = None if da.attrs.get("f0") is None else float(da.attrs["f0"])
    wavelet = da.attrs.get("wavelet")
    field_record = _field_records(da, path)
    _warn_unkept(da, path)
    lateral = "xy" if "source_y" in da.coords else "x"  # check_shots: then receiver_y too
    source, receiver = (
        {axis: np.broadcast_to(np.asarray(da[f"{kind}_{axis}"].values, dtype=np.float64), shape)
         for axis in (*lateral, "z")}
        for kind, shape in (("source", (n_shots,)), ("receiver", (n_shots, n_rec)))
    )
    if "y" not in lateral:  # SourceY and GroupY stay 0, as in files written before 3-D
        source["y"], receiver["y"] = np.zeros(n_shots), np.zeros((n_shots, n_rec))
    # Missing traces are not written: their NaN positions become 0, never stored.
    live = ~missing_traces(values)
    trace_index = np.cumsum(live.ravel()).reshape(live.shape) - 1
    receiver = {axis: np.where(live, positions, 0.0) for axis, positions in receiver.items()}

    xy_scalar, xy_exact = choose_scalar(np.concatenate(
        [source["x"], source["y"], receiver["x"].ravel(), receiver["y"].ravel()]))
    z_scalar, z_exact = choose_scalar(np.concatenate([source["z"], receiver["z"].ravel()]))
    if not (xy_exact and z_exact):
        warn(
            f"{path}: some source/receiver coordinates are not multiples of 0.1 mm and are "
            f"rounded in the trace headers (scalars {xy_scalar}, {z_scalar})"
        )
    sx, sy = (scale_to_int(source[axis], xy_scalar) for axis in "xy")
    gx, gy = (scale_to_int(receiver[axis], xy_scalar) for axis in "xy")
    sz = scale_to_int(source["z"], z_scalar)
    gz = scale_to_int(-receiver["z"], z_scalar)
    if "y" in lateral:  # SEG-Y offset: the source-receiver distance, unsigned off a line
        distance = np.hypot(receiver["x"] - source["x"][:, None],
                            receiver["y"] - source["y"][:, None])
    else:
        distance = receiver["x"] - source["x"][:, None]
    offset = np.clip(np.rint(distance), -(2**31) + 1, 2**31 - 1).astype(np.int64)

    if "y" in lateral:
        positions = [
            "survey=3-D, offset = rounded horizontal source-receiver distance in m.",
            f"SourceX/Y, GroupX/Y: x, y in m with SourceGroupScalar={xy_scalar}.",
        ]
    else:
        positions = [f"SourceX, GroupX: x in m with SourceGroupScalar={xy_scalar}."]
    lines = [
        f"{SHOTS_TITLE}, dims (shot, time, receiver)",
        f"units={units} dt={dt!r} s" + (f" f0={f0!r} Hz" if f0 is not None else ""),
        f"n_shots={n_shots} n_receivers={n_rec} nt={nt}",
        "Sample interval: dt in microseconds. FieldRecord = shot + 1 (shot label).",
        *positions,
        "SourceDepth: source z in m (positive down); ReceiverGroupElevation:",
        f"-receiver z in m; both with ElevationScalar={z_scalar}.",
        "Samples: 4-byte IEEE float.",
    ]
    if wavelet is not None:
        lines.append(f"source=wavelet in {WAVELET_STANZA}")
    elif f0 is not None:
        lines.append("source=ricker of f0")
    extended = () if wavelet is None else wavelet_records(wavelet, dt)
    binary = {_BF.Traces: n_rec, _BF.EnsembleFold: n_rec, _BF.SortingCode: 1}
    with create_segy(path, text=make_textual_header(lines), n_traces=int(live.sum()),
                     n_samples=nt, interval=dt_us, overwrite=overwrite, binary=binary,
                     extended=extended) as out:
        for s in range(n_shots):
            gather = np.ascontiguousarray(values[s].T)  # (receiver, time)
            for r in np.flatnonzero(live[s]):
                i = int(trace_index[s, r])
                out.header[i] = {
                    _TF.TRACE_SEQUENCE_LINE: i + 1,
                    _TF.TRACE_SEQUENCE_FILE: i + 1,
                    _TF.FieldRecord: int(field_record[s]),
                    _TF.TraceNumber: r + 1,
                    _TF.EnergySourcePoint: int(field_record[s]),
                    _TF.TraceIdentificationCode: 1,
                    _TF.offset: int(offset[s, r]),
                    _TF.ReceiverGroupElevation: int(gz[s, r]),
                    _TF.SourceDepth: int(sz[s]),
                    _TF.ElevationScalar: z_scalar,
                    _TF.SourceGroupScalar: xy_scalar,
                    _TF.SourceX: int(sx[s]),
                    _TF.SourceY: int(sy[s]),
                    _TF.GroupX: int(gx[s, r]),
                    _TF.GroupY: int(gy[s, r]),
                    _TF.CoordinateUnits: 1,
                    _TF.TRACE_SAMPLE_COUNT: trace_sample_count(nt),
                    _TF.TRACE_SAMPLE_INTERVAL: dt_us,
                }
                out.trace[i] = gather[r]
    return path


def _time_step(
    path: Path, layout_interval: int, trace_intervals: np.ndarray, text_dt: float | None
) -> float:
    """dt in s: textual ``dt=`` (checked against the µs field), else the µs field."""
    trace_intervals = trace_intervals.astype(np.int64) & 0xFFFF  # stored unsigned
    nonzero = np.unique(trace_intervals[trace_intervals != 0])
    if nonzero.size > 1 or (layout_interval and nonzero.size and nonzero[0] != layout_interval):
        raise SegyError(
            path,
            f"inconsistent sample intervals: binary header {layout_interval} µs, trace headers "
            f"{', '.join(str(v) for v in nonzero[:5])} µs",
        )
    micro = layout_interval or (int(nonzero[0]) if nonzero.size else 0)
    if text_dt is not None and text_dt > 0:
        if micro and abs(text_dt * 1e6 - micro) > 0.5:
            raise SegyError(
                path,
                f"the textual header says dt={text_dt!r} s but the sample interval is {micro} µs",
            )
        return text_dt
    if micro == 0:
        raise SegyError(
            path,
            "the sample interval is 0 in the binary and trace headers, so there is no time axis",
        )
    return micro / 1e6


def _refuse_models(path: Path, text: str, field_record: np.ndarray, sx: np.ndarray,
                   sy: np.ndarray, gx: np.ndarray, gy: np.ndarray, offset: np.ndarray) -> None:
    """Raise :class:`SegyError` when the traces are a velocity model, not shot gathers."""
    title = text_title(text)
    if title.startswith((MODEL_TITLE, MODEL_TITLE_3D)):
        problem = f"its textual header says {title.split(',')[0]!r}"
    elif not field_record.any() and gather_structure(text, field_record, sx, sy, gx, gy,
                                                     offset) is None:
        problem = ("one trace per x position and no shot/offset structure: FieldRecord is 0 and "
                   "no source is recorded at several receiver positions")
    else:
        return
    raise SegyError(path, f"looks like a velocity model, not shot gathers ({problem})",
                    "read it with read_segy")


def _shot_labels(text: str, field_record: np.ndarray) -> np.ndarray:
    """Labels (shot,) of gathers whose first traces have FieldRecord ``field_record``: for
    our files, FieldRecord - 1 (the labels written); else, or when those are not distinct
    labels from 0, the positions 0..n-1."""
    labels = field_record.astype(np.int64) - 1
    if (text_title(text).startswith(SHOTS_TITLE) and labels.min() >= 0
            and np.unique(labels).size == labels.size):
        return labels
    return np.arange(labels.size)


def _recorded_wavelet(path: Path, extended: list[str], fields: dict[str, str], dt: float,
                      nt: int) -> np.ndarray | None:
    """The wavelet stanza's samples (nt,), or None; warns when the textual header says
    ``source=wavelet`` but the stanza is gone (a copy that dropped extended headers)."""
    wavelet = read_wavelet_stanza(path, extended, dt, nt)
    if wavelet is None and fields.get("source") == "wavelet":
        warn(f"{path}: the textual header says source=wavelet but the file holds no "
             f"{WAVELET_STANZA} stanza (were its extended textual headers dropped?): the "
             "gathers come back without their wavelet; give Survey.from_shots wavelet=")
    return wavelet


def read_shots(path: str | os.PathLike[str], *, mask_dead_traces: bool = False
               ) -> xr.DataArray:
    """Read shot gathers from SEG-Y.

    Traces are grouped into gathers by field record and source position
    (FieldRecord, SourceX, SourceY, SourceDepth), gathers in order of first
    appearance and traces within a gather in file order. Gathers may hold different
    numbers of traces (variable acquisition): the array is padded to the largest with
    missing traces, NaN samples and NaN receiver positions (see
    :mod:`~devito_crfwi.io.traces`), after each gather's own traces (in a file of
    :func:`write_shots`, where ``TraceNumber`` says). Any sample format segyio
    decodes, either byte order, extended textual headers, SEG-Y rev 2, Seismic Unix
    files and 3-D pre-stack files (one gather per source position) are accepted.

    Parameters
    ----------
    path : str or os.PathLike
        SEG-Y file, for example one written by :func:`write_shots`.
    mask_dead_traces : bool
        Read all-zero traces (dead channels) as missing, so that misfits ignore them
        (:func:`~devito_crfwi.io.traces.mask_dead_traces`).

    Returns
    -------
    xarray.DataArray, dims ("shot", "time", "receiver"), float32
        Coords "shot" (int: for files of :func:`write_shots`, the labels written, i.e.
        FieldRecord - 1; for other files the positions 0..n-1), "time" (s,
        ``dt * arange(nt)``), "source_x",
        "source_z" (("shot",), m), "receiver_x", "receiver_z" (("receiver",) when all
        gathers share the receiver positions, else ("shot", "receiver"), m), and
        "source_y", "receiver_y" alike when the survey is 3-D: the textual header says
        ``survey=3-D`` or SourceY or GroupY vary (a line at constant y stays 2-D).
        Attrs "dt" (s), "units" (textual ``units=``, else "a.u."), "f0" (Hz, only
        when the textual header gives ``f0=``) and "wavelet" ((time,), float64, only when
        an extended textual header holds the wavelet stanza of :func:`write_shots`).
        Depths: source_z = SourceDepth, receiver_z = -ReceiverGroupElevation (scaled by
        ElevationScalar).

    Raises
    ------
    SegyError
        Unreadable or malformed file, no sample interval, NaN/Inf samples, a velocity
        model (written by :func:`write_segy`, or FieldRecord 0 with one trace per source
        position: read it with :func:`read_segy`). A wavelet stanza that is malformed
        or on another time axis.

    Warns
    -----
    UserWarning
        Trace headers whose sample count disagrees with the binary header (which wins,
        as in segyio); a textual header that says ``source=wavelet`` without the stanza.
    """
    with open_segy(path) as (handle, layout):
        path, text = layout.path, layout.text
        names = ("FieldRecord", "SourceX", "SourceY", "SourceDepth", "GroupX", "GroupY")
        names += ("ReceiverGroupElevation", "SourceGroupScalar", "ElevationScalar")
        names += ("TRACE_SAMPLE_INTERVAL", "offset", "TraceNumber")
        headers = {name: handle.attributes(getattr(_TF, name))[:] for name in names}
        raw = handle.trace.raw[:].reshape(layout.n_traces, layout.n_samples)
        extended = [bytes(handle.text[k]).decode("ascii", errors="replace")
                    for k in range(1, layout.n_extended_headers + 1)]
    fields = parse_text_fields(text)
    dt = _time_step(
        path, layout.sample_interval, headers["TRACE_SAMPLE_INTERVAL"], float_field(fields, "dt")
    )
    data = raw.astype(np.float32, copy=False)
    bad = ~np.isfinite(data)
    if bad.any():
        trace = int(np.flatnonzero(bad.any(axis=1))[0])
        raise SegyError(
            path, f"{int(bad.sum())} samples are NaN or Inf (first in trace {trace + 1})"
        )

    xy_scalar = headers["SourceGroupScalar"]
    z_scalar = headers["ElevationScalar"]
    sx = apply_scalar(headers["SourceX"], xy_scalar)
    sy = apply_scalar(headers["SourceY"], xy_scalar)
    sz = apply_scalar(headers["SourceDepth"], z_scalar)
    gx = apply_scalar(headers["GroupX"], xy_scalar)
    gy = apply_scalar(headers["GroupY"], xy_scalar)
    gz = 0.0 - apply_scalar(headers["ReceiverGroupElevation"], z_scalar)  # +0.0, not -0.0
    _refuse_models(path, text, headers["FieldRecord"], sx, sy, gx, gy, headers["offset"])
    # A line at constant y (often a real northing) stays 2-D, as before 3-D surveys.
    lateral = "xy" if fields.get("survey") == "3-D" or np.ptp(sy) or np.ptp(gy) else "x"

    keys = np.stack([headers["FieldRecord"].astype(np.float64), sx, sy, sz], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    gather_of_trace = rank[inverse.ravel()]
    slot, n_rec = _receiver_slots(gather_of_trace, headers["TraceNumber"], text, fields)
    gathers = _padded(data, gather_of_trace, slot, n_rec).transpose(0, 2, 1)
    heads = np.sort(first)  # each gather's first trace
    source = {"x": sx[heads], "y": sy[heads], "z": sz[heads]}
    receiver = {axis: _padded(trace_values, gather_of_trace, slot, n_rec)
                for axis, trace_values in (("x", gx), ("y", gy), ("z", gz))}
    axes = (*lateral, "z")
    shared = all(np.array_equal(row, receiver[axis][0], equal_nan=True)
                 for axis in axes for row in receiver[axis])
    receiver_dims = ("receiver",) if shared else ("shot", "receiver")
    attrs: dict[str, object] = {"dt": dt, "units": fields.get("units", _DEFAULT_UNITS)}
    f0 = float_field(fields, "f0")
    if f0 is not None:
        attrs["f0"] = f0
    wavelet = _recorded_wavelet(path, extended, fields, dt, layout.n_samples)
    if wavelet is not None:
        attrs["wavelet"] = wavelet
    gathers = xr.DataArray(
        np.ascontiguousarray(gathers),
        dims=SHOT_DIMS,
        coords={
            "shot": _shot_labels(text, headers["FieldRecord"][heads]),
            "time": axis_values(0.0, dt, layout.n_samples),
            **{f"source_{axis}": ("shot", source[axis]) for axis in axes},
            **{f"receiver_{axis}": (receiver_dims, receiver[axis][0] if shared else receiver[axis])
               for axis in axes},
        },
        attrs=attrs,
    )
    return mask_dead(gathers) if mask_dead_traces else gathers


def _receiver_slots(gather_of_trace: np.ndarray, trace_number: np.ndarray, text: str,
                    fields: dict[str, str]) -> tuple[np.ndarray, int]:
    """Each trace's receiver index in its gather, and the receiver count of the padded array.

    Files written by :func:`write_shots` put trace ``TraceNumber - 1`` in ``n_receivers``
    slots (so its missing traces come back where they were); other files fill each gather
    in file order, its missing traces last, the count being the largest gather's.
    """
    n_rec = fields.get("n_receivers", "")
    if text_title(text).startswith(SHOTS_TITLE) and n_rec.isdigit():
        slot = trace_number.astype(np.int64) - 1
        pairs = gather_of_trace * int(n_rec) + slot
        if ((slot >= 0) & (slot < int(n_rec))).all() and np.unique(pairs).size == slot.size:
            return slot, int(n_rec)
    counts = np.bincount(gather_of_trace)
    order = np.argsort(gather_of_trace, kind="stable")
    slot = np.empty(gather_of_trace.size, dtype=np.int64)
    slot[order] = np.arange(gather_of_trace.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return slot, int(counts.max())


def _padded(values: np.ndarray, gather: np.ndarray, slot: np.ndarray, n_rec: int) -> np.ndarray:
    """Per-trace ``values`` (trace, ...) placed at (gather, slot): (shot, receiver, ...), NaN
    where a gather has no trace."""
    out = np.full((int(gather.max()) + 1, n_rec, *values.shape[1:]), np.nan, dtype=values.dtype)
    out[gather, slot] = values
    return out
