"""Shot-parallel execution on Dask: same results as serial, operators reused, worker loss."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
import xarray as xr

from devito_crfwi import Survey, WaveOperator, simulate, smooth
from devito_crfwi.inversion.losses import l2_loss, live_traces
from tests.helpers import smooth_perturbation

distributed = pytest.importorskip("distributed", reason="needs the dask extra (dask[distributed])")
dask = pytest.importorskip("dask")

SETTINGS = dict(vmax=3000.0, boundary_width=20)
# Dask against serial, float32: measured 0 (one 1.5e-16): the workers run the same kernels on
# one thread, as the serial run on this small grid does, so the results agree bit for bit.
SAME = 1e-12


@pytest.fixture(scope="module")
def client():
    # One retry budget for the whole cluster: a task survives this many worker deaths.
    with dask.config.set({"distributed.scheduler.allowed-failures": 2}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            env={"OMP_NUM_THREADS": "1"},
        )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def survey4(layered):
    return Survey.surface(layered, n_shots=4, n_receivers=15, f0=15.0, t_max=0.3)


@pytest.fixture(scope="module")
def serial_op(layered, survey4):
    return WaveOperator(survey4, layered, **SETTINGS)


@pytest.fixture(scope="module")
def dask_op(layered, survey4, client):
    return WaveOperator(survey4, layered, client=client, **SETTINGS)


@pytest.fixture(scope="module")
def observed(serial_op):
    with torch.no_grad():
        return serial_op(torch.full((40, 30), 2200.0))


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def loss_and_grad(op, vp0, observed, shots=None):
    vp = torch.tensor(vp0, requires_grad=True)
    target = observed if shots is None else observed[list(shots)]
    loss = 0.5 * ((op(vp, shots=shots) - target) ** 2).sum()
    loss.backward()
    return float(loss.detach()), vp.grad.numpy()


def test_forward_and_gradient_match_serial(serial_op, dask_op, layered, observed, client):
    vp0 = layered.values
    loss_s, grad_s = loss_and_grad(serial_op, vp0, observed)
    loss_d, grad_d = loss_and_grad(dask_op, vp0, observed)
    assert loss_d == pytest.approx(loss_s, rel=SAME)
    assert rel(grad_d, grad_s) <= SAME
    with torch.no_grad():
        data_s, data_d = serial_op(torch.tensor(vp0)), dask_op(torch.tensor(vp0))
    assert data_d.shape == (4, serial_op.survey.nt, 15)
    assert rel(data_d, data_s) <= SAME
    # a subset of shots, in a given order
    _, grad_sub_s = loss_and_grad(serial_op, vp0, observed, shots=(3, 1))
    _, grad_sub_d = loss_and_grad(dask_op, vp0, observed, shots=(3, 1))
    assert rel(grad_sub_d, grad_sub_s) <= SAME


def test_workers_build_their_engine_once(dask_op, layered, observed, client):
    from devito_crfwi.bridge.executors import worker_stats

    loss_and_grad(dask_op, layered.values, observed)
    before = client.run(worker_stats)
    loss_and_grad(dask_op, layered.values, observed)
    after = client.run(worker_stats)
    assert len(after) == 2
    for worker, stats in after.items():
        assert stats["propagators"] == 1, stats  # one spec: one propagator per process
        assert stats == before[worker]  # nothing rebuilt or recompiled on the second call


def test_jvp_is_born_on_dask(serial_op, dask_op, layered):
    # float32 like the other tests here: each worker builds one precision's kernels only
    vp = torch.tensor(layered.values)
    dvp = torch.tensor(smooth_perturbation(vp.shape, np.random.default_rng(5)),
                       dtype=torch.float32)
    data_s, tangent_s = torch.func.jvp(lambda v: serial_op(v), (vp,), (dvp,))
    data_d, tangent_d = torch.func.jvp(lambda v: dask_op(v), (vp,), (dvp,))
    assert rel(data_d, data_s) <= SAME
    assert rel(tangent_d, tangent_s) <= SAME


def test_batched_tangents_and_cotangents_on_dask(serial_op, dask_op, layered):
    """vmap of jvp / vjp: the batch rides in one Dask call per worker batch of shots."""
    vp = torch.tensor(layered.values)  # float32, as above
    rng = np.random.default_rng(6)
    tangents = torch.stack([torch.tensor(smooth_perturbation(vp.shape, rng), dtype=vp.dtype)
                            for _ in range(2)])
    cotangents = torch.tensor(rng.standard_normal((2, 4, serial_op.survey.nt, 15)),
                              dtype=vp.dtype)
    for_each = {}
    for name, op in (("serial", serial_op), ("dask", dask_op)):
        born = torch.func.vmap(lambda t, op=op: torch.func.jvp(op, (vp,), (t,))[1])(tangents)
        _, pullback = torch.func.vjp(op, vp)
        for_each[name] = born, torch.func.vmap(pullback)(cotangents)[0]
    for serial, parallel in zip(for_each["serial"], for_each["dask"], strict=True):
        assert parallel.shape == serial.shape
        assert rel(parallel, serial) <= SAME


def test_simulate_with_client(layered, survey4, client):
    serial = simulate(layered, survey4, progress=False, **SETTINGS)
    parallel = simulate(layered, survey4, client=client, **SETTINGS)
    assert parallel.dims == serial.dims and parallel.shape == serial.shape
    assert rel(parallel.values, serial.values) <= SAME
    np.testing.assert_array_equal(parallel["source_x"], serial["source_x"])


def test_client_must_be_a_dask_client(layered, survey4):
    with pytest.raises(TypeError, match="dask.distributed.Client"):
        WaveOperator(survey4, layered, client="tcp://127.0.0.1:8786", **SETTINGS)


def test_problem_accepts_a_client(client, layered):
    """CRFWIProblem passes client= to its WaveOperator; the client stays out of the attrs."""
    from devito_crfwi import CRFWIProblem, Survey, simulate, smooth

    survey = Survey.surface(layered, n_shots=2, n_receivers=15, f0=15.0, t_max=0.3)
    observed = simulate(layered, survey, boundary_width=20)
    problem = CRFWIProblem(observed, survey, smooth(layered, 30.0), "pixel",
                           boundary_width=20, client=client)
    assert problem.operator.client is client
    result = problem.solve(1, progress=False)
    assert "client" not in result.attrs["engine_options"]


def test_missing_receivers_match_serial(layered, streamer, client):
    """Variable acquisition (NaN receivers, ``streamer``) on the workers: the same gathers,
    NaN at the same traces, and the same gradients, for shots in the survey's order and in
    reverse (each worker then needs the live receivers of the survey's shot, not of its
    batch position). The white cotangent is non-zero at the missing traces too: the
    workers' adjoint must drop it there, as the serial one does."""
    serial = simulate(layered, streamer, **SETTINGS)
    parallel = simulate(layered, streamer, client=client, **SETTINGS)
    missing = np.isnan(serial.values)
    np.testing.assert_array_equal(missing.all(axis=1), ~streamer.live_receivers)
    np.testing.assert_array_equal(np.isnan(parallel.values), missing)
    assert rel(parallel.values[~missing], serial.values[~missing]) <= SAME
    # dims, coords (the NaN receiver positions too) and attrs
    xr.testing.assert_identical(parallel.copy(data=serial.values), serial)

    observed = torch.from_numpy(serial.values)
    live = torch.from_numpy(streamer.live_receivers)
    vp0 = torch.tensor(smooth(layered, 80.0).values)
    white = torch.randn((2, streamer.nt, streamer.n_receivers),
                        generator=torch.Generator().manual_seed(7))
    grads = {}
    for name, on in (("serial", None), ("dask", client)):
        op = WaveOperator(streamer, layered, client=on, **SETTINGS)
        for shots in (None, (1, 0)):
            vp = vp0.clone().requires_grad_(True)
            target = observed if shots is None else observed[list(shots)]
            mask = live if shots is None else live[list(shots)]
            l2_loss(*live_traces(op(vp, shots=shots), target, mask)).backward()
            _, pullback = torch.func.vjp(lambda v, op=op, shots=shots: op(v, shots=shots), vp0)
            grads[name, shots] = vp.grad, pullback(white)[0]
    for shots in (None, (1, 0)):
        for serial_grad, dask_grad in zip(grads["serial", shots], grads["dask", shots],
                                          strict=True):
            assert torch.isfinite(dask_grad).all() and serial_grad.abs().max() > 0
            assert rel(dask_grad, serial_grad) <= SAME, shots


class KillOnce(distributed.WorkerPlugin):
    """Kills worker ``address`` when it starts a task whose key starts with ``prefix``, once."""

    def __init__(self, flag: str, prefix: str, address: str) -> None:
        self.flag, self.prefix, self.address = flag, prefix, address

    def setup(self, worker) -> None:
        self.worker = worker

    def transition(self, key, start, finish, **kwargs) -> None:
        if (finish == "executing" and str(key).startswith(self.prefix)
                and self.worker.address == self.address):
            try:
                fd = os.open(self.flag, os.O_CREAT | os.O_EXCL)  # the first one wins
            except FileExistsError:
                return
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)


def test_killed_worker_is_retried_and_gradient_is_unchanged(serial_op, dask_op, layered,
                                                            observed, client, tmp_path):
    """Last in the module: the nanny's new worker would build its kernels again."""
    vp0 = layered.values
    _, grad_s = loss_and_grad(serial_op, vp0, observed)
    vp = torch.tensor(vp0, requires_grad=True)
    data = dask_op(vp)  # the forward ran on both workers
    loss = 0.5 * ((data - observed) ** 2).sum()
    # Kill a worker that holds the model: after the memory manager has dropped extra
    # replicas it holds the only copy, which Dask must then recompute.
    client.amm.run_once()
    holders = client.who_has(data.grad_fn.recording.state.vp)[data.grad_fn.recording.state.vp.key]
    flag = tmp_path / "killed"
    plugin = KillOnce(str(flag), "crfwi-jacobian_adjoint_shots", holders[0])
    client.register_plugin(plugin, name="kill-once")
    try:
        loss.backward()  # a gradient task dies with its worker; Dask re-runs it
    finally:
        client.unregister_worker_plugin("kill-once")
    assert flag.exists(), "no worker was killed: the test did not exercise a retry"
    assert rel(vp.grad.numpy(), grad_s) <= SAME
    client.wait_for_workers(2, timeout=120)  # the nanny restarts the killed worker
