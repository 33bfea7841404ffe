"""The devito-crfwi command line: --help everywhere, simulate, invert from TOML, demo."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import devito_crfwi as dc
from devito_crfwi.cli import build_parser, main
from devito_crfwi.initial_models import smooth

COMMANDS = ["demo", "simulate", "invert", "convert"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: devito-crfwi")
    if command is None:
        assert all(name in out for name in COMMANDS)
    if command == "invert":
        for key in ("observed", "initial", "frequency_schedule", "[engine]", "checkpoint_dir",
                    "mask_dead_traces", "wavelet = ", "wavelet_every", "wavelet.csv"):
            assert key in out


def test_every_subcommand_has_a_handler():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(COMMANDS) <= set(sub.choices)
    for name, subparser in sub.choices.items():
        assert callable(subparser.get_default("func")), name


@pytest.mark.smoke
def test_console_script_runs():
    """Smoke: the installed console script starts and prints a subcommand's help."""
    script = Path(sys.executable).with_name("devito-crfwi")
    if not script.exists():
        pytest.skip("package not installed with its console script")
    out = subprocess.run([str(script), "demo", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "--output-dir" in out.stdout


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate"])
    assert info.value.code == 2


@pytest.mark.smoke
def test_simulate(tmp_path, layered, capsys):
    """Smoke: ``simulate`` writes gathers of the asked shape and refuses to overwrite them
    (the modelling itself is measured in tests/physics)."""
    model = dc.write_segy(layered, tmp_path / "model.sgy")
    shots = tmp_path / "shots.sgy"
    argv = ["simulate", str(model), "-o", str(shots), "--shots", "2", "--receivers", "14",
            "--f0", "15", "--t-max", "0.3", "--no-progress"]
    assert main(argv) == 0
    data = dc.read_shots(shots)
    assert data.shape == (2, 151, 14) and data.attrs["f0"] == 15.0
    assert float(np.abs(data).max()) > 0
    assert main(argv) == 1  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err


@pytest.fixture
def invert_case(tmp_path, layered):
    survey = dc.Survey.surface(layered, n_shots=2, n_receivers=14, f0=15.0, t_max=0.3)
    dc.write_shots(dc.simulate(layered, survey), tmp_path / "shots.sgy")
    dc.write_segy(layered, tmp_path / "true.sgy")
    dc.write_segy(smooth(layered, 60.0), tmp_path / "initial.sgy")
    return tmp_path


CONFIG = """
observed = "shots.sgy"
initial = "initial.sgy"
true_model = "true.sgy"
output_dir = "out"
mask_dead_traces = true

[inversion]
representation = "pixel"
iterations = 3
shots_per_iteration = 1
frequency_schedule = [[10.0, 1], ["full", 2]]
bounds = [1500.0, 3000.0]
checkpoint_dir = "ckpt"
checkpoint_every = 2
wavelet = "estimate"
wavelet_every = 2

[regularization]
tv = 0.01

[engine]
space_order = 8
"""


@pytest.mark.smoke
def test_invert_from_toml(invert_case, layered, capsys):
    """Smoke: ``invert`` from a TOML file runs its schedule, regularisation and wavelet
    estimates on a gather with a dead trace and writes the model, history, wavelets, figure
    and checkpoint (the inversion's progress is measured in tests/inversion)."""
    shots = invert_case / "shots.sgy"
    gathers = dc.read_shots(shots)
    gathers[0, :, 3] = 0.0  # a dead channel: with mask_dead_traces it is left out
    dc.write_shots(gathers, shots, overwrite=True)
    config = invert_case / "run.toml"
    config.write_text(CONFIG)
    assert main(["invert", str(config), "--no-progress"]) == 0
    out = invert_case / "out"
    inverted = dc.read_segy(out / "inverted.sgy")
    assert inverted.shape == layered.shape
    np.testing.assert_allclose(inverted.x, layered.x)
    assert 1500.0 <= float(inverted.min()) and float(inverted.max()) <= 3000.0
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == [0, 1, 2]
    assert rows[0]["cutoff"] == "10.0" and rows[2]["cutoff"] == "nan"
    assert {"loss", "time", "misfit", "reg_tv", "ssim", "mse"} <= set(rows[0])
    assert (out / "summary.png").stat().st_size > 0
    # The first estimate (before iteration 0, in the initial model) is estimate_wavelet's on
    # the masked gathers, not on those with the dead trace as zeros.
    wavelets = np.loadtxt(out / "wavelet.csv", delimiter=",", skiprows=1)
    with open(out / "wavelet.csv") as handle:
        assert handle.readline().split(",")[1:] == ["iteration_0", "iteration_1", "iteration_2\n"]
    masked = dc.read_shots(shots, mask_dead_traces=True)
    np.testing.assert_allclose(wavelets[:, 0], dc.Survey.from_shots(masked).time)
    initial = dc.read_segy(invert_case / "initial.sgy")
    for data, close in ((masked, True), (gathers, False)):
        expected = dc.estimate_wavelet(data, initial, dc.Survey.from_shots(data), vmax=3000.0,
                                       space_order=8)
        error = np.linalg.norm(wavelets[:, 1] - expected) / np.linalg.norm(expected)
        assert (error < 1e-4) == close, error
    assert (invert_case / "ckpt" / "crfwi_checkpoint.pt").exists()
    printed = capsys.readouterr().out
    assert "before" in printed and "SSIM" in printed


@pytest.mark.parametrize(
    "text, match",
    [
        ('observed = "shots.sgy"\ninitial = "initial.sgy"\ncolour = 3\n', "unknown key"),
        ('initial = "initial.sgy"\n', "'observed'"),
        ('observed = "shots.sgy"\ninitial = "initial.sgy"\n[inversion]\nrepresentation = "x"\n',
         "representation must be one of"),
        ('observed = "shots.sgy"\ninitial = "initial.sgy"\n[engine]\nvmax = 3.0\n',
         "unknown key"),
        ('observed = "missing.sgy"\ninitial = "initial.sgy"\n', "missing.sgy"),
        ("observed = \n", "not valid TOML"),
        ('observed = "shots.sgy"\ninitial = "initial.sgy"\n[inversion]\nrepresentation = '
         '"pixel"\n[representation_options]\nnonsense = 1\n',
         "bad.toml [representation_options]: representation_options: unknown option(s) "
         "['nonsense'] of representation 'pixel'"),
        ('observed = "shots.sgy"\ninitial = "initial.sgy"\n[representation_options]\n'
         'vmin = 1000.0\n', "[representation_options]: representation_options['vmin'] repeats "
         "CRFWIProblem's own argument: give it as bounds=(vmin, vmax) only"),
        ('observed = "shots.sgy"\ninitial = "initial.sgy"\n[inversion]\nrepresentation = '
         '"pixel"\n[engine]\nmemory_limit = 1000\n',
         "memory_limit = 1000 bytes cannot hold the gradient of 2 shot(s)"),
    ],
)
def test_invert_bad_configs_fail_clearly(invert_case, text, match, capsys):
    config = invert_case / "bad.toml"
    config.write_text(text)
    assert main(["invert", str(config), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("devito-crfwi invert: error:") and match in err
    assert err.count("\n") == 1  # one line, no traceback


def test_simulate_too_big_for_memory_is_one_line(tmp_path, layered, capsys, monkeypatch):
    from devito_crfwi.physics import memory

    model = dc.write_segy(layered, tmp_path / "model.sgy")
    monkeypatch.setattr(memory, "available_memory", lambda: 2**16)  # 64 KiB
    argv = ["simulate", str(model), "-o", str(tmp_path / "shots.sgy"), "--shots", "1",
            "--receivers", "4", "--f0", "15", "--t-max", "0.2", "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("devito-crfwi simulate: error: ") and err.count("\n") == 1
    assert "padded to 68 x 58" in err and "only 0.1 MiB of memory is available" in err


@pytest.mark.smoke
def test_demo_runs_small(tmp_path, layered, capsys):
    """Smoke: ``demo`` runs on a given model and writes the inverted model and summary."""
    model = dc.write_segy(layered, tmp_path / "tiny.sgy")
    argv = ["demo", "--model", str(model), "--coarsen", "1", "--shots", "2", "--f0", "15",
            "--t-max", "0.3", "--sigma", "40", "--iterations", "2", "--no-progress",
            "--output-dir", str(tmp_path / "demo")]
    assert main(argv) == 0
    assert dc.read_segy(tmp_path / "demo" / "inverted.sgy").shape == layered.shape
    assert (tmp_path / "demo" / "summary.png").exists()
    out = capsys.readouterr().out
    assert "before: MSE" in out and "after: MSE" in out
