"""estimate_wavelet: the least-squares source signature recovers known, non-Ricker sources."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal

import devito_crfwi as dc
from devito_crfwi.physics import ricker
from devito_crfwi.physics.wavelet_estimation import least_squares_wavelet
from tests.helpers import raises_at, rotated_ricker

F0 = 15.0


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def correlation(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(estimate @ truth / np.linalg.norm(estimate) / np.linalg.norm(truth))


def minimum_phase_wavelet(t: np.ndarray) -> np.ndarray:
    """The minimum-phase wavelet of a Ricker's amplitude spectrum (scipy's homomorphic
    method halves the log spectrum of the Ricker's autocorrelation), from 10 ms."""
    w = ricker(F0, t, t0=0.5)
    causal = scipy.signal.minimum_phase(np.convolve(w, w), "homomorphic", n_fft=2**14)
    return np.concatenate([np.zeros(5), causal[:-5]])  # (time,): its last 5 samples are ~0


@pytest.fixture(scope="module")
def survey(layered):
    return dc.Survey.surface(layered, n_shots=2, n_receivers=20, f0=F0, t_max=0.6)


@pytest.fixture(scope="module")
def sources(layered, survey):
    """name -> (true wavelet (time,), its gathers in ``layered``)."""
    out = {}
    for name, make in (("rotated-75", lambda t: rotated_ricker(t, 75.0, F0)),
                       ("minimum-phase", minimum_phase_wavelet)):
        wavelet = make(survey.time)
        out[name] = wavelet, dc.simulate(layered, dataclasses.replace(survey, wavelet=wavelet),
                                         progress=False)
    return out


def test_least_squares_wavelet_inverts_numpy_convolutions():
    # Independent of the engine: traces are np.convolve of random decaying responses with
    # the wavelet, and of the same responses with a reference.
    rng = np.random.default_rng(0)
    nt, dt = 300, 0.004
    t = np.arange(nt) * dt
    truth = rotated_ricker(t, 60.0, F0)
    reference = ricker(20.0, t)
    responses = rng.standard_normal((3, 80, 7)) * np.exp(-np.arange(80) / 15.0)[:, None]
    conv = np.vectorize(lambda g, w: np.convolve(g, w)[:nt], signature="(k),(n)->(n)")
    traces = np.moveaxis(responses, 1, 2)  # (shot, receiver, time)
    observed = np.moveaxis(conv(traces, truth), 2, 1)
    modelled = np.moveaxis(conv(traces, reference), 2, 1)
    estimate = least_squares_wavelet(observed, modelled, reference)
    assert estimate.shape == (nt,)
    assert relative_error(estimate, truth) < 1e-3
    per_shot = least_squares_wavelet(observed * [[[1.0]], [[2.0]], [[3.0]]], modelled,
                                     reference, per_shot=True)
    assert per_shot.shape == (3, nt)
    for k in range(3):
        assert relative_error(per_shot[k], (k + 1) * truth) < 1e-3


@pytest.mark.parametrize("name", ["rotated-75", "minimum-phase"])
def test_known_sources_are_recovered_on_the_true_model(layered, survey, sources, name):
    truth, observed = sources[name]
    estimate = dc.estimate_wavelet(observed, layered, survey)
    assert estimate.shape == (survey.nt,)
    # Measured: 2e-3 (rotated) and 2e-4 (minimum phase); the nominal Ricker is off by > 1.
    assert relative_error(estimate, truth) < 0.01
    assert relative_error(survey.source_wavelet(survey.time), truth) > 0.5
    each = dc.estimate_wavelet(observed.values, layered, survey, per_shot=True)
    assert each.shape == (survey.n_shots, survey.nt)
    assert max(relative_error(w, truth) for w in each) < 0.01


@pytest.mark.parametrize("name", ["rotated-75", "minimum-phase"])
def test_a_smoothed_model_keeps_the_shape(layered, survey, sources, name):
    truth, observed = sources[name]
    estimate = dc.estimate_wavelet(observed, dc.smooth(layered, 80.0), survey)
    assert correlation(estimate, truth) > 0.98  # measured 0.99+


def _dead_shot(observed):
    out = observed.copy()
    out[1] = 0.0
    return out


@pytest.mark.parametrize("change, error, match", [
    (lambda a: a | {"observed": a["observed"].isel(shot=[0])}, ValueError,
     r"observed data do not match the survey \(shots: observed 1, survey 2\)"),
    (lambda a: a | {"observed": a["observed"].isel(time=slice(0, 50))}, ValueError,
     "time samples: observed 50|wavelet'] must be the source wavelet on the time axis: 50"),
    (lambda a: a | {"observed": a["observed"] * 0.0}, ValueError, "all zero"),
    (lambda a: a | {"observed": a["observed"].values.tolist()}, TypeError,
     "observed must be an xarray.DataArray"),
    (lambda a: a | {"observed": _dead_shot(a["observed"]), "per_shot": True}, ValueError,
     r"observed shot 1 is all zero .*per_shot=False"),
    (lambda a: a | {"vp": a["vp"].values}, TypeError, "vp must be an xarray.DataArray"),
    (lambda a: a | {"survey": "survey"}, TypeError, "survey must be a devito_crfwi.Survey"),
    (lambda a: a | {"per_shot": 1}, TypeError, "per_shot must be True or False, got 1"),
    (lambda a: a | {"stabilisation": 0.0}, ValueError, r"stabilisation must be .*got 0.0"),
    (lambda a: a | {"stabilisation": True}, ValueError, "stabilisation must be"),
])
def test_bad_input_is_refused_at_the_entry_point(layered, survey, sources, change, error,
                                                 match):
    args = {"observed": sources["rotated-75"][1], "vp": layered, "survey": survey}
    with raises_at("estimate_wavelet", error, match):
        dc.estimate_wavelet(**change(args))


def test_unknown_engine_options_are_refused(layered, survey, sources):
    with pytest.raises(TypeError, match=r"unknown engine setting\(s\) \['order'\]"):
        dc.estimate_wavelet(sources["rotated-75"][1], layered, survey, order=4)


def test_a_rotated_ricker_is_recovered_in_3d(model3d):
    """The same estimate on an (x, y, z) model: 2 shots over a 4 x 3 areal spread, the
    geometry and engine settings of tests/physics/test_3d.py (their kernels serve it)."""
    survey = dc.Survey.surface(model3d, 2, (4, 3), f0=8.0, t_max=0.5)
    truth = rotated_ricker(survey.time, 75.0, 8.0, t0=0.15)
    engine = {"boundary_width": 10, "vmax": 2800.0}
    observed = dc.simulate(model3d, dataclasses.replace(survey, wavelet=truth), **engine)
    estimate = dc.estimate_wavelet(observed, model3d, survey, **engine)
    assert estimate.shape == (survey.nt,)
    # Measured 3.7e-3 (each shot's alone too; the nominal Ricker is off by 1.9). Not the 3-D
    # grid's doing: peaked at 0.2 s instead the error is 1.9e-3, as in 2-D, so the excess is
    # the rotated wavelet's Hilbert tail cut at t = 0, a step outside the reference's band;
    # a longer record (0.8 s) leaves it at 3.5e-3.
    assert relative_error(estimate, truth) < 0.01
    each = dc.estimate_wavelet(observed, model3d, survey, per_shot=True, **engine)
    assert each.shape == (survey.n_shots, survey.nt)
    assert max(relative_error(w, truth) for w in each) < 0.01
    assert relative_error(survey.source_wavelet(survey.time), truth) > 0.5
