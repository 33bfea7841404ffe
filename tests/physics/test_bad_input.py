"""Bad models, gathers and survey sizes at the physics entry points: refused where called."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from devito_crfwi.physics import ModelGrid, Propagator, Survey
from tests.helpers import BAD_MODELS, BAD_SHOTS, raises_at

ENTRIES = {
    "Survey.surface": lambda vp, survey: Survey.surface(vp, 2, 10, f0=10.0, t_max=0.2),
    "Propagator.from_model": lambda vp, survey: Propagator.from_model(vp, survey),
    "ModelGrid.from_dataarray": lambda vp, survey: ModelGrid.from_dataarray(vp, nbl=10),
}


@pytest.mark.parametrize(("change", "error", "match"), BAD_MODELS)
@pytest.mark.parametrize("where", list(ENTRIES))
def test_bad_models_are_refused(layered, small_survey, where, change, error, match):
    with raises_at(where, error, match):
        ENTRIES[where](change(layered), small_survey)


@pytest.mark.parametrize(
    ("n_shots", "n_receivers", "match"),
    [
        (2.5, 10, r"n_shots must be an int >= 1, got 2\.5"),
        (True, 10, "n_shots must be an int >= 1, got True"),
        (0, 10, "n_shots must be an int >= 1, got 0"),
        ("3", 10, "n_shots must be an int >= 1, got '3'"),
        (2, 7.0, r"n_receivers must be an int >= 1, got 7\.0"),
        (2, False, "n_receivers must be an int >= 1, got False"),
        (39, 10, r"n_shots = 39 would put two at the same position: .*38 grid columns one cell "
                 r"in from the sides of the model's 40; give at most 38"),
        (2, 41, r"n_receivers = 41 would put two .*model's 40 grid columns \(x\); give at most 40"),
    ],
)
def test_survey_sizes(layered, n_shots, n_receivers, match):
    with raises_at("Survey.surface", ValueError, match):
        Survey.surface(layered, n_shots, n_receivers, f0=10.0, t_max=0.2)


def test_as_many_shots_and_receivers_as_columns(layered):
    survey = Survey.surface(layered, np.int64(38), 40, f0=10.0, t_max=0.2)
    assert np.unique(survey.source_positions[:, 0]).size == 38
    assert np.unique(survey.receiver_positions[0, :, 0]).size == 40


def test_aliasing_recording_interval_warns(layered):
    # 15 Hz Ricker: content up to 2.5 f0 = 37.5 Hz, so dt must be <= 1 / 75 s.
    with pytest.warns(UserWarning, match=r"dt = 0\.02 s aliases the Ricker wavelet of f0 = 15 Hz"
                                         r".*37\.5 Hz.*Nyquist .* 25 Hz") as record:
        Survey.surface(layered, 2, 10, f0=15.0, t_max=0.4, dt=0.02)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Survey.surface(layered, 2, 10, f0=15.0, t_max=0.4, dt=0.012)  # below 1 / 75 s
        Survey.surface(layered, 2, 10, f0=15.0, t_max=0.4)  # the default interval
        Survey.surface(layered, 2, 10, f0=15.0, t_max=0.4, dt=0.02, wavelet=np.ones(21))


@pytest.mark.parametrize(("change", "error", "match"), BAD_SHOTS)
def test_survey_from_bad_shots(crosswell_observed, change, error, match):
    with raises_at("Survey.from_shots", error, match):
        Survey.from_shots(change(crosswell_observed))


@pytest.mark.parametrize("coord", ["time", "source_z", "receiver_x"])
def test_survey_from_shots_without_coords(crosswell_observed, coord):
    with raises_at("Survey.from_shots", ValueError, f"observed needs a coordinate '{coord}'"):
        Survey.from_shots(crosswell_observed.drop_vars(coord))
    with raises_at("Survey.from_shots", TypeError, "observed must be an xarray.DataArray"):
        Survey.from_shots(crosswell_observed.values)


def test_survey_from_shots_takes_the_recorded_wavelet_or_wavelet(crosswell_observed):
    t = crosswell_observed.time.values
    wavelet = np.sin(2 * np.pi * 15.0 * t) * np.exp(-(((t - 0.1) / 0.03) ** 2))  # not a Ricker
    assert Survey.from_shots(crosswell_observed).wavelet is None  # f0 alone: a Ricker
    given = Survey.from_shots(crosswell_observed, wavelet=wavelet)  # none recorded: taken
    np.testing.assert_array_equal(given.wavelet, wavelet)
    recording = crosswell_observed.assign_attrs(wavelet=wavelet)
    np.testing.assert_array_equal(Survey.from_shots(recording).wavelet, wavelet)
    # The same wavelet to float32 precision agrees with the recorded one ...
    same = Survey.from_shots(recording, wavelet=wavelet.astype(np.float32))
    np.testing.assert_allclose(same.wavelet, wavelet, rtol=0, atol=1e-7)
    # ... another contradicts it, like a contradicting f0.
    with raises_at("Survey.from_shots", ValueError,
                   r"wavelet contradicts the wavelet the gathers record \(attrs\['wavelet'\], "
                   r"largest difference 1\.56\).*leave wavelet out"):  # twice the peak, 0.78
        Survey.from_shots(recording, wavelet=-wavelet)
    with raises_at("Survey.from_shots", ValueError,
                   rf"wavelet must be {t.size} finite samples on the gathers' time axis, got "
                   r"shape \(3,\)"):
        Survey.from_shots(crosswell_observed, wavelet=np.ones(3))


def test_survey_from_shots_keeps_the_shot_labels(crosswell_observed):
    relabelled = crosswell_observed.assign_coords(shot=[101, 205, 7])
    survey = Survey.from_shots(relabelled)
    np.testing.assert_array_equal(survey.shot_labels, [101, 205, 7])
    # selection stays by position: shot index 1 is the gathers' second shot, label 205
    assert survey.subset([1]).shot_labels.tolist() == [205]
    np.testing.assert_array_equal(survey.subset([1]).source_positions,
                                  [[float(relabelled.source_x[1]), float(relabelled.source_z[1])]])
    with pytest.raises(ValueError, match=r"shot_labels must be 3 distinct labels, one per shot"):
        Survey(survey.source_positions, survey.receiver_positions, 15.0, 0.4,
               shot_labels=[1, 1, 2])
