"""Checkpoints lose nothing and overwrite nothing: earlier runs, corrupt files, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from devito_crfwi.initial_models import smooth
from devito_crfwi.inversion.checkpoint import (
    CHECKPOINT_NAME,
    HASHED,
    LOCK_NAME,
    content_hash,
    previous_path,
)
from devito_crfwi.inversion.problem import CRFWIProblem
from devito_crfwi.io.atomic import _HOST, FolderInUseError
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


# -- issue 28: resume resumes the same problem; one run per folder; writable folders ----------
def test_resume_refuses_other_data_initial_model_or_water_mask(tmp_path, layered,
                                                               crosswell_survey,
                                                               crosswell_observed):
    start = smooth(layered, 80.0)

    def problem(observed=crosswell_observed, initial=start, **kw):
        # Fixed bounds: the default ones follow the initial model and would tell it apart.
        return CRFWIProblem(observed, crosswell_survey, initial, "pixel",
                            bounds=(1500.0, 3000.0), **kw)

    problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    cases = {
        "observed_data: differs (hash)": problem(observed=crosswell_observed * 1.01),
        "initial_model: differs (hash)": problem(initial=smooth(layered, 120.0)),
        # Once torch's raw load_state_dict error (the mask is a buffer of the module).
        "water_mask: differs (hash)": problem(water_mask=np.arange(30)[None, :] < 4
                                              + np.zeros((40, 1), bool)),
        "lr: checkpoint": problem(lr=0.5),
    }
    for match, other in cases.items():
        with pytest.raises(ValueError, match="different problem") as info:
            other.solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
        assert match in str(info.value) and "state_dict" not in str(info.value)
        assert other.iteration == 0
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    problem().solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)  # the same: resumes


def test_a_checkpoint_older_than_the_data_checks_resumes_with_a_warning(tmp_path, problem):
    problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    old = {k: v for k, v in json.loads(state["fingerprint"]).items() if k not in HASHED}
    torch.save(state | {"fingerprint": json.dumps(old)}, path)
    p = problem()
    with pytest.warns(UserWarning, match="predates the checks of initial_model, observed_data, "
                                         "survey, water_mask"):
        p.solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert p.iteration == 2


def test_first_scheme_hashes_resume_with_a_warning_naming_them(tmp_path, problem):
    problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    old = json.loads(state["fingerprint"])
    del old["hash_scheme"]
    old["survey"] = "0" * 32  # as one taken before a kernel had flushed the wavelet's tail
    torch.save(state | {"fingerprint": json.dumps(old)}, path)
    with pytest.warns(UserWarning, match="first-scheme hashes of initial_model, "
                                         "observed_data, survey, water_mask"):
        problem().solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(ValueError, match="lr: checkpoint"):  # the settings are still checked
        problem(lr=0.5).solve(3, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_tiny_floats_hash_as_zero():
    values = np.array([1.0, -2.5, 0.0, 3e-39, -1e-300, -0.0])
    flushed = np.array([1.0, -2.5, 0.0, 0.0, 0.0, 0.0])
    assert content_hash(values) == content_hash(flushed)
    assert content_hash(values.astype(np.float32)) == content_hash(flushed.astype(np.float32))
    assert content_hash(values) != content_hash(flushed + [0.0, 1e-7, 0, 0, 0, 0])


_FLUSH = """
import numpy as np
from devito_crfwi import Survey, simulate
from devito_crfwi.inversion.checkpoint import content_hash
from tests.helpers import model_dataarray

survey = Survey(np.array([[100.0, 20.0]]), np.array([[150.0, 20.0]]), f0=20.0, t_max=1.0)
wavelet = lambda: survey.source_wavelet(survey.time)
before = wavelet(), content_hash(wavelet())
simulate(model_dataarray(np.full((30, 20), 2000.0), 10.0), survey, progress=False)
after = wavelet(), content_hash(wavelet())
print(int(np.array_equal(before[0], after[0])), int(before[1] == after[1]))
"""


def test_a_surveys_hash_is_the_same_after_a_devito_kernel_ran():
    # Devito's -ffast-math kernels flush subnormals to zero in the whole process once loaded:
    # a 20 Hz Ricker's tail past ~0.45 s changes (the runner's resumes were refused for it).
    out = subprocess.run([sys.executable, "-c", _FLUSH], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    if out[0] == "1":
        pytest.skip("this platform's Devito kernels do not flush subnormals")
    assert out[1] == "1"


_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} otherhost".encode())
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_solve_into_a_busy_folder_is_refused(tmp_path, problem):
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path / LOCK_NAME)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = problem()
        with pytest.raises(FolderInUseError, match=f"in use by pid {holder.pid} on otherhost"):
            p.solve(1, checkpoint_dir=tmp_path, progress=False)
        assert p.iteration == 0 and not (tmp_path / CHECKPOINT_NAME).exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder died holding it: the kernel freed the lock, its file is taken over.
    with pytest.warns(UserWarning, match=f"left by pid {holder.pid} on otherhost"):
        problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    assert not (tmp_path / LOCK_NAME).exists()  # released at the end


def test_an_unwritable_checkpoint_dir_is_refused_before_the_first_iteration(tmp_path, problem):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user writes in read-only folders (root)")
        with pytest.raises(PermissionError, match=f"checkpoint_dir {folder} is not writable"):
            problem().solve(1, checkpoint_dir=folder, progress=False)
    finally:
        folder.chmod(0o755)


def test_only_the_packages_own_stale_temporary_files_are_swept(tmp_path, problem):
    dead = 2**22 + 12345  # above Linux's largest pid: no such process
    users = tmp_path / f".{CHECKPOINT_NAME}.{dead}.notes.tmp"  # merely looks like one
    users.write_text("mine")
    ours = tmp_path / f".{CHECKPOINT_NAME}.crfwi-tmp-{_HOST}-{dead}.k3j_x.tmp"
    ours.write_text("")
    other_host = tmp_path / f".{CHECKPOINT_NAME}.crfwi-tmp-elsewhere-{dead}.k3j_x.tmp"
    other_host.write_text("")  # its writer may be alive on that host
    problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    assert users.read_text() == "mine" and other_host.exists() and not ours.exists()


def test_a_state_that_does_not_fit_is_refused_without_torchs_raw_error(tmp_path, problem):
    # Same fingerprint, other module state (as a user module whose parameters changed).
    problem().solve(1, checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    torch.save(state | {"representation": {"unexpected": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="does not fit this problem's representation") as info:
        problem().solve(2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert "state_dict" not in str(info.value)
    assert info.value.__cause__ is None
