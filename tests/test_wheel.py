"""A plain ``pip install`` of the wheel gets a working demo (the sample travels as package data)."""

from __future__ import annotations

import site
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.smoke]


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert out.returncode == 0, f"{cmd[:3]}...: {out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


def test_wheel_installs_outside_the_checkout_and_runs_the_demo(tmp_path):
    """Smoke: the wheel installs into a fresh venv, imports from there and runs the demo."""
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "-w", str(wheels), str(ROOT)])
    (wheel,) = wheels.glob("devito_crfwi-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python, script = venv / "bin" / "python", venv / "bin" / "devito-crfwi"
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    # The dependencies come from this environment's site-packages, appended after the new
    # venv's own (a plain path: this environment's editable-install hook is not run there).
    new_site = _run([str(python), "-c", "import site; print(site.getsitepackages()[0])"])
    with open(new_site.stdout.strip() + "/deps.pth", "w") as pth:
        pth.write("\n".join(site.getsitepackages()) + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(python), "-c", "import devito_crfwi; print(devito_crfwi.__file__)"],
                 cwd=work)
    assert where.stdout.startswith(str(venv)), where.stdout
    demo = _run([str(script), "demo", "--coarsen", "5", "--shots", "2", "--iterations", "2",
                 "--t-max", "1.0", "--no-progress", "--output-dir", "out"], cwd=work)
    assert "model layered_salt.sgy: 40 x 16 cells at 100 m" in demo.stdout
    assert (work / "out" / "inverted.sgy").is_file()
