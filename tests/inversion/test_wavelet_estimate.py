"""CRFWIProblem(wavelet="estimate"): the source re-estimated as the model improves."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import devito_crfwi as dc
from devito_crfwi.inversion.problem import CRFWIProblem
from tests.helpers import rotated_ricker


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


@pytest.fixture(scope="module")
def truth(crosswell_survey):
    """The true source: a Ricker of the survey's f0 rotated by 75 degrees (time,)."""
    return rotated_ricker(crosswell_survey.time, 75.0, crosswell_survey.f0)


@pytest.fixture(scope="module")
def observed(layered, crosswell_survey, truth):
    """Gathers of an unknown source, as field data come: without attrs["wavelet"]."""
    gathers = dc.simulate(layered, dataclasses.replace(crosswell_survey, wavelet=truth))
    return gathers.drop_attrs(deep=False) if hasattr(gathers, "drop_attrs") else gathers


@pytest.fixture(scope="module")
def initial(layered):
    return dc.smooth(layered, 80.0)


def test_the_estimate_improves_with_the_model(layered, initial, crosswell_survey, observed,
                                              truth):
    nominal = crosswell_survey.source_wavelet(crosswell_survey.time)  # the survey's Ricker
    problem = CRFWIProblem(observed, crosswell_survey, initial, "pixel", true_model=layered,
                           wavelet="estimate", wavelet_every=3)
    result = problem.solve(6, progress=False)
    estimates = result["wavelet"]
    assert estimates.dims == ("wavelet_iteration", "wavelet_time")
    np.testing.assert_array_equal(estimates["wavelet_iteration"], [0, 3])
    np.testing.assert_allclose(estimates["wavelet_time"], crosswell_survey.time)
    errors = [relative_error(w, truth) for w in estimates.values]
    # Measured: the nominal Ricker is off by 1.47; the estimates by 0.26, then 0.23 in the
    # model three steps later, which has moved towards the true one.
    assert relative_error(nominal, truth) > 1.0
    assert errors[0] < 0.35 and errors[1] < errors[0] - 0.01
    assert result["mse"].values[-1] < result.attrs["initial_mse"]
    np.testing.assert_allclose(problem.current_wavelet(), estimates.values[-1], rtol=1e-6,
                               atol=1e-9 * np.abs(truth).max())
    assert result.attrs["wavelet"] == "estimate" and result.attrs["wavelet_every"] == 3
    json.dumps(result.attrs)


def test_estimates_at_stage_starts_survive_a_resume(tmp_path, initial, crosswell_survey,
                                                     observed):
    def problem(**changes):
        options = {"frequency_schedule": [(10.0, 2), (None, 2)], "wavelet": "estimate"}
        return CRFWIProblem(observed, crosswell_survey, initial, "pixel", **options | changes)

    reference = problem().solve(4, progress=False)
    np.testing.assert_array_equal(reference["wavelet_iteration"], [0, 2])
    problem().solve(3, checkpoint_dir=tmp_path, progress=False)
    resumed = problem()
    result = resumed.solve(4, checkpoint_dir=tmp_path, resume=True, progress=False)
    # Iteration 3 models with the estimate made before iteration 2, restored from the file.
    np.testing.assert_allclose(result["loss"], reference["loss"], rtol=1e-5)
    np.testing.assert_allclose(result["wavelet"], reference["wavelet"], rtol=1e-5,
                               atol=1e-6 * float(np.abs(reference["wavelet"]).max()))
    with pytest.raises(ValueError, match="wavelet: checkpoint 'estimate', now 'survey'"):
        problem(wavelet="survey").solve(4, checkpoint_dir=tmp_path, resume=True,
                                        progress=False)


@pytest.mark.parametrize("options, match", [
    ({"wavelet": "ricker"}, r"wavelet must be one of \['survey', 'estimate'\], got 'ricker'"),
    ({"wavelet": np.zeros(5)}, r"got an array of shape \(5,\) .*Survey\(\.\.\., wavelet="),
    ({"wavelet": "estimate", "wavelet_every": 0}, "wavelet_every must be an integer >= 1"),
    ({"wavelet": "estimate", "wavelet_every": 2.5}, "wavelet_every must be an integer >= 1"),
    ({"wavelet_every": 2}, "wavelet_every = 2 needs wavelet='estimate', got wavelet='survey'"),
])
def test_bad_wavelet_options_are_refused(initial, crosswell_survey, observed, options, match):
    with pytest.raises(ValueError, match=match):
        CRFWIProblem(observed, crosswell_survey, initial, "pixel", **options)
