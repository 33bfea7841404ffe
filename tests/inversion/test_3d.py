"""A 3-D inversion of a tiny model: pixel and IG-FWI lower the misfit and improve the model."""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi import Survey, simulate
from devito_crfwi.inversion.problem import CRFWIProblem
from tests.helpers import model_dataarray

ENGINE = {"boundary_width": 8}
SMALL_IG = {"grid": {"n_levels": 3, "base_resolution": 4, "growth": 2.0},
            "sine_features": 16, "hidden_features": 16}


@pytest.fixture(scope="module")
def case():
    """A 20 x 16 x 14 model at 20 m with a fast lens, crossed by 4 surface shots."""
    x, y, z = np.meshgrid(np.arange(20), np.arange(16), np.arange(14), indexing="ij")
    background = 2000.0 + 20.0 * z
    lens = 250.0 * np.exp(-((x - 10) ** 2 + (y - 8) ** 2 + (z - 7) ** 2) / 8.0)
    true, initial = model_dataarray(background + lens, 20.0), model_dataarray(background, 20.0)
    survey = Survey.surface(true, (2, 2), (5, 4), f0=8.0, t_max=0.6)
    return true, initial, survey, simulate(true, survey, progress=False, **ENGINE)


@pytest.mark.parametrize("name, options, lr", [("pixel", {}, None), ("ig", SMALL_IG, 3e-3)])
def test_3d_inversion_lowers_the_misfit(case, name, options, lr):
    true, initial, survey, observed = case
    problem = CRFWIProblem(observed, survey, initial, name, true_model=true, lr=lr,
                           representation_options=options, **ENGINE)
    result = problem.solve(6, progress=False)
    loss = result["loss"].values
    assert loss[-1] < 0.75 * loss[0], loss  # IG measured 0.71 with the C-PML
    assert result["mse"].values[-1] < result.attrs["initial_mse"]
    assert result["ssim"].values[-1] > result.attrs["initial_ssim"]  # SSIM on 7^3 windows
    assert result["vp"].dims == ("x", "y", "z") and result["vp"].shape == true.shape
