"""Registry of public benchmark velocity models, and loading them from a local folder.

The local folder (``data_dir=`` or the environment variable ``DEVITO_CRFWI_DATA``)
holds, per model, ``<name>.sgy`` (read with :func:`~devito_crfwi.io.read_segy`)
and/or ``<name>.npy`` (an (x, z) array), plus one ``manifest.json``::

    {"marmousi": {"shape": [601, 221], "dims": ["x", "z"], "spacing_m": [15.0, 15.0],
                  "units": "m/s", "vmin": 1484.01, "vmax": 5694.93,
                  "about": "...", "source": "...", "sha256_npy": "..."}}

The manifest is authoritative for the grid: its spacing overrides the file's, and
shape and value range are checked. Models in the folder need not be the full-size
originals described by :data:`MODELS` (a folder may hold resampled versions).

Downloading is optional (``fetch=True``, needs ``pooch``) and only possible for
entries with a direct ``download`` URL; the others say where to get the data.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import xarray as xr

from .atomic import atomic_output
from .axes import axis_values
from .errors import SegyError
from .schema import MODEL_DIMS
from .segy_model import read_segy, write_segy
from .units import velocity_to_si

__all__ = ["DATA_ENV", "MODELS", "ModelInfo", "list_models", "load_model", "model_info"]

#: Environment variable naming the local model folder.
DATA_ENV = "DEVITO_CRFWI_DATA"
MANIFEST = "manifest.json"
_RANGE_RTOL = 1e-4


@dataclass(frozen=True)
class ModelInfo:
    """A public benchmark model.

    Attributes
    ----------
    name : str
        Registry key, also the file stem in the local folder.
    title : str
        Usual name.
    url : str
        Public page describing the model and its licence.
    shape : tuple of int or None
        (nx, nz) of the public 2-D grid; None when it is not a single 2-D grid.
    spacing_m : tuple of float or None
        (dx, dz) of the public grid in m.
    units : str
        Unit of the public file's values.
    download : str or None
        Direct URL of a SEG-Y file (optionally ``.gz``) that ``fetch=True`` can get;
        None when the data need manual steps (see ``notes``).
    notes : str
        What the public data are and how to prepare them.
    """

    name: str
    title: str
    url: str
    shape: tuple[int, int] | None
    spacing_m: tuple[float, float] | None
    units: str
    download: str | None = None
    notes: str = ""


_S3 = "https://s3.amazonaws.com/open.source.geoscience/open_data"

#: The registry, by name.
MODELS: Mapping[str, ModelInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            ModelInfo(
                "marmousi",
                "Marmousi (IFP, 1988)",
                "https://wiki.seg.org/wiki/Dictionary:Marmousi_model",
                (2301, 751),
                (4.0, 4.0),
                "m/s",
                notes="9.2 km x 3 km acoustic model; resampled copies are common "
                "(e.g. 601 x 221 at 15 m).",
            ),
            ModelInfo(
                "marmousi2",
                "Marmousi2 / AGL Elastic Marmousi (2006)",
                "https://wiki.seg.org/wiki/AGL_Elastic_Marmousi",
                (13601, 2801),
                (1.25, 1.25),
                "m/s",
                notes=f"P-wave SEG-Y inside {_S3}/elastic-marmousi/elastic-marmousi-model.tar.gz "
                "(CC BY 4.0); unpack it and run read_segy/write_segy into the folder.",
            ),
            ModelInfo(
                "overthrust",
                "SEG/EAGE Overthrust (1997)",
                "https://wiki.seg.org/wiki/SEG/EAGE_Salt_and_Overthrust_Models",
                None,
                (25.0, 25.0),
                "m/s",
                notes="3-D grid 801 x 801 x 187 at 25 m (raw floats in "
                f"{_S3}/seg_eage_models_cd/Overthrust_3D_CD1.tar.gz); take a 2-D slice "
                "and convert it with `devito-crfwi convert`.",
            ),
            ModelInfo(
                "salt",
                "SEG/EAGE Salt (1997)",
                "https://wiki.seg.org/wiki/SEG/EAGE_Salt_and_Overthrust_Models",
                None,
                (20.0, 20.0),
                "m/s",
                notes="3-D grid 676 x 676 x 210 at 20 m; take a 2-D slice and convert it "
                "with `devito-crfwi convert`.",
            ),
            ModelInfo(
                "bp2004",
                "BP 2004 velocity benchmark",
                "https://wiki.seg.org/wiki/2004_BP_velocity_estimation_benchmark_model",
                (5395, 1911),
                (12.5, 6.25),
                "m/s",
                download=f"{_S3}/bpvelanal2004/vel_z6.25m_x12.5m_exact.segy.gz",
                notes="Licence: read the benchmark README before use.",
            ),
            ModelInfo(
                "chevron2014",
                "Chevron 2014 FWI blind test",
                "https://wiki.seg.org/wiki/SEG_Open_Data",
                None,
                None,
                "m/s",
                notes="Only synthetic data and a starting model were released (the true "
                "model was kept blind); convert the starting model into the folder.",
            ),
        )
    }
)


def list_models() -> list[str]:
    """Names in the registry, sorted."""
    return sorted(MODELS)


def model_info(name: str) -> ModelInfo:
    """The registry entry for ``name`` (case-insensitive).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).
    """
    key = str(name).lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return MODELS[key]


def _data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    raise FileNotFoundError(
        f"no model folder: pass data_dir= or set the environment variable {DATA_ENV} "
        "to a folder holding manifest.json and <name>.sgy files"
    )


def _read_manifest(folder: Path) -> dict[str, Any]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(
            f"model folder {folder} has no {MANIFEST}"
            + ("" if folder.is_dir() else " (the folder does not exist)")
        )
    try:
        content = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SegyError(manifest, f"cannot be read as JSON ({err})") from err
    if not isinstance(content, dict):
        raise SegyError(manifest, "must hold a JSON object of models by name")
    return content


def _entry_grid(
    manifest: Path, name: str, entry: Mapping[str, Any]
) -> tuple[tuple[int, int], tuple[float, float], str]:
    try:
        shape = (int(entry["shape"][0]), int(entry["shape"][1]))
        spacing = (float(entry["spacing_m"][0]), float(entry["spacing_m"][1]))
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise SegyError(
            manifest, f"entry {name!r} needs 'shape' [nx, nz] and 'spacing_m' [dx, dz]"
        ) from err
    dims = tuple(entry.get("dims", MODEL_DIMS))
    if dims != MODEL_DIMS:
        raise SegyError(manifest, f"entry {name!r} has dims {dims}; only ['x', 'z'] is supported")
    return shape, spacing, str(entry.get("units", "m/s"))


def _check_range(manifest: Path, name: str, entry: Mapping[str, Any], values: np.ndarray) -> None:
    for key, actual in (("vmin", float(values.min())), ("vmax", float(values.max()))):
        if key in entry:
            expected = float(entry[key])
            if not np.isclose(actual, expected, rtol=_RANGE_RTOL):
                raise SegyError(
                    manifest,
                    f"model {name!r} has {key} {actual:g} m/s but the manifest says {expected:g}",
                    "the data file and the manifest do not match",
                )


def _load_npy(npy: Path, name: str, entry: Mapping[str, Any], manifest: Path) -> np.ndarray:
    expected_hash = entry.get("sha256_npy")
    if expected_hash:
        digest = hashlib.sha256(npy.read_bytes()).hexdigest()
        if digest != expected_hash:
            raise SegyError(npy, f"sha256 {digest} differs from the manifest's {expected_hash}")
    try:
        return np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise SegyError(npy, f"cannot be read as a .npy array ({err})") from err


def load_model(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, fetch: bool = False
) -> xr.DataArray:
    """Load a benchmark velocity model from the local model folder.

    Parameters
    ----------
    name : str
        Model name: a key of :data:`MODELS` or of the folder's manifest.json.
    data_dir : str or os.PathLike, optional
        The folder; default: environment variable ``DEVITO_CRFWI_DATA``.
    fetch : bool
        When the model is missing and its registry entry has a ``download`` URL,
        download it with ``pooch`` into the folder (``<name>.sgy``, ``<name>.npy``
        and a manifest entry) first. Default False: never touch the network.

    Returns
    -------
    xarray.DataArray, dims ("x", "z"), float32, m/s
        Coords in m with the manifest's spacing (origin from the SEG-Y file, 0 for a
        .npy); attrs "units" ("m/s"),
        "source" (the file read), "name" and, when the manifest has them, "about"
        and "origin" (the manifest's ``source``).

    Raises
    ------
    FileNotFoundError
        No folder given, or manifest.json or both data files missing (the message
        names the folder).
    SegyError
        Manifest and data disagree (shape, value range, checksum) or a file is bad.
    ValueError
        Unknown name.
    ImportError
        ``fetch=True`` without pooch installed.
    """
    key = str(name).lower()
    folder = _data_dir(data_dir)
    if fetch and not _has_model(folder, key):
        _fetch(model_info(key), folder)
    manifest_path = folder / MANIFEST
    manifest = _read_manifest(folder)
    if key not in manifest:
        if key in MODELS:
            info = MODELS[key]
            hint = " (fetch=True can download it)" if info.download else f". {info.notes}"
        else:
            hint = f"; public models in the registry: {', '.join(list_models())}"
        have = ", ".join(sorted(manifest)) or "none"
        raise FileNotFoundError(f"{manifest_path} has no model {key!r} (it has: {have}){hint}")
    entry = manifest[key]
    shape, (dx, dz), units = _entry_grid(manifest_path, key, entry)
    sgy, npy = folder / f"{key}.sgy", folder / f"{key}.npy"
    if sgy.is_file():
        model = read_segy(sgy, dx=dx, dz=dz, units=units)
        source = sgy
    elif npy.is_file():
        raw = _load_npy(npy, key, entry, manifest_path)
        if raw.shape != shape:
            raise SegyError(npy, f"array shape {raw.shape} differs from the manifest's {shape}")
        try:
            values = velocity_to_si(raw, units)
        except ValueError as err:
            raise SegyError(npy, str(err)) from err
        model = xr.DataArray(
            values,
            dims=MODEL_DIMS,
            coords={"x": axis_values(0.0, dx, shape[0]), "z": axis_values(0.0, dz, shape[1])},
            attrs={"units": "m/s"},
        )
        source = npy
    else:
        raise FileNotFoundError(
            f"model folder {folder} has neither {sgy.name} nor {npy.name} for model {key!r}"
        )
    if model.shape != shape:
        raise SegyError(source, f"model shape {model.shape} differs from the manifest's {shape}")
    _check_range(manifest_path, key, entry, model.values)
    attrs = {"units": "m/s", "source": str(source), "name": key}
    if "about" in entry:
        attrs["about"] = str(entry["about"])
    if "source" in entry:
        attrs["origin"] = str(entry["source"])
    return xr.DataArray(model.values, dims=MODEL_DIMS, coords=model.coords, attrs=attrs)


def _has_model(folder: Path, key: str) -> bool:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    try:
        content = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return key in content and any((folder / f"{key}{ext}").is_file() for ext in (".sgy", ".npy"))


def _fetch(info: ModelInfo, folder: Path) -> None:
    """Download ``info.download`` with pooch and store it in ``folder`` in our layout."""
    if info.download is None:
        raise ValueError(f"model {info.name!r} cannot be fetched automatically: {info.notes}")
    if info.spacing_m is None or info.shape is None:
        raise ValueError(f"model {info.name!r} has no 2-D grid in the registry to fetch")
    try:
        import pooch  # optional dependency, imported only here
    except ImportError as err:
        raise ImportError(
            "load_model(..., fetch=True) needs the optional package pooch: pip install pooch"
        ) from err
    folder.mkdir(parents=True, exist_ok=True)
    processor = pooch.Decompress() if info.download.endswith(".gz") else None
    downloaded = pooch.retrieve(
        info.download,
        known_hash=None,
        path=folder / "downloads",
        processor=processor,
        progressbar=False,
    )
    model = read_segy(downloaded, dx=info.spacing_m[0], dz=info.spacing_m[1], units=info.units)
    if model.shape != info.shape:
        raise SegyError(downloaded, f"shape {model.shape} differs from the registry's {info.shape}")
    write_segy(model, folder / f"{info.name}.sgy", overwrite=True)
    with atomic_output(folder / f"{info.name}.npy", overwrite=True) as tmp:
        with open(tmp, "wb") as stream:
            np.save(stream, model.values)
    manifest_path = folder / MANIFEST
    content = _read_manifest(folder) if manifest_path.is_file() else {}
    content[info.name] = {
        "shape": list(model.shape),
        "dims": list(MODEL_DIMS),
        "spacing_m": list(info.spacing_m),
        "units": "m/s",
        "vmin": float(model.values.min()),
        "vmax": float(model.values.max()),
        "about": info.title,
        "source": info.download,
        "sha256_npy": hashlib.sha256((folder / f"{info.name}.npy").read_bytes()).hexdigest(),
    }
    with atomic_output(manifest_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(content, indent=2) + "\n")
