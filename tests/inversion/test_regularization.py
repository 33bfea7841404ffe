"""Regularisation: each penalty against loops in numpy, its gradient, analytic values, the
normalisation, the spec's checks, and CRFWIProblem's loss, history and checkpoints."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from devito_crfwi.initial_models import smooth
from devito_crfwi.inversion.checkpoint import CHECKPOINT_NAME
from devito_crfwi.inversion.problem import CRFWIProblem
from devito_crfwi.inversion.regularization import (
    Regularizer,
    parse_regularization,
    tikhonov1,
    tikhonov2,
    total_variation,
)

SHAPES = {2: (5, 4), 3: (4, 3, 5)}
SPACINGS = {2: (10.0, 7.5), 3: (10.0, 12.0, 7.5)}


# -- independent references: a loop over cells and stencils -------------------------------
def _stencil_value(v, h, free, idx, steps):
    """The difference of ``v`` at ``idx`` along the axes ``steps`` (one or two), or 0 where
    the stencil leaves the grid or touches a cell that is not free."""
    offsets = [tuple(map(sum, zip(*c, strict=True))) if c else (0,) * v.ndim
               for n in range(len(steps) + 1) for c in itertools.combinations(
                   [tuple(int(a == s) for a in range(v.ndim)) for s in steps], n)]
    cells = [tuple(i + o for i, o in zip(idx, off, strict=True)) for off in offsets]
    if any(c[a] >= v.shape[a] for c in cells for a in range(v.ndim)):
        return 0.0
    if free is not None and not all(free[c] for c in cells):
        return 0.0
    # Inclusion-exclusion: sign (-1)^(len(steps) - number of steps taken by the offset).
    value = sum((-1.0) ** (len(steps) - sum(off)) * v[c]
                for off, c in zip(offsets, cells, strict=True))
    return value / np.prod([h[s] for s in steps])


def _reference(v, h, free, kind, epsilon=0.0):
    total = 0.0
    for idx in np.ndindex(v.shape):
        grad2 = sum(_stencil_value(v, h, free, idx, (a,)) ** 2 for a in range(v.ndim))
        if kind == "tv":
            total += np.sqrt(grad2 + epsilon**2)
        elif kind == "tikhonov1":
            total += grad2
        else:
            total += sum((1.0 if a == b else 2.0) * _stencil_value(v, h, free, idx, (a, b)) ** 2
                         for a in range(v.ndim) for b in range(a, v.ndim))
    return total / v.size


def _penalty(kind, v, h, free=None, epsilon=0.05):
    if kind == "tv":
        return total_variation(v, h, epsilon, free)
    return {"tikhonov1": tikhonov1, "tikhonov2": tikhonov2}[kind](v, h, free)


# -- the penalties ------------------------------------------------------------------------
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("kind", ["tv", "tikhonov1", "tikhonov2"])
@pytest.mark.parametrize("masked", [False, True])
def test_penalties_match_a_loop_over_cells(ndim, kind, masked):
    rng = np.random.default_rng(ndim)
    v = rng.normal(2000.0, 100.0, SHAPES[ndim])
    free = rng.random(v.shape) > 0.3 if masked else None
    h = SPACINGS[ndim]
    got = _penalty(kind, torch.from_numpy(v), h,
                   None if free is None else torch.from_numpy(free))
    assert float(got) == pytest.approx(_reference(v, h, free, kind, 0.05), rel=1e-10)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("kind", ["tv", "tikhonov1", "tikhonov2"])
def test_penalties_pass_gradcheck(ndim, kind):
    rng = np.random.default_rng(1)
    v = torch.tensor(rng.normal(0.0, 1.0, SHAPES[ndim]), requires_grad=True)
    free = torch.from_numpy(rng.random(SHAPES[ndim]) > 0.2)
    assert torch.autograd.gradcheck(lambda x: _penalty(kind, x, SPACINGS[ndim], free), (v,))


def test_tv_of_a_constant_is_epsilon_and_of_a_step_the_jump_times_its_length():
    h = (10.0, 5.0)
    assert float(total_variation(torch.full((6, 7), 2000.0, dtype=torch.float64), h, 0.3)) \
        == pytest.approx(0.3, rel=1e-12)
    nx, nz, jump = 12, 9, 250.0
    v = torch.full((nx, nz), 2000.0, dtype=torch.float64)
    v[5:] += jump  # an interface across the model, normal to x, between columns 4 and 5
    area, length = nx * h[0] * nz * h[1], nz * h[1]
    # ∫ |∇v| dΩ = jump × the interface's length (m/s · m), ε negligible.
    assert float(total_variation(v, h, 1e-9)) * area == pytest.approx(jump * length, rel=1e-9)


@pytest.mark.parametrize("ndim", [2, 3])
def test_tikhonov_vanishes_on_constants_and_second_order_on_linear_models(ndim):
    rng = np.random.default_rng(2)
    shape, h = SHAPES[ndim], SPACINGS[ndim]
    coords = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, h, strict=True)),
                         indexing="ij")
    linear = torch.from_numpy(1800.0 + sum(rng.normal(0.0, 2.0) * c for c in coords))
    assert float(tikhonov1(torch.full(shape, 1800.0, dtype=torch.float64), h)) == 0.0
    assert float(tikhonov1(linear, h)) > 0.0
    assert abs(float(tikhonov2(linear, h))) < 1e-20
    # Not only the pure second derivatives: a bilinear x·z has the Hessian's mixed ones.
    nx, nz = shape[0], shape[-1]
    bilinear = torch.from_numpy(0.3 * coords[0] * coords[-1])
    expected = 2 * 0.3**2 * (nx - 1) * (nz - 1) * np.prod(shape[1:-1]) / np.prod(shape)
    assert float(tikhonov2(bilinear, h)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n, velocity, spacing", [(20, 2000.0, 10.0), (40, 2000.0, 5.0),
                                                  (40, 4000.0, 30.0)])
def test_normalised_terms_do_not_depend_on_grid_or_velocity_scale(n, velocity, spacing):
    """A 10 % jump across a square model has a TV of 0.1 and a linear 20 % increase a
    first-order Tikhonov of 0.2² (n - 1)/n (the last row's difference is 0), whatever the
    grid and the velocities."""
    terms = parse_regularization({"tv": {"weight": 1.0, "epsilon": 1e-9}, "tikhonov1": 1.0})
    step = np.full((n, n), velocity)
    step[:, n // 2:] *= 1.1
    reg = Regularizer(terms, (spacing, spacing), (n, n), velocity)
    assert float(reg(torch.from_numpy(step))["tv"]) == pytest.approx(0.1, rel=1e-6)
    ramp = velocity * (1.0 + 0.2 * np.arange(n) / n) * np.ones((n, 1))
    assert float(reg(torch.from_numpy(ramp))["tikhonov1"]) == pytest.approx(
        0.04 * (n - 1) / n, rel=1e-9)


# -- the spec -----------------------------------------------------------------------------
def test_a_spec_fills_in_defaults_in_one_order():
    short = parse_regularization({"tikhonov2": 1e-3, "tv": 1e-2})
    full = parse_regularization({"tv": {"weight": 1e-2, "epsilon": 0.01},
                                 "tikhonov2": {"weight": 1e-3}})
    assert short == full
    assert [(t.kind, t.as_dict()) for t in short] == [
        ("tv", {"weight": 1e-2, "epsilon": 0.01}), ("tikhonov2", {"weight": 1e-3})]
    assert parse_regularization(None) == parse_regularization({}) == ()


@pytest.mark.parametrize("spec, error, match", [
    ({"tvv": 1.0}, ValueError, r"unknown kind\(s\) \['tvv'\]; expected some of \['tv', "),
    ({"tv": -1e-3}, ValueError, r"regularization\['tv'\] weight must be >= 0, got -0.001"),
    ({"tv": float("nan")}, ValueError, r"weight must be a finite number, got nan"),
    ({"tv": True}, ValueError, r"weight must be a finite number, got True"),
    ({"tikhonov1": "1e-3"}, ValueError, r"\['tikhonov1'\] weight must be a finite number"),
    ({"tv": {"epsilon": 0.1}}, ValueError, r"\['tv'\] needs a 'weight'"),
    ({"tv": {"weight": 1.0, "epsilon": 0.0}}, ValueError, r"\['tv'\] epsilon must be > 0"),
    ({"tikhonov1": {"weight": 1.0, "epsilon": 0.1}}, ValueError,
     r"unknown option\(s\) \['epsilon'\]; tikhonov1 takes \['weight'\]"),
    ([("tv", 1e-3)], TypeError, r"regularization must be a dict"),
])
def test_bad_specs_are_refused_naming_the_value(spec, error, match, layered,
                                                crosswell_survey, crosswell_observed):
    with pytest.raises(error, match=match):
        parse_regularization(spec)
    with pytest.raises(error, match=match):  # and at the user's entry point
        CRFWIProblem(crosswell_observed, crosswell_survey, smooth(layered, 80.0), "pixel",
                     regularization=spec)


# -- in CRFWIProblem ----------------------------------------------------------------------
def _relative(vp, reference, length):
    """TV (ε) and second-order Tikhonov of vp / reference on lengths over ``length``, by
    the loop references."""
    h = (10.0 / length, 10.0 / length)
    return (_reference(vp / reference, h, None, "tv", 0.01),
            _reference(vp / reference, h, None, "tikhonov2"))


def test_the_history_holds_the_misfit_and_each_term_apart(layered, crosswell_survey,
                                                          crosswell_observed):
    initial = smooth(layered, 80.0)
    weights = {"tv": 0.05, "tikhonov2": 1e-4}
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                           regularization=weights)
    result = problem.solve(3, progress=False)
    for name in ("misfit", "reg_tv", "reg_tikhonov2"):
        assert result[name].dims == ("iteration",) and result[name].attrs["units"] == "1"
    np.testing.assert_allclose(
        result["loss"].values,
        result["misfit"].values + 0.05 * result["reg_tv"].values
        + 1e-4 * result["reg_tikhonov2"].values, rtol=1e-6)
    # The first step starts from the initial model: its terms, by the loops.
    v0 = np.asarray(initial, dtype=np.float64)
    tv0, tik0 = _relative(v0, v0.mean(), np.sqrt(v0.size) * 10.0)
    assert result["reg_tv"].values[0] == pytest.approx(tv0, rel=1e-5)
    assert result["reg_tikhonov2"].values[0] == pytest.approx(tik0, rel=1e-4)
    assert json.loads(result.attrs["regularization"]) == {
        "tv": {"weight": 0.05, "epsilon": 0.01}, "tikhonov2": {"weight": 1e-4}}
    # Without a regularisation the history is what it was: the loss is the misfit.
    plain = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel")
    assert "misfit" not in plain.solve(1, progress=False)


def test_the_water_is_not_regularised(layered, crosswell_survey, crosswell_observed):
    initial = smooth(layered, 80.0)
    water = np.zeros(initial.shape, dtype=bool)
    water[:, :6] = True
    problem = CRFWIProblem(crosswell_observed, crosswell_survey, initial, "pixel",
                           regularization={"tikhonov1": 1.0}, water_mask=water)
    terms = problem._regularizer(torch.from_numpy(np.asarray(initial, dtype=np.float64)))
    v0 = np.asarray(initial, dtype=np.float64)
    length = np.sqrt(v0.size) * 10.0
    expected = _reference(v0 / v0.mean(), (10.0 / length,) * 2, ~water, "tikhonov1")
    assert float(terms["tikhonov1"]) == pytest.approx(expected, rel=1e-10)
    assert "water" not in json.dumps(problem.regularization)


def test_tv_makes_the_inversion_of_noisy_data_less_noisy(layered, crosswell_survey,
                                                         crosswell_observed):
    """Pixel FWI of noisy data puts the noise into the model; TV keeps some of it out: the
    model's roughness (the RMS of its cell-to-cell differences) falls, and its error too."""
    rng = np.random.default_rng(0)
    noisy = crosswell_observed.copy()
    noisy.values = noisy.values + rng.normal(0.0, 0.5 * float(np.std(noisy.values)), noisy.shape)
    initial = smooth(layered, 80.0)

    def run(regularization):
        problem = CRFWIProblem(noisy, crosswell_survey, initial, "pixel", true_model=layered,
                               regularization=regularization)
        return problem.solve(10, progress=False)

    plain, tv = run(None), run({"tv": 0.2})

    def roughness(vp):
        v = np.asarray(vp, dtype=np.float64)
        return np.sqrt(np.mean(np.diff(v, axis=0) ** 2) + np.mean(np.diff(v, axis=1) ** 2))

    # Measured: 22.2 against 28.1 m/s (the initial model 14.5, the true one 75.6 with its
    # 400 m/s interface); MSE 8652 against 8740 (m/s)², SSIM 0.432 against 0.386.
    assert roughness(tv["vp"]) < 0.85 * roughness(plain["vp"])
    assert tv["mse"].values[-1] <= plain["mse"].values[-1]
    assert tv["ssim"].values[-1] > plain["ssim"].values[-1]


def test_a_checkpoint_of_another_regularisation_is_refused(tmp_path, layered, crosswell_survey,
                                                           crosswell_observed):
    def problem(regularization):
        return CRFWIProblem(crosswell_observed, crosswell_survey, smooth(layered, 80.0),
                            "pixel", regularization=regularization)

    problem({"tv": 0.05}).solve(1, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"regularization: checkpoint '\{\"tv\": \{\"epsilon\": "
                                         r"0.01, \"weight\": 0.05\}\}', now '\{\}'"):
        problem(None).solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(ValueError, match="regularization: checkpoint"):
        problem({"tv": 0.1}).solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    resumed = problem({"tv": {"weight": 0.05}})  # the same, spelled otherwise
    result = resumed.solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert result.sizes["iteration"] == 2 and len(result["reg_tv"]) == 2


def test_a_checkpoint_from_before_regularisation_counts_as_unregularised(
        tmp_path, layered, crosswell_survey, crosswell_observed, recwarn):
    def problem(**kw):
        return CRFWIProblem(crosswell_observed, crosswell_survey, smooth(layered, 80.0),
                            "pixel", **kw)

    problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    old = json.loads(state["fingerprint"])
    del old["regularization"]
    torch.save(state | {"fingerprint": json.dumps(old)}, path)
    with pytest.raises(ValueError, match="regularization: checkpoint '{}'"):
        problem(regularization={"tv": 0.05}).solve(2, checkpoint_dir=tmp_path, resume=True,
                                                   progress=False)
    assert problem().solve(2, checkpoint_dir=tmp_path, resume=True,
                           progress=False).sizes["iteration"] == 2
    assert not [w for w in recwarn if "predates" in str(w.message)]
