"""physics/_devito.py, the one adapter to Devito: the private API it relies on, and the
package's Devito settings yielding to the user's (by environment variable or in code).

The first tests fail on a Devito upgrade that renames or changes what the adapter uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import devito
import numpy as np
import pytest
from devito import ConditionalDimension, Eq, Grid, Operator, TimeFunction

from devito_crfwi.physics._devito import (
    PACKAGE_SETTINGS,
    FindNodes,
    Iteration,
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
