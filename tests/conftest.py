"""Shared small problems: tiny grids and few time steps keep Devito runs at seconds."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import crosswell, model_dataarray


@pytest.fixture(scope="session")
def layered():
    """A 40 x 30 model at 10 m: two layers and a smooth lens (m/s)."""
    nx, nz = 40, 30
    x, z = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    vp = np.where(z < 12, 2000.0, 2400.0)
    vp += 250.0 * np.exp(-((x - 22) ** 2 + (z - 20) ** 2) / 20.0)
    return model_dataarray(vp, 10.0)


@pytest.fixture(scope="session")
def model3d():
    """A 24 x 20 x 16 model at 20 m: two layers and a smooth lens (m/s).

    The 3-D tests of the engine and of the bridge share it, with a 10-cell C-PML: Devito
    builds each kernel once per geometry (~6-12 s of CPU each in 3-D), so a common geometry
    is built once for all of them.
    """
    x, y, z = np.meshgrid(np.arange(24), np.arange(20), np.arange(16), indexing="ij")
    vp = np.where(z < 7, 2000.0, 2300.0)
    vp += 200.0 * np.exp(-((x - 12) ** 2 + (y - 10) ** 2 + (z - 10) ** 2) / 10.0)
    return model_dataarray(vp, 20.0)


@pytest.fixture(scope="session")
def small_survey(layered):
    from devito_crfwi import Survey

    return Survey.surface(layered, n_shots=2, n_receivers=15, f0=15.0, t_max=0.3)


@pytest.fixture(scope="session")
def streamer():
    """Variable acquisition over ``layered``: 2 shots, receivers moving with the source (off
    the grid nodes), padded to 6: shot 0 misses its receiver 2, shot 1 its last two (NaN)."""
    from devito_crfwi import Survey

    sources = np.array([[95.0, 20.0], [215.0, 20.0]])
    offsets = 33.3 * np.arange(1, 7)
    receivers = np.stack([np.stack([s[0] + offsets, np.full(6, 25.0)], -1) for s in sources])
    receivers[0, 2] = receivers[1, 4:] = np.nan
    return Survey(sources, receivers, f0=15.0, t_max=0.2)


@pytest.fixture(scope="session")
def crosswell_survey():
    """:func:`crosswell` at 15 Hz, 0.4 s."""
    return crosswell()


@pytest.fixture(scope="session")
def crosswell_observed(layered, crosswell_survey):
    """Gathers of ``layered`` for ``crosswell_survey`` (shot, time, receiver)."""
    from devito_crfwi import simulate

    return simulate(layered, crosswell_survey)
