"""Checks of :class:`~devito_crfwi.CRFWIProblem`'s data and models: one validator per
argument, each naming the argument, what it expects and what it got (its other options are
resolved in :mod:`.settings`; the observed gathers are checked against the survey by
:func:`~devito_crfwi.physics.gathers.check_gathers`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import xarray as xr

from ..io.schema import check_same_grid


def check_water_mask(water_mask, initial: xr.DataArray) -> np.ndarray | None:
    """The cells (bool, the initial model's shape) held at ``initial``; None: no mask.

    ``True`` detects the water layer (1500 m/s) with
    :func:`~devito_crfwi.initial_models.water_mask`. A DataArray must lie on ``initial``'s
    grid (dims and coords, :func:`~devito_crfwi.io.schema.check_same_grid`); a plain array
    must have its exact shape.
    """
    if water_mask is None or water_mask is False:
        return None
    if water_mask is True:
        from ..initial_models import water_mask as detect

        return np.asarray(detect(initial))
    return check_same_grid(water_mask, initial, "water_mask", model_name="initial",
                           where="CRFWIProblem").astype(bool)


def jsonable(value: Any) -> Any:
    """``value`` reduced to JSON types (for attrs and checkpoint fingerprints)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, torch.dtype):
        return str(value)
    return repr(value)
