"""How many OpenMP threads a kernel run takes: fewer when other processes hold the cores.

A time-stepping kernel meets its threads at barriers several times per step. When another
process keeps the cores busy, one of our threads is often descheduled and the others spin
at the barrier through their time slice: on 2 cores, two processes of 2 threads each took
6-19x their solo time per gradient (fair sharing is 2x), and lowering OpenMP's spin count
only trades that for slower solo runs (0.85 s -> 1.5-2 s per gradient at GOMP_SPINCOUNT
10000 / 1000). Running on the cores that are free instead (at least one thread) gives each
of two such processes 1.9x its solo time, and a process alone keeps every thread
(measured: bench/RESULTS.md, "two runs side by side").
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["busy_elsewhere", "kernel_threads", "usable_cpus"]

_LOADAVG = Path("/proc/loadavg")
_OWN_TASKS = Path("/proc/self/task")
# Pause before a second look when the first saw other processes' threads running.
RECHECK_S = 2e-4


def _own_runnable() -> int:
    """Threads of this process that are running or runnable now (the caller included)."""
    count = 0
    for task in _OWN_TASKS.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        # The state follows the parenthesised command name, which may hold spaces.
        if stat[stat.rindex(")") + 2] == "R":
            count += 1
    return count


def busy_elsewhere() -> int | None:
    """Threads of other processes running or waiting for a CPU now; None where the system
    does not say (no ``/proc``: not Linux)."""
    try:
        # Our own threads first: an OpenMP thread still spinning after the last kernel may
        # fall asleep between the two reads. Counted in ours and not in the system's, it is
        # harmless; counted the other way round it looked like another process's thread, and
        # a run alone took 1 thread in ~1 of 7 calls (forward 0.43 -> 0.72 s).
        own = _own_runnable()
        running = int(_LOADAVG.read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - max(own, 1))


def kernel_threads(requested: int) -> int:
    """``requested`` threads, or as many as the CPUs other processes leave free (>= 1).

    Read afresh at every kernel run (tens of microseconds; 0.2 ms more when another process
    looks busy), so a run that starts beside another gives way, and takes the cores back once
    they are free.
    """
    others = busy_elsewhere()
    if others is None:
        return requested
    if others:
        # Looked again after a moment: a thread that runs for an instant (a shell, a kernel
        # worker) would otherwise halve a whole run's threads.
        time.sleep(RECHECK_S)
        others = min(others, busy_elsewhere() or 0)
    free = usable_cpus(requested) - others
    return max(1, min(requested, free))


def usable_cpus(default: int) -> int:
    """CPUs this process may run on (its affinity mask, which a container or ``taskset`` may
    narrow below the machine's count); ``default`` where the system does not say."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or default
