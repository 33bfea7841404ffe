"""The ``invert`` TOML: every key type-checked, named in the error; booleans only booleans."""

from __future__ import annotations

import pytest

import devito_crfwi as dc
from devito_crfwi.cli import main
from devito_crfwi.cli.invert import load_config

HEAD = 'observed = "shots.sgy"\ninitial = "initial.sgy"\n'


@pytest.mark.parametrize(
    "text, match",
    [
        (HEAD + "f0 = \"six\"\n", "f0 must be a number, got 'six'"),
        (HEAD + "f0 = true\n", "f0 must be a number, got True"),
        ('observed = 3\ninitial = "initial.sgy"\n', "observed must be a string, got 3"),
        (HEAD + "[inversion]\nresume = \"yes\"\n", "[inversion]: resume must be true or false"),
        (HEAD + "[inversion]\niterations = 2.5\n", "iterations must be an integer, got 2.5"),
        (HEAD + "[inversion]\nbounds = 1500\n", "bounds must be a pair of numbers"),
        (HEAD + "[inversion]\nfrequency_schedule = [3, 10]\n", "frequency_schedule must be"),
        (HEAD + "[inversion]\nfrequency_schedule = [[0, 10]]\n", "cutoff_hz > 0"),
        (HEAD + "[inversion]\niterations = 0\n", "iterations must be >= 1, got 0"),
        (
            HEAD + "[engine]\nfree_surface = \"no\"\n",
            "[engine]: free_surface must be True or False, got 'no'",
        ),
        (HEAD + "inversion = 3\n", "inversion must be a table, got 3"),
        (HEAD + "regularization = 0.1\n", "regularization must be a table, got 0.1"),
        (HEAD + "[regularization]\ntvv = 0.1\n", "[regularization]: regularization: unknown kind"),
        (HEAD + "[regularization]\ntv = -0.1\n", "['tv'] weight must be >= 0, got -0.1"),
        (HEAD + "[regularization]\ntv = { weight = 0.1, eps = 1 }\n",
         "unknown option(s) ['eps']; tv takes ['weight', 'epsilon']"),
        (HEAD + "mask_dead_traces = 1\n",
         "run.toml: mask_dead_traces must be true or false, got 1"),
        (HEAD + "[inversion]\nwavelet = 1\n", "[inversion]: wavelet must be a string, got 1"),
        (HEAD + "[inversion]\nwavelet = \"ricker\"\n",
         "[inversion]: wavelet must be one of ['survey', 'estimate'], got 'ricker'"),
        (HEAD + "[inversion]\nwavelet_every = 5\n",
         "[inversion]: wavelet_every = 5 needs wavelet='estimate', got wavelet='survey'"),
        (HEAD + "[inversion]\nwavelet = \"estimate\"\nwavelet_every = 0\n",
         "[inversion]: wavelet_every must be an integer >= 1 (iterations) or None, got 0"),
        (HEAD + "[inversion]\nwavelet = \"estimate\"\nwavelet_every = 2.5\n",
         "[inversion]: wavelet_every must be an integer, got 2.5"),
    ],
)
def test_wrong_types_name_the_key(tmp_path, text, match):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="run.toml") as info:
        load_config(path)
    assert match in str(info.value)


def test_full_band_spelling_and_paths(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(HEAD + '[inversion]\nfrequency_schedule = [[3.0, 10], ["full", 5]]\n')
    config = load_config(path)
    assert config["inversion"]["frequency_schedule"] == [(3.0, 10), (None, 5)]
    assert config["observed"] == tmp_path.resolve() / "shots.sgy"


def test_a_regularization_table_reaches_the_problem_as_given(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(HEAD + "[regularization]\ntv = 0.01\ntikhonov2 = { weight = 1e-3 }\n")
    assert load_config(path)["regularization"] == {"tv": 0.01, "tikhonov2": {"weight": 1e-3}}


def test_field_data_keys_reach_the_reader_and_the_problem_as_given(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(HEAD + 'mask_dead_traces = true\n[inversion]\nwavelet = "estimate"\n'
                    "wavelet_every = 10\n")
    config = load_config(path)
    assert config["mask_dead_traces"] is True
    assert config["inversion"] == {"wavelet": "estimate", "wavelet_every": 10}


def test_a_bad_wavelet_is_one_line_before_the_data_are_read(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text(HEAD + '[inversion]\nwavelet = "ricker"\n')  # shots.sgy is missing
    assert main(["invert", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"devito-crfwi invert: error: {path} [inversion]: wavelet must be")
    assert err.count("\n") == 1


def test_iterations_zero_on_the_command_line_is_refused(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text(HEAD)
    (tmp_path / "shots.sgy").write_bytes(b"")  # never read: the check comes first
    assert main(["invert", str(path), "--iterations", "0", "--no-progress"]) == 1
    assert "--iterations must be >= 1, got 0" in capsys.readouterr().err


def test_a_folder_as_config_is_named(tmp_path, capsys):
    assert main(["invert", str(tmp_path), "--no-progress"]) == 1
    assert f"{tmp_path} is a folder" in capsys.readouterr().err


def test_simulate_checks_the_output_before_modelling(tmp_path, capsys, monkeypatch):
    import devito_crfwi.bridge.modelling as modelling

    def never(*args, **kwargs):
        raise AssertionError("modelled before checking the output")

    monkeypatch.setattr(modelling, "simulate", never)
    argv = ["simulate", str(tmp_path / "model.sgy"), "-o", str(tmp_path / "missing" / "s.sgy"),
            "--shots", "1", "--receivers", "3", "--f0", "10", "--t-max", "0.2"]
    assert main(argv) == 1
    assert f"folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err


def test_an_f0_that_contradicts_the_shot_file_is_refused(layered):
    survey = dc.Survey.surface(layered, n_shots=1, n_receivers=4, f0=15.0, t_max=0.2)
    observed = dc.simulate(layered, survey)
    assert dc.Survey.from_shots(observed, 15.0).f0 == 15.0
    with pytest.raises(ValueError, match="f0 = 10 Hz contradicts the shot file's f0 = 15 Hz"):
        dc.Survey.from_shots(observed, 10.0)


def test_invert_checks_its_outputs_before_inverting(tmp_path, capsys):
    """An earlier run's outputs need --overwrite; an output_dir that is a file is refused;
    both before the data are even read (here they are missing: reading them fails later)."""
    config = tmp_path / "run.toml"
    config.write_text('observed = "shots.sgy"\ninitial = "initial.sgy"\noutput_dir = "out"\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "history.csv").write_text("an earlier run's history\n")
    assert main(["invert", str(config), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'out' / 'history.csv'} already exists" in err
    assert main(["invert", str(config), "--no-progress", "--overwrite"]) == 1
    assert "shots.sgy" in capsys.readouterr().err  # checked, then on to the data
    assert main(["invert", str(config), "--no-progress", "--output-dir", str(config)]) == 1
    assert f"output_dir {config} is a file" in capsys.readouterr().err
    assert (tmp_path / "out" / "history.csv").read_text() == "an earlier run's history\n"
