"""Bad models at the bridge entry points (simulate, WaveOperator): refused where called."""

from __future__ import annotations

import pytest

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
