"""Raw binary velocity grids -> SEG-Y (the ``convert`` command is :mod:`devito_crfwi.cli.convert`).

A raw grid is ``nx * nz`` numbers with no header, as many public models are
distributed. ``order="xz"`` means the file is a C-order (nx, nz) array: z varies
fastest, one depth column (trace) after the other. ``order="zx"`` means a C-order
(nz, nx) array: x varies fastest, one depth row after the other (the same bytes
as a Fortran-order (nx, nz) array).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .axes import axis_values
from .schema import MODEL_DIMS
from .segy_model import write_segy
from .units import check_units, velocity_to_si

__all__ = ["BYTEORDERS", "DTYPES", "ORDERS", "convert_binary"]

ORDERS = ("xz", "zx")
DTYPES = ("float32", "float64", "int16", "int32", "uint16")
BYTEORDERS = ("little", "big")


def _pair(value: Sequence[float], name: str, kind: type) -> tuple:
    try:
        first, second = (kind(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers, got {value!r}") from None
    return first, second


def _size_hint(actual: int, shape: tuple[int, int], dtype: np.dtype) -> str:
    """Say what the file size could mean when it does not match ``shape``."""
    nx, nz = shape
    hints = []
    if actual % dtype.itemsize == 0:
        count = actual // dtype.itemsize
        if count % nx == 0:
            hints.append(f"with nx={nx} it would be nz={count // nx}")
        if count % nz == 0:
            hints.append(f"with nz={nz} it would be nx={count // nz}")
    for other in ("float32", "float64", "int16"):
        size = np.dtype(other).itemsize
        if other != dtype.name and actual == nx * nz * size:
            hints.append(f"the size fits dtype={other!r}")
    extra = actual - nx * nz * dtype.itemsize
    if extra in (8, 8 * nx, 8 * nz):
        hints.append(f"{extra} extra bytes could be Fortran record markers")
    return ("; " + "; ".join(hints)) if hints else ""


def convert_binary(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    shape: tuple[int, int],
    spacing: tuple[float, float],
    order: str = "xz",
    units: str = "m/s",
    dtype: str = "float32",
    byteorder: str = "little",
    origin: tuple[float, float] = (0.0, 0.0),
    overwrite: bool = False,
) -> xr.DataArray:
    """Convert a headerless binary velocity grid to a SEG-Y model file.

    Parameters
    ----------
    in_path : str or os.PathLike
        Raw file of ``nx * nz`` values.
    out_path : str or os.PathLike
        SEG-Y file to write (see :func:`~devito_crfwi.io.write_segy`).
    shape : (int, int)
        (nx, nz), whatever the storage order.
    spacing : (float, float)
        (dx, dz) in m.
    order : {"xz", "zx"}
        Storage order (see the module docstring): "xz" z fastest, "zx" x fastest.
    units : {"m/s", "km/s", "ft/s"}
        Unit of the stored values; the SEG-Y file is in m/s. "m/s" data whose
        largest value is under 10 are refused (they look like km/s).
    dtype : {"float32", "float64", "int16", "int32", "uint16"}
        Stored number type.
    byteorder : {"little", "big"}
        Stored byte order.
    origin : (float, float)
        (x0, z0) in m.
    overwrite : bool
        Replace an existing ``out_path``.

    Returns
    -------
    xarray.DataArray, dims ("x", "z"), float32, m/s
        The model written.

    Raises
    ------
    ValueError
        Invalid arguments, a file size that does not match ``shape`` and ``dtype``
        (the message says what would fit), non-finite values or the wrong units.
    FileNotFoundError
        ``in_path`` does not exist.
    FileExistsError
        ``out_path`` exists and ``overwrite`` is False.
    """
    nx, nz = _pair(shape, "shape", int)
    dx, dz = _pair(spacing, "spacing", float)
    x0, z0 = _pair(origin, "origin", float)
    if nx < 2 or nz < 2:
        raise ValueError(f"shape must be (nx, nz) with both >= 2, got {shape!r}")
    if not (dx > 0 and dz > 0 and np.isfinite(dx) and np.isfinite(dz)):
        raise ValueError(f"spacing must be two positive numbers of metres, got {spacing!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be 'xz' (z fastest) or 'zx' (x fastest), got {order!r}")
    check_units(units)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if byteorder not in BYTEORDERS:
        raise ValueError(f"byteorder must be 'little' or 'big', got {byteorder!r}")
    in_path = Path(in_path)
    if not in_path.is_file():
        raise FileNotFoundError(f"{in_path}: no such file")
    stored = np.dtype(dtype).newbyteorder("<" if byteorder == "little" else ">")
    actual = in_path.stat().st_size
    expected = nx * nz * stored.itemsize
    if actual != expected:
        raise ValueError(
            f"{in_path} is {actual} bytes, but shape ({nx}, {nz}) of {dtype} needs {expected} "
            f"bytes{_size_hint(actual, (nx, nz), np.dtype(dtype))}"
        )
    raw = np.fromfile(in_path, dtype=stored)
    grid = raw.reshape(nx, nz) if order == "xz" else raw.reshape(nz, nx).T
    if not np.all(np.isfinite(grid)):
        raise ValueError(
            f"{in_path} holds NaN or Inf with dtype={dtype!r}, byteorder={byteorder!r}; "
            "check both (try the other byte order)"
        )
    vmax = float(np.max(np.abs(grid)))
    if vmax > 1e5:
        raise ValueError(
            f"{in_path}: values reach {vmax:g}, not velocities; check dtype and byteorder "
            f"(read as {dtype}, {byteorder}-endian)"
        )
    try:
        values = velocity_to_si(grid, units)
    except ValueError as err:
        raise ValueError(f"{in_path}: {err}") from err
    model = xr.DataArray(
        values,
        dims=MODEL_DIMS,
        coords={"x": axis_values(x0, dx, nx), "z": axis_values(z0, dz, nz)},
        attrs={"units": "m/s"},
    )
    write_segy(model, out_path, overwrite=overwrite)
    return model
