"""``simulate``: synthetic shot gathers as a labelled ``xr.DataArray``."""

from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ..io.schema import SHOT_DIMS, check_model
from ..physics import EngineSettings, Propagator, Survey
from .executors import make_executor


def shots_dataarray(data: np.ndarray, survey: Survey, shots=None) -> xr.DataArray:
    """Label data (shot, time, receiver) with the survey's axes and positions (SI): coords
    shot (the survey's shot labels, by default the indices ``shots``),
    source_x, [source_y,] source_z (shot) and receiver_x, [receiver_y,] receiver_z; attrs
    f0, dt, units and, for a user wavelet (not a Ricker of f0), wavelet (time,). The
    traces of missing receivers become NaN (see :mod:`~devito_crfwi.io.traces`)."""
    idx = np.arange(survey.n_shots) if shots is None else np.asarray(shots)
    live = survey.live_receivers[idx]
    if not live.all():
        data = np.where(live[:, None, :], data, np.nan)
    src = survey.source_positions[idx]
    rec = survey.receiver_positions[idx]
    if survey.fixed_spread:
        rec_dims, rec = ("receiver",), rec[0]
    else:
        rec_dims = ("shot", "receiver")
    axes = "xz" if survey.ndim == 2 else "xyz"
    attrs = {"f0": survey.f0, "dt": survey.dt, "units": "a.u."}
    if survey.wavelet is not None:  # so that write_shots and Survey.from_shots keep it
        attrs["wavelet"] = survey.wavelet.copy()
    return xr.DataArray(
        data.astype(np.float32, copy=False),
        dims=SHOT_DIMS,
        coords={
            "shot": survey.shot_labels[idx],
            "time": survey.time,
            **{f"source_{d}": ("shot", src[:, i]) for i, d in enumerate(axes)},
            **{f"receiver_{d}": (rec_dims, rec[..., i]) for i, d in enumerate(axes)},
        },
        attrs=attrs,
    )


def simulate(vp: xr.DataArray, survey: Survey, *, shots=None, progress: bool | None = None,
             client=None, **engine_options) -> xr.DataArray:
    """Model shot gathers for velocity ``vp`` (x, z) or (x, y, z), m/s, with Devito.

    Parameters
    ----------
    vp : xr.DataArray (x, z) or (x, y, z), m/s, coords in m
        Checked with :func:`~devito_crfwi.io.schema.check_model`.
    survey : Survey
    shots : sequence of int, optional
        A subset of shot indices (default all): Python or numpy integers, no bools or floats
        (see :meth:`~devito_crfwi.physics.Survey.shot_indices`).
    progress : bool, optional
        A progress bar over shots (default: when there are more than 4 shots; serial only).
    client : dask.distributed.Client, optional
        Model the shots in parallel on this Dask cluster (one batch per worker thread).
    **engine_options
        ``space_order``, ``boundary_width``, ``free_surface``, ``dt`` ... (see
        :class:`~devito_crfwi.physics.EngineSettings`).

    Returns
    -------
    xr.DataArray (shot, time, receiver)
        Pressure, with the wavelet's polarity (see :class:`~devito_crfwi.physics.Survey`);
        float32; NaN traces at the survey's missing receivers (variable acquisition);
        coords shot (the survey's :attr:`~devito_crfwi.physics.Survey.shot_labels`
        of the shots modelled: by default their indices), time (s),
        source_x/[source_y/]source_z (shot), receiver_x/[receiver_y/]receiver_z;
        attrs f0 (Hz), dt (s), units and, when the survey has a user wavelet, wavelet
        (time,), so that :func:`~devito_crfwi.io.write_shots` and
        :meth:`~devito_crfwi.physics.Survey.from_shots` keep the source.
    """
    values = check_model(vp, where="simulate").values
    idx = survey.shot_indices(shots, where="simulate")
    settings = EngineSettings.create(**engine_options)
    propagator = Propagator.from_model(vp, survey, settings)
    if client is not None:
        executor = make_executor(propagator, client, model=vp, settings=settings)
        data, _ = executor.forward(values, idx, False)
        return shots_dataarray(data, survey, idx)
    if progress is None:
        progress = len(idx) > 4
    data = np.stack([
        propagator.forward(values, [shot])[0]
        for shot in tqdm(idx, desc="simulate", unit="shot", disable=not progress)
    ])
    return shots_dataarray(data, survey, idx)
