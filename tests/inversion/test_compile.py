"""CRFWIProblem(compile=True): the torch.compile'd representation gives the eager run's losses."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import devito_crfwi as dc
from devito_crfwi.initial_models import smooth

SMALL_INR = {"hidden_features": 16, "hidden_layers": 1}


# Raised inside torch's own compiler stack on import, not by the package.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_representation_matches_eager(layered, crosswell_survey, crosswell_observed):
    def run(compile: bool):  # noqa: A002
        problem = dc.CRFWIProblem(crosswell_observed, crosswell_survey, smooth(layered, 80.0),
                                  "inr", representation_options=SMALL_INR, seed=2,
                                  compile=compile)
        return problem, problem.solve(3, progress=False)

    _, eager = run(False)
    problem, compiled = run(True)
    assert problem._compiled is not None  # it really ran compiled
    np.testing.assert_allclose(compiled["loss"].values, eager["loss"].values, rtol=1e-4)
    twin = pickle.loads(pickle.dumps(problem))  # the compiled module is not pickled
    assert twin._compiled is None and twin.compile


def test_compile_must_be_a_bool(layered, crosswell_survey, crosswell_observed):
    with pytest.raises(TypeError, match="compile must be True or False, got 'yes'"):
        dc.CRFWIProblem(crosswell_observed, crosswell_survey, smooth(layered, 80.0), "pixel",
                        compile="yes")
