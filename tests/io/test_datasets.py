"""The benchmark-model registry and load_model, from the shared folder and from tmp folders."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from devito_crfwi.io import (
    MODELS,
    SegyError,
    list_models,
    load_model,
    model_info,
    read_segy,
    write_segy,
)
from devito_crfwi.io import datasets as datasets_module
from tests.helpers import SHARED_MODELS

SHARED = SHARED_MODELS
needs_shared = pytest.mark.skipif(
    not (SHARED / "manifest.json").is_file(),
    reason=f"shared model folder {SHARED} is absent (it sits beside the repository)",
)
SHARED_NAMES = ["marmousi", "marmousi2", "overthrust"]


def small_model(nx=6, nz=4, spacing=(10.0, 5.0)) -> xr.DataArray:
    values = 1500.0 + 100.0 * np.arange(nx * nz, dtype=np.float32).reshape(nx, nz)
    return xr.DataArray(
        values,
        dims=("x", "z"),
        coords={"x": spacing[0] * np.arange(nx), "z": spacing[1] * np.arange(nz)},
        attrs={"units": "m/s"},
    )


def make_folder(folder: Path, name="tiny", *, sgy=True, npy=True, **overrides) -> xr.DataArray:
    model = small_model()
    folder.mkdir(exist_ok=True)
    if sgy:
        write_segy(model, folder / f"{name}.sgy")
    if npy:
        np.save(folder / f"{name}.npy", model.values)
    entry = {
        "shape": list(model.shape),
        "dims": ["x", "z"],
        "spacing_m": [10.0, 5.0],
        "units": "m/s",
        "vmin": float(model.min()),
        "vmax": float(model.max()),
        "about": "a tiny test model",
    }
    entry.update(overrides)
    (folder / "manifest.json").write_text(json.dumps({name: entry}))
    return model


# --- registry ----------------------------------------------------------------------------


def test_registry_lists_the_public_models():
    assert set(list_models()) == {
        "marmousi",
        "marmousi2",
        "overthrust",
        "salt",
        "bp2004",
        "chevron2014",
    }
    for name, info in MODELS.items():
        assert info.name == name
        assert info.url.startswith("https://")
        assert info.units == "m/s"
        if info.shape is not None:
            assert len(info.shape) == 2 and all(n > 1 for n in info.shape)
        if info.spacing_m is not None:
            assert all(d > 0 for d in info.spacing_m)
    assert model_info("BP2004").spacing_m == (12.5, 6.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        MODELS["marmousi"].shape = (1, 1)
    with pytest.raises(ValueError, match="unknown model 'nope'; known models: bp2004"):
        model_info("nope")


# --- the shared folder -------------------------------------------------------------------


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_NAMES)
def test_shared_models_match_their_manifest(name):
    entry = json.loads((SHARED / "manifest.json").read_text())[name]
    model = load_model(name, SHARED)
    assert model.dims == ("x", "z") and model.dtype == np.float32
    assert list(model.shape) == entry["shape"]
    assert model.attrs["units"] == "m/s" and model.attrs["name"] == name
    dx, dz = entry["spacing_m"]
    np.testing.assert_array_equal(model.x.values, dx * np.arange(entry["shape"][0]))
    np.testing.assert_array_equal(model.z.values, dz * np.arange(entry["shape"][1]))
    assert float(model.min()) == pytest.approx(entry["vmin"], rel=1e-6)
    assert float(model.max()) == pytest.approx(entry["vmax"], rel=1e-6)
    np.testing.assert_array_equal(model.values, np.load(SHARED / f"{name}.npy"))


@needs_shared
@pytest.mark.shared
def test_shared_segy_reads_on_its_own_headers():
    model = load_model("marmousi", SHARED)
    direct = read_segy(SHARED / "marmousi.sgy")  # spacing from the file's own headers
    xr.testing.assert_equal(direct, model)


@needs_shared
@pytest.mark.shared
def test_data_folder_from_environment(monkeypatch):
    monkeypatch.setenv("DEVITO_CRFWI_DATA", str(SHARED))
    assert load_model("overthrust").shape == (501, 171)


# --- tmp folders -------------------------------------------------------------------------


def test_load_from_segy_or_npy(tmp_path):
    model = make_folder(tmp_path)
    from_sgy = load_model("tiny", tmp_path)
    np.testing.assert_array_equal(from_sgy.values, model.values)
    assert from_sgy.attrs["source"].endswith("tiny.sgy")
    (tmp_path / "tiny.sgy").unlink()
    from_npy = load_model("tiny", tmp_path)
    assert from_npy.attrs["source"].endswith("tiny.npy")
    xr.testing.assert_equal(from_npy, from_sgy)


def test_no_folder_given(monkeypatch):
    monkeypatch.delenv("DEVITO_CRFWI_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="pass data_dir= or set .*DEVITO_CRFWI_DATA"):
        load_model("marmousi")


def test_missing_manifest_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} has no manifest.json"):
        load_model("marmousi", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model("marmousi", tmp_path / "absent")


def test_missing_files_name_the_folder(tmp_path):
    make_folder(tmp_path, sgy=False, npy=False)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} has neither tiny.sgy nor tiny.npy"):
        load_model("tiny", tmp_path)
    with pytest.raises(FileNotFoundError, match="has no model 'marmousi' .it has: tiny"):
        load_model("marmousi", tmp_path)
    with pytest.raises(FileNotFoundError, match="public models in the registry"):
        load_model("atlantis", tmp_path)


def test_manifest_disagreements_are_caught(tmp_path):
    make_folder(tmp_path, shape=[5, 4])
    with pytest.raises(SegyError, match=r"shape \(6, 4\) differs from the manifest's \(5, 4\)"):
        load_model("tiny", tmp_path)
    make_folder(tmp_path / "range", vmax=9999.0)
    with pytest.raises(SegyError, match="vmax .* manifest says 9999"):
        load_model("tiny", tmp_path / "range")
    make_folder(tmp_path / "hash", sgy=False, sha256_npy="0" * 64)
    with pytest.raises(SegyError, match="sha256"):
        load_model("tiny", tmp_path / "hash")
    make_folder(tmp_path / "kms", sgy=False, units="m/s")
    np.save(tmp_path / "kms" / "tiny.npy", np.full((6, 4), 2.0, np.float32))
    with pytest.raises(SegyError, match="units='km/s'"):
        load_model("tiny", tmp_path / "kms")


def test_broken_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(SegyError, match="manifest.json: cannot be read as JSON"):
        load_model("tiny", tmp_path)


# --- fetching (never over the network in tests) --------------------------------------------


def test_fetch_without_pooch_says_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)
    with pytest.raises(ImportError, match="pip install pooch"):
        load_model("bp2004", tmp_path, fetch=True)


def test_fetch_refuses_models_without_download(tmp_path):
    with pytest.raises(ValueError, match="cannot be fetched automatically"):
        load_model("overthrust", tmp_path, fetch=True)


def test_fetch_stores_the_model_in_our_layout(tmp_path, monkeypatch):
    info = datasets_module.ModelInfo(
        "tinyweb", "tiny", "https://example.org", (6, 4), (10.0, 5.0), "m/s", "https://x/t.sgy"
    )
    monkeypatch.setattr(datasets_module, "MODELS", {**MODELS, "tinyweb": info})
    calls = []

    def retrieve(url, known_hash, path, processor, progressbar):
        calls.append(url)
        Path(path).mkdir(parents=True, exist_ok=True)
        target = Path(path) / "t.sgy"
        if not target.exists():
            write_segy(small_model(), target)
        return str(target)

    monkeypatch.setitem(sys.modules, "pooch", types.SimpleNamespace(retrieve=retrieve))
    model = load_model("tinyweb", tmp_path / "data", fetch=True)
    np.testing.assert_array_equal(model.values, small_model().values)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["tinyweb"]["shape"] == [6, 4]
    assert (tmp_path / "data" / "tinyweb.npy").is_file()
    load_model("tinyweb", tmp_path / "data", fetch=True)  # already there: no second download
    assert calls == ["https://x/t.sgy"]
