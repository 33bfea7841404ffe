"""Checkpoints lose nothing and overwrite nothing: earlier runs, corrupt files, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from devito_crfwi.initial_models import smooth
from devito_crfwi.inversion.checkpoint import CHECKPOINT_NAME, previous_path
from devito_crfwi.inversion.problem import CRFWIProblem
from tests.helpers import ROOT


@pytest.fixture
def problem(layered, crosswell_survey, crosswell_observed):
    return lambda **kw: CRFWIProblem(crosswell_observed, crosswell_survey,
                                     smooth(layered, 80.0), "pixel", **kw)


def test_an_earlier_runs_checkpoint_is_never_overwritten(tmp_path, problem):
    problem().solve(2, checkpoint_dir=tmp_path, progress=False)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(FileExistsError, match="resume=True"):
        problem().solve(2, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="different problem"):  # another run's settings
        problem(lr=0.05).solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before


def test_a_problem_continues_its_own_checkpoint(tmp_path, problem):
    p = problem()
    p.solve(1, checkpoint_dir=tmp_path, progress=False)
    result = p.solve(3, checkpoint_dir=tmp_path, progress=False)  # its own file: no resume
    assert result.sizes["iteration"] == 3
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert state["iteration"] == 3
    # The keys of format 1, as in the committed runs' checkpoints (bench/protocol/*_runs).
    assert sorted(state) == ["callbacks", "fingerprint", "format", "history", "iteration",
                             "numpy_rng", "optimizer", "representation", "torch_rng"]
    # The state it replaced is kept beside it.
    assert torch.load(previous_path(tmp_path / CHECKPOINT_NAME),
                      weights_only=True)["iteration"] == 1


def test_a_corrupt_checkpoint_is_named_and_the_previous_one_kept(tmp_path, problem):
    p = problem()
    p.solve(2, checkpoint_dir=tmp_path, checkpoint_every=1, progress=False)
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(path.read_bytes()[:100])  # truncated, as by a full disk
    with pytest.raises(ValueError, match="corrupt or truncated") as info:
        problem().solve(3, checkpoint_dir=tmp_path, resume=True, progress=False)
    prev = previous_path(path)
    assert str(path) in str(info.value) and str(prev) in str(info.value)
    assert torch.load(prev, weights_only=True)["iteration"] == 1


def test_bad_checkpoint_arguments(tmp_path, problem):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        problem().solve(1, checkpoint_dir=tmp_path / "file", progress=False)
    with pytest.raises(TypeError, match="resume must be True or False"):
        problem().solve(1, checkpoint_dir=tmp_path, resume="yes", progress=False)


_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from tests.helpers import model_dataarray
from tests.helpers import resume_problem

problem = resume_problem(model_dataarray(np.load({vp!r}), 10.0), np.load({observed!r}))
def slow(problem, it, loss):
    print("done", it, flush=True)
    time.sleep(0.3)
problem.solve(50, checkpoint_dir={ckpt!r}, checkpoint_every=100, progress=False, callback=slow)
"""


def test_ctrl_c_saves_the_finished_iterations(tmp_path, layered, crosswell_observed):
    np.save(tmp_path / "vp.npy", layered.values)
    np.save(tmp_path / "observed.npy", crosswell_observed.values)
    ckpt = tmp_path / "ckpt"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_SCRIPT).format(
        root=str(ROOT), vp=str(tmp_path / "vp.npy"), observed=str(tmp_path / "observed.npy"),
        ckpt=str(ckpt)))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        for line in process.stdout:
            if line.startswith("done 2"):
                break
            assert time.monotonic() < deadline
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0  # KeyboardInterrupt ends it
    saved = torch.load(ckpt / CHECKPOINT_NAME, weights_only=True)
    assert 3 <= saved["iteration"] < 50  # no periodic save was due: Ctrl-C wrote it
    assert len(saved["history"]["loss"]) == saved["iteration"]


def test_a_checkpoint_of_other_engine_settings_is_refused(tmp_path):
    from devito_crfwi import CRFWIProblem, Survey, simulate, smooth
    from tests.helpers import model_dataarray

    vp = model_dataarray(np.where(np.arange(16)[None, :] < 8, 2000.0, 2300.0).repeat(20, 0), 10.0)
    survey = Survey.surface(vp, n_shots=1, n_receivers=6, f0=15.0, t_max=0.15)
    observed = simulate(vp, survey, boundary_width=10, progress=False)
    start = smooth(vp, 30.0)
    first = CRFWIProblem(observed, survey, start, "pixel", boundary_width=10)
    first.solve(1, checkpoint_dir=tmp_path, progress=False)
    other = CRFWIProblem(observed, survey, start, "pixel", boundary_width=12)
    with pytest.raises(ValueError, match="engine_options"):
        other.solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
