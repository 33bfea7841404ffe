"""Opening SEG-Y files safely: format check, byte order, size and sample-count checks.

:func:`inspect_segy` reads the 3600-byte file header itself, before segyio sees the
file, so that a bad file fails with a :class:`SegyError` that names it and the
problem instead of a segyio ``RuntimeError`` (or a silent misread: segyio reads
unknown format codes as IBM floats).

Byte order
----------
SEG-Y is big-endian by standard, but little-endian files exist. The order is
decided from the binary header:

1. a SEG-Y rev 2 byte-order constant (bytes 3297-3300) settles it when present;
2. otherwise the file is big-endian if the sample-format code (bytes 3225-3226)
   read big-endian is a defined SEG-Y code (1-16), else little-endian if it is
   one read little-endian (a code read in the wrong order is a multiple of 256).
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import segyio

from .atomic import atomic_output
from .errors import SegyError
from .headers import text_from_segyio

__all__ = [
    "SAMPLE_FORMATS",
    "SampleFormat",
    "SegyLayout",
    "create_segy",
    "inspect_segy",
    "open_segy",
    "read_text",
]

TEXT_BYTES = 3200
BINARY_BYTES = 400
TRACE_HEADER_BYTES = 240
FILE_HEADER_BYTES = TEXT_BYTES + BINARY_BYTES


@dataclass(frozen=True)
class SampleFormat:
    """A SEG-Y data sample format (binary header bytes 3225-3226).

    Attributes
    ----------
    code : int
        The format code.
    name : str
        Human-readable name.
    itemsize : int
        Bytes per sample.
    """

    code: int
    name: str
    itemsize: int


#: Sample formats that segyio reads correctly (both byte orders).
SAMPLE_FORMATS: Mapping[int, SampleFormat] = MappingProxyType(
    {
        f.code: f
        for f in (
            SampleFormat(1, "4-byte IBM float", 4),
            SampleFormat(2, "4-byte signed integer", 4),
            SampleFormat(3, "2-byte signed integer", 2),
            SampleFormat(5, "4-byte IEEE float", 4),
            SampleFormat(6, "8-byte IEEE float", 8),
            SampleFormat(8, "1-byte signed integer", 1),
            SampleFormat(9, "8-byte signed integer", 8),
            SampleFormat(10, "4-byte unsigned integer", 4),
            SampleFormat(11, "2-byte unsigned integer", 2),
            SampleFormat(12, "8-byte unsigned integer", 8),
            SampleFormat(16, "1-byte unsigned integer", 1),
        )
    }
)

# Defined by the standard but not read correctly by segyio (it falls back to IBM float).
_UNSUPPORTED_FORMATS: Mapping[int, str] = MappingProxyType(
    {
        4: "4-byte fixed point with gain",
        7: "3-byte signed integer",
        13: "reserved",
        14: "reserved",
        15: "3-byte unsigned integer",
    }
)
_DEFINED_CODES = frozenset(SAMPLE_FORMATS) | frozenset(_UNSUPPORTED_FORMATS)
_BYTE_ORDER_CONSTANT = 0x01020304


@dataclass(frozen=True)
class SegyLayout:
    """What the file header says about a SEG-Y file, after checks.

    Attributes
    ----------
    path : pathlib.Path
    endian : {"big", "little"}
    sample_format : SampleFormat
    n_samples : int
        Samples per trace.
    n_traces : int
        Number of traces (at least 1).
    sample_interval : int
        Binary-header sample interval (bytes 3217-3218) as stored: µs for time data,
        mm for our depth models; 0 when not set.
    n_extended_headers : int
        Extended textual headers after the binary header.
    """

    path: Path
    endian: str
    sample_format: SampleFormat
    n_samples: int
    n_traces: int
    sample_interval: int
    n_extended_headers: int


def _read_head(path: Path) -> tuple[bytes, int]:
    if not path.exists():
        raise SegyError(path, "no such file")
    if path.is_dir():
        raise SegyError(path, "is a folder, not a SEG-Y file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            head = stream.read(FILE_HEADER_BYTES + TRACE_HEADER_BYTES)
    except OSError as err:
        raise SegyError(path, f"cannot be read ({err.strerror or err})") from err
    return head, size


def _choose_endian(path: Path, binary: bytes) -> str:
    constant_big = struct.unpack(">I", binary[96:100])[0]
    if constant_big == _BYTE_ORDER_CONSTANT:
        return "big"
    if struct.unpack("<I", binary[96:100])[0] == _BYTE_ORDER_CONSTANT:
        return "little"
    code_big = struct.unpack(">h", binary[24:26])[0]
    code_little = struct.unpack("<h", binary[24:26])[0]
    if code_big in _DEFINED_CODES:
        return "big"
    if code_little in _DEFINED_CODES:
        return "little"
    raise SegyError(
        path,
        f"the binary header's sample-format code is {code_big} (big-endian) or {code_little} "
        "(little-endian), neither of which is a SEG-Y format code",
        "this is not a SEG-Y file, or its binary header is damaged",
    )


def inspect_segy(path: str | os.PathLike[str]) -> SegyLayout:
    """Check a SEG-Y file's header and size; return its layout.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    SegyLayout

    Raises
    ------
    SegyError
        Missing or unreadable file, a file shorter than the 3600-byte header (for
        example a textual header alone), an unknown or unsupported sample format,
        no sample count in the binary header, no traces, or a size that is not a whole number of
        traces (truncated file, or traces of different lengths).
    """
    path = Path(path)
    head, size = _read_head(path)
    if size < FILE_HEADER_BYTES:
        raise SegyError(
            path,
            f"file is {size} bytes, shorter than the {FILE_HEADER_BYTES}-byte SEG-Y file header "
            "(3200-byte textual + 400-byte binary header)",
            "it is not a SEG-Y file or it is truncated",
        )
    binary = head[TEXT_BYTES:FILE_HEADER_BYTES]
    endian = _choose_endian(path, binary)
    order = ">" if endian == "big" else "<"
    interval = struct.unpack(order + "H", binary[16:18])[0]
    n_samples = struct.unpack(order + "H", binary[20:22])[0]
    code = struct.unpack(order + "h", binary[24:26])[0]
    n_ext = struct.unpack(order + "h", binary[104:106])[0]
    if code not in SAMPLE_FORMATS:
        supported = ", ".join(f"{f.code} ({f.name})" for f in SAMPLE_FORMATS.values())
        raise SegyError(
            path,
            f"sample format code {code} ({_UNSUPPORTED_FORMATS.get(code, 'undefined')}) "
            "is not supported",
            f"supported codes: {supported}; convert the file first",
        )
    fmt = SAMPLE_FORMATS[code]
    if n_ext < 0:
        raise SegyError(
            path,
            "the binary header announces a variable number of extended textual headers (-1)",
            "this is not supported; rewrite the file without extended headers",
        )
    data_start = FILE_HEADER_BYTES + TEXT_BYTES * n_ext
    if size <= data_start:
        raise SegyError(path, "file holds headers but zero traces")
    if n_samples == 0:
        in_trace = ""
        if len(head) >= FILE_HEADER_BYTES + 116 and n_ext == 0:
            first = struct.unpack(
                order + "H", head[FILE_HEADER_BYTES + 114 : FILE_HEADER_BYTES + 116]
            )
            in_trace = f" (the first trace header says {first[0]})"
        raise SegyError(
            path,
            f"the binary header's sample count (bytes 3221-3222) is 0{in_trace}",
            "segyio needs it there: rewrite the file with the sample count set",
        )
    trace_bytes = TRACE_HEADER_BYTES + n_samples * fmt.itemsize
    data_bytes = size - data_start
    if data_bytes % trace_bytes:
        whole, rest = divmod(data_bytes, trace_bytes)
        raise SegyError(
            path,
            f"{data_bytes} bytes of trace data are not a whole number of traces of "
            f"{trace_bytes} bytes (240-byte header + {n_samples} samples x {fmt.itemsize} bytes): "
            f"{whole} traces and {rest} bytes left over",
            "the file is truncated, or its traces have different sample counts",
        )
    return SegyLayout(
        path=path,
        endian=endian,
        sample_format=fmt,
        n_samples=int(n_samples),
        n_traces=data_bytes // trace_bytes,
        sample_interval=int(interval),
        n_extended_headers=int(n_ext),
    )


@contextmanager
def open_segy(path: str | os.PathLike[str]) -> Iterator[tuple[segyio.SegyFile, SegyLayout]]:
    """Open a checked SEG-Y file read-only with segyio, trace order, no geometry.

    Yields ``(file, layout)``. segyio errors raised inside the ``with`` block (a
    ``RuntimeError`` while reading traces) become :class:`SegyError`.

    Raises
    ------
    SegyError
        Everything :func:`inspect_segy` checks, plus trace headers whose sample
        count disagrees with the binary header.
    """
    layout = inspect_segy(path)
    path = layout.path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle = segyio.open(str(path), "r", ignore_geometry=True, endian=layout.endian)
    except (RuntimeError, OSError, ValueError) as err:
        raise SegyError(path, f"segyio cannot open it ({err})") from err
    try:
        with handle:
            counts = handle.attributes(segyio.TraceField.TRACE_SAMPLE_COUNT)[:]
            bad = np.flatnonzero((counts != 0) & (counts != layout.n_samples))
            if bad.size:
                raise SegyError(
                    path,
                    f"inconsistent sample counts: trace {bad[0] + 1} says {counts[bad[0]]} samples "
                    f"but the file header says {layout.n_samples} ({bad.size} traces disagree)",
                    "the file is damaged, or was written with traces of different lengths",
                )
            yield handle, layout
    except RuntimeError as err:
        raise SegyError(path, f"reading failed ({err})") from err


def read_text(handle: segyio.SegyFile) -> str:
    """The main textual header of an open file as text (see ``headers.text_from_segyio``)."""
    return text_from_segyio(handle.text[0])


@contextmanager
def create_segy(path: Path, *, text: str, n_traces: int, n_samples: int, interval: int,
                overwrite: bool, binary: Mapping[int, int]) -> Iterator[segyio.SegyFile]:
    """Write a SEG-Y rev 1 file of 4-byte IEEE floats, big-endian, atomically.

    Yields the open segyio file with its textual header ``text`` (3200 characters) and a
    binary header holding ``n_samples``, the sample ``interval`` (as stored: µs or mm),
    format 5, metres and rev 1, updated with ``binary`` (segyio ``BinField`` -> value); the
    caller writes the trace headers and traces. ``path`` appears only once it is complete.
    """
    spec = segyio.spec()
    spec.format = 5
    spec.samples = np.arange(n_samples)
    spec.tracecount = n_traces
    spec.endian = "big"
    fields = segyio.BinField
    with atomic_output(path, overwrite=overwrite) as tmp:
        with segyio.create(str(tmp), spec) as out:
            out.text[0] = text
            out.bin.update({
                fields.JobID: 1, fields.LineNumber: 1, fields.ReelNumber: 1,
                fields.Interval: interval, fields.IntervalOriginal: interval,
                fields.Samples: n_samples, fields.SamplesOriginal: n_samples,
                fields.Format: 5, fields.MeasurementSystem: 1,
                fields.SEGYRevision: 1, fields.SEGYRevisionMinor: 0,
                **binary,
            })
            yield out
