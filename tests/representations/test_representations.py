"""Contract of every representation: shape, bounds, start at v0, gradients, seeds, water mask,
off-grid evaluation; a regression fit of a smooth anomaly; the factory's errors."""

import ast
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import devito_crfwi.representations
from devito_crfwi.representations import (
    DEFAULT_LEARNING_RATES,
    REPRESENTATIONS,
    SIREN,
    IGHybrid,
    LowRank,
    MultiResGrid,
    MultiResGridEncoding,
    Pixel,
    Representation,
    SineLayer,
    bounded_velocity,
    fit,
    grid_coordinates,
    hash_index,
    make_representation,
)

NAMES = sorted(REPRESENTATIONS)
NX, NZ = 20, 12
VMIN, VMAX = 1400.0, 4000.0
SPAN = VMAX - VMIN


def linear_gradient(nx: int, nz: int) -> np.ndarray:
    """(nx, nz) model from 1500 m/s at the top to 3000 m/s at the bottom."""
    return np.tile(np.linspace(1500.0, 3000.0, nz), (nx, 1))


V0 = linear_gradient(NX, NZ)


def build(name: str, **kwargs) -> Representation:
    return make_representation(name, V0, vmin=VMIN, vmax=VMAX, **kwargs)


def randomise(module: nn.Module, std: float, seed: int = 0) -> None:
    """Overwrite every parameter with N(0, std²) values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(std * torch.randn(p.shape, generator=generator, dtype=p.dtype))


# ---------------------------------------------------------------- contract, default sizes


@pytest.mark.parametrize("name", NAMES)
def test_starts_at_initial_model_with_grid_shape(name):
    rep = build(name)
    v = rep()
    assert isinstance(rep, REPRESENTATIONS[name])
    assert rep.shape == (NX, NZ) and (rep.vmin, rep.vmax) == (VMIN, VMAX)
    assert v.shape == (NX, NZ) and v.dtype == torch.float32
    assert rep.coords.shape == (NX * NZ, 2)
    assert float(rep.coords.min()) == -1.0 and float(rep.coords.max()) == 1.0
    # Documented start: |v - v0| <~ out_scale * (vmax - vmin) / 4 with out_scale = 1e-3.
    err = (v.double() - torch.from_numpy(V0)).abs().max().item()
    assert err < 1e-3 * SPAN / 4, err


@pytest.mark.parametrize("name", NAMES)
def test_output_stays_in_bounds_for_huge_parameters(name):
    rep = build(name)
    randomise(rep, std=1e3)
    v = rep().detach()
    assert torch.isfinite(v).all()
    assert float(v.min()) >= VMIN and float(v.max()) <= VMAX
    assert (v.double() - torch.from_numpy(V0)).abs().max() > 100.0  # it did move


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    rep = build(name)
    target = torch.from_numpy(V0 + 100.0).float()
    torch.mean((rep() - target) ** 2).backward()
    for pname, p in rep.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().max() > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_model_other_seed_other_model(name):
    a, b, c = build(name, seed=3), build(name, seed=3), build(name, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(a(), b())
    if name != "pixel":  # the pixel grid has no random initialisation
        assert any(not torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("name", NAMES)
def test_pickles_for_dask(name):
    rep = build(name, water_mask=np.ones((NX, NZ), dtype=bool) & (np.arange(NZ) < 2))
    randomise(rep, std=0.1)
    clone = pickle.loads(pickle.dumps(rep))
    assert torch.equal(clone(), rep())


@pytest.mark.parametrize("name", NAMES)
def test_construction_leaves_global_rng_alone(name):
    state = torch.get_rng_state()
    build(name, seed=5)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("name", NAMES)
def test_water_mask_holds_initial_exactly(name):
    mask = np.zeros((NX, NZ), dtype=bool)
    mask[:, :3] = True
    rep = build(name, water_mask=mask)
    randomise(rep, std=1.0)
    v = rep()
    v0 = torch.from_numpy(V0).float()
    m = torch.from_numpy(mask)
    assert torch.equal(v[m], v0[m])
    assert (v[~m] - v0[~m]).abs().max() > 1.0
    v[m].sum().backward()  # masked cells give no gradient to the parameters
    assert all(p.grad is None or not p.grad.any() for p in rep.parameters())
    # Off the grid the mask is read by nearest neighbour, and v0 interpolated linearly.
    top = torch.tensor([[0.1, -1.0], [-0.5, -0.95]])  # (2, 2): x, z near the surface
    dz = 2.0 / (NZ - 1)
    expected = torch.tensor([1500.0, 1500.0 + (0.05 / dz) * 1500.0 / (NZ - 1)])
    assert torch.allclose(rep.forward_at(top), expected)


@pytest.mark.parametrize("name", NAMES)
def test_forward_at_matches_grid_and_keeps_the_graph(name):
    rep = build(name)
    randomise(rep, std=0.05, seed=1)
    v = rep()
    on_grid = rep.forward_at(rep.coords).reshape(NX, NZ)
    assert torch.allclose(on_grid, v, rtol=0, atol=0.05), (on_grid - v).abs().max()
    fine = grid_coordinates((2 * NX, 3 * NZ)).reshape(2 * NX, 3 * NZ, 2)
    v_fine = rep.forward_at(fine)
    assert v_fine.shape == (2 * NX, 3 * NZ)
    assert float(v_fine.detach().min()) >= VMIN and float(v_fine.detach().max()) <= VMAX
    v_fine.sum().backward()
    assert any(p.grad is not None and p.grad.any() for p in rep.parameters())


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_jacobian_vector_product(name):
    """The NTK may push parameter tangents forward: torch.func.jvp must work."""
    rep = build(name)
    params = {k: v.detach() for k, v in rep.named_parameters()}
    tangents = {k: torch.ones_like(v) for k, v in params.items()}

    def velocity(p):
        return torch.func.functional_call(rep, p, ())

    primal, tangent = torch.func.jvp(velocity, (params,), (tangents,))
    assert torch.allclose(primal, rep())
    assert tangent.shape == (NX, NZ) and torch.isfinite(tangent).all() and tangent.any()


@pytest.mark.parametrize("name", NAMES)
def test_float64(name):
    rep = build(name, dtype=torch.float64)
    assert rep().dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in rep.parameters())


# ---------------------------------------------------------------- regression of a known model

# Reduced networks so the fits take seconds on 2 CPU cores; learning rates are the defaults.
SMALL = {
    "pixel": {},
    "inr": {"hidden_features": 64, "hidden_layers": 3},
    "fourier": {"n_features": 64, "scale": 3.0, "hidden_features": 64, "hidden_layers": 2},
    "grid": {"grid": {"n_levels": 8, "base_resolution": 16, "growth": 1.2}},
    "ig": {"grid": {"n_levels": 8, "base_resolution": 16, "growth": 1.2}, "sine_features": 64},
    "lowrank": {"rank": 16, "hidden_features": 64, "hidden_layers": 2},
}
FIT_STEPS = 250
FIT_TOLERANCE = 0.05  # ||v - target|| / ||target - v0||: 95 % of the anomaly recovered


@pytest.mark.parametrize("name", NAMES)
def test_fit_recovers_gaussian_anomaly(name):
    nx, nz = 64, 32
    v0 = linear_gradient(nx, nz)
    x = np.linspace(0.0, 1.0, nx)[:, None]
    z = np.linspace(0.0, 1.0, nz)[None, :]
    anomaly = 400.0 * np.exp(-((x - 0.5) ** 2 + (z - 0.5) ** 2) / (2 * 0.1**2))  # m/s
    target = v0 + anomaly
    target_copy = target.copy()
    rep = make_representation(name, v0, vmin=VMIN, vmax=VMAX, **SMALL[name])
    history = fit(rep, target, iterations=FIT_STEPS)
    assert len(history) == FIT_STEPS and history[-1] < history[0]
    with torch.no_grad():
        v = rep().double().numpy()
    rel = np.linalg.norm(v - target) / np.linalg.norm(anomaly)
    assert rel < FIT_TOLERANCE, rel
    np.testing.assert_array_equal(target, target_copy)  # inputs untouched


def test_fit_checks_shape_and_needs_lr_for_unknown_modules():
    rep = build("pixel")
    with pytest.raises(ValueError, match=r"\(20, 12\).*\(12, 20\)"):
        fit(rep, V0.T, iterations=1)

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.v = nn.Parameter(torch.from_numpy(V0).float())

        def forward(self):
            return self.v

    with pytest.raises(ValueError, match="lr must be given"):
        fit(Fixed(), V0, iterations=1)
    assert len(fit(Fixed(), V0, iterations=2, lr=1.0)) == 2


def test_default_learning_rates_cover_every_name():
    assert set(DEFAULT_LEARNING_RATES) == set(REPRESENTATIONS)
    assert all(lr > 0 for lr in DEFAULT_LEARNING_RATES.values())


# ---------------------------------------------------------------- building blocks


def test_bounded_velocity_map():
    v0 = torch.tensor([1400.0, 1500.0, 2700.0, 4000.0])
    p0 = bounded_velocity(v0, torch.zeros(4), VMIN, VMAX)
    assert torch.allclose(p0, v0, rtol=0, atol=1e-2)  # bounds themselves stay finite
    huge = bounded_velocity(v0, torch.tensor([1e6, -1e6, 1e6, -1e6]), VMIN, VMAX)
    assert huge.tolist() == [VMAX, VMIN, VMAX, VMIN]
    # dv/dp = (vmax - vmin) u0 (1 - u0) at p = 0; u0 = 0.5 for v0 = 2700.
    p = torch.zeros(1, requires_grad=True)
    bounded_velocity(torch.tensor([2700.0]), p, VMIN, VMAX).backward()
    assert math.isclose(p.grad.item(), SPAN / 4, rel_tol=1e-5)


def test_grid_coordinates_order():
    c = grid_coordinates((3, 2))
    assert c.tolist() == [[-1, -1], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 1]]


def test_siren_initialisation_bounds():
    g = torch.Generator().manual_seed(0)
    first = SineLayer(2, 256, omega0=30.0, is_first=True, generator=g, dtype=torch.float32)
    hidden = SineLayer(128, 256, omega0=30.0, is_first=False, generator=g, dtype=torch.float32)
    w1, w2 = first.linear.weight.abs().max(), hidden.linear.weight.abs().max()
    assert 0.45 < w1 <= 0.5  # 1 / n with n = 2
    bound = math.sqrt(6 / 128) / 30
    assert 0.9 * bound < w2 <= bound


def test_dense_level_has_one_row_per_vertex_and_interpolates_bilinearly():
    g = torch.Generator().manual_seed(0)
    enc = MultiResGridEncoding(
        n_levels=1,
        base_resolution=4,
        n_features=1,
        table_size=2**16,
        generator=g,
        dtype=torch.float64,
    )
    level = enc.levels[0]
    assert not level.hashed and level.table.shape == (25, 1)
    with torch.no_grad():
        level.table.copy_(torch.arange(25.0, dtype=torch.float64)[:, None])  # row = 5 i + j
    # Vertex (i, j) sits at unit coordinate (i / 4, j / 4), i.e. coords 2 * (i / 4) - 1.
    at = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-0.5, 0.0], [-0.25, 0.25]], dtype=torch.float64)
    out = enc(at)[:, 0]
    # (0, 0) -> 0; (4, 4) -> 24; (1, 2) -> 7; midpoint of (1..2, 2..3) -> mean(7, 8, 12, 13).
    assert out.tolist() == pytest.approx([0.0, 24.0, 7.0, 10.0])


def test_hash_index_matches_uint32_arithmetic():
    ij = torch.tensor([[0, 0], [1, 0], [0, 1], [123, 4567], [99999, 88888]])
    table_size = 2**14
    expected = [((i * 1) ^ ((j * 2654435761) % 2**32)) % 2**32 % table_size for i, j in ij.tolist()]
    assert hash_index(ij, table_size).tolist() == expected


def test_hashed_grid_keeps_the_contract():
    rep = build(
        "grid", grid={"n_levels": 4, "base_resolution": 16, "growth": 2.0, "table_size": 2**8}
    )
    assert [lvl.hashed for lvl in rep.encoding.levels] == [True] * 4
    assert all(lvl.table.shape[0] == 2**8 for lvl in rep.encoding.levels)
    (rep() ** 2).mean().backward()
    assert all(p.grad is not None and p.grad.any() for p in rep.parameters())


def test_default_grid_is_dense_with_paper_resolutions():
    rep = build("grid")
    res = [lvl.resolution for lvl in rep.encoding.levels]
    assert len(res) == 16 and res[0] == 50 and res[-1] == math.floor(50 * 1.05**15)
    assert not any(lvl.hashed for lvl in rep.encoding.levels)
    assert rep.encoding.output_dim == 32


def test_lowrank_grid_path_matches_pointwise_path():
    rep = LowRank(V0, vmin=VMIN, vmax=VMAX, rank=4, hidden_features=16)
    randomise(rep, std=0.3)
    fast = rep.grid_perturbation()
    slow = rep.perturbation(rep.coords).reshape(NX, NZ)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_ig_alpha_one_switches_off_the_sine_branch():
    rep = IGHybrid(V0, vmin=VMIN, vmax=VMAX, alpha=1.0)
    (rep() ** 2).mean().backward()
    assert all(not p.grad.any() for p in rep.sine.parameters())
    assert all(p.grad.any() for p in rep.encoding.parameters())


# ---------------------------------------------------------------- validation and factory


def test_default_bounds_follow_the_initial_model():
    # One policy for the package (CRFWIProblem's and the benchmark's defaults are the same).
    rep = Pixel(V0)
    assert rep.vmin == pytest.approx(1500.0 * 0.8) and rep.vmax == pytest.approx(3000.0 * 1.25)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vmin": 3000.0, "vmax": 2000.0}, "vmin must be below vmax"),
        ({"vmin": 1600.0, "vmax": 4000.0}, r"initial must lie in \[vmin, vmax\]"),
        ({"water_mask": np.zeros((NZ, NX), dtype=bool)}, r"\(20, 12\), got \(12, 20\)"),
        ({"dtype": torch.int64}, "floating-point"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SIREN(V0, **{"vmin": VMIN, "vmax": VMAX, **kwargs})


def test_invalid_initial_and_options():
    with pytest.raises(ValueError, match="2-D"):
        Pixel(np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        Pixel(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        IGHybrid(V0, alpha=1.5)
    with pytest.raises(ValueError, match="power of two"):
        MultiResGrid(V0, grid={"table_size": 1000})


def test_initial_is_copied_not_shared():
    v0 = torch.from_numpy(V0.copy()).float()
    rep = Pixel(v0, vmin=VMIN, vmax=VMAX)
    fit(rep, V0 + 50.0, iterations=3)
    v0[0, 0] = 0.0
    assert rep.initial[0, 0] == 1500.0


def test_make_representation_forwards_options():
    rep = make_representation("inr", V0, vmin=VMIN, vmax=VMAX, seed=2, hidden_features=16)
    assert isinstance(rep, SIREN) and rep.seed == 2
    assert rep.net[0].linear.weight.shape == (16, 2)


def test_make_representation_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="'fourier', 'grid', 'ig', 'inr', 'lowrank', 'pixel'"):
        make_representation("siren", V0)


def test_make_representation_accepts_and_checks_modules():
    class Custom(nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.v = nn.Parameter(torch.full(shape, 2000.0))

        def forward(self):
            return self.v

    good = Custom((NX, NZ))
    assert make_representation(good, V0) is good
    with pytest.raises(ValueError, match=r"shape \(20, 12\), got \(12, 20\)"):
        make_representation(Custom((NZ, NX)), V0)
    with pytest.raises(ValueError, match="named representations only"):
        make_representation(good, V0, water_mask=np.zeros((NX, NZ), dtype=bool))


def test_representations_import_only_torch_and_numpy():
    """The layer knows torch (and numpy), never devito or the packages above it."""
    for source in Path(devito_crfwi.representations.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{source.name} imports from outside: {ast.dump(node)}"
                roots = [node.module.split(".")[0]] if node.level == 0 and node.module else []
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root in {"torch", "numpy"}, (
                    f"{source.name} imports {root}"
                )
