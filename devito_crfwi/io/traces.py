"""Missing and dead traces of shot gathers (variable acquisition).

Gathers whose shots record on different receivers, or on different numbers of them (a
marine streamer, dropped channels), are stored as one (shot, time, receiver) array padded
to the largest live count. A *missing* trace is NaN at every sample, and its receiver
position coords are NaN too; every other sample is finite. A *dead* trace is recorded but
all zero (a dead channel): :func:`mask_dead_traces` turns dead traces into missing ones so
that the inversion ignores them. numpy and xarray only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["RECEIVER_COORDS", "dead_traces", "mask_dead_traces", "missing_traces"]

#: The receiver position coords of gathers (m), NaN where a trace is missing.
RECEIVER_COORDS = ("receiver_x", "receiver_y", "receiver_z")


def missing_traces(values: np.ndarray) -> np.ndarray:
    """Bool (shot, receiver): the traces of ``values`` (shot, time, receiver) that are NaN at
    every sample. Arrays that cannot hold NaN (not floats) have none."""
    values = np.asarray(values)
    if values.dtype.kind not in "fc" or values.shape[1] == 0:
        return np.zeros((values.shape[0], values.shape[2]), dtype=bool)
    return np.isnan(values).all(axis=1)


def dead_traces(values: np.ndarray) -> np.ndarray:
    """Bool (shot, receiver): the traces of ``values`` (shot, time, receiver) that are exactly
    zero at every sample (missing traces are not dead)."""
    return ~np.any(np.asarray(values) != 0, axis=1) & ~missing_traces(values)


def mask_dead_traces(gathers: xr.DataArray) -> xr.DataArray:
    """``gathers`` (shot, time, receiver) with every all-zero trace made missing: NaN samples
    and NaN receiver positions (receiver coords become (shot, receiver) when a dead trace
    has a position shared by other shots). Returns a new DataArray; gathers without dead
    traces come back unchanged (a copy)."""
    dead = dead_traces(gathers.transpose("shot", "time", "receiver").values)
    out = gathers.copy()
    if not dead.any():
        return out
    out = out.where(~xr.DataArray(dead, dims=("shot", "receiver")))
    for name in RECEIVER_COORDS:
        if name not in out.coords:
            continue
        positions = np.broadcast_to(np.asarray(out[name].values, dtype=np.float64),
                                    dead.shape).copy()
        positions[dead] = np.nan
        out = out.assign_coords({name: (("shot", "receiver"), positions)})
    return out.astype(gathers.dtype)
