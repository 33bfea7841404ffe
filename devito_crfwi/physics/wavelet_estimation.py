"""The least-squares source signature of observed gathers, given a velocity model.

Modelled data are linear and time-invariant in the source: per frequency f, each trace is
``D(f) = G(f) W(f)`` with ``G`` the model's impulse response. The signature that fits
the observed traces best in least squares is (Pratt 1999, Geophysics 64(3), 888-901,
eq. 17)::

    W(f) = sum conj(G) D / sum |G|^2            (sums over traces)

A band-limited impulse cannot be injected through the recording axis, so ``G`` is read
through a reference wavelet ``r``: the engine models ``D_r = G R`` and::

    W(f) = R(f) sum conj(D_r) D / (sum |D_r|^2 + eps),   eps = stabilisation * max_f sum |D_r|^2

which is Pratt's estimate wherever ``|R|^2 sum |G|^2 >> eps`` and falls to zero where the
reference has no energy: ``R`` is also the band's taper. The reference is a Ricker peaked at
half the survey's highest frequency (so its spectrum is still ~20% of its peak at that
frequency, and above 1% of it down to a tenth of a Ricker survey's f0), kept below a
third of the recording's Nyquist frequency so that it does not alias.

Both the observed and the reference data went through the same linear chain (the source
resampled from the recording axis to the engine's step, the receivers' traces back), so
the chain cancels in the ratio; the time origin is the recording axis' 0 for both. The
traces stop at ``t_max``: transforms are zero-padded to at least twice the trace length,
and what the truncation leaves is measured in the tests (relative L2 error 2e-4 for a
minimum-phase wavelet and 2e-3 for phase-rotated Rickers, with the true model).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.fft

from ..io.schema import check_model
from .gathers import check_gathers
from .propagator import Propagator
from .settings import EngineSettings
from .survey import Survey
from .wavelet import RICKER_TOP_FACTOR, ricker

__all__ = ["STABILISATION", "estimate_wavelet", "least_squares_wavelet", "reference_wavelet"]

STABILISATION = 1e-6
"""Default ``eps`` of the estimate, relative to the peak over frequency of the reference
data's power: measured on noise-free data, 1e-8 to 1e-6 give the same wavelets (to 1e-4),
1e-3 doubles the error of a phase-rotated Ricker (1% to 2%). Raise it for noisy data."""


def reference_wavelet(survey: Survey) -> np.ndarray:
    """The reference source (time,) on ``survey``'s recording axis: a Ricker peaked at half
    the survey's highest frequency (Hz), at most a third of the Nyquist frequency."""
    nyquist = 0.5 / survey.dt
    peak = min(0.5 * survey.highest_frequency(), nyquist / RICKER_TOP_FACTOR)
    return ricker(peak, survey.time)


def least_squares_wavelet(observed: np.ndarray, modelled: np.ndarray, reference: np.ndarray,
                          *, per_shot: bool = False,
                          stabilisation: float = STABILISATION) -> np.ndarray:
    """The least-squares signature of ``observed``, given the same gathers ``modelled`` with
    the source ``reference`` (see the module's docstring).

    Parameters
    ----------
    observed, modelled : ndarray (shot, time, receiver)
        Observed gathers, and those modelled with the source ``reference``, on one axis.
    reference : ndarray (time,)
        The modelled data's source on that axis.
    per_shot : bool
        One signature per shot (sums over its receivers) instead of one for all.
    stabilisation : float
        ``eps`` relative to the peak over frequency of ``sum |D_r|^2`` (of each shot's, per
        shot).

    Returns
    -------
    ndarray (time,), or (shot, time) per shot
        On the same time axis as the data, float64.
    """
    nt = len(reference)
    n = scipy.fft.next_fast_len(2 * nt)  # linear, not circular, convolution within the traces
    obs = np.fft.rfft(np.asarray(observed, dtype=np.float64), n, axis=1)
    ref = np.fft.rfft(np.asarray(modelled, dtype=np.float64), n, axis=1)
    over = 2 if per_shot else (0, 2)  # receivers, or shots and receivers
    num = np.sum(np.conj(ref) * obs, axis=over)  # (shot, freq) or (freq,)
    power = np.sum(np.abs(ref) ** 2, axis=over)
    eps = stabilisation * power.max(axis=-1, keepdims=True)
    if not np.all(eps > 0):
        raise ValueError("the modelled reference data are all zero: the receivers record "
                         "nothing of the source (check the survey and the model)")
    spectrum = np.fft.rfft(reference, n) * num / (power + eps)
    return np.fft.irfft(spectrum, n, axis=-1)[..., :nt]


def estimate_wavelet(observed, vp, survey: Survey, *, per_shot: bool = False,
                     stabilisation: float = STABILISATION, **engine_options) -> np.ndarray:
    """The least-squares source signature of ``observed`` in the model ``vp``.

    The engine models the survey's shots in ``vp`` with a reference wavelet; the frequency
    domain ratio of the observed to those traces, summed over traces, is the signature
    (Pratt 1999; see :mod:`devito_crfwi.physics.wavelet_estimation`). It is only as good as
    the model: on the true model it recovers the source to 2e-4 to 2e-3 (relative L2; 4e-3
    for a source already non-zero at t = 0, in the 3-D test); on a smoothed one its shape
    (correlation 0.996 in the tests) more than its amplitude.

    Parameters
    ----------
    observed : xr.DataArray (shot, time, receiver) or ndarray
        Gathers recorded by ``survey`` (checked as :class:`~devito_crfwi.CRFWIProblem`
        checks them: shots, samples, receivers, dt and, where stored, positions).
    vp : xr.DataArray (x, z) or (x, y, z), m/s
        The model, checked with :func:`~devito_crfwi.io.schema.check_model`.
    survey : Survey
        The acquisition; its wavelet is not used (its band sets the reference's).
    per_shot : bool
        One signature per shot instead of one for all shots.
    stabilisation : float
        Relative ``eps`` of the division (default :data:`STABILISATION`); raise it for
        noisy data.
    **engine_options
        ``space_order``, ``boundary_width``, ``free_surface``, ``vmax``, ``dt`` ... (see
        :class:`~devito_crfwi.physics.EngineSettings`): those that modelled, or will model,
        the data.

    Returns
    -------
    ndarray (time,), or (shot, time) with ``per_shot``
        The signature on the survey's recording axis (``survey.time``, s), float64: pass it
        as ``Survey(..., wavelet=...)`` to model with it.
    """
    where = "estimate_wavelet"
    if not isinstance(survey, Survey):
        raise TypeError(f"{where}: survey must be a devito_crfwi.Survey, got "
                        f"{type(survey).__name__}")
    model = check_model(vp, where=where)
    data, live = check_gathers(observed, survey, where=where, wavelet=False)
    if not isinstance(per_shot, bool):
        raise TypeError(f"{where}: per_shot must be True or False, got {per_shot!r}")
    if isinstance(stabilisation, bool) or not (
            isinstance(stabilisation, int | float) and 0 < stabilisation < 1):
        raise ValueError(f"{where}: stabilisation must be a number in (0, 1), relative to the "
                         f"peak power, got {stabilisation!r}")
    if per_shot:
        dead = np.flatnonzero(~np.any(data, axis=(1, 2)))
        if dead.size:
            raise ValueError(f"{where}: observed shot {int(dead[0])} is all zero "
                             f"({dead.size} shot(s) are): no signature to estimate there; "
                             "leave those shots out of the survey, or use per_shot=False")
    settings = EngineSettings.create(**engine_options)
    reference = reference_wavelet(survey)
    propagator = Propagator.from_model(vp, dataclasses.replace(survey, wavelet=reference),
                                       settings)
    modelled = propagator.forward(model.values)
    if live is not None:  # missing observed traces (zero) must not pull the fit to zero
        modelled = np.where(live[:, None, :], modelled, 0).astype(modelled.dtype)
    return least_squares_wavelet(data, modelled, reference, per_shot=per_shot,
                                 stabilisation=stabilisation)
