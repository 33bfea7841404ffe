"""The default gradient storage is exact for any adjoint source (issue 26).

``subsample="auto"`` keeps every k-th step of the forward wavefield; the imaging condition
then aliases whatever the adjoint field holds above ``1 / (k dt) - f_max``. A shot whose
adjoint source has such content is recorded again with every step stored, so the default
gradient equals full storage's for clean, noisy and white adjoint sources alike, while a
band-limited adjoint source that fades out before ``t_max`` keeps the subsampled tape.

Problem: ``layered`` (40 x 30 at 10 m), 2 shots, Ricker 8 Hz, 0.5 s: the auto factor is 5.
Measured with the subsampled tape alone (the behaviour before): relative gradient error
5.3e-3 for the clean L2 residual (the record's cut at t_max), 26 for 8 sigma0 noise, and
4.5e-2 for the dot product with a white adjoint source; with every step stored 1e-15.
"""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi.experiments.scenarios import add_noise
from devito_crfwi.physics import Propagator, Survey, ricker
from devito_crfwi.physics.storage import (
    ALIASED_FRACTION_LIMIT,
    SUBSAMPLED_GRADIENT_TOLERANCE,
)
from tests.helpers import smooth_perturbation


def engine(vp, survey, **options) -> Propagator:
    options.setdefault("boundary_width", 20)
    return Propagator.from_model(vp, survey, vmax=3000.0, dtype=np.float64, **options)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def survey8(layered):
    return Survey.surface(layered, n_shots=2, n_receivers=15, f0=8.0, t_max=0.5)


@pytest.fixture(scope="module")
def problem(layered, survey8):
    """(true model, start model, clean data, data with 8 sigma0 of Gaussian noise)."""
    vp = layered.values.astype(np.float64)
    clean = engine(layered, survey8, subsample=1).forward(vp)
    return vp, np.full_like(vp, vp.mean()), clean, add_noise(clean, sigma=8.0, seed=1)


def fading_pulse(survey: Survey, rng) -> np.ndarray:
    """An adjoint source (shot, time, receiver): 8 Hz Rickers at random amplitudes, centred
    mid-record, so it is band-limited and zero long before t_max."""
    pulse = ricker(survey.f0, survey.time, t0=0.5 * survey.t_max)
    amplitudes = rng.standard_normal((survey.n_shots, 1, survey.n_receivers))
    return amplitudes * pulse[None, :, None]


@pytest.mark.parametrize("data", ["clean", "8sigma0"])
def test_default_gradient_equals_every_step_stored(layered, survey8, problem, data):
    _, vp0, clean, noisy = problem
    observed = clean if data == "clean" else noisy
    auto = engine(layered, survey8)
    assert auto.subsample == 5
    loss, grad = auto.misfit_gradient(vp0, observed)
    loss_exact, grad_exact = engine(layered, survey8, subsample=1).misfit_gradient(vp0, observed)
    assert loss == loss_exact  # the forward is untouched
    # measured 1.4e-4 (clean: partly the subsampled tape) and 0 (noisy: every step stored)
    assert relative_error(grad, grad_exact) <= (
        SUBSAMPLED_GRADIENT_TOLERANCE if data == "clean" else 1e-12)
    # the noisy residual is broadband: every shot was recorded again, once (the clean one
    # has mostly left through the C-PML by t_max, and may keep the subsampled tape)
    if data == "8sigma0":
        assert auto.exact_recordings == survey8.n_shots


def test_aliased_fraction_tells_broadband_from_band_limited(layered, survey8):
    rng = np.random.default_rng(2)
    white = rng.standard_normal((survey8.n_shots, survey8.nt, survey8.n_receivers))
    pulse = fading_pulse(survey8, rng)
    auto = engine(layered, survey8)
    assert np.all(auto.aliased_fraction(white) > 0.1)
    assert np.all(auto.aliased_fraction(pulse) < ALIASED_FRACTION_LIMIT)
    assert auto.needs_exact_storage(np.stack([white, pulse])).tolist() == [[True, True],
                                                                            [False, False]]
    assert np.all(engine(layered, survey8, subsample=1).aliased_fraction(white) == 0)
    # an explicit factor keeps its tape whatever the adjoint source
    fixed = engine(layered, survey8, subsample=auto.subsample)
    assert not fixed.needs_exact_storage(white).any()


def test_band_limited_adjoint_sources_keep_the_subsampled_tape(layered, survey8, problem):
    vp = problem[0]
    pulse = fading_pulse(survey8, np.random.default_rng(3))
    auto, exact = engine(layered, survey8), engine(layered, survey8, subsample=1)
    _, tapes = auto.record(vp)
    grad = auto.jacobian_adjoint(vp, tapes, pulse)
    assert auto.exact_recordings == 0
    _, exact_tapes = exact.record(vp)
    # measured 8.0e-6: the subsampled tape's error for a band-limited source
    assert relative_error(grad, exact.jacobian_adjoint(vp, exact_tapes, pulse)) <= 1e-4


@pytest.mark.parametrize("checkpoints", [None, 3])
def test_a_batch_mixes_both_tapes_and_records_each_shot_once(layered, survey8, problem,
                                                             checkpoints):
    """Per batch item and shot: the fading pulse replays the subsampled tape, white noise
    the exact one (full or revolve), recorded once per shot for the whole batch."""
    vp = problem[0]
    rng = np.random.default_rng(4)
    white = rng.standard_normal((survey8.n_shots, survey8.nt, survey8.n_receivers))
    sources = np.stack([fading_pulse(survey8, rng), white, 2.0 * white])
    auto = engine(layered, survey8, checkpoints=checkpoints)
    exact = engine(layered, survey8, subsample=1)
    _, tapes = auto.record(vp)
    grads = auto.jacobian_adjoint(vp, tapes, sources)
    assert auto.exact_recordings == survey8.n_shots
    _, exact_tapes = exact.record(vp)
    for b in range(3):  # measured 1.6e-5 (the pulse, subsampled) and 0 (white, exact)
        assert relative_error(grads[b], exact.jacobian_adjoint(vp, exact_tapes, sources[b])) \
            <= (1e-4 if b == 0 else 1e-10)


@pytest.mark.parametrize("checkpoints", [None, 3])
def test_dot_product_with_a_white_adjoint_source(layered, survey8, problem, checkpoints):
    """<J dvp, w> = <dvp, Jᵀ w> to round-off for white w, full storage or revolve."""
    vp = problem[0]
    rng = np.random.default_rng(5)
    prop = engine(layered, survey8, checkpoints=checkpoints)
    dvp = smooth_perturbation(vp.shape, rng)
    white = rng.standard_normal((survey8.n_shots, survey8.nt, survey8.n_receivers))
    _, tapes = prop.record(vp)
    lhs = float(np.sum(prop.born(vp, dvp) * white))
    rhs = float(np.sum(dvp * prop.jacobian_adjoint(vp, tapes, white)))
    # measured 3.1e-14, full storage and revolve alike
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), abs(rhs)), (lhs, rhs)
