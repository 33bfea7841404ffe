"""A corpus of SEG-Y and Seismic Unix files written with segyio's own writer.

Every file of the corpus is one that segyio reads. Each is either read by
:func:`read_segy` / :func:`read_shots` with exactly segyio's sample values (``f.trace.raw[:]``,
or ``segyio.tools.cube`` for 3-D files), or refused with a :class:`SegyError` that names
the file. The test prints the fraction read and checks each file's expected outcome.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import segyio

from devito_crfwi.io import SegyError, read_segy, read_shots

TF = segyio.TraceField
BF = segyio.BinField
DTYPES = {1: np.float32, 2: np.int32, 3: np.int16, 5: np.float32, 6: np.float64, 8: np.int8,
          9: np.int64, 10: np.uint32, 11: np.uint16, 12: np.uint64, 16: np.uint8}
UNDECODED = (4, 7, 15)  # segyio warns and reads these as IBM floats
NX, NZ = 4, 5
#: Velocities (m/s) that every sample format stores exactly.
VALUES = 20.0 + np.arange(NX * NZ, dtype=np.float64).reshape(NX, NZ)


def write(path: Path, traces: np.ndarray, *, fmt: int = 5, endian: str = "big",
          headers: list[dict] | None = None, binary: dict | None = None, ext: int = 0,
          text: str | None = None) -> Path:
    """Write ``traces`` (trace, sample) with segyio.create, as another program would."""
    n, ns = traces.shape
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount, spec.endian = fmt, np.arange(ns), n, endian
    spec.ext_headers = ext
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # segyio's fall back to IBM floats for 4, 7, 15
        with segyio.create(str(path), spec) as f:
            if text is not None:
                f.text[0] = segyio.tools.create_text_header({1: text})
            for i in range(ext):
                f.text[i + 1] = segyio.tools.create_text_header({1: f"extended header {i + 1}"})
            f.bin.update({BF.Interval: 4000, BF.Samples: ns, BF.Format: fmt, **(binary or {})})
            for i in range(n):
                f.header[i] = {TF.TRACE_SAMPLE_COUNT: ns, TF.TRACE_SAMPLE_INTERVAL: 4000,
                               **(headers[i] if headers else {})}
                f.trace[i] = traces[i].astype(DTYPES.get(fmt, np.float32))
    return path


def patch(path: Path, byte: int, fmt: str, value: int) -> Path:
    """Overwrite the field at 1-based ``byte`` with ``value`` packed as ``fmt``."""
    with open(path, "r+b") as stream:
        stream.seek(byte - 1)
        stream.write(struct.pack(fmt, value))
    return path


def shot_headers(n_shots: int = 2, n_rec: int = 3) -> list[dict]:
    return [{TF.FieldRecord: s + 1, TF.SourceX: 100 * s, TF.GroupX: 10 * r,
             TF.offset: 10 * r - 100 * s} for s in range(n_shots) for r in range(n_rec)]


def to_su(segy: Path, path: Path) -> Path:
    """The traces of a segyio-written SEG-Y file without its file header: Seismic Unix."""
    path.write_bytes(segy.read_bytes()[3600:])
    return path


@dataclass
class Case:
    """One corpus file: how to write it, how segyio opens it, what our reader must do."""

    name: str
    build: Callable[[Path], Path]
    reader: str  # "model" or "shots"
    expect: str  # "read" or "refuse"
    kwargs: dict | None = None
    endian: str = "big"
    su: bool = False
    line: str | None = None  # "inline"/"crossline"/"cube": compare with segyio's cube (line);
    # "survey": traces placed by segyio's INLINE_3D/CROSSLINE_3D, and the trace coordinates
    pair: tuple[str, str] = ("CDP_X", "CDP_Y")  # the coordinates a "survey" case checks


def _rev2_with_trace_headers(path: Path) -> Path:
    """Rev 2, one additional 240-byte trace header per trace (segyio reads it as samples)."""
    ns = 60  # 240 bytes of samples: segyio sees 3 traces where there are 2 of 720 bytes
    plain = write(path.with_suffix(".plain"), np.full((2, ns), 1500.0))
    data = plain.read_bytes()
    traces = [data[3600 + i * 480: 3600 + (i + 1) * 480] for i in range(2)]
    path.write_bytes(data[:3600] + b"".join(t[:240] + bytes(240) + t[240:] for t in traces))
    patch(path, 3501, ">B", 2)
    return patch(path, 3507, ">i", 1)


def _cases() -> list[Case]:
    cases = []
    for endian in ("big", "little"):
        order = ">" if endian == "big" else "<"
        for fmt in DTYPES:
            cases.append(Case(f"format{fmt}-{endian}", lambda p, f=fmt, e=endian: write(
                p, VALUES, fmt=f, endian=e), "model", "read", {"dx": 10.0, "dz": 10.0}, endian))
        for fmt in UNDECODED:
            cases.append(Case(f"format{fmt}-{endian}", lambda p, f=fmt, e=endian: write(
                p, VALUES, fmt=f, endian=e), "model", "refuse", {"dx": 10.0, "dz": 10.0}, endian))
        cases += [
            Case(f"shots-{endian}", lambda p, e=endian: write(
                p, VALUES[:2].repeat(3, axis=0), fmt=1, endian=e, headers=shot_headers()),
                "shots", "read", endian=endian),
            Case(f"su-model-{endian}", lambda p, e=endian: to_su(
                write(p.with_suffix(".segy"), VALUES, endian=e), p.with_suffix(".su")),
                "model", "read", {"dx": 10.0, "dz": 10.0}, endian, su=True),
            Case(f"su-shots-{endian}", lambda p, e=endian: to_su(write(
                p.with_suffix(".segy"), VALUES[:2].repeat(3, axis=0), endian=e,
                headers=shot_headers()), p.with_suffix(".dat")), "shots", "read", endian=endian,
                su=True),
            Case(f"extended-text-{endian}", lambda p, e=endian: write(
                p, VALUES, endian=e, ext=2, text="dx=12.5 m dz=5 m"), "model", "read",
                endian=endian),
            Case(f"rev2-byte-order-{endian}", lambda p, e=endian, o=order: patch(patch(write(
                p, VALUES, fmt=6, endian=e), 3297, o + "I", 0x01020304), 3501, ">B", 2),
                "model", "read", {"dx": 10.0, "dz": 10.0}, endian),
            Case(f"trace-sample-counts-disagree-{endian}", lambda p, e=endian: write(
                p, VALUES, endian=e, headers=[{TF.TRACE_SAMPLE_COUNT: 3 + i} for i in range(NX)]),
                "model", "read", {"dx": 10.0, "dz": 10.0}, endian),
        ]
    for scalar in (10, -10, 0):
        cases.append(Case(f"scalco{scalar:+d}", lambda p, s=scalar: write(p, VALUES, headers=[
            {TF.CDP_X: 25 * i, TF.SourceGroupScalar: s} for i in range(NX)]), "model", "read",
            {"dz": 10.0}))
    cases += [
        # segyio reads the extended count of little-endian files as big-endian: big only
        Case("rev2-extended-samples", lambda p: patch(patch(patch(write(p, VALUES), 3221, ">H", 0),
             3269, ">i", NZ), 3501, ">B", 2), "model", "read", {"dx": 10.0, "dz": 10.0}),
        Case("rev2-bogus-trace-header-count", lambda p: patch(patch(write(
            p, VALUES), 3501, ">B", 2), 3507, ">i", 1), "model", "read", {"dx": 1.0, "dz": 1.0}),
        Case("rev2-additional-trace-headers", _rev2_with_trace_headers, "model", "refuse",
             {"dx": 1.0, "dz": 1.0}),
        Case("no-coordinates", lambda p: write(p, VALUES), "model", "refuse", {"dz": 10.0}),
        Case("kms-values-as-ms", lambda p: write(p, VALUES / 10.0), "model", "refuse",
             {"dx": 10.0, "dz": 10.0}),
        Case("kms-values-as-kms", lambda p: write(p, VALUES / 10.0), "model", "read",
             {"dx": 10.0, "dz": 10.0, "units": "km/s"}),
        Case("post-stack-2d", lambda p: _from_array(p, VALUES), "model", "read",
             {"dx": 10.0, "dz": 10.0}),
        Case("post-stack-3d-no-dy", lambda p: _from_array(p, _cube(3, 4)), "model", "refuse",
             {"dx": 10.0, "dz": 10.0}),
        Case("post-stack-3d-cube", lambda p: _from_array(p, _cube(3, 4)), "model", "read",
             {"dx": 10.0, "dy": 20.0, "dz": 10.0}, line="cube"),
        Case("post-stack-3d-inline", lambda p: _from_array(p, _cube(3, 4)), "model", "read",
             {"dx": 10.0, "dz": 10.0, "inline": 2}, line="inline"),
        Case("post-stack-3d-crossline", lambda p: _from_array(p, _cube(3, 4)), "model", "read",
             {"dx": 10.0, "dz": 10.0, "crossline": 3}, line="crossline"),
        Case("pre-stack-3d-as-model", lambda p: _from_array(p, _cube(2, 3, 2)), "model",
             "refuse", {"dx": 10.0, "dz": 10.0}),
        Case("pre-stack-3d-as-shots", lambda p: _from_array(p, _cube(2, 3, 2)), "shots", "read"),
        Case("model-as-shots", lambda p: write(p, VALUES), "shots", "refuse"),
        Case("shots-as-model", lambda p: write(p, VALUES[:2].repeat(3, axis=0),
             headers=shot_headers()), "model", "refuse", {"dx": 10.0, "dz": 10.0}),
    ]
    # segyio's rotation test files (python/examples/make-rotated-copies.py): CDP_X/CDP_Y as
    # functions of the inline index a and crossline index b, with their scalars
    for name, (east, north, scalar) in SEGYIO_ROTATIONS.items():
        cases.append(Case(f"rotated-{name}", lambda p, e=east, n=north, s=scalar: _survey(
            p, e, n, s), "model", "read", {"dz": 10.0}, line="survey"))
    cases += [
        Case("rotated-30-shuffled", lambda p: _survey(p, *_turn(30.0), -100, shuffle=True),
             "model", "read", {"dz": 10.0}, line="survey"),
        Case("rotated-30-source-xy", lambda p: _survey(p, *_turn(30.0), -100, shuffle=True,
             pair=("SourceX", "SourceY")), "model", "read", {"dz": 10.0}, line="survey",
             pair=("SourceX", "SourceY")),
        Case("rotated-30-hole", lambda p: _survey(p, *_turn(30.0), -100, drop=5), "model",
             "refuse", {"dz": 10.0}),
        Case("rotated-30-duplicate", lambda p: _survey(p, *_turn(30.0), -100, double=5),
             "model", "refuse", {"dz": 10.0}),
        Case("rotated-skewed", lambda p: _survey(p, lambda a, b: 10 * b + 5 * a,
             lambda a, b: 10 * a, 1), "model", "refuse", {"dz": 10.0}),
    ]
    return cases


#: (CDP_X(a, b), CDP_Y(a, b), SourceGroupScalar) of segyio's normal-, acute-, right-, obtuse-,
#: straight-, reflex-, left- and inv-acute-small.sgy (0 to 315 degrees clockwise).
SEGYIO_ROTATIONS = {
    "normal": (lambda a, b: a, lambda a, b: b, 10),
    "acute": (lambda a, b: a + b, lambda a, b: 100 - a + b, -10),
    "right": (lambda a, b: b, lambda a, b: 100 - a, 1),
    "obtuse": (lambda a, b: 100 - a + b, lambda a, b: 100 - a - b, 2),
    "straight": (lambda a, b: 100 - a, lambda a, b: 100 - b, -7),
    "reflex": (lambda a, b: 100 - (a + b), lambda a, b: 100 + (a - b), 7),
    "left": (lambda a, b: 100 - b, lambda a, b: a, 21),
    "inv-acute": (lambda a, b: 100 + a - b, lambda a, b: a + b, 100),
}
NIL, NXL = 3, 4  # inlines 1..3, crosslines 20..23 (segyio's small.sgy is 5 x 5)


def _turn(degrees: float) -> tuple[Callable, Callable]:
    """CDP_X/CDP_Y (cm) of 12.5 m x 25 m bins turned ``degrees`` counterclockwise."""
    r = np.radians(degrees)
    return (lambda a, b: np.rint(100 * (12.5 * b * np.cos(r) - 25 * a * np.sin(r))),
            lambda a, b: np.rint(100 * (12.5 * b * np.sin(r) + 25 * a * np.cos(r))))


def _survey(path: Path, east: Callable, north: Callable, scalar: int, *, shuffle: bool = False,
            pair: tuple[str, str] = ("CDP_X", "CDP_Y"), drop: int | None = None,
            double: int | None = None) -> Path:
    """A post-stack cube, inline-sorted unless ``shuffle``, its coordinates ``east(a, b)``,
    ``north(a, b)`` of inline index a and crossline index b; ``drop`` removes a trace and
    ``double`` repeats one."""
    a, b = (v.ravel() for v in np.meshgrid(np.arange(NIL), np.arange(NXL), indexing="ij"))
    order = np.arange(a.size)
    if shuffle:
        order = np.random.default_rng(1).permutation(a.size)
    if drop is not None:
        order = np.delete(order, drop)
    if double is not None:
        order = np.append(order, order[double])
    headers = [{TF.INLINE_3D: int(a[t]) + 1, TF.CROSSLINE_3D: int(b[t]) + 20,
                getattr(TF, pair[0]): int(east(a[t], b[t])),
                getattr(TF, pair[1]): int(north(a[t], b[t])), TF.SourceGroupScalar: scalar}
               for t in order]
    return write(path, 1500.0 + 10 * a[order, None] + b[order, None] + 0.5 * np.arange(NZ),
                 headers=headers)


def _cube(*shape: int) -> np.ndarray:
    return 20.0 + np.arange(np.prod(shape) * NZ, dtype=np.float64).reshape(*shape, NZ)


def _from_array(path: Path, data: np.ndarray) -> Path:
    segyio.tools.from_array(str(path), data.astype(np.float32), format=5)
    return path


def _segyio_values(path: Path, case: Case) -> np.ndarray:
    """The samples as segyio gives them: ``(trace, sample)``, or one line of the cube."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.su:
            with segyio.su.open(str(path), ignore_geometry=True, endian=case.endian) as f:
                return f.trace.raw[:]
        if case.line == "survey":
            return _segyio_survey(path, case.pair)
        if case.line:
            with segyio.open(str(path), endian=case.endian) as f:
                cube = segyio.tools.cube(f)
                if case.line == "cube":  # (inline, crossline, sample) is our (y, x, z)
                    return cube.transpose(1, 0, 2)
                number = case.kwargs[case.line]
                lines = f.ilines if case.line == "inline" else f.xlines
                index = int(np.flatnonzero(lines == number)[0])
                return cube[index] if case.line == "inline" else cube[:, index]
        with segyio.open(str(path), ignore_geometry=True, endian=case.endian) as f:
            return f.trace.raw[:]


def _segyio_survey(path: Path, pair: tuple[str, str]) -> tuple[np.ndarray, ...]:
    """segyio's traces placed at (crossline, inline) rank, and its coordinates (m) there."""
    with segyio.open(str(path), ignore_geometry=True) as f:
        raw = f.trace.raw[:]
        inlines, crosslines = f.attributes(TF.INLINE_3D)[:], f.attributes(TF.CROSSLINE_3D)[:]
        scalar = f.attributes(TF.SourceGroupScalar)[:].astype(np.float64)
        world = [f.attributes(getattr(TF, name))[:].astype(np.float64) for name in pair]
    x_index = np.unique(crosslines, return_inverse=True)[1]
    y_index = np.unique(inlines, return_inverse=True)[1]
    shape = (x_index.max() + 1, y_index.max() + 1)
    divide, multiply = np.where(scalar < 0, -scalar, 1.0), np.where(scalar > 0, scalar, 1.0)
    placed = []
    for values in (raw, *(w * multiply / divide for w in world)):
        grid = np.full(shape + values.shape[1:], np.nan)
        grid[x_index, y_index] = values
        placed.append(grid)
    return tuple(placed)


def _same_survey(cube, expected: tuple[np.ndarray, ...]) -> bool:
    """Values as segyio places them, and world coordinates: cdp_x/cdp_y of a rotated cube,
    x and y of an axis-aligned one (to 1 um: those are rebuilt as origin + step * i)."""
    values, east, north = expected
    if "cdp_x" in cube.coords:
        return (np.array_equal(cube.values, values) and np.array_equal(cube.cdp_x.values, east)
                and np.array_equal(cube.cdp_y.values, north))
    x, y = np.meshgrid(cube.x.values, cube.y.values, indexing="ij")
    return (np.array_equal(cube.values, values) and np.allclose(x, east, rtol=0.0, atol=1e-6)
            and np.allclose(y, north, rtol=0.0, atol=1e-6))


def _ours(path: Path, case: Case) -> np.ndarray:
    """Our reading, as ``(trace, sample)`` in file order (gathers are in file order here)."""
    if case.reader == "model":
        model = read_segy(path, **(case.kwargs or {}))
        return model if case.line == "survey" else model.values
    shots = read_shots(path).values  # (shot, time, receiver)
    return shots.transpose(0, 2, 1).reshape(-1, shots.shape[1])


def run_corpus(folder: Path) -> dict[str, str]:
    """Write every corpus file into ``folder`` and read it: {name: outcome}.

    Outcomes: "read" (segyio's values exactly), "refuse" (a SegyError naming the file),
    "wrong values", "error without the file name" or "crash: <exception>".
    """
    outcomes = {}
    for case in _cases():
        path = case.build(folder / f"{case.name}.sgy")
        expected = _segyio_values(path, case)  # segyio reads every corpus file
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                values = _ours(path, case)
        except SegyError as err:
            named = path.name in str(err)
            outcomes[case.name] = "refuse" if named else "error without the file name"
            continue
        except Exception as err:  # the corpus records what goes wrong
            outcomes[case.name] = f"crash: {type(err).__name__}: {err}"
            continue
        if case.line == "survey":
            outcomes[case.name] = "read" if _same_survey(values, expected) else "wrong values"
            continue
        scale = (case.kwargs or {}).get("units") == "km/s"
        expected = expected * 1000.0 if scale else expected
        same = values.shape == expected.shape and np.array_equal(
            values.astype(np.float64), np.asarray(expected, dtype=np.float64))
        outcomes[case.name] = "read" if same else "wrong values"
    return outcomes


def test_every_file_segyio_reads_is_read_exactly_or_refused(tmp_path):
    outcomes = run_corpus(tmp_path)
    expected = {case.name: case.expect for case in _cases()}
    read = sum(outcome == "read" for outcome in outcomes.values())
    right = sum(outcomes[name] == expect for name, expect in expected.items())
    print(f"\nSEG-Y corpus: {read}/{len(outcomes)} files read with segyio's values; "
          f"{right}/{len(outcomes)} ({right / len(outcomes):.0%}) read so or refused with a "
          "SegyError naming the file where the layout is no model grid")
    assert outcomes == expected


def test_corpus_scalars_give_the_coordinates(tmp_path):
    """CDP_X 0, 25, 50, 75 with SourceGroupScalar +10, -10 and 0 (= 1)."""
    for scalar, step in ((10, 250.0), (-10, 2.5), (0, 25.0)):
        path = write(tmp_path / f"s{scalar}.sgy", VALUES, headers=[
            {TF.CDP_X: 25 * i, TF.SourceGroupScalar: scalar} for i in range(NX)])
        np.testing.assert_array_equal(read_segy(path, dz=10.0).x.values, step * np.arange(NX))


def test_corpus_refusals_say_what_to_do(tmp_path):
    cube = _from_array(tmp_path / "cube.sgy", _cube(3, 4))
    with pytest.raises(SegyError, match=r"cube\.sgy: no y spacing: .*pass dy=<metres>"):
        read_segy(cube, dx=10.0, dz=10.0)
    gathers = _from_array(tmp_path / "prestack.sgy", _cube(2, 3, 2))
    with pytest.raises(SegyError, match=r"prestack\.sgy: holds shot gathers.*read_shots"):
        read_segy(gathers, dx=10.0, dz=10.0)
    extra = _rev2_with_trace_headers(tmp_path / "extra.sgy")
    with pytest.raises(SegyError, match=r"extra\.sgy: .*1 additional 240-byte trace header.*"
                                        r"3507-3510"):
        read_shots(extra)
