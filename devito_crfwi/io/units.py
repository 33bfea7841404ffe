"""Velocity units accepted at the I/O boundary, and their conversion to m/s.

Every model leaves :mod:`devito_crfwi.io` in m/s. Values that look like km/s
(largest magnitude under 10) or ft/s (over 10 000) are never silently taken as m/s;
:func:`devito_crfwi.io.schema.check_model` applies the same two limits to models in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

__all__ = ["VELOCITY_UNITS", "check_units", "velocity_to_si"]

#: Factor that turns a value in the named unit into m/s.
VELOCITY_UNITS: Mapping[str, float] = MappingProxyType({"m/s": 1.0, "km/s": 1000.0, "ft/s": 0.3048})

#: Largest |value| in m/s below which a model is taken to be in km/s.
KMS_THRESHOLD = 10.0
#: Largest plausible seismic velocity in m/s (larger: ft/s, or a double conversion).
MAX_VELOCITY = 10_000.0


def check_units(units: str, *, name: str = "units") -> str:
    """Return ``units`` if it is one of :data:`VELOCITY_UNITS`, else raise ``ValueError``."""
    if units not in VELOCITY_UNITS:
        choices = ", ".join(repr(u) for u in VELOCITY_UNITS)
        raise ValueError(f"{name} must be one of {choices}, got {units!r}")
    return units


def velocity_to_si(values: np.ndarray, units: str) -> np.ndarray:
    """Convert velocities to float32 m/s, refusing values that look like the wrong unit.

    Parameters
    ----------
    values : numpy.ndarray, any shape, any real dtype
        Velocities in ``units``. Not modified.
    units : {"m/s", "km/s", "ft/s"}
        Unit of ``values``.

    Returns
    -------
    numpy.ndarray, same shape, float32
        Velocities in m/s (a new array).

    Raises
    ------
    ValueError
        If ``units`` is unknown; if ``units == "m/s"`` but the largest magnitude is
        under 10 (km/s data: pass ``units="km/s"``) or over 10 000 (ft/s data: pass
        ``units="ft/s"``); or if a conversion gives values above 10 000 m/s (the data
        were probably already in m/s).
    """
    check_units(units)
    as_float = np.asarray(values, dtype=np.float64)
    finite = as_float[np.isfinite(as_float)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 0.0
    if units == "m/s" and vmax < KMS_THRESHOLD:
        raise ValueError(
            f"the largest velocity is {vmax:g}, which is not a velocity in m/s (it looks like "
            f"km/s); pass units='km/s' to convert it"
        )
    if units == "m/s" and vmax > MAX_VELOCITY:
        raise ValueError(
            f"the largest velocity is {vmax:g}, above {MAX_VELOCITY:g} m/s, the largest plausible "
            f"seismic velocity (it looks like ft/s); pass units='ft/s' to convert it"
        )
    converted = as_float * VELOCITY_UNITS[units]
    if units != "m/s" and vmax * VELOCITY_UNITS[units] > MAX_VELOCITY:
        raise ValueError(
            f"converting from {units} gives velocities up to {vmax * VELOCITY_UNITS[units]:g} m/s, "
            f"which is implausible; the values (up to {vmax:g}) are probably already in m/s: "
            f"pass units='m/s'"
        )
    return converted.astype(np.float32)
