"""bench/ntk_paper.py (the paper's NTK figure on its 1-D problem) on a tiny synthetic trace:
the dense kernels against the package's matrix-free ones, the pixel NTK against the wave
kernel, and the summaries."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys

import numpy as np
import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("ntk_paper", ROOT / "bench" / "ntk_paper.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ntk_paper"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("ntk_paper", None)


@pytest.fixture(scope="module")
def problem(bench):
    setup = dataclasses.replace(bench.TINY, nz=12, nx=7, nt=100, epochs=2, snapshots=(0, 2),
                                seeds=(0, 1), methods=("pixel", "grid"))
    return bench.build_problem(setup)


@pytest.fixture(scope="module")
def runs(bench, problem):
    return {name: bench.run_method(problem, name, log=lambda *a, **k: None)
            for name in problem.setup.methods}


def test_laterally_invariant(bench, problem):
    rep = bench.representation("inr", problem)
    out = bench.LaterallyInvariant(rep, problem.setup.nx)()
    assert out.shape == (problem.setup.nx, problem.setup.nz)
    assert np.all(out.detach().numpy() == out.detach().numpy()[:1])


def test_pixel_kernel_is_the_wave_kernel(bench, runs):
    run = runs["pixel"]
    jm = run["jm"][0]
    assert jm.shape == (100, 12)
    wave = np.linalg.svd(jm, compute_uv=False) ** 2
    np.testing.assert_allclose(bench.eigenvalues(jm, run["factor/pixel"][0]), wave,
                               rtol=1e-10, atol=1e-12 * wave[0])
    np.testing.assert_allclose(run["traces"][0], run["initial"], atol=1e-3)  # starts at m0
    assert run["loss"][-1] < run["loss"][0]


def test_dense_matches_matrix_free(bench, problem):
    check = bench.matrix_free_check(problem, "inr", k=3)
    assert check["space"] in ("data", "model")  # the smaller: model space here
    assert check["max_relative_difference"] < 1e-6


def test_summary(bench, problem, runs):
    kernels = bench.summarise(problem.setup, runs)
    assert set(kernels) == {"pixel", "grid", "grid[encoding]"}
    assert kernels["grid[encoding]"]["n_parameters"] < kernels["grid"]["n_parameters"]
    for entry in kernels.values():
        move = entry["movement"]
        assert move["kernel"][0] == 0 and move["distance"][0] == pytest.approx(0, abs=1e-12)
        assert entry["epochs"] == [0, 2] and len(entry["normalised"][0]) == 12
    assert kernels["pixel"]["movement"]["network_part"] == [0.0, 0.0]  # G = I
    assert kernels["pixel"]["seeds"] == {} and "1" in kernels["grid"]["seeds"]
    assert "| MPE-FWI | encoding |" in bench.tables(kernels, None)
