"""Fuzzing read_segy and read_shots: damaged files fail with a SegyError, fast and small.

Valid small files (our model and gathers, a foreign little-endian int16 file, a Seismic
Unix file, a foreign cube rotated by 30 degrees) are truncated, have bytes flipped and
header fields set to arbitrary values. Reading them may succeed, warn, or raise a
``ValueError`` (a :class:`SegyError` naming the file for anything about the file), never
anything else; it never hangs and never allocates much more than the file's size.
"""

from __future__ import annotations

import struct
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import segyio
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devito_crfwi.io import SegyError, read_segy, read_shots, write_segy, write_shots

TF = segyio.TraceField
#: Allowed peak of traced memory while reading: this many times the file size, plus a floor
#: for the fixed costs of numpy and xarray objects.
MEMORY_FACTOR, MEMORY_FLOOR = 64, 4 * 2**20

# (1-based byte, struct code) of binary-header and first-trace-header fields that steer reading.
BINARY_FIELDS = [(3217, "H"), (3221, "H"), (3225, "h"), (3269, "i"), (3297, "I"), (3501, "B"),
                 (3505, "h"), (3507, "i")]
TRACE_FIELDS = [(9, "i"), (37, "i"), (71, "h"), (115, "H"), (117, "H"), (181, "i"), (189, "i"),
                (193, "i")]
LIMITS = {"B": (0, 255), "h": (-(2**15), 2**15 - 1), "H": (0, 2**16 - 1),
          "i": (-(2**31), 2**31 - 1), "I": (0, 2**32 - 1)}


def _bases(folder: Path) -> dict[str, bytes]:
    """Small valid files, as bytes."""
    model = xr.DataArray(
        1500.0 + np.arange(24, dtype=np.float32).reshape(6, 4) * 10, dims=("x", "z"),
        coords={"x": 10.0 * np.arange(6), "z": 5.0 * np.arange(4)}, attrs={"units": "m/s"})
    shots = xr.DataArray(
        np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3),
        dims=("shot", "time", "receiver"),
        coords={"time": 0.002 * np.arange(4), "source_x": ("shot", [0.0, 20.0]),
                "source_z": ("shot", [0.0, 0.0]), "receiver_x": ("receiver", [0.0, 10.0, 20.0]),
                "receiver_z": ("receiver", [0.0, 0.0, 0.0])})
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount, spec.endian = 3, np.arange(4), 6, "little"
    foreign = folder / "foreign.sgy"
    with segyio.create(str(foreign), spec) as f:
        for i in range(6):
            f.header[i] = {TF.CDP_X: 100 * i, TF.SourceGroupScalar: -10,
                           TF.TRACE_SAMPLE_COUNT: 4, TF.TRACE_SAMPLE_INTERVAL: 2000}
            f.trace[i] = np.full(4, 1500 + i, dtype=np.int16)
    rotated = folder / "rotated.sgy"  # a 3 x 4 cube turned 30 degrees, crossline-sorted
    spec.format, spec.tracecount, spec.endian = 5, 12, "big"
    with segyio.create(str(rotated), spec) as f:
        for t, (xl, il) in enumerate(np.ndindex(4, 3)):
            east = 125 * xl * np.cos(np.pi / 6) - 250 * il * 0.5  # decimetres
            north = 62.5 * xl + 250 * il * np.cos(np.pi / 6)
            f.header[t] = {TF.INLINE_3D: il + 1, TF.CROSSLINE_3D: xl + 1, TF.CDP_X: int(east),
                           TF.CDP_Y: int(north), TF.SourceGroupScalar: -10,
                           TF.TRACE_SAMPLE_COUNT: 4, TF.TRACE_SAMPLE_INTERVAL: 2000}
            f.trace[t] = np.full(4, 1500 + t, dtype=np.float32)
    files = {"model": write_segy(model, folder / "model.sgy").read_bytes(),
             "rotated": rotated.read_bytes(),
             "shots": write_shots(shots, folder / "shots.sgy").read_bytes(),
             "foreign": foreign.read_bytes()}
    files["su"] = files["model"][3600:]  # IEEE floats: the traces are Seismic Unix
    return files


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, bytes]:
    return _bases(tmp_path_factory.mktemp("bases"))


def _field_edit(fields: list[tuple[int, str]]) -> st.SearchStrategy:
    def values(field: tuple[int, str]) -> st.SearchStrategy:
        low, high = LIMITS[field[1]]
        return st.tuples(st.just(field), st.one_of(
            st.sampled_from([low, high, 0, 1, 2, 5, 255, 256]), st.integers(low, high)))
    return st.sampled_from(fields).flatmap(values)


edits = st.fixed_dictionaries({
    "base": st.sampled_from(["model", "shots", "foreign", "su", "rotated"]),
    "binary": st.lists(_field_edit(BINARY_FIELDS), max_size=3),
    "trace": st.lists(_field_edit(TRACE_FIELDS), max_size=3),
    "flips": st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 255)), max_size=4),
    "cut": st.one_of(st.none(), st.integers(0, 2**20)),
    "endian": st.sampled_from([">", "<"]),
})


def _damage(data: bytes, edit: dict) -> bytes:
    buffer = bytearray(data)
    trace0 = 0 if edit["base"] == "su" else 3600
    targets = [(byte - 1, code) for (byte, code), _ in edit["binary"]] if trace0 else []
    targets += [(trace0 + byte - 1, code) for (byte, code), _ in edit["trace"]]
    values = [v for _, v in edit["binary"]] if trace0 else []
    values += [v for _, v in edit["trace"]]
    for (offset, code), value in zip(targets, values, strict=True):
        buffer[offset : offset + struct.calcsize(code)] = struct.pack(edit["endian"] + code, value)
    for position, mask in edit["flips"]:
        buffer[position % len(buffer)] ^= mask
    if edit["cut"] is not None:
        del buffer[edit["cut"] % (len(buffer) + 1) :]
    return bytes(buffer)


def _read_within_limits(path: Path, read) -> None:
    """Run ``read(path)``; allow success, UserWarning and ValueError; check the memory peak."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            read(path)
    except SegyError as err:
        assert path.name in str(err), err
    except ValueError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    size = path.stat().st_size
    assert peak <= MEMORY_FACTOR * size + MEMORY_FLOOR, f"{peak} bytes traced for {size}"


READERS = [read_shots, read_segy, lambda p: read_segy(p, dx=10.0, dz=10.0),
           lambda p: read_segy(p, dx=10.0, dz=10.0, units="km/s", inline=1)]


@pytest.mark.timeout(60)
@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edit=edits, reader=st.sampled_from(READERS))
def test_damaged_files_fail_cleanly(bases, tmp_path, edit, reader):
    path = tmp_path / ("fuzz.su" if edit["base"] == "su" else "fuzz.sgy")
    path.write_bytes(_damage(bases[edit["base"]], edit))
    _read_within_limits(path, reader)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("byte", "code", "value"), [
    (3221, "H", 65535), (3269, "i", 2**31 - 1), (3505, "h", 32767), (3507, "i", 2**31 - 1),
])
def test_huge_header_values_allocate_nothing(bases, tmp_path, byte, code, value):
    """Header values that imply gigabytes of samples are refused before anything is read."""
    data = bytearray(bases["model"])
    data[3500] = 2  # rev 2, so that the extended fields count
    data[byte - 1 : byte - 1 + struct.calcsize(code)] = struct.pack(">" + code, value)
    path = tmp_path / "huge.sgy"
    path.write_bytes(bytes(data))
    for read in READERS:
        _read_within_limits(path, read)
