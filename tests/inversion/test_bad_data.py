"""Inputs that used to give raw messages or silently wrong results now say what is wrong."""

from __future__ import annotations

import pytest

import devito_crfwi as dc


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
