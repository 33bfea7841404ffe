"""Bad models, gathers and survey sizes at the physics entry points: refused where called."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from devito_crfwi import simulate
from devito_crfwi.physics import ModelGrid, Propagator, Survey, memory, ricker
from tests.helpers import BAD_MODELS, BAD_SHOTS, model_dataarray, raises_at

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


@pytest.mark.parametrize(("option", "value", "match"), [
    ("f0", "ten", r"f0 \(Hz\) must be a number, got 'ten'"),
    ("f0", None, r"f0 \(Hz\) is None: give it, or a wavelet with its dt"),
    ("t_max", "1", r"t_max \(s\) must be a number, got '1'"),
    ("dt", True, r"dt \(s\) must be a number, got True"),
    ("source_depth", "a", r"source_depth \(m\) must be a number, got 'a'"),
    ("receiver_depth", [20.0], r"receiver_depth \(m\) must be a number, got \[20\.0\]"),
])
def test_survey_numbers_must_be_numbers(layered, option, value, match):
    options = {"f0": 10.0, "t_max": 0.2, option: value}
    with pytest.raises(ValueError, match=match):
        Survey.surface(layered, 2, 10, **options)


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


def test_f0_comes_from_the_wavelet_when_neither_the_user_nor_the_file_states_it(
        crosswell_observed):
    t = crosswell_observed.time.values
    unstated = crosswell_observed.assign_attrs(f0=None)
    unstated.attrs.pop("f0")
    survey = Survey.from_shots(unstated, wavelet=ricker(12.0, t))
    assert survey.f0 == pytest.approx(12.0, rel=2e-3)  # a Ricker's spectrum peaks at its f0
    recorded = Survey.from_shots(unstated.assign_attrs(wavelet=ricker(9.0, t)))
    assert recorded.f0 == pytest.approx(9.0, rel=2e-3)
    assert Survey.from_shots(unstated, f0=12.5, wavelet=ricker(12.0, t)).f0 == 12.5  # stated
    with raises_at("Survey.from_shots", ValueError, r"state neither f0 .* nor a wavelet"):
        Survey.from_shots(unstated)
    src, rec = survey.source_positions, survey.receiver_positions
    with pytest.raises(ValueError, match=r"f0 \(Hz\) is None: give it, or a wavelet with its dt"):
        Survey(src, rec, None, 0.4, wavelet=ricker(12.0, t))  # no dt: no time axis for it
    with pytest.raises(ValueError, match="peaks at 0 Hz"):
        Survey(src, rec, None, float(t[-1]), dt=float(t[1]), wavelet=np.zeros(t.size))


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


# -- sizes the engine cannot hold: refused, sized, before np.pad or Devito allocate -----------
@pytest.fixture
def no_padding(monkeypatch):
    """Fail a test that pads a model (the first large allocation of a run)."""
    def pad(self, field):
        raise AssertionError("the model was padded before the memory check")

    monkeypatch.setattr(ModelGrid, "pad", pad)


def _free(monkeypatch, nbytes: int) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: nbytes)


def test_km_coordinates_warn_and_are_refused_before_padding(monkeypatch, no_padding):
    # A 10 m grid written in km: spacing 0.01 "m" at 2000 m/s, 10 Hz gives 2000 / (25 * 0.01)
    # = 8000 points per minimum wavelength, and a C-PML of 0.4 * 2000 / 10 / 0.01 = 8000 cells.
    vp = model_dataarray(np.full((60, 40), 2000.0), 0.01)
    survey = Survey.surface(vp, 1, 10, f0=10.0, t_max=0.2)
    _free(monkeypatch, 2**30)
    with (pytest.warns(UserWarning, match=r"8000 grid points per minimum wavelength .*spacing "
                                          r"0\.01 m.*coordinates in km\?") as record,
          pytest.raises(MemoryError, match=r"60 x 40 grid padded to 16060 x 16040 \(absorbing "
                                           r"layers of 8000 cells.*GiB.*nothing was allocated")):
        simulate(vp, survey)
    assert record[0].filename == __file__


def test_a_model_too_big_for_memory_is_refused_before_padding(monkeypatch, no_padding):
    # The 30 000² case scaled down: 1000² cells + 14-cell layers, float32 with an 8-cell halo.
    vp = model_dataarray(np.full((1000, 1000), 2000.0), 10.0)
    survey = Survey.surface(vp, 1, 10, f0=10.0, t_max=0.2)
    padded = 1028**2
    level = (1028 + 16) ** 2 * 4
    need = (2 * 1000**2 + padded) * 8 + level + (3 + 2 * 4) * level
    _free(monkeypatch, need - 1)
    with pytest.raises(MemoryError, match=rf"padded to 1028 x 1028 .* needs "
                   rf"{need / 2**20:.1f} MiB \(padding the model {(2e6 + padded) * 8 / 2**20:.1f}"
                   rf" MiB, squared velocity \(the kernels' model\) {level / 2**20:.1f} MiB, "
                   rf"forward wavefields {11 * level / 2**20:.1f} MiB\)"):
        Propagator.from_model(vp, survey)
    _free(monkeypatch, need)
    Propagator.from_model(vp, survey)  # fits: built (nothing padded until a run)


def test_a_huge_vmax_is_refused_before_padding(layered, small_survey, monkeypatch, no_padding):
    # vmax 1e6 m/s at 15 Hz, 10 m: C-PML ceil(0.4 * 1e6 / 15 / 10) = 2667 cells; CFL step ~5 us.
    _free(monkeypatch, 2**30)
    with pytest.raises(MemoryError, match=r"padded to 5374 x 5364 \(absorbing layers of "
                   r"2667 cells; vmax = 1e\+06 m/s\) over \d{5} steps of 5\.\d+e-06 s"):
        Propagator.from_model(layered, small_survey, vmax=1e6)


def test_the_estimate_is_what_devito_allocates(layered, small_survey):
    prop = Propagator.from_model(layered, small_survey)
    prop.forward(layered.values, [0])
    fields = prop._bound["forward"].wavefields
    assert len(fields) == 1 + 4  # u and its C-PML memory variables (psi, zeta per axis)
    assert sum(f.data_with_halo.nbytes for f in fields) == prop._wavefields_bytes(("u",))
    assert prop._vp2.data_with_halo.nbytes == prop._level_bytes


@pytest.mark.parametrize(("spacing", "f0", "warns"), [
    (0.01, 10.0, True),    # 10 m in km: 2000 / (25 * 0.01) = 8000 points
    (0.04, 10.0, True),    # 40 m in km: 2000 points
    (10.0, 10.0, False),   # 8 points
    (1.0, 3.0, False),     # a fine 1 m grid at 3 Hz: 2000 / 7.5 = 267 points
])
def test_implausibly_fine_grids_warn(spacing, f0, warns):
    grid = ModelGrid((10, 10), (spacing, spacing))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ppw = grid.check_dispersion(2000.0, f0)
    assert ppw == pytest.approx(2000.0 / (2.5 * f0 * spacing))
    assert any("coordinates in km" in str(w.message) for w in record) == warns
