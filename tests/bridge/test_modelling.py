"""simulate(): labelled gathers that round-trip through SEG-Y exactly."""

from __future__ import annotations

import numpy as np
import xarray as xr

import devito_crfwi as dc


def test_simulate_labels_and_segy_round_trip(layered, small_survey, tmp_path):
    observed = dc.simulate(layered, small_survey, boundary_width=20)
    assert observed.dims == ("shot", "time", "receiver")
    assert observed.shape == (2, small_survey.nt, small_survey.n_receivers)
    assert observed.dtype == np.float32
    np.testing.assert_allclose(observed["time"], np.arange(small_survey.nt) * small_survey.dt)
    np.testing.assert_array_equal(observed["source_x"], small_survey.source_positions[:, 0])
    np.testing.assert_array_equal(observed["receiver_z"], small_survey.receiver_positions[0, :, 1])
    assert observed.attrs == {"f0": 15.0, "dt": small_survey.dt, "units": "a.u."}
    # shots of the same survey differ, and the data are not empty
    assert float(np.abs(observed).max()) > 0
    assert not np.allclose(observed[0], observed[1])
    path = dc.write_shots(observed, tmp_path / "shots.sgy")
    xr.testing.assert_identical(dc.read_shots(path), observed)


def test_a_user_wavelet_and_shot_labels_survive_segy_and_from_shots(layered, tmp_path):
    # A 90-degree phase-rotated Ricker (its Hilbert transform, by scipy): the file used to
    # give it back as a Ricker of f0 (re-modelling the true model then misfit the file by
    # ~180%, with no warning) and shot labels [1, 2] as [0, 1].
    from scipy.signal import hilbert

    from devito_crfwi.physics.wavelet import ricker

    time = dc.Survey.surface(layered, 3, 15, f0=15.0, t_max=0.3).time
    wavelet = np.imag(hilbert(ricker(15.0, time)))
    survey = dc.Survey.surface(layered, 3, 15, f0=15.0, t_max=0.3, wavelet=wavelet)
    observed = dc.simulate(layered, survey, shots=[1, 2], boundary_width=20)
    back = dc.read_shots(dc.write_shots(observed, tmp_path / "shots.sgy"))
    np.testing.assert_array_equal(back.shot, [1, 2])
    again = dc.Survey.from_shots(back)
    np.testing.assert_array_equal(again.wavelet, wavelet)
    remodelled = dc.simulate(layered, again, boundary_width=20)
    residual = remodelled - back  # xarray aligns on the labels: both [1, 2]
    assert residual.sizes["shot"] == 2
    assert float(np.linalg.norm(residual) / np.linalg.norm(back)) < 1e-6
    # The Ricker the file used to give misfits it entirely.
    as_ricker = back.copy()
    del as_ricker.attrs["wavelet"]
    ricker_data = dc.simulate(layered, dc.Survey.from_shots(as_ricker), boundary_width=20)
    assert float(np.linalg.norm(ricker_data - back) / np.linalg.norm(back)) > 1.0


def test_surface_survey_positions_sit_on_grid_nodes(layered):
    survey = dc.Survey.surface(layered, n_shots=3, n_receivers=7, f0=10.0, t_max=0.5)
    for positions in (survey.source_positions, survey.receiver_positions[0]):
        cells = positions[:, 0] / 10.0
        np.testing.assert_array_equal(cells, np.round(cells))
    assert survey.receiver_positions[0, 0, 0] == 0.0
    assert survey.receiver_positions[0, -1, 0] == 390.0
