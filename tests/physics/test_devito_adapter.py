"""physics/_devito.py, the one adapter to Devito: the private API it relies on, and the
package's Devito settings yielding to the user's (by environment variable or in code).

The first tests fail on a Devito upgrade that renames or changes what the adapter uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import devito
import numpy as np
import pytest
from devito import ConditionalDimension, Eq, Grid, Operator, TimeFunction

from devito_crfwi.physics._devito import (
    PACKAGE_SETTINGS,
    STALE_COMPILE_LOCK_S,
    FindNodes,
    Iteration,
    clear_stale_compile_lock,
    compile_lock,
    compiled_function,
    configure_devito,
    devito_default,
    subsampling_factor_argument,
    user_configured,
)
from tests.helpers import ROOT


@pytest.fixture
def devito_settings():
    """Restores the configuration keys that the adapter sets."""
    saved = {key: str(getattr(devito.configuration[key], "name", devito.configuration[key]))
             for key in PACKAGE_SETTINGS}
    yield
    for key, value in saved.items():
        devito.configuration[key] = value


# -- the private API ------------------------------------------------------------------------
def test_devito_keeps_its_defaults_where_the_adapter_reads_them(devito_settings):
    defaults = devito.configuration._defaults
    assert {key: defaults[key] for key in PACKAGE_SETTINGS} == {
        "language": "C", "compiler": "custom", "log-level": "INFO"}
    devito.configuration["compiler"] = "gcc"
    assert devito.configuration["compiler"].name == "gcc"  # the object knows its key


def test_the_compiled_function_runs_like_apply():
    grid = Grid(shape=(6, 5))
    u = TimeFunction(name="u", grid=grid)
    op = Operator(Eq(u.forward, u + 1), opt="noop")
    assert [p.name for p in op.parameters] and callable(op.cfunction)
    compiled_function(op)(op.arguments(time_m=0, time_M=3))
    reference = TimeFunction(name="u", grid=grid)
    op.apply(u=reference, time_m=0, time_M=3)
    assert u.data[4 % 2, 0, 0] == 4.0
    np.testing.assert_array_equal(u.data, reference.data)


def test_a_subsampling_factor_is_a_run_time_argument():
    grid = Grid(shape=(4, 4))
    compiled = ConditionalDimension("tsave", parent=grid.time_dim, factor=1)
    u = TimeFunction(name="u", grid=grid)
    usave = TimeFunction(name="usave", grid=grid, time_order=0, save=4, time_dim=compiled)
    op = Operator([Eq(u.forward, u + 1), Eq(usave, u)], opt="noop")
    assert compiled.symbolic_factor.name in {p.name for p in op.parameters}
    factor3 = ConditionalDimension("tsave", parent=grid.time_dim, factor=3)
    saved = TimeFunction(name="usave", grid=grid, time_order=0, save=4, time_dim=factor3)
    op.apply(u=u, usave=saved, time_m=0, time_M=9, **subsampling_factor_argument(factor3, 3))
    # level t (u = t) is saved at t = 0, 3, 6, 9
    np.testing.assert_array_equal(saved.data[:, 0, 0], [0.0, 3.0, 6.0, 9.0])


def test_block_loops_and_their_size_arguments_keep_their_names():
    """What ``operators.thread_bands`` reads from the IET and the arguments."""
    grid = Grid(shape=(40, 30))
    u = TimeFunction(name="u", grid=grid, space_order=4)
    op = Operator(Eq(u.forward, u.laplace), opt=("advanced", {"blockrelax": True}))
    args = op.arguments(time_M=1)
    blocks = [loop for loop in FindNodes(Iteration).visit(op) if loop.dim.is_Block]
    assert {loop.dim.root.name for loop in blocks} == {"x", "y"}
    outer = [loop for loop in blocks if f"{loop.dim.name}_size" in args]
    assert {loop.dim.root.name for loop in outer} == {"x", "y"}
    for loop in outer:
        assert loop.symbolic_min.free_symbols | loop.symbolic_max.free_symbols


# -- the package's settings yield to the user's -----------------------------------------------
def test_settings_left_at_devitos_defaults_are_the_packages(monkeypatch, devito_settings):
    for env, _ in PACKAGE_SETTINGS.values():
        monkeypatch.delenv(env, raising=False)
    devito.configuration["log-level"] = devito_default("log-level")
    devito.configuration["language"] = devito_default("language")
    assert configure_devito() == {"language": "openmp", "log-level": "WARNING"}
    assert devito.configuration["language"] == "openmp"
    assert str(devito.configuration["log-level"]) == "WARNING"
    assert configure_devito() == {}  # the package's own values are kept


def test_an_environment_variable_wins_even_at_devitos_default(monkeypatch, devito_settings):
    monkeypatch.setenv("DEVITO_LOGGING", "INFO")
    devito.configuration["log-level"] = "INFO"
    assert user_configured("log-level")
    assert "log-level" not in configure_devito()
    assert str(devito.configuration["log-level"]) == "INFO"


def test_a_value_set_in_code_wins(monkeypatch, devito_settings):
    monkeypatch.delenv("DEVITO_LOGGING", raising=False)
    devito.configuration["log-level"] = "ERROR"
    assert user_configured("log-level")
    assert "log-level" not in configure_devito()
    assert str(devito.configuration["log-level"]) == "ERROR"


def _configuration_after_import(code: str, env: dict[str, str]) -> list[str]:
    """``language`` and ``log-level`` after ``code`` then ``import devito_crfwi``, in a fresh
    interpreter with ``env`` (the package's variables otherwise unset)."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import devito
        import devito_crfwi
        print(devito.configuration["language"], devito.configuration["log-level"])
    """)
    clean = {k: v for k, v in os.environ.items()
             if k not in {env_name for env_name, _ in PACKAGE_SETTINGS.values()}}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=ROOT, env={**clean, **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_on_import_the_user_wins_by_environment_or_in_code():
    assert _configuration_after_import("", {}) == ["openmp", "WARNING"]
    assert _configuration_after_import("", {"DEVITO_LANGUAGE": "C", "DEVITO_LOGGING": "INFO"}
                                       ) == ["C", "INFO"]
    assert _configuration_after_import("""
        import devito
        devito.configuration["log-level"] = "ERROR"
    """, {}) == ["openmp", "ERROR"]


def test_the_adapter_is_the_only_module_that_imports_devitos_internals():
    package = ROOT / "devito_crfwi"
    internal = [str(path.relative_to(package)) for path in package.rglob("*.py")
                if path != package / "physics" / "_devito.py"
                and any(token in path.read_text() for token in (
                    "devito.ir", "devito.types", "devito.operator", "configuration._defaults",
                    ".cfunction"))]
    assert internal == []


# -- a compile lock left by a killed process ------------------------------------------------
def _fresh_operator(name: str) -> Operator:
    """An operator whose code was never built before (a constant of this run's clock in it):
    Devito loads a library it has, and only compiles, under codepy's lock, one it has not."""
    grid = Grid(shape=(5, 4))
    u = TimeFunction(name=name, grid=grid)
    return Operator(Eq(u.forward, u + (time.time_ns() % 1_000_003)), opt="noop")


def test_compile_lock_is_where_codepy_takes_it(monkeypatch):
    """The lock path of the adapter is the one codepy creates while it compiles."""
    import codepy.jit

    op = _fresh_operator("ulockpath")
    seen = []
    original = codepy.jit.CacheLockManager.__init__

    def spy(self, cleanup_m, cache_dir, *args, **kwargs):
        seen.append(os.path.join(str(cache_dir), "lock"))
        original(self, cleanup_m, cache_dir, *args, **kwargs)

    monkeypatch.setattr(codepy.jit.CacheLockManager, "__init__", spy)
    assert callable(op.cfunction)
    assert seen == [str(compile_lock(op))]


def test_a_stale_compile_lock_is_removed_and_a_live_one_waited_for():
    op = _fresh_operator("ustale")
    lock = compile_lock(op)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    old = time.time() - STALE_COMPILE_LOCK_S - 5
    os.utime(lock, (old, old))  # as a compile SIGKILLed long ago leaves it
    with pytest.warns(UserWarning, match="removed a compile lock .* killed while compiling"):
        call = compiled_function(op)  # codepy alone would wait for it forever
    assert not lock.exists() and callable(call)

    lock.touch()  # held by a live compile: waited for, not removed
    timer = threading.Timer(0.6, lock.unlink)
    timer.start()
    start = time.monotonic()
    clear_stale_compile_lock(op, poll_s=0.05)
    assert 0.5 < time.monotonic() - start < 5 and not lock.exists()
    timer.join()
