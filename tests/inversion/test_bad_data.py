"""Inputs that used to give raw messages or silently wrong results now say what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import devito_crfwi as dc
from tests.helpers import BAD_MODELS, BAD_SHOTS, raises_at


def test_all_zero_observed_data_is_refused(layered, crosswell_survey, crosswell_observed):
    with pytest.raises(ValueError, match="all zero"):
        dc.CRFWIProblem(crosswell_observed * 0.0, crosswell_survey, layered, "pixel")


@pytest.mark.parametrize("shots, error, match", [
    ([], ValueError, "shots is empty"),
    ([0.5], TypeError, "integer indices"),
    ([7], ValueError, "out of range"),
])
def test_simulate_shot_selection(layered, small_survey, shots, error, match):
    with pytest.raises(error, match=match):
        dc.simulate(layered, small_survey, shots=shots)


@pytest.mark.parametrize(("change", "error", "match"), BAD_MODELS)
def test_bad_initial_models_are_refused(layered, crosswell_survey, crosswell_observed, change,
                                        error, match):
    with raises_at("CRFWIProblem", error, "initial.*" + match):
        dc.CRFWIProblem(crosswell_observed, crosswell_survey, change(layered), "pixel")


@pytest.mark.parametrize(("change", "error", "match"), BAD_SHOTS)
def test_bad_observed_gathers_are_refused(layered, crosswell_survey, crosswell_observed, change,
                                          error, match):
    with raises_at("CRFWIProblem", error, match):
        dc.CRFWIProblem(change(crosswell_observed), crosswell_survey, layered, "pixel")


def test_observed_without_coords_is_compared_by_shape(layered, crosswell_survey,
                                                      crosswell_observed):
    bare = crosswell_observed.drop_vars(["time", "source_x", "receiver_z"])
    dc.CRFWIProblem(bare, crosswell_survey, layered, "pixel")
    values = bare.values.copy()
    values[1, 5, 2] = np.inf  # a numpy array: the same check, by index
    with raises_at("CRFWIProblem", ValueError, r"1 NaN or Inf values \(first at shot 1, time "
                                               r"index 5, receiver 2\)"):
        dc.CRFWIProblem(values, crosswell_survey, layered, "pixel")
