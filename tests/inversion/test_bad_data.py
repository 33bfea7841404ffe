"""Inputs that used to give raw messages or silently wrong results now say what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


def test_observed_with_a_wavelet_needs_the_survey_of_that_wavelet(layered, crosswell_survey,
                                                                 crosswell_observed):
    # A survey built by hand with a Ricker used to fit gathers of another wavelet silently.
    t = crosswell_observed.time.values
    wavelet = np.sin(2 * np.pi * 15.0 * t) * np.exp(-(((t - 0.1) / 0.03) ** 2))
    recording = crosswell_observed.assign_attrs(wavelet=wavelet)
    with pytest.raises(ValueError, match=r"wavelet: observed records a user wavelet .*the "
                                         r"survey models a Ricker of f0"):
        dc.CRFWIProblem(recording, crosswell_survey, layered, "pixel")
    with pytest.raises(ValueError, match=r"wavelet: the survey's differs .*largest difference "
                                         r"1\.56\)"):  # twice the peak, 0.78
        dc.CRFWIProblem(recording, dc.Survey.from_shots(crosswell_observed, wavelet=-wavelet),
                        layered, "pixel")
    dc.CRFWIProblem(recording, dc.Survey.from_shots(recording), layered, "pixel")


def test_observed_without_coords_is_compared_by_shape(layered, crosswell_survey,
                                                      crosswell_observed):
    bare = crosswell_observed.drop_vars(["time", "source_x", "receiver_z"])
    dc.CRFWIProblem(bare, crosswell_survey, layered, "pixel")
    values = bare.values.copy()
    values[1, 5, 2] = np.inf  # a numpy array: the same check, by index
    with raises_at("CRFWIProblem", ValueError, r"1 NaN or Inf values \(first at shot 1, time "
                                               r"index 5, receiver 2\)"):
        dc.CRFWIProblem(values, crosswell_survey, layered, "pixel")


def _shifted(model, **shifts):
    return model.assign_coords({dim: model[dim] + shift for dim, shift in shifts.items()})


@pytest.mark.parametrize(("argument", "make", "match"), [
    pytest.param("true_model", lambda m: _shifted(m, x=5.0),
                 r"true_model is not on initial's grid: along 'x' coordinate 0 is 5 m, "
                 r"initial's 0 m \(true_model: x0=5 m, dx=10 m; initial: x0=0 m, dx=10 m\)",
                 id="true-model-shifted"),
    pytest.param("true_model", lambda m: m.assign_coords(z=m.z * 1.5),
                 r"along 'z' coordinate 1 is 15 m, initial's 10 m .*dz=15 m.*dz=10 m",
                 id="true-model-other-spacing"),
    pytest.param("water_mask", lambda m: _shifted(m, z=-10.0) < 2050.0,
                 r"water_mask is not on initial's grid: along 'z' coordinate 0 is -10 m",
                 id="mask-shifted"),
    pytest.param("water_mask", lambda m: (m < 2050.0).transpose("z", "x"),
                 r"water_mask must have dims \('x', 'z'\)", id="mask-transposed"),
    pytest.param("water_mask", lambda m: (m < 2050.0).values.T, r"shape", id="array-other-shape"),
])
def test_arrays_on_another_grid_are_refused(layered, crosswell_survey, crosswell_observed,
                                           argument, make, match):
    # Same shape, other coords: these used to be taken cell by cell.
    with raises_at("CRFWIProblem", ValueError, match):
        dc.CRFWIProblem(crosswell_observed, crosswell_survey, layered, "pixel",
                        **{argument: make(layered)})


def test_arrays_on_the_grid_are_accepted(layered, crosswell_survey, crosswell_observed):
    nudged = _shifted(layered, x=1e-6)  # far below 1e-4 of the 10 m spacing
    problem = dc.CRFWIProblem(crosswell_observed, crosswell_survey, layered, "pixel",
                              true_model=nudged, water_mask=(layered < 2050.0).values)
    assert problem.water_mask.sum() == int((layered < 2050.0).sum())


# -- arguments that used to end in Python's own messages, naming nothing ---------------------
def _problem(layered, survey, observed, **options):
    return dc.CRFWIProblem(observed, survey, layered, "pixel", **options)


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"seed": "abc"}, ValueError, r"^seed must be an integer >= 0, got 'abc'$"),
    ({"seed": "1"}, ValueError, r"^seed must be an integer >= 0, got '1'$"),
    ({"seed": 2.5}, ValueError, r"^seed must be an integer >= 0, got 2\.5$"),
    ({"seed": None}, ValueError, r"^seed must be an integer >= 0, got None$"),
    ({"seed": -1}, ValueError, r"^seed must be an integer >= 0, got -1$"),
    ({"shots_per_iteration": "two"}, ValueError, r"^shots_per_iteration must be an integer"),
    ({"frequency_schedule": [("low", 3)]}, ValueError,
     r"^frequency_schedule cutoffs must be numbers \(Hz\) or None, got 'low'$"),
    ({"frequency_schedule": [(5.0, "x")]}, ValueError,
     r"^frequency_schedule iterations must be integers >= 1, got 'x'$"),
    ({"representation_options": {"vmin": 1000.0}}, TypeError,
     r"^representation_options\['vmin'\] repeats CRFWIProblem's own argument: give it as "
     r"bounds=\(vmin, vmax\) only$"),
    ({"representation_options": {"seed": 1}}, TypeError, r"give it as seed only"),
    ({"representation_options": {"water_mask": None}}, TypeError, r"give it as water_mask only"),
    ({"representation_options": {"nonsense": 1}}, TypeError,
     r"^representation_options: unknown option\(s\) \['nonsense'\] of representation 'pixel'; "
     r"expected some of \['dtype', 'output', 'preset', 'scale'\]$"),
    ({"representation_options": [("alpha", 1)]}, TypeError,
     r"^representation_options must be a dict of keyword options, got list$"),
])
def test_bad_arguments_name_themselves(layered, crosswell_survey, crosswell_observed, options,
                                       error, match):
    with pytest.raises(error, match=match):
        _problem(layered, crosswell_survey, crosswell_observed, **options)


def test_numpy_integer_seed_is_taken(layered, crosswell_survey, crosswell_observed):
    assert _problem(layered, crosswell_survey, crosswell_observed, seed=np.int64(3)).seed == 3


def test_a_detached_loss_is_named(layered, crosswell_survey, crosswell_observed):
    def detached(pred, obs):
        return ((pred - obs) ** 2).sum().detach()

    problem = _problem(layered, crosswell_survey, crosswell_observed, loss=detached)
    # The check precedes backward: a differentiable stand-in for the wave equation keeps the
    # test from compiling the gradient's operators.
    shape = crosswell_observed.shape
    problem.operator = lambda vp, shots=None: vp.mean() * torch.ones(shape, dtype=vp.dtype)
    with pytest.raises(TypeError, match=r"^the loss 'detached' returned a Tensor without a "
                                        r"gradient \(requires_grad=False\)"):
        problem.solve(1, progress=False)
    assert problem.iteration == 0


@pytest.mark.parametrize("argument", ["iterations", "checkpoint_every"])
def test_solve_counts_must_be_integers(layered, crosswell_survey, crosswell_observed, argument):
    problem = _problem(layered, crosswell_survey, crosswell_observed)
    options = {"iterations": 1, argument: "ten"}
    with pytest.raises(ValueError, match=rf"^{argument} must be an integer >= 1, got 'ten'$"):
        problem.solve(progress=False, **options)


def test_a_huge_upper_bound_is_refused_before_padding(layered, crosswell_survey,
                                                      crosswell_observed, monkeypatch):
    # bounds[1] = 1e6 m/s is the engine's vmax: a C-PML of 0.4 * 1e6 / 15 / 10 = 2667 cells
    # and a ~5 us step; with 1 GiB free it is refused, sized, before anything is padded.
    from devito_crfwi.physics import ModelGrid, memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    monkeypatch.setattr(ModelGrid, "pad", lambda *args: pytest.fail("padded before the check"))
    with pytest.raises(MemoryError, match=r"padded to 5374 x 5364 \(absorbing layers of 2667 "
                                          r"cells; vmax = 1e\+06 m/s\)"):
        _problem(layered, crosswell_survey, crosswell_observed, bounds=(1000.0, 1e6))


def test_a_memory_limit_below_one_iteration_is_refused_at_once(layered, crosswell_survey,
                                                              crosswell_observed):
    with pytest.raises(MemoryError, match=r"^memory_limit = 1000 bytes cannot hold the gradient "
                                          r"of \d+ shot\(s\): revolve needs at least \d+ bytes"):
        _problem(layered, crosswell_survey, crosswell_observed, memory_limit=1000)
