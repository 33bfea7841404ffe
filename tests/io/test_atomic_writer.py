"""The one atomic writer: leftovers of a killed writer are removed by the next write."""

from __future__ import annotations

import os
import subprocess
import sys

from devito_crfwi.io.atomic import _HOST, write_atomic


def test_a_dead_writers_temporary_file_is_removed_a_live_ones_kept(tmp_path):
    target = tmp_path / "model.sgy"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    mark = f".model.sgy.crfwi-tmp-{_HOST}"
    leftover = tmp_path / f"{mark}-{dead.stdout.strip()}.abc123.tmp"
    leftover.write_bytes(b"x" * 1000)  # as left by a SIGKILLed write_segy
    busy = tmp_path / f"{mark}-{os.getppid()}.def456.tmp"  # a writer still running
    busy.write_bytes(b"y")
    other = tmp_path / f".other.sgy.crfwi-tmp-{_HOST}-1.tmp"
    other.write_bytes(b"z")
    unmarked = tmp_path / f".model.sgy.{dead.stdout.strip()}.abc123.tmp"  # not the package's
    unmarked.write_bytes(b"u")
    write_atomic(target, lambda tmp: tmp.write_text("done"))
    assert target.read_text() == "done"
    assert not leftover.exists() and busy.exists() and other.exists() and unmarked.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name, busy.name, other.name, unmarked.name])
