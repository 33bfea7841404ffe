"""``devito-crfwi convert`` through the command line's main."""

from __future__ import annotations

import numpy as np
import pytest

from devito_crfwi.cli import build_parser, main
from devito_crfwi.io import read_segy
from tests.helpers import NX, NZ, grid_kms


def test_cli_command(tmp_path, capsys):
    grid_kms().T.astype("<f4").tofile(tmp_path / "in.bin")
    out = tmp_path / "out.sgy"
    argv = ["convert", str(tmp_path / "in.bin"), "--shape", str(NX), str(NZ)]
    argv += ["--spacing", "12.5", "5", "--order", "zx", "--units", "km/s", "-o", str(out)]
    assert main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    np.testing.assert_allclose(read_segy(out).values, grid_kms() * 1000.0, rtol=1e-6)
    assert main(argv) == 1  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_cli_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["convert", "--help"])
    text = capsys.readouterr().out
    for option in ("--shape NX NZ", "--spacing DX DZ", "--order", "--units", "-o OUTPUT"):
        assert option in text
