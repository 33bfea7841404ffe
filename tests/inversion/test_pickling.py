"""Survey, WaveOperator and CRFWIProblem pickle and deep-copy at any time, also after use."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import devito_crfwi as dc
from devito_crfwi.initial_models import smooth


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))],
                         ids=["deepcopy", "pickle"])
def test_wave_operator_and_survey_after_use(clone, layered, small_survey):
    assert clone(small_survey).dt == small_survey.dt
    op = dc.WaveOperator(small_survey, layered)
    vp = torch.tensor(layered.values, requires_grad=True)
    data = op(vp)
    data.square().sum().backward()
    other = clone(op)  # after a forward and a backward: compiled state is rebuilt lazily
    vp2 = torch.tensor(layered.values, requires_grad=True)
    again = other(vp2)
    again.square().sum().backward()
    torch.testing.assert_close(again, data.detach())
    torch.testing.assert_close(vp2.grad, vp.grad)


def test_problem_after_solve(layered, crosswell_survey, crosswell_observed):
    problem = dc.CRFWIProblem(crosswell_observed, crosswell_survey, smooth(layered, 80.0),
                              "pixel", seed=1)
    problem.solve(2, progress=False)
    twin = pickle.loads(pickle.dumps(problem))
    copied = copy.deepcopy(problem)
    a = problem.solve(4, progress=False)
    for other in (twin, copied):
        b = other.solve(4, progress=False)
        np.testing.assert_allclose(b["vp"].values, a["vp"].values, rtol=1e-5)
        np.testing.assert_allclose(b["loss"].values, a["loss"].values, rtol=1e-5)
