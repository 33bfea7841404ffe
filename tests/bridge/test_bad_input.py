"""Bad models at the bridge entry points (simulate, WaveOperator): refused where called."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from devito_crfwi import WaveOperator, simulate
from tests.helpers import BAD_MODELS, raises_at

ENTRIES = {
    "simulate": lambda vp, survey: simulate(vp, survey, progress=False),
    "WaveOperator": lambda vp, survey: WaveOperator(survey, vp),
}


@pytest.mark.parametrize(("change", "error", "match"), BAD_MODELS)
@pytest.mark.parametrize("where", list(ENTRIES))
def test_bad_models_are_refused(layered, small_survey, where, change, error, match):
    with raises_at(where, error, match):
        ENTRIES[where](change(layered), small_survey)


BAD_SHOT_INDICES = [
    pytest.param([1.7], TypeError, r"shots\[0\] = 1.7 \(float\)", id="float"),
    pytest.param([True], TypeError, r"shots\[0\] = True \(bool\)", id="bool"),
    pytest.param([0, 1.0], TypeError, r"shots\[1\] = 1.0 \(float\)", id="integral-float"),
    pytest.param(np.array([False, True]), TypeError, r"shots\[0\] = (np\.)?False", id="bool-array"),
    pytest.param(["1"], TypeError, r"shots\[0\] = '1' \(str\)", id="str"),
    pytest.param([2], ValueError, r"shots\[0\] = 2 is out of range 0..1", id="out-of-range"),
    pytest.param([], ValueError, "shots is empty", id="empty"),
]

SHOT_ENTRIES = {
    "simulate": lambda vp, survey, shots: simulate(vp, survey, shots=shots, progress=False),
    "WaveOperator": lambda vp, survey, shots: WaveOperator(survey, vp)(
        torch.tensor(vp.values), shots=shots),
    "Survey.subset": lambda vp, survey, shots: survey.subset(shots),
}


@pytest.mark.parametrize(("shots", "error", "match"), BAD_SHOT_INDICES)
@pytest.mark.parametrize("where", list(SHOT_ENTRIES))
def test_shot_indices_must_be_integers(layered, small_survey, where, shots, error, match):
    # [1.7] and [True] were taken as shot 1 by WaveOperator and Survey.subset.
    with raises_at(where, error, match):
        SHOT_ENTRIES[where](layered, small_survey, shots)


def test_numpy_and_python_integers_select_shots(small_survey):
    for shots in ([1], np.array([1], dtype=np.int32), [np.int64(1)], 1):
        assert small_survey.subset(shots).source_positions.tolist() == (
            small_survey.source_positions[[1]].tolist())
