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
from pathlib import Path

__all__ = ["busy_elsewhere", "kernel_threads", "usable_cpus"]

_LOADAVG = Path("/proc/loadavg")
_OWN_TASKS = Path("/proc/self/task")


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
        running = int(_LOADAVG.read_text().split()[3].split("/")[0])
        own = _own_runnable()
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - max(own, 1))


def kernel_threads(requested: int) -> int:
    """``requested`` threads, or as many as the CPUs other processes leave free (>= 1).

    Read afresh at every kernel run (tens of microseconds), so a run that starts beside
    another gives way, and takes the cores back once they are free.
    """
    others = busy_elsewhere()
    if others is None:
        return requested
    free = usable_cpus(requested) - others
    return max(1, min(requested, free))


def usable_cpus(default: int) -> int:
    """CPUs this process may run on (its affinity mask, which a container or ``taskset`` may
    narrow below the machine's count); ``default`` where the system does not say."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or default
