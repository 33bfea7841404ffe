"""The package's two data types and their one validator each.

* A velocity model is an ``xr.DataArray`` with dims :data:`MODEL_DIMS` ("x", "z"), depth
  increasing along z, regular increasing coords "x" and "z" in m and finite positive
  values in m/s: :func:`check_model`.
* Shot gathers are an ``xr.DataArray`` with dims :data:`SHOT_DIMS`
  ("shot", "time", "receiver"), a time axis in s from 0 and source/receiver coords in m:
  :func:`check_shots`.

Every public entry point that takes one of them (``simulate``, ``Survey.surface``,
``WaveOperator``, ``CRFWIProblem``, the initial-model helpers, the SEG-Y writers...) calls
these, so a bad input gets the same message wherever it is passed. numpy and xarray only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import xarray as xr

from .axes import regular_axis, rounding_rtol
from .traces import missing_traces
from .units import KMS_THRESHOLD, MAX_VELOCITY, VELOCITY_UNITS

__all__ = [
    "MODEL_DIMS",
    "MODEL_DIMS_3D",
    "MODEL_UNITS",
    "SHOT_DIMS",
    "CheckedModel",
    "check_finite",
    "check_gather_values",
    "check_model",
    "check_same_grid",
    "check_shots",
    "check_velocities",
    "locate_sample",
    "wavelet_difference",
]

#: Dims of a velocity model, in this order: x across, z depth (increasing down).
MODEL_DIMS = ("x", "z")
#: Dims of a 3-D velocity model: x and y across, z depth (increasing down).
MODEL_DIMS_3D = ("x", "y", "z")
#: Dims of shot gathers, in this order.
SHOT_DIMS = ("shot", "time", "receiver")
#: Spellings of ``attrs["units"]`` accepted for a model in m/s.
MODEL_UNITS = ("m/s", "m s-1")
#: Position coords of shot gathers (m) and the dims each may have.
_POSITION_DIMS = {
    "source_x": (("shot",),),
    "source_z": (("shot",),),
    "receiver_x": (("receiver",), ("shot", "receiver")),
    "receiver_z": (("receiver",), ("shot", "receiver")),
}
#: The position coords gathers of a 3-D survey have as well (both or neither).
_POSITION_DIMS_3D = {"source_y": (("shot",),), "receiver_y": (("receiver",), ("shot", "receiver"))}
_DT_RTOL = 1e-9
# Coordinates agree when within this fraction of the spacing: float32 coords of a 10 km
# model are still accepted, a grid shifted by a 10-thousandth of a cell is not.
_GRID_RTOL = 1e-4


class CheckedModel(NamedTuple):
    """What :func:`check_model` found: the values and the regular grid they lie on."""

    values: np.ndarray
    """(x, z), m/s: the model's values (not copied)."""
    x: np.ndarray
    """(x,), m, float64."""
    z: np.ndarray
    """(z,), m, float64."""
    origin: tuple[float, ...]
    """(x0, z0) or (x0, y0, z0), m."""
    spacing: tuple[float, ...]
    """(dx, dz) or (dx, dy, dz), m, positive."""
    y: np.ndarray | None = None
    """(y,), m, float64, of a 3-D model (None in 2-D); origin and spacing then have 3 items."""

    @property
    def shape(self) -> tuple[int, ...]:
        """(nx, nz) or (nx, ny, nz)."""
        return self.values.shape


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


def _at_index(index: tuple[int, ...]) -> str:
    return f"index {index}"


def locate_sample(index: tuple[int, ...]) -> str:
    """Words for the index (shot, time, receiver) of one sample of shot gathers."""
    return f"shot {index[0]}, time index {index[1]}, receiver {index[2]}"


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_finite(values: np.ndarray, name: str, *, where: str | None = None,
                 locate: Callable[[tuple[int, ...]], str] = _at_index) -> np.ndarray:
    """Raise ``ValueError`` unless ``values`` are real numbers, none NaN or Inf.

    ``locate`` turns the index of the first bad value into words for the message
    (default ``"index (i, j)"``). Returns ``values`` as an array (not copied).
    """
    values = np.asarray(values)
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{_prefix(where)}{name} must hold real numbers, got dtype {values.dtype}")
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{_prefix(where)}{name} holds {int(bad.sum())} NaN or Inf values "
                         f"(first at {locate(_first(bad))})")
    return values


def check_velocities(values: np.ndarray, name: str = "vp", *, where: str | None = None,
                     locate: Callable[[tuple[int, ...]], str] = _at_index) -> np.ndarray:
    """Raise ``ValueError`` unless ``values`` (any shape, m/s) are finite and positive.

    The numeric part of :func:`check_model`, for plain arrays (the physics checks every
    model it loads with it). Returns ``values`` as an array (not copied).
    """
    values = check_finite(values, name, where=where, locate=locate)
    low = values <= 0
    if low.any():
        first = _first(low)
        raise ValueError(f"{_prefix(where)}{name} must be positive m/s; found "
                         f"{float(values[first]):g} at {locate(first)}")
    return values


def _conversion(name: str, factor: float) -> str:
    return f"convert it: {name} = ({name} * {factor:g}).assign_attrs(units='m/s')"


def _type_name(value) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _not_a_model(vp, name: str, where: str | None) -> TypeError:
    prefix = _prefix(where)
    expected = f"{name} must be an xarray.DataArray (x, z) with coords in m and values in m/s"
    if not hasattr(vp, "shape") or len(vp.shape) != 2:
        return TypeError(f"{prefix}{expected}, got {_type_name(vp)}")
    nx, nz = vp.shape
    values = f"{name}.detach().cpu().numpy()" if type(vp).__module__ == "torch" else name
    return TypeError(
        f"{prefix}{expected}, got a {_type_name(vp)} of shape {tuple(vp.shape)}; wrap it with "
        f"its grid: xr.DataArray({values}, dims=('x', 'z'), coords={{'x': x0 + dx * "
        f"np.arange({nx}), 'z': z0 + dz * np.arange({nz})}}, attrs={{'units': 'm/s'}})"
    )


def _check_dims(da: xr.DataArray, expected: tuple[str, ...], name: str, prefix: str,
                other: tuple[str, ...] | None = None) -> None:
    """Raise unless ``da`` has dims ``expected``; ``other`` names the dims of the other
    dimensionality that would also be accepted, for the message."""
    found = tuple(da.dims)
    if found == expected:
        return
    wanted = expected if other is None else f"{expected} in 3-D or dims {other}"
    message = f"{prefix}{name} must have dims {wanted}, got {found}"
    if set(found) == set(expected):
        message += f" (use {name}.transpose{expected})"
    elif len(found) == len(expected):
        renames = {a: b for a, b in zip(found, expected, strict=True) if a != b}
        message += f"; rename them: {name}.rename({renames})"
    raise ValueError(message)


def check_model(vp, name: str = "vp", *, where: str | None = None) -> CheckedModel:
    """Raise unless ``vp`` is a velocity model; return its values and grid.

    A model is an ``xr.DataArray`` with dims exactly ("x", "z"), or ("x", "y", "z") in
    3-D; numeric coords for each in m, regular, strictly increasing, at least 2 points each
    (without them the grid would silently be 1 m); ``attrs["units"]``, when present,
    "m/s"; finite, positive values in m/s whose maximum is at least 10 m/s (smaller looks
    like km/s) and at most 10 000 m/s (larger looks like ft/s).

    Parameters
    ----------
    vp : xr.DataArray (x, z) or (x, y, z), m/s
    name : str
        The argument's name, for messages.
    where : str, optional
        The public function or class that was called, for messages (``"simulate"``).

    Returns
    -------
    CheckedModel
        ``values`` (not copied), ``x``, ``z`` (m), ``origin`` and ``spacing`` (m).

    Raises
    ------
    TypeError
        ``vp`` is not a DataArray (the message shows how to wrap an array).
    ValueError
        Anything else, naming the dims, coord, attribute or value at fault.
    """
    prefix = _prefix(where)
    if not isinstance(vp, xr.DataArray):
        raise _not_a_model(vp, name, where)
    dims = MODEL_DIMS_3D if vp.ndim == 3 else MODEL_DIMS
    _check_dims(vp, dims, name, prefix, MODEL_DIMS if vp.ndim == 3 else None)
    missing = [dim for dim in dims if dim not in vp.coords]
    if missing:
        assign = ", ".join(f"{d}=d{d} * np.arange({vp.sizes[d]})" for d in missing)
        raise ValueError(
            f"{prefix}{name} needs a coordinate {' and '.join(map(repr, missing))} in m: without "
            f"it the grid spacing is unknown (it would silently be 1 m); assign the grid, "
            f"e.g. {name}.assign_coords({assign})"
        )
    axes = []
    for dim in dims:
        coord = vp[dim].values
        if coord.dtype.kind not in "iuf":
            raise ValueError(f"{prefix}{name}: coordinate {dim!r} must be numbers in m, got "
                             f"dtype {coord.dtype}")
        try:
            axes.append((coord.astype(np.float64), *regular_axis(coord, dim)))
        except ValueError as err:
            raise ValueError(f"{prefix}{name}: {err}") from None
    units = vp.attrs.get("units")
    if units is not None and str(units) not in MODEL_UNITS:
        factor = VELOCITY_UNITS.get(str(units))
        fix = _conversion(name, factor) if factor else "give velocities in m/s"
        raise ValueError(f"{prefix}{name}.attrs['units'] must be 'm/s', got {units!r}; {fix}")

    def locate(index: tuple[int, ...]) -> str:
        return ", ".join(f"{d}={axis[0][i]:g} m" for d, axis, i in zip(dims, axes, index,
                                                                        strict=True))

    values = check_velocities(vp.values, name, where=where, locate=locate)
    vmax = float(values.max())
    if vmax < KMS_THRESHOLD:
        raise ValueError(
            f"{prefix}{name}'s largest velocity is {vmax:g}, which is not a velocity in m/s "
            f"(it looks like km/s); {_conversion(name, VELOCITY_UNITS['km/s'])}"
        )
    if vmax > MAX_VELOCITY:
        at = locate(_first(values == vmax))
        raise ValueError(
            f"{prefix}{name} reaches {vmax:g} m/s (at {at}), above {MAX_VELOCITY:g} m/s, the "
            "largest plausible seismic velocity (ft/s?); "
            f"{_conversion(name, VELOCITY_UNITS['ft/s'])}"
        )
    coords, origin, spacing = (tuple(axis[k] for axis in axes) for k in range(3))
    return CheckedModel(values, coords[0], coords[-1], origin, spacing,
                        coords[1] if len(dims) == 3 else None)


def check_gather_values(values: np.ndarray, name: str = "shots", *,
                        where: str | None = None) -> np.ndarray:
    """Raise unless ``values`` (shot, time, receiver) are finite but for missing traces (NaN
    at every sample, :mod:`.traces`) and every shot has a recorded trace; return the
    missing traces, bool (shot, receiver)."""
    values = np.asarray(values)
    missing = missing_traces(values)
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        raise ValueError(f"{_prefix(where)}{name}: shot {int(empty[0])} has no recorded trace "
                         f"(all NaN; {empty.size} such shot(s)): drop it, e.g. "
                         f"{name}.isel(shot=~{name}.isnull().all(('time', 'receiver')))")
    # A missing trace is NaN throughout; any other NaN (or an Inf) is damage.
    check_finite(np.where(missing[:, None, :], 0.0, values) if missing.any() else values,
                 name, where=where, locate=locate_sample)
    return missing


def check_shots(shots, name: str = "shots", *, where: str | None = None,
                complete: bool = True) -> float | None:
    """Raise unless ``shots`` are shot gathers; return their sample interval dt in s.

    Gathers are an ``xr.DataArray`` with dims exactly ("shot", "time", "receiver") and
    finite values, but for missing traces (NaN at every sample, see :mod:`.traces`; every
    shot needs a recorded one); a coord "time" in s, regular and starting at 0;
    ``attrs["dt"]`` (s), when present, equal to its step; ``attrs["f0"]`` (Hz), when
    present, positive; ``attrs["wavelet"]``, when present, the source wavelet: finite, one
    sample per time step (time,), on the time axis (a Ricker is stated by "f0" alone); coords
    "source_x", "source_z" (shot,) and "receiver_x", "receiver_z" (receiver,) or
    (shot, receiver), in m, finite but where a trace is missing; gathers of a 3-D survey
    also "source_y" and "receiver_y" (both, with the same dims as their x).

    Parameters
    ----------
    shots : xr.DataArray (shot, time, receiver)
    name, where : str
        The argument's name and the public function called, for messages.
    complete : bool
        Require the time and position coords (True) or only check those present (False:
        dt then comes from the time axis or ``attrs["dt"]``, None when neither is there).

    Raises
    ------
    TypeError
        ``shots`` is not a DataArray.
    ValueError
        Anything else, naming the dims, coord, attribute or value at fault.
    """
    prefix = _prefix(where)
    if not isinstance(shots, xr.DataArray):
        raise TypeError(f"{prefix}{name} must be an xarray.DataArray {SHOT_DIMS} (as simulate "
                        f"and read_shots return), got {_type_name(shots)}")
    _check_dims(shots, SHOT_DIMS, name, prefix)
    missing = check_gather_values(shots.values, name, where=where)
    dt = shots.attrs.get("dt")
    if dt is not None:
        dt = float(dt)
        if not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"{prefix}{name}.attrs['dt'] must be a positive interval in s, "
                             f"got {dt!r}")
    if "time" in shots.coords:
        try:
            t0, step = regular_axis(shots["time"].values, "time")
        except ValueError as err:
            raise ValueError(f"{prefix}{name}: {err}") from None
        if t0 != 0.0:
            raise ValueError(f"{prefix}{name}: the time axis must start at 0 s, got {t0!r} s")
        # A float32 axis's step is only as exact as float32 (the values' rounding).
        rtol = _DT_RTOL + rounding_rtol(shots["time"].values)
        if dt is not None and abs(dt - step) > rtol * step:
            raise ValueError(f"{prefix}{name}.attrs['dt'] = {dt!r} s disagrees with the time "
                             f"axis step {step!r} s")
        dt = step if dt is None else dt
    elif complete:
        raise ValueError(f"{prefix}{name} needs a coordinate 'time' in s")
    f0 = shots.attrs.get("f0")
    if f0 is not None and not (np.isfinite(float(f0)) and float(f0) > 0):
        raise ValueError(f"{prefix}{name}.attrs['f0'] must be a positive frequency in Hz, "
                         f"got {f0!r}")
    _check_wavelet_attr(shots, name, prefix)
    y_coords = [coord for coord in _POSITION_DIMS_3D if coord in shots.coords]
    if len(y_coords) == 1:
        other = next(coord for coord in _POSITION_DIMS_3D if coord not in y_coords)
        raise ValueError(f"{prefix}{name} has a coordinate {y_coords[0]!r} but no {other!r}: "
                         "gathers of a 3-D survey need both (m)")
    for coord, allowed in {**_POSITION_DIMS, **_POSITION_DIMS_3D}.items():
        if coord not in shots.coords:
            if complete and coord in _POSITION_DIMS:
                raise ValueError(f"{prefix}{name} needs a coordinate {coord!r} in m")
            continue
        dims = shots[coord].dims
        if dims not in allowed:
            raise ValueError(f"{prefix}{name}: coordinate {coord!r} must have dims "
                             f"{' or '.join(map(str, allowed))}, got {dims}")
        positions = shots[coord].values
        if coord.startswith("receiver") and missing.any():
            # NaN positions are those of missing traces (of every shot, for a shared spread).
            gaps = missing if dims == ("shot", "receiver") else missing.all(axis=0)
            positions = np.where(gaps, 0.0, positions)
        check_finite(positions, f"coordinate {coord!r}", where=where)
    return dt


def _check_wavelet_attr(shots: xr.DataArray, name: str, prefix: str) -> None:
    """Raise unless ``attrs["wavelet"]``, when present, is finite with one sample per time
    step (the source wavelet on the gathers' time axis)."""
    wavelet = shots.attrs.get("wavelet")
    if wavelet is None:
        return
    try:
        samples = np.asarray(wavelet, dtype=np.float64)
    except (TypeError, ValueError):
        samples = None
    nt = shots.sizes["time"]
    if samples is None or samples.shape != (nt,) or not np.all(np.isfinite(samples)):
        got = "not numbers" if samples is None else (
            f"shape {samples.shape}" if samples.shape != (nt,) else "NaN or Inf samples")
        raise ValueError(f"{prefix}{name}.attrs['wavelet'] must be the source wavelet on the "
                         f"time axis: {nt} finite samples, got {got}")


def wavelet_difference(recorded, wavelet) -> float | None:
    """The largest difference between a ``wavelet`` (time,) and the ``recorded`` one (the
    gathers' ``attrs["wavelet"]``), or None when they agree to 1e-6 of the recorded peak
    (float32 copies agree): where they differ, the modelled source is not the recorded one."""
    recorded = np.asarray(recorded, dtype=np.float64)
    gap = float(np.max(np.abs(np.asarray(wavelet, dtype=np.float64) - recorded)))
    return gap if gap > 1e-6 * float(np.max(np.abs(recorded))) else None


def _axis_words(coord: np.ndarray, dim: str) -> str:
    step = f"d{dim}={coord[1] - coord[0]:g} m" if coord.size > 1 else "a single point"
    return f"{dim}0={coord[0]:g} m, {step}"


def check_same_grid(da, model: xr.DataArray, name: str, *, model_name: str = "vp",
                    where: str | None = None) -> np.ndarray:
    """Raise unless ``da`` lies on ``model``'s grid; return its values (not copied).

    A DataArray must have ``model``'s dims in its order and, along every dim where both
    have a coordinate, the same coordinate values (to 1e-4 of the spacing, in m); a dim
    without a coordinate in either is compared by length only, as is a plain array
    (numpy, list), which must have exactly ``model``'s shape.

    Parameters
    ----------
    da : xr.DataArray or array-like
        The array that must share ``model``'s grid (a mask, a true model...).
    model : xr.DataArray
        The reference (x, [y,] z), coords in m.
    name, model_name : str
        The arguments' names, for messages.
    where : str, optional
        The public function or class that was called, for messages.

    Raises
    ------
    ValueError
        Other dims, shape or coordinates: naming the dim, the first differing coordinate
        and both origins and spacings.
    """
    prefix = _prefix(where)
    if isinstance(da, xr.DataArray) and da.dims != model.dims:
        raise ValueError(f"{prefix}{name} must have dims {model.dims} like {model_name}, got "
                         f"{da.dims}")
    values = np.asarray(da)
    if values.shape != model.shape:
        raise ValueError(f"{prefix}{name} must have {model_name}'s shape {model.dims} = "
                         f"{model.shape}, got {values.shape}")
    if not isinstance(da, xr.DataArray):
        return values
    for dim in model.dims:
        if dim not in da.coords or dim not in model.coords:
            continue
        got = np.asarray(da[dim].values, dtype=np.float64)
        want = np.asarray(model[dim].values, dtype=np.float64)
        step = abs(want[-1] - want[0]) / (want.size - 1) if want.size > 1 else 1.0
        differ = ~np.isclose(got, want, rtol=0.0, atol=_GRID_RTOL * step)
        if differ.any():
            i = int(np.argmax(differ))
            raise ValueError(
                f"{prefix}{name} is not on {model_name}'s grid: along {dim!r} coordinate {i} is "
                f"{got[i]:g} m, {model_name}'s {want[i]:g} m ({name}: {_axis_words(got, dim)}; "
                f"{model_name}: {_axis_words(want, dim)}); resample it onto that grid, e.g. "
                f"{name}.interp_like({model_name}, method='nearest')"
            )
    return values
