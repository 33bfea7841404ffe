"""Boundaries against independent references: a much larger model for the C-PML's echoes,
the image-source solution for the free surface (bench/bench_boundary.py measures more)."""

from __future__ import annotations

import numpy as np
import pytest

import devito_crfwi as dc
from devito_crfwi.physics import ricker
from tests.helpers import model_dataarray

C, H, F0 = 2000.0, 10.0, 10.0  # m/s, m, Hz


def constant(shape: tuple[int, ...], margin: int = 0):
    """A constant model of ``shape`` cells, ``margin`` more on every side (origin moved)."""
    values = np.full([n + 2 * margin for n in shape], C)
    return model_dataarray(values, H, origin=(-margin * H,) * len(shape))


def echo(small: np.ndarray, big: np.ndarray) -> float:
    """Largest difference from the reference, over the reference's (direct) peak."""
    return float(np.abs(small - big).max() / np.abs(big).max())


@pytest.mark.parametrize("wavelet_f0", [F0, 0.5 * F0], ids=["f0", "half-f0"])
def test_cpml_echo_is_below_half_a_percent_2d(wavelet_f0):
    """Source in the middle of a 1 km x 0.6 km model; receivers beside it (normal
    incidence) and along lines 100 m from the top and the side (grazing). The layer is
    designed for f0 = 10 Hz at its default width; the reference model is 1.2 km larger on
    every side (its echoes arrive after 0.9 s)."""
    shape, margin = (101, 61), 120
    line = np.stack([np.linspace(100, 900, 41), np.full(41, 100.0)], axis=1)
    side = np.stack([np.full(21, 100.0), np.linspace(100, 500, 21)], axis=1)
    receivers = np.concatenate([[[600.0, 300.0]], line, side])
    survey = dc.Survey(np.array([[500.0, 300.0]]), receivers, f0=F0, t_max=0.9, dt=0.002)
    survey = dc.Survey(survey.source_positions, receivers, f0=F0, t_max=0.9, dt=0.002,
                       wavelet=ricker(wavelet_f0, survey.time))
    small = dc.simulate(constant(shape), survey).values
    big = dc.simulate(constant(shape, margin), survey, boundary_width=20).values
    assert echo(small, big) <= 5e-3


def test_cpml_echo_is_below_half_a_percent_3d():
    """A 3-D cube: source at the centre, receivers on a plane 60 m below the top."""
    shape, margin = (21, 21, 21), 16
    xs = np.linspace(40.0, 160.0, 7)
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    receivers = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, 60.0)], axis=1)
    survey = dc.Survey(np.array([[100.0, 100.0, 100.0]]), receivers, f0=F0, t_max=0.5,
                       dt=0.002)
    small = dc.simulate(constant(shape), survey).values
    big = dc.simulate(constant(shape, margin), survey, boundary_width=20).values
    assert echo(small, big) <= 5e-3


def test_free_surface_is_the_image_source_solution():
    """Pressure zero on the top row: the same source minus its mirror about z0, modelled
    without a free surface in a larger model; a receiver on the top row records zero."""
    shape, margin, depth = (81, 41), 80, 30.0
    receivers = np.stack([np.linspace(100, 700, 31), np.full(31, depth)], axis=1)
    receivers = np.concatenate([receivers, [[500.0, 0.0]]])
    survey = dc.Survey(np.array([[400.0, depth]]), receivers, f0=F0, t_max=0.6, dt=0.002)
    surface = dc.simulate(constant(shape), survey, free_surface=True).values[0]
    pair = dc.Survey(np.array([[400.0, depth], [400.0, -depth]]), receivers, f0=F0, t_max=0.6,
                     dt=0.002)
    images = dc.simulate(constant(shape, margin), pair, boundary_width=20).values
    reference = images[0] - images[1]
    assert echo(surface[:, :-1], reference[:, :-1]) <= 1e-2
    # zero but for float32 rounding of the interpolation weights at z0
    assert np.abs(surface[:, -1]).max() <= 1e-5 * np.abs(reference).max()


def test_source_on_the_free_surface_radiates_nothing():
    """A source on the top row injects into a row held at zero pressure."""
    survey = dc.Survey(np.array([[200.0, 0.0]]), np.array([[250.0, 50.0]]), f0=F0, t_max=0.3)
    data = dc.simulate(constant((41, 21)), survey, free_surface=True).values
    assert np.abs(data).max() < 1e-6 * np.abs(
        dc.simulate(constant((41, 21)), survey).values).max()
