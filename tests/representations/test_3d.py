"""Representations on (x, y, z) models: shapes, start at v0, gradients, trilinear sampling,
the 3-D hash (third instant-NGP prime) and the LR-FWI CP factorisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.interpolate import RegularGridInterpolator

from devito_crfwi.representations import REGISTRY
from devito_crfwi.representations.base import grid_coordinates, sample_grid
from devito_crfwi.representations.grid import GridLevel, hash_index

SHAPE = (12, 10, 8)
SMALL = {
    "inr": {"hidden_features": 16, "hidden_layers": 2},
    "fourier": {"n_features": 16, "hidden_features": 16, "hidden_layers": 2},
    "grid": {"grid": {"n_levels": 3, "base_resolution": 4, "growth": 2.0, "table_size": 2**8}},
    "ig": {"grid": {"n_levels": 3, "base_resolution": 4, "growth": 2.0, "table_size": 2**8},
           "sine_features": 16, "hidden_features": 16},
    "lowrank": {"rank": 4, "hidden_features": 16, "hidden_layers": 2},
}


@pytest.fixture(scope="module")
def initial():
    z = np.arange(SHAPE[2])
    return np.broadcast_to(2000.0 + 100.0 * z, SHAPE).astype(np.float32).copy()


def test_grid_coordinates_and_trilinear_sampling():
    coords = grid_coordinates(SHAPE, torch.float64)
    assert coords.shape == (np.prod(SHAPE), 3)
    grid = coords.reshape(*SHAPE, 3)
    np.testing.assert_allclose(grid[3, 4, 5], [
        np.linspace(-1, 1, n)[i] for n, i in zip(SHAPE, (3, 4, 5), strict=True)], atol=1e-15)
    values = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    points = torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    points = 2 * points - 1
    reference = RegularGridInterpolator([np.linspace(-1, 1, n) for n in SHAPE], values.numpy())
    np.testing.assert_allclose(sample_grid(values, points).numpy(), reference(points.numpy()),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sample_grid(values, coords).reshape(SHAPE), values, atol=1e-12)


@pytest.mark.parametrize("name", ["pixel", "inr", "fourier", "grid", "ig", "lowrank"])
def test_3d_representation_shapes_start_and_gradients(name, initial):
    rep = REGISTRY[name](initial, **SMALL.get(name, {}))
    assert rep.ndim == 3 and rep.shape == SHAPE
    v = rep()
    assert v.shape == SHAPE
    span = rep.vmax - rep.vmin
    assert float((v.detach() - torch.from_numpy(initial)).abs().max()) < 1e-3 * span
    at = rep.forward_at(rep.coords[:7])
    np.testing.assert_allclose(at.detach(), v.reshape(-1)[:7].detach(), rtol=1e-5)
    target = torch.from_numpy(initial) + 50.0 * torch.sin(rep.coords[:, 0].reshape(SHAPE) * 3)
    ((rep() - target) ** 2).mean().backward()
    grads = [p.grad for p in rep.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_lowrank_3d_is_a_cp_factorisation(initial):
    rep = REGISTRY["lowrank"](initial, **SMALL["lowrank"])
    assert rep.core.shape == (4,)
    a, b, c = (f(torch.linspace(-1, 1, n)[:, None]) for f, n in zip((rep.f1, rep.f2, rep.f3),
                                                                     SHAPE, strict=True))
    cp = sum(rep.core[r] * a[:, r, None, None] * b[None, :, r, None] * c[None, None, :, r]
             for r in range(4))
    torch.testing.assert_close(rep.grid_perturbation(), cp, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(rep.perturbation(rep.coords), cp.reshape(-1), rtol=1e-4,
                               atol=1e-9)


def test_3d_hash_uses_the_third_prime_and_collides_only_when_hashed():
    vertex = torch.tensor([[3, 5, 7], [1, 0, 2], [12, 9, 4]])
    expected = [(3 ^ (5 * 2654435761) ^ (7 * 805459861)) % 2**10,
                (1 ^ 0 ^ (2 * 805459861)) % 2**10,
                (12 ^ (9 * 2654435761) ^ (4 * 805459861)) % 2**10]
    assert hash_index(vertex, 2**10).tolist() == expected
    generator = torch.Generator().manual_seed(0)
    dense = GridLevel(5, 2, 2**8, generator=generator, dtype=torch.float32, ndim=3)
    hashed = GridLevel(15, 2, 2**8, generator=generator, dtype=torch.float32, ndim=3)
    assert not dense.hashed and dense.table.shape[0] == 6**3
    assert hashed.hashed and hashed.table.shape[0] == 2**8
    all_vertices = torch.cartesian_prod(*[torch.arange(16)] * 3)  # 4096 vertices, 256 rows
    rows = hash_index(all_vertices, 2**8)
    counts = torch.bincount(rows, minlength=2**8)
    assert counts.sum() == 16**3 and (counts > 0).all()  # every row used: collisions spread
    assert counts.max() <= 4 * 16**3 / 2**8
    # a dense level reads each vertex from its own row: the 8 corners of a cell are distinct
    point = torch.tensor([[0.45, 0.3, 0.71]])
    features = dense(point)
    manual = sum(
        float(np.prod([f if c else 1 - f for f, c in zip((0.25, 0.5, 0.55), corner,
                                                           strict=True)]))
        * dense.table[((2 + corner[0]) * 6 + 1 + corner[1]) * 6 + 3 + corner[2]]
        for corner in np.ndindex(2, 2, 2))
    torch.testing.assert_close(features[0], manual, rtol=1e-5, atol=1e-9)
