"""Variable acquisition through the engine: shots with their own receivers (some missing,
NaN positions) model as each shot alone with its live receivers; gradients ignore them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import devito_crfwi as dc
from devito_crfwi.initial_models import smooth
from devito_crfwi.inversion.losses import l2_loss, live_traces
from tests.bridge.test_exact_adjoint import DOT_TOLERANCE, dot_products, gap

ENGINE = {"boundary_width": 10}


def _alone(survey, shot):
    """Shot ``shot`` of ``survey`` as a rectangular survey of its live receivers."""
    live = survey.live_receivers[shot]
    return dc.Survey(survey.source_positions[shot:shot + 1],
                     survey.receiver_positions[shot][live], survey.f0, survey.t_max)


def test_survey_keeps_per_shot_receivers_and_a_live_mask(streamer):
    np.testing.assert_array_equal(streamer.live_receivers,
                                  [[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    assert not streamer.fixed_spread and streamer.n_receivers == 6
    with pytest.raises(ValueError, match="shot 1 has no receiver"):
        dc.Survey(streamer.source_positions, np.where(np.arange(2)[:, None, None] == 1, np.nan,
                                                      streamer.receiver_positions), 15.0, 0.3)
    half = streamer.receiver_positions.copy()
    half[0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN in every coordinate"):
        dc.Survey(streamer.source_positions, half, 15.0, 0.3)


def test_simulate_equals_each_shot_alone_with_its_live_receivers(layered, streamer):
    data = dc.simulate(layered, streamer, **ENGINE)
    live = streamer.live_receivers
    for s in range(2):
        alone = dc.simulate(layered, _alone(streamer, s), **ENGINE).values[0]
        np.testing.assert_allclose(data.values[s][:, live[s]], alone, rtol=0,
                                   atol=1e-6 * np.abs(alone).max())
        assert np.isnan(data.values[s][:, ~live[s]]).all()
    assert np.isnan(data.receiver_x.values[~live]).all()
    survey = dc.Survey.from_shots(data)
    np.testing.assert_array_equal(survey.live_receivers, live)
    np.testing.assert_array_equal(survey.receiver_positions, streamer.receiver_positions)


def test_loss_and_gradient_with_missing_traces_equal_the_live_traces_alone(layered, streamer):
    observed = torch.from_numpy(dc.simulate(layered, streamer, **ENGINE).values)
    assert observed.isnan().any()
    live = torch.from_numpy(streamer.live_receivers)
    vp0 = torch.tensor(smooth(layered, 80.0).values, dtype=torch.float32)
    options = {"vmax": 3000.0, "subsample": 1, **ENGINE}

    vp = vp0.clone().requires_grad_(True)
    pred = dc.WaveOperator(streamer, layered, **options)(vp)
    assert (pred.detach().movedim(1, -1)[~live] == 0).all()  # the engine records nothing there
    loss = l2_loss(*live_traces(pred, observed, live))
    loss.backward()

    vp_ref = vp0.clone().requires_grad_(True)
    preds, obs = [], []
    for s in range(2):
        preds.append(dc.WaveOperator(_alone(streamer, s), layered, **options)(vp_ref)[0])
        obs.append(observed[s][:, live[s]])
    ref = l2_loss(torch.cat(preds, 1)[None], torch.cat(obs, 1)[None])
    ref.backward()

    assert torch.isfinite(loss) and torch.isfinite(vp.grad).all()
    np.testing.assert_allclose(float(loss.detach()), float(ref.detach()), rtol=1e-5)
    scale = float(vp_ref.grad.abs().max())
    assert scale > 0
    np.testing.assert_allclose(vp.grad.numpy(), vp_ref.grad.numpy(), rtol=0, atol=1e-4 * scale)


def test_born_and_adjoint_stay_transposes_with_missing_receivers(layered, streamer):
    """A white cotangent, non-zero at the missing traces too: the adjoint must ignore it
    there, as Born data are zero there."""
    op = dc.WaveOperator(streamer, layered, vmax=3000.0, boundary_width=20)  # as op2d
    lhs, rhs_vjp, rhs_backward = dot_products(
        op, torch.tensor(layered.values, dtype=torch.float64), seed=2)
    assert gap(lhs, rhs_vjp) <= DOT_TOLERANCE, (lhs, rhs_vjp)
    assert gap(lhs, rhs_backward) <= DOT_TOLERANCE, (lhs, rhs_backward)
