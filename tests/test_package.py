"""The package as a whole: imports cost only what is used, layers import one way, no cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import devito_crfwi

PACKAGE = Path(devito_crfwi.__file__).resolve().parent

# Which layer may import which (besides itself): the folders are the layers.
ALLOWED = {
    "io": set(),
    "physics": {"io"},
    "bridge": {"io", "physics"},
    "representations": set(),
    "ntk": {"io", "physics", "bridge", "representations"},
    "inversion": {"io", "physics", "bridge", "representations", "ntk", "initial_models",
                  "metrics"},
    "experiments": {"io", "physics", "bridge", "representations", "ntk", "inversion",
                    "initial_models", "metrics", "plot"},
    "cli": {"io", "physics", "bridge", "representations", "ntk", "inversion", "experiments",
            "initial_models", "metrics", "plot", "__init__"},
    "initial_models": {"io"},
    "metrics": {"io"},  # io.schema's grid check: two models on one grid
    "plot": {"metrics"},
}


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=300, cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_loads_neither_torch_nor_matplotlib_nor_skimage():
    out = _run("""
        import sys
        import devito_crfwi as dc
        print(sorted(m for m in ("torch", "matplotlib", "skimage") if m in sys.modules))
        dc.metrics.mse  # metrics itself is numpy only
        print("skimage" in sys.modules)
        dc.plot
        print("matplotlib" in sys.modules)
        dc.WaveOperator
        print("torch" in sys.modules)
    """)
    assert out.split("\n")[:4] == ["[]", "False", "True", "True"]


def test_simulate_runs_where_torch_cannot_be_imported():
    out = _run("""
        import sys
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        import numpy as np, xarray as xr
        import devito_crfwi as dc
        vp = xr.DataArray(np.full((30, 20), 2000.0, np.float32), dims=("x", "z"),
                          coords={"x": np.arange(30) * 10.0, "z": np.arange(20) * 10.0},
                          attrs={"units": "m/s"})
        survey = dc.Survey.surface(vp, n_shots=1, n_receivers=5, f0=15.0, t_max=0.2)
        data = dc.simulate(vp, survey, progress=False)
        print(data.dims, bool(np.abs(data.values).max() > 0))
    """)
    assert out.strip() == "('shot', 'time', 'receiver') True"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> package modules it imports anywhere in its body (also inside functions)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:  # `from pkg import submodule` names the submodule
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_layers_import_one_way():
    for module, targets in _imports().items():
        layer = _layer(module)
        if layer == "__init__":
            continue
        for target in targets:
            other = _layer(target)
            assert other == layer or other in ALLOWED[layer], f"{module} imports {target}"


def test_no_import_cycle():
    graph = _imports()
    # Package __init__ files re-export their children: those edges point down, never up.
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_only_the_named_modules_sit_at_the_root():
    root = {p.name for p in PACKAGE.glob("*.py")}
    assert root == {"__init__.py", "initial_models.py", "metrics.py", "plot.py"}
