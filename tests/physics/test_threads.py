"""Kernel thread counts give way to other processes' busy threads."""

import os
import subprocess
import sys
import time

import pytest

from devito_crfwi.physics import threads


@pytest.mark.parametrize("running, cpus, expected", [
    ("1/150", 2, 2),   # only the caller runs: every requested thread
    ("3/150", 2, 1),   # two threads of another process: one CPU's worth left, at least 1
    ("9/150", 2, 1),   # never below one
    ("3/150", 16, 2),  # plenty free: never above the request
    ("12/150", 16, 2),
    ("16/150", 16, 1),
])
def test_threads_from_the_runnable_count(monkeypatch, tmp_path, running, cpus, expected):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"1.00 0.80 0.50 {running} 12345\n")
    monkeypatch.setattr(threads, "_LOADAVG", loadavg)
    monkeypatch.setattr(threads, "_own_runnable", lambda: 1)
    monkeypatch.setattr(threads, "usable_cpus", lambda default: cpus)
    assert threads.kernel_threads(2) == expected


def test_no_proc_means_the_requested_threads(monkeypatch, tmp_path):
    monkeypatch.setattr(threads, "_LOADAVG", tmp_path / "missing")
    assert threads.busy_elsewhere() is None
    assert threads.kernel_threads(3) == 3


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs Linux")
def test_usable_cpus_follow_the_affinity_mask():
    """A container or ``taskset`` narrows the CPUs below the machine's count."""
    mask = os.sched_getaffinity(0)
    assert threads.usable_cpus(7) == len(mask) <= (os.cpu_count() or len(mask))
    code = (f"import os; os.sched_setaffinity(0, {{{min(mask)}}}); "
            "from devito_crfwi.physics import threads; print(threads.usable_cpus(7))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "1"


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs Linux /proc")
def test_busy_processes_are_seen():
    n = threads.usable_cpus(1)
    spin = "import time\nt = time.time()\nwhile time.time() - t < 20: pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]
    try:
        time.sleep(0.5)
        # Sampled: a busy process is descheduled now and then; most samples see them all.
        seen = sorted(threads.busy_elsewhere() for _ in range(50))
        assert seen[len(seen) // 2] >= n - 1
        assert min(threads.kernel_threads(n) for _ in range(50)) == 1
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_own_thread_falling_asleep_is_not_another_process(monkeypatch):
    """An OpenMP thread of ours still spinning after a kernel may sleep by the next read: it
    must never count as another process's busy thread (a run alone then took 1 thread)."""
    state = {"ours_running": 2}  # the caller and one spinning OpenMP thread

    def settle():  # the spinning thread falls asleep after the first read, whichever it is
        value = state["ours_running"]
        state["ours_running"] = 1
        return value

    class Loadavg:
        @staticmethod
        def read_text():
            return f"1.00 0.80 0.50 {settle()}/150 12345\n"

    monkeypatch.setattr(threads, "_LOADAVG", Loadavg)
    monkeypatch.setattr(threads, "_own_runnable", settle)
    monkeypatch.setattr(threads, "usable_cpus", lambda default: 2)
    assert threads.busy_elsewhere() == 0
    assert threads.kernel_threads(2) == 2


@pytest.mark.parametrize("reads, expected", [
    (["2/150", "1/150"], 2),  # gone at the second look: every requested thread
    (["2/150", "2/150"], 1),  # still running: it takes one CPU
])
def test_an_instant_of_another_thread_does_not_halve_a_run(monkeypatch, reads, expected):
    """A thread of another process seen running once (a shell, a kernel worker) is looked
    at again before a whole run gives it a CPU."""
    queue = iter(reads)

    class Loadavg:
        @staticmethod
        def read_text():
            return f"1.00 0.80 0.50 {next(queue)} 12345\n"

    monkeypatch.setattr(threads, "_LOADAVG", Loadavg)
    monkeypatch.setattr(threads, "_own_runnable", lambda: 1)
    monkeypatch.setattr(threads, "usable_cpus", lambda default: 2)
    assert threads.kernel_threads(2) == expected
