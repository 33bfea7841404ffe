"""The default gradient storage is exact for any adjoint source (issues 25, 26).

``subsample="auto"`` stores every step wherever a call's full-storage tapes fit (memory
limit, or half the memory free), so no adjoint source needs a second forward. Where they do
not, it keeps every k-th step of the forward wavefield; the imaging condition then aliases
whatever the adjoint field holds above ``1 / (k dt) - f_max``, so a shot whose adjoint
source has such content is recorded again with every step stored. Either way the default
gradient equals full storage's for clean, noisy and white adjoint sources alike, while a
band-limited adjoint source that fades out before ``t_max`` keeps the subsampled tape.
The tests of the second path (``REPLAY``) give a ``memory_limit`` that holds one shot's
exact tape but not the call's two, so the call records subsampled tapes and the re-record
stores every step in full.

Problem: ``layered`` (40 x 30 at 10 m), 2 shots, Ricker 8 Hz, 0.5 s: the auto factor is 5.
Measured with the subsampled tape alone (the behaviour before): relative gradient error
5.3e-3 for the clean L2 residual (the record's cut at t_max), 26 for 8 sigma0 noise, and
4.5e-2 for the dot product with a white adjoint source; with every step stored 1e-15.
"""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi.experiments.scenarios import add_noise
from devito_crfwi.physics import Propagator, Survey, memory, ricker
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


# How the default engine keeps its tapes: every step from the start ("full-tape"), or the
# subsampled tape and a re-record of the shots that need it ("re-record", under a limit).
PATHS = ["full-tape", "re-record"]


def auto_engine(vp, survey, path: str, **options) -> Propagator:
    """The default (``subsample="auto"``) engine, on ``path`` for a call of every shot."""
    if path == "re-record":
        one_shot = engine(vp, survey).exact().memory_plan(1).bytes_per_call
        options["memory_limit"] = 3 * one_shot // 2
    prop = engine(vp, survey, **options)
    assert (prop.tape_engine(survey.n_shots) is prop) == (path == "re-record")
    return prop


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


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("data", ["clean", "8sigma0"])
def test_default_gradient_equals_every_step_stored(layered, survey8, problem, data, path):
    _, vp0, clean, noisy = problem
    observed = clean if data == "clean" else noisy
    auto = auto_engine(layered, survey8, path)
    assert auto.subsample == 5
    loss, grad = auto.misfit_gradient(vp0, observed)
    loss_exact, grad_exact = engine(layered, survey8, subsample=1).misfit_gradient(vp0, observed)
    assert loss == loss_exact  # the forward is untouched
    if path == "full-tape":  # measured 0: the same tapes, the same sums
        assert auto.exact_recordings == 0
        assert np.array_equal(grad, grad_exact)
        return
    # measured 1.4e-4 (clean: partly the subsampled tape) and 0 (noisy: every step stored)
    assert relative_error(grad, grad_exact) <= (
        SUBSAMPLED_GRADIENT_TOLERANCE if data == "clean" else 1e-12)
    # the noisy residual is broadband: every shot was recorded again, once (the clean one
    # has mostly left through the C-PML by t_max, and may keep the subsampled tape)
    if data == "8sigma0":
        assert auto.exact_recordings == survey8.n_shots


def test_auto_stores_every_step_only_where_the_tapes_fit(layered, survey8, problem,
                                                         monkeypatch):
    """The call's exact tapes fit: recorded with every step stored, one forward per shot.
    They do not (a ``memory_limit`` for one of them, ``checkpoints``, or little memory
    free): this engine's subsampled tapes, full or revolve."""
    vp = problem[0]
    auto = engine(layered, survey8)
    assert auto.tape_engine(2) is auto.exact() and auto.exact().subsample == 1
    _, tapes = auto.record(vp)
    assert [tape.runner.factor for tape in tapes] == [1, 1]
    one_shot = auto.exact().memory_plan(1).bytes_per_call
    limited = engine(layered, survey8, memory_limit=3 * one_shot // 2)
    assert limited.tape_engine(1) is limited.exact() and limited.tape_engine(2) is limited
    _, tapes = limited.record(vp)
    assert [tape.runner.factor for tape in tapes] == [5, 5]
    revolve = engine(layered, survey8, checkpoints=3)
    assert revolve.tape_engine(1) is revolve
    assert engine(layered, survey8, subsample=5).tape_engine(1).subsample == 5
    # the budget without memory_limit is half the memory free, at each call
    fresh = engine(layered, survey8)
    monkeypatch.setattr(memory, "available_memory", lambda: 3 * one_shot)
    assert fresh.tape_engine(1) is fresh.exact() and fresh.tape_engine(2) is fresh


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
    auto = auto_engine(layered, survey8, "re-record")
    exact = engine(layered, survey8, subsample=1)
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
    auto = (auto_engine(layered, survey8, "re-record") if checkpoints is None
            else engine(layered, survey8, checkpoints=checkpoints))
    exact = engine(layered, survey8, subsample=1)
    _, tapes = auto.record(vp)
    grads = auto.jacobian_adjoint(vp, tapes, sources)
    assert auto.exact_recordings == survey8.n_shots
    _, exact_tapes = exact.record(vp)
    for b in range(3):  # measured 1.6e-5 (the pulse, subsampled) and 0 (white, exact)
        assert relative_error(grads[b], exact.jacobian_adjoint(vp, exact_tapes, sources[b])) \
            <= (1e-4 if b == 0 else 1e-10)


@pytest.mark.parametrize("path", [*PATHS, "revolve"])
def test_dot_product_with_a_white_adjoint_source(layered, survey8, problem, path):
    """<J dvp, w> = <dvp, Jᵀ w> to round-off for white w: every step stored from the start,
    re-recorded in full, or revolve."""
    vp = problem[0]
    rng = np.random.default_rng(5)
    prop = (engine(layered, survey8, checkpoints=3) if path == "revolve"
            else auto_engine(layered, survey8, path))
    dvp = smooth_perturbation(vp.shape, rng)
    white = rng.standard_normal((survey8.n_shots, survey8.nt, survey8.n_receivers))
    _, tapes = prop.record(vp)
    lhs = float(np.sum(prop.born(vp, dvp) * white))
    rhs = float(np.sum(dvp * prop.jacobian_adjoint(vp, tapes, white)))
    assert prop.exact_recordings == (0 if path == "full-tape" else survey8.n_shots)
    # measured 3.1e-14, full storage and revolve alike
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), abs(rhs)), (lhs, rhs)
