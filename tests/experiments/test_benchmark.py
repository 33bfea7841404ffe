"""The paper benchmark runner on bench/paper/tiny.toml: table, resume, report, CLI, notebook."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from devito_crfwi.experiments import runner as bm
from devito_crfwi.experiments.report import COLUMNS, _ordering, results_frame
from devito_crfwi.inversion.filters import butterworth
from tests.helpers import ROOT, SHARED_MODELS

TINY = ROOT / "bench" / "paper" / "tiny.toml"
PAPER = ROOT / "bench" / "paper" / "paper.toml"
NOTEBOOK = ROOT / "notebooks" / "03_benchmark.ipynb"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny benchmark, run once: (Benchmark, summaries of the first run)."""
    out = tmp_path_factory.mktemp("tiny")
    bench = bm.Benchmark(TINY, output_dir=out, results=out / "RESULTS.md")
    summaries = bench.run(progress=False)
    return bench, summaries


def test_tiny_table_has_every_column_finite(tiny_run):
    bench, summaries = tiny_run
    assert len(summaries) == len(bench.cells()) == 4
    frame = results_frame(bench)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 4
    numeric = frame.drop(columns=["model", "scenario", "method"]).to_numpy(dtype=float)
    assert np.isfinite(numeric).all(), frame
    # Same budget for every method.
    assert set(frame["wave_solves"]) == {3 * 2}
    for s in summaries:
        assert len(s["ntk_start"]) == len(s["ntk_end"]) == 2
        assert all(math.isfinite(v) and v > 0 for v in s["ntk_start"] + s["ntk_end"])
    md = Path(bench.bench["results"]).read_text()
    for name in ("FWI (ADFWI)", "IG-FWI", "smooth", "nolowfreq", "complete", "```toml"):
        assert name in md
    for png in (Path(bench.bench["results"]).parent / "figures").glob("*.png"):
        assert png.stat().st_size < 200_000
    # A finished cell keeps its results and leaves no checkpoint behind.
    assert not list((bench.output_dir / "checkpoints").glob("*/*"))


def test_rerun_skips_finished_runs(tiny_run):
    bench, _ = tiny_run
    jsons = sorted(bench.runs_dir.glob("*.json"))
    before = {p: p.stat().st_mtime_ns for p in jsons}
    again = bm.Benchmark(TINY, output_dir=bench.output_dir, results=bench.bench["results"])
    assert all(again.is_done(c) for c in again.cells())
    assert again.run(progress=False, report=False) == []
    assert {p: p.stat().st_mtime_ns for p in jsons} == before


def test_killed_run_leaves_no_result_and_is_redone(tiny_run, tmp_path):
    bench, _ = tiny_run
    out = tmp_path / "copy"
    shutil.copytree(bench.output_dir, out)
    victim = out / "runs" / f"{bm.run_id('synthetic', 'smooth', 'ig')}.json"
    victim.unlink()  # as if the process died before the run's result was written
    again = bm.Benchmark(TINY, output_dir=out, results=out / "RESULTS.md")
    todo = [c for c in again.cells() if not again.is_done(c)]
    assert todo == [("synthetic", "smooth", "ig")]
    redone = again.run(progress=False, report=False)
    assert [(s["scenario"], s["method"]) for s in redone] == [("smooth", "ig")]
    assert victim.is_file()


def test_cell_locked_by_another_process_is_skipped_and_a_dead_ones_lock_is_free(tiny_run,
                                                                                 tmp_path):
    import fcntl

    bench, _ = tiny_run
    out = tmp_path / "copy"
    shutil.copytree(bench.output_dir, out)
    cell = ("synthetic", "smooth", "pixel")
    (out / "runs" / f"{bm.run_id(*cell)}.json").unlink()
    lock = out / "runs" / f".{bm.run_id(*cell)}.lock"
    again = bm.Benchmark(TINY, output_dir=out, results=out / "RESULTS.md")
    with open(lock, "w") as held:  # another worker runs the cell
        fcntl.flock(held, fcntl.LOCK_EX)
        assert again.run(progress=False, report=False) == []
        assert not again.is_done(cell)
    # The lock file of a killed worker stays behind, unlocked: the cell is free.
    assert lock.is_file()
    redone = again.run(progress=False, report=False)
    assert [(s["scenario"], s["method"]) for s in redone] == [cell[1:]]
    assert again.is_done(cell) and not lock.exists()


def test_a_failing_cell_spares_the_next_ones_and_is_named_at_the_end(tiny_run, tmp_path,
                                                                    capsys):
    from devito_crfwi.cli import main
    from devito_crfwi.inversion.checkpoint import CHECKPOINT_NAME

    bench, _ = tiny_run
    out = tmp_path / "copy"
    shutil.copytree(bench.output_dir, out)
    first, last = bench.cells()[0], bench.cells()[-1]
    for cell in (first, last):
        (out / "runs" / f"{bm.run_id(*cell)}.json").unlink()
    broken = out / "checkpoints" / bm.run_id(*first) / CHECKPOINT_NAME
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")  # as a disk that filled up mid-write
    status = main(["benchmark", str(TINY), "--output-dir", str(out), "--results",
                   str(out / "RESULTS.md"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 1
    assert "1 run(s) failed, the others ran" in err and bm.run_id(*first) in err
    assert "corrupt or truncated" in err and "Traceback" in err
    again = bm.Benchmark(TINY, output_dir=out, results=out / "RESULTS.md")
    assert again.is_done(last) and not again.is_done(first)
    assert broken.read_bytes() == b"not a checkpoint"  # kept for the user to look at
    assert "PARTIAL" in (out / "RESULTS.md").read_text()


def test_cli_workers_share_the_runs(tiny_run, tmp_path, capsys):
    """--workers 2: two processes split the cells through the locks, with the serial results."""
    from devito_crfwi.cli import main

    out = tmp_path / "w"
    assert main(["benchmark", str(TINY), "--output-dir", str(out), "--results",
                 str(out / "RESULTS.md"), "--workers", "2", "--no-progress"]) == 0
    assert "4/4 runs finished" in capsys.readouterr().out
    bench = bm.Benchmark(TINY, output_dir=out, results=out / "RESULTS.md")
    assert all(bench.is_done(c) for c in bench.cells())
    assert not list((out / "runs").glob(".*.lock")) and not list(out.rglob("*.tmp"))
    parallel, serial = results_frame(bench), results_frame(tiny_run[0])
    np.testing.assert_allclose(parallel["mse"].to_numpy(float), serial["mse"].to_numpy(float),
                               rtol=1e-4)
    assert "Status: complete" in (out / "RESULTS.md").read_text()


def test_cli_report_only(tiny_run, capsys):
    from devito_crfwi.cli import main

    bench, _ = tiny_run
    report = bench.output_dir / "again.md"
    assert main(["benchmark", str(TINY), "--output-dir", str(bench.output_dir),
                 "--results", str(report), "--report-only"]) == 0
    assert "4/4 runs finished" in capsys.readouterr().out
    assert "| synthetic | smooth |" in report.read_text()


def test_report_includes_the_hand_written_reading(tiny_run, tmp_path):
    bench, _ = tiny_run
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.read_text().replace("[benchmark]\n",
                                               '[benchmark]\nreading = "READING.md"\n', 1))
    (tmp_path / "READING.md").write_text("## Reading\n\nIG wins nothing here.\n")
    again = bm.Benchmark(config, output_dir=bench.output_dir, results=tmp_path / "RESULTS.md")
    text = again.report().read_text()
    assert "IG wins nothing here." in text
    assert text.index("## Reading") < text.index("## Figures")


def test_scenario_frequency_schedule_reaches_the_problem(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.read_text().replace(
        "highpass_hz = 3.0", 'frequency_schedule = [[2.0, 2], ["full", 1]]'))
    bench = bm.Benchmark(config, output_dir=tmp_path / "out")
    summary = bench.run_cell(("synthetic", "nolowfreq", "pixel"))
    assert summary["frequency_schedule"] == [[2.0, 2], [None, 1]]
    assert math.isfinite(summary["mse"])


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.read_text().replace("iterations = 3", "iterations = 3\nitrations = 4"))
    with pytest.raises(ValueError, match="itrations"):
        bm.load_config(bad)
    bad.write_text(TINY.read_text().replace('methods = ["pixel", "ig"]',
                                            'methods = ["pixel", "nope"]'))
    with pytest.raises(ValueError, match="nope"):
        bm.load_config(bad)


def test_method_loss_is_minimised_and_runs_are_scored_by_l2(tmp_path):
    config = tmp_path / "tiny.toml"
    text = TINY.read_text().replace('methods = ["pixel", "ig"]', 'methods = ["pixel", "tn"]')
    config.write_text(text + '[methods.tn]\nrepresentation = "pixel"\nloss = "l2_tracenorm"\n')
    bench = bm.Benchmark(config, output_dir=tmp_path / "out")
    problem, *_, misfit, _ = bench.problem_for(("synthetic", "nolowfreq", "tn"))
    assert problem.loss_name == "l2_tracenorm_highpass_3Hz"
    assert misfit.__name__ == "l2_highpass_3Hz"
    problem, *_, misfit, _ = bench.problem_for(("synthetic", "smooth", "tn"))
    assert problem.loss_name == "l2_tracenorm" and misfit == "l2"
    config.write_text(text + '[methods.tn]\nloss = "l3"\n')
    with pytest.raises(ValueError, match=r"\[methods.tn\]: loss must be one of .*'l3'"):
        bm.load_config(config)


def test_paper_config_parses_and_orders_priority_cells():
    bench = bm.Benchmark(PAPER)
    cells = bench.cells()
    assert cells[0] == ("marmousi", "smooth", "pixel")
    assert cells[5:10] == [("marmousi", "constant", m)
                           for m in ("pixel", "inr", "grid", "lowrank", "ig")]
    assert cells[10][:2] == ("overthrust", "constant")
    assert len(cells) == len(set(cells)) == 2 * 6 * 5


@pytest.mark.parametrize("name, n_cells, shots", [("protocol", 25, 13), ("overthrust", 10, 20)])
def test_protocol_configs_hold_the_papers_cells_and_survey(name, n_cells, shots):
    from devito_crfwi.experiments.scenarios import survey_of

    bench = bm.Benchmark(ROOT / "bench" / "protocol" / f"{name}.toml")
    cells = bench.cells()
    assert len(cells) == len(set(cells)) == n_cells
    assert all(cell[:2] in bm.PAPER_TABLE1 for cell in cells)
    assert bench.config["scenarios"]["constant"]["iterations"] == 1500
    (spec,) = bench.config["models"].values()
    vp = bm.synthetic_model(*spec["shape"], spec["spacing"])  # the paper's grid, no shared data
    survey = survey_of(vp, spec)
    assert survey.n_shots == shots and survey.n_receivers == spec["shape"][0]


@pytest.mark.parametrize("name, changed", [("ablation", ()), ("ablation_picked", ()),
                                           ("ablation_picked_constant", ()),
                                           ("ablation_one_shot",
                                            ("iterations", "shots_per_iteration")),
                                           ("ablation_tracenorm", ("shots_per_iteration",))])
def test_ablation_configs_change_only_the_methods_of_the_protocol(name, changed):
    """An ablation's models, scenarios and budget are the protocol's (Marmousi) or
    overthrust.toml's, copied table by table (but for the keys it ``changed``)."""
    protocol = bm.Benchmark(ROOT / "bench" / "protocol" / "protocol.toml")
    overthrust = bm.Benchmark(ROOT / "bench" / "protocol" / "overthrust.toml")
    ablation = bm.Benchmark(ROOT / "bench" / "protocol" / f"{name}.toml")
    for model, table in ablation.config["models"].items():
        base = protocol if model == "marmousi" else overthrust
        assert table == base.config["models"][model], model
        for scenario, scenario_table in ablation.config["scenarios"].items():
            assert scenario_table == base.config["scenarios"][scenario], (model, scenario)
    if "shots_per_iteration" in changed and "iterations" not in changed:  # all shots a step
        assert ablation.bench["shots_per_iteration"] >= max(
            m["n_shots"] for m in ablation.config["models"].values())
    for key in ("iterations", "shots_per_iteration", "seed", "engine", "data_dir"):
        if key not in changed:
            assert ablation.bench[key] == protocol.bench[key], key
    if "iterations" in changed:  # one-shot steps: the same wave solves as the protocol's epochs
        assert (ablation.bench["iterations"] * ablation.bench["shots_per_iteration"]
                == protocol.bench["iterations"] * protocol.bench["shots_per_iteration"])
    for method in ablation.bench["methods"]:
        spec = ablation.config["methods"][method]
        base = protocol.config["methods"][spec["representation"]]
        assert spec["options"].get("preset") == base["options"].get("preset"), method


@pytest.mark.parametrize("name, base_name, model, epochs_shots", [
    ("oneshot", "protocol", "marmousi", [("smooth", 500, 13), ("constant", 1500, 13),
                                         ("sparse", 500, 5)]),
    ("protocol_v2", "protocol", "marmousi", None),
    ("oneshot_overthrust", "overthrust", "overthrust", [("smooth", 500, 20),
                                                        ("constant", 1500, 20)]),
])
def test_corrected_engine_configs_keep_the_protocol_but_geometry_and_reading(
        name, base_name, model, epochs_shots):
    """oneshot*.toml and protocol_v2.toml: their protocol's cells, rates and survey, the source
    and receivers one cell deeper (the paper's positions below this engine's top-row
    surface); the one-shot configs read an epoch as one Adam step per shot."""
    protocol = bm.Benchmark(ROOT / "bench" / "protocol" / f"{base_name}.toml")
    bench = bm.Benchmark(ROOT / "bench" / "protocol" / f"{name}.toml")
    spec, base = bench.config["models"][model], protocol.config["models"][model]
    moved = {"source_depth": 30.0, "receiver_depth": 45.0}
    assert spec == base | moved
    assert {k: base[k] for k in moved} == {"source_depth": 15.0, "receiver_depth": 30.0}
    for method in bench.bench["methods"]:
        assert bench.config["methods"][method] == protocol.config["methods"][method]
    assert bench.bench["engine"] == protocol.bench["engine"]
    if epochs_shots is None:  # the full-batch control
        assert bench.cells() == [c for c in protocol.cells() if c[1] == "smooth"]
        assert bench.bench["iterations"] == protocol.bench["iterations"]
        return
    assert sorted(bench.cells()) == sorted(protocol.cells())
    assert bench.bench["shot_order"] == "epoch" and bench.bench["shots_per_iteration"] == 1
    # 500 epochs of single-shot steps (1500 from the constant start), over each cell's shots.
    for scenario, epochs, shots in epochs_shots:
        assert bench._iterations(scenario, shots, 1) == epochs * shots
        assert protocol.config["scenarios"][scenario].get("iterations", 500) == epochs
        table = {k: v for k, v in bench.config["scenarios"][scenario].items() if k != "epochs"}
        assert table == {k: v for k, v in protocol.config["scenarios"][scenario].items()
                         if k != "iterations"}


def test_epochs_and_iterations_are_exclusive(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.read_text().replace("iterations = 3", "iterations = 3\nepochs = 2"))
    with pytest.raises(ValueError, match="iterations or epochs, not both"):
        bm.load_config(config)
    config.write_text(TINY.read_text().replace("iterations = 3", "epochs = 2\nshot_order = 'x'"))
    with pytest.raises(ValueError, match="shot_order must be random or epoch"):
        bm.load_config(config)


def test_highpass_removes_low_and_keeps_high_frequencies():
    dt, n = 0.004, 1000
    t = torch.arange(n, dtype=torch.float64) * dt
    low = torch.sin(2 * torch.pi * 0.5 * t)
    high = torch.sin(2 * torch.pi * 10.0 * t)
    out = butterworth((low + high)[None, :, None], 3.0, dt, kind="highpass")[0, :, 0]
    core = slice(200, 800)
    assert torch.allclose(out[core], high[core], atol=0.03)


def test_noise_has_the_requested_snr():
    data = np.random.default_rng(0).standard_normal((4, 500, 30)).astype(np.float32)
    noisy = bm.add_noise(data, 10.0, seed=1)
    snr = 10 * np.log10(np.mean(data**2) / np.mean((noisy - data) ** 2))
    assert abs(snr - 10.0) < 0.1
    assert np.array_equal(noisy, bm.add_noise(data, 10.0, seed=1))


def test_ordering_against_the_paper():
    paper = bm.PAPER_TABLE1[("marmousi", "smooth")]
    ours, theirs, agree = _ordering(dict(paper), paper)
    assert ours == theirs and agree == "10/10"
    _, _, agree = _ordering({"pixel": 1.0, "ig": 2.0}, paper)
    assert agree == "0/1"


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED_MODELS / "manifest.json").is_file(),
                    reason=f"needs the shared models in {SHARED_MODELS} (absent here)")
def test_shared_models_resample_to_the_benchmark_grid():
    spec = {"spacing": 200.0}
    marm = bm.prepare_model("marmousi", spec, str(SHARED_MODELS))
    over = bm.prepare_model("overthrust", spec, str(SHARED_MODELS))
    assert marm.shape == (46, 17) and over.shape == (51, 18)
    assert float(marm.x[1] - marm.x[0]) == 200.0
    for vp in (marm, over):
        assert np.isfinite(vp.values).all() and 1400 < float(vp.min()) < float(vp.max()) < 6100
        init = bm.initial_model(vp, {"initial": "constant"}, {"constant": 2500.0})
        water = np.asarray(vp)[:, 0] == np.asarray(init)[:, 0]
        assert water.all()  # the water layer is kept in the initial model


@pytest.mark.smoke
def test_notebook_runs_on_the_tiny_results(tiny_run, tmp_path, monkeypatch):
    """Smoke: notebooks/03_benchmark.ipynb runs on finished results and draws its figures."""
    from tests.helpers import run_notebook

    bench, _ = tiny_run
    monkeypatch.setenv("DEVITO_CRFWI_BENCH_CONFIG", str(TINY))
    monkeypatch.setenv("DEVITO_CRFWI_BENCH_OUT", str(bench.output_dir))
    monkeypatch.setenv("DEVITO_CRFWI_BENCH_RUN", "1")  # all finished: runs nothing
    _, text, images = run_notebook(NOTEBOOK, tmp_path, monkeypatch, timeout=300)
    assert images >= 4
    assert "4 of 4 runs finished" in text


def test_noise_of_sigma_times_the_clean_standard_deviation():
    data = 3.0 * np.random.default_rng(0).standard_normal((4, 500, 30)).astype(np.float32)
    noisy = bm.add_noise(data, seed=1, sigma=8.0)
    assert abs(np.std(noisy - data) / np.std(data) - 8.0) < 0.05
    with pytest.raises(ValueError, match="exactly one"):
        bm.add_noise(data, 10.0, seed=1, sigma=8.0)


def test_survey_of_shot_columns_and_depths():
    from devito_crfwi.experiments.scenarios import survey_of

    vp = bm.synthetic_model(60, 20, 15.0)
    spec = {"n_shots": 3, "first_shot_column": 10, "shot_step_columns": 20, "f0": 8.0,
            "t_max": 0.5, "dt": 0.0019, "source_depth": 15.0, "receiver_depth": 30.0}
    survey = survey_of(vp, spec)
    np.testing.assert_array_equal(survey.source_positions, [[150, 15], [450, 15], [750, 15]])
    assert survey.n_receivers == 60 and np.all(survey.receiver_positions[..., 1] == 30.0)
    assert survey.dt == pytest.approx(0.0019)
    with pytest.raises(ValueError, match="shot columns 10..70 are outside the model's 60 columns"):
        survey_of(vp, spec | {"n_shots": 4})


def test_whole_model_resampled_to_a_shape_and_relabelled(monkeypatch):
    import devito_crfwi.io

    big = bm.synthetic_model(121, 41, 7.5)  # 900 m x 300 m
    monkeypatch.setattr(devito_crfwi.io, "load_model", lambda name, data_dir: big)
    vp = bm.prepare_model("marmousi", {"shape": [61, 21], "spacing": 15.0}, "unused")
    assert vp.shape == (61, 21)
    np.testing.assert_allclose(vp.x, np.arange(61) * 15.0)
    # Every second node of the original grid: the resampling is exact there.
    np.testing.assert_allclose(vp.values, big.values[::2, ::2], rtol=1e-6)


def test_scenario_shots_and_iterations(tmp_path):
    text = TINY.read_text().replace(
        'highpass_hz = 3.0', 'highpass_hz = 3.0\nshots = [1, 3]\niterations = 2')
    config = tmp_path / "tiny.toml"
    config.write_text(text)
    bench = bm.Benchmark(config, output_dir=tmp_path / "out")
    _, survey, data, _ = bench._scenario_data("synthetic", "nolowfreq")
    full = bench._truth("synthetic")[1]
    assert survey.n_shots == 2 and data.shape[0] == 2
    np.testing.assert_array_equal(survey.source_positions, full.source_positions[[1, 3]])
    summary = bench.run_cell(("synthetic", "nolowfreq", "pixel"))
    assert summary["iterations"] == 2 and summary["code"].startswith("0.")


def test_spearman_of_the_orderings():
    from devito_crfwi.experiments.report import _spearman

    paper = bm.PAPER_TABLE1[("marmousi", "smooth")]
    assert _spearman(dict(paper), paper) == pytest.approx(1.0)
    reverse = {m: -v for m, v in paper.items()}
    assert _spearman(reverse, paper) == pytest.approx(-1.0)
    assert math.isnan(_spearman({"pixel": 1.0, "ig": 2.0}, paper))


def test_variant_methods_get_no_table1_columns(tiny_run, tmp_path):
    """An ablation's variants (not the paper's methods) are not set beside Table 1."""
    bench, _ = tiny_run
    assert "## MSE beside the paper's Table 1" in bench.report().read_text()
    config = tmp_path / "variants.toml"
    config.write_text(TINY.read_text().replace('methods = ["pixel", "ig"]',
                                               'methods = ["pixel_lr3", "ig_lr3"]')
                      .replace("[methods.pixel]", '[methods.pixel_lr3]\nrepresentation = "pixel"')
                      .replace("[methods.ig]", '[methods.ig_lr3]\nrepresentation = "ig"'))
    variants = bm.Benchmark(config, output_dir=tmp_path / "runs", results=tmp_path / "R.md")
    assert variants.cells() and all(m.endswith("_lr3") for _, _, m in variants.cells())
    assert "beside the paper's Table 1" not in variants.report().read_text()


def test_code_version_names_the_code_this_process_imported(monkeypatch):
    """Read once per process: a commit checked out while a run goes on is not its code."""
    from importlib.metadata import version

    first = bm.code_version()
    assert first.split("+")[0] == version("devito-crfwi")

    def moved(*args, **kwargs):  # the checkout has moved on since this process started
        raise AssertionError("git must not be asked again")

    monkeypatch.setattr(bm.subprocess, "run", moved)
    assert bm.code_version() == first
