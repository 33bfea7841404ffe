"""Misfits and CR-FWI on data with missing traces (variable acquisition, masked dead traces)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import devito_crfwi as dc
from devito_crfwi.initial_models import smooth
from devito_crfwi.inversion.losses import LOSSES, live_traces
from devito_crfwi.inversion.problem import CRFWIProblem
from devito_crfwi.io import mask_dead_traces
from tests.helpers import crosswell


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_see_the_recorded_traces_only(name):
    """Receiver 2 missing in every shot: the value and gradient are those of the rectangular
    data without it; NaN in the missing observed traces reaches neither."""
    rng = np.random.default_rng(0)
    obs = torch.tensor(rng.standard_normal((3, 40, 5)))
    obs[:, :, 2] = torch.nan
    live = torch.ones(3, 5, dtype=torch.bool)
    live[:, 2] = False
    keep = [0, 1, 3, 4]
    pred = torch.tensor(rng.standard_normal((3, 40, 5)), requires_grad=True)
    loss = LOSSES[name](*live_traces(pred, obs, live))
    loss.backward()
    pred_ref = pred.detach()[:, :, keep].clone().requires_grad_(True)
    ref = LOSSES[name](pred_ref, obs[:, :, keep])
    ref.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    torch.testing.assert_close(loss, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(pred.grad[:, :, keep], pred_ref.grad, rtol=1e-10, atol=1e-12)
    assert (pred.grad[:, :, 2] == 0).all()


def test_live_traces_is_the_identity_without_a_mask():
    pred, obs = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    assert live_traces(pred, obs, None) == (pred, obs)


@pytest.fixture(scope="module")
def variable_crosswell():
    """:func:`crosswell` with each shot missing other receivers (NaN positions)."""
    base = crosswell()
    receivers = np.repeat(base.receiver_positions[:1], 3, axis=0)
    receivers[0, :4] = receivers[1, 6:8] = receivers[2, 11:] = np.nan
    return dc.Survey(base.source_positions, receivers, base.f0, base.t_max)


def test_a_tiny_inversion_on_variable_data_lowers_the_misfit(layered, variable_crosswell):
    observed = dc.simulate(layered, variable_crosswell)
    assert int(observed.isnull().all("time").sum()) == 10
    survey = dc.Survey.from_shots(observed)
    problem = CRFWIProblem(observed, survey, smooth(layered, 80.0), "pixel",
                           shots_per_iteration=2, seed=1)
    result = problem.solve(6, progress=False)
    loss = result["loss"].values
    assert np.isfinite(loss).all() and loss[-1] < 0.8 * loss[0]


def test_dead_traces_masked_or_refused_where_the_survey_has_no_receiver(layered, crosswell_survey,
                                                                       crosswell_observed):
    dead = crosswell_observed.copy()
    dead[1, :, 4] = 0.0
    masked = mask_dead_traces(dead)
    initial = smooth(layered, 80.0)
    # The rectangular survey models the dead receiver; the misfit leaves it out.
    problem = CRFWIProblem(masked, crosswell_survey, initial, "pixel")
    assert problem._live is not None and int((~problem._live).sum()) == 1
    # Data recorded where the survey has no receiver cannot be fitted: refused.
    with pytest.raises(ValueError, match=r"1 trace\(s\) recorded where the survey has no "
                                         r"receiver \(first: shot 1, receiver 4\)"):
        CRFWIProblem(dead, dc.Survey.from_shots(masked), initial, "pixel")


def test_missing_traces_keep_shared_coords_and_match_either_survey(layered, crosswell_survey,
                                                                   crosswell_observed):
    """A trace made NaN without touching the (receiver,) coords: the survey built from the
    data misses that receiver, and both it and the full survey accept the data."""
    gaps = crosswell_observed.copy()
    gaps[1, :, 4] = np.nan
    survey = dc.Survey.from_shots(gaps)
    assert not survey.live_receivers[1, 4] and int(survey.live_receivers.sum()) == 44
    initial = smooth(layered, 80.0)
    for candidate in (survey, crosswell_survey):
        problem = CRFWIProblem(gaps, candidate, initial, "pixel")
        np.testing.assert_array_equal(problem._live.numpy(), survey.live_receivers)
    moved = gaps.assign_coords(receiver_x=gaps.receiver_x + 10.0)
    with pytest.raises(ValueError, match="receiver_x differs \\(largest difference 10 m\\)"):
        CRFWIProblem(moved, survey, initial, "pixel")


def test_wavelet_estimate_leaves_missing_traces_out(layered, crosswell_survey,
                                                    crosswell_observed):
    """The same estimate whether the survey models the missing receivers (the full
    crosswell) or not (its survey from the data): their modelled traces are left out too."""
    gaps = crosswell_observed.copy()
    gaps[0, :, :5] = np.nan
    own = dc.estimate_wavelet(gaps, layered, dc.Survey.from_shots(gaps))
    full = dc.estimate_wavelet(gaps, layered, crosswell_survey)
    assert np.isfinite(full).all()
    np.testing.assert_allclose(full, own, rtol=0, atol=1e-6 * np.abs(own).max())
