"""Opening SEG-Y and Seismic Unix files safely: format, byte order, size and sample counts.

segyio reads the files. :func:`inspect_segy` first checks the 3600-byte file header
against the file size, so that a bad file fails with a :class:`SegyError` that names it
and the problem instead of a segyio ``RuntimeError``, and so that nothing is allocated for
traces the file does not hold. It also refuses what segyio would silently misread: unknown
or unsupported sample-format codes (segyio reads them as IBM floats) and SEG-Y rev 2
additional trace headers (segyio reads them as samples).

Byte order
----------
SEG-Y is big-endian by standard, but little-endian files exist. The order is
decided from the binary header, then passed to segyio as its ``endian`` argument:

1. a SEG-Y rev 2 byte-order constant (bytes 3297-3300) settles it when present;
2. otherwise the file is big-endian if the sample-format code (bytes 3225-3226)
   read big-endian is a defined SEG-Y code (1-16), else little-endian if it is
   one read little-endian (a code read in the wrong order is a multiple of 256).

Sample count
------------
As segyio does: the binary header's bytes 3221-3222, or the rev 2 extended count
(bytes 3269-3272) when those are 0 or the revision (byte 3501) is 2 or more. Trace
headers that disagree get a warning; the binary header wins, as in segyio.

Seismic Unix
------------
A file that is not SEG-Y (or whose name ends in ``.su``) is tried as Seismic Unix
(240-byte trace headers and IEEE floats, no file header) with ``segyio.su.open``, big-
then little-endian; it is accepted when every trace header states the same sample count.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import segyio

from .atomic import atomic_output
from .errors import SegyError
from .headers import text_from_segyio
from .warn import warn

__all__ = [
    "SAMPLE_FORMATS",
    "SampleFormat",
    "SegyLayout",
    "create_segy",
    "inspect_segy",
    "open_segy",
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

# Defined by the standard but not decoded by segyio: it warns and reads them as 4-byte IBM
# floats, which gives wrong values (and, for the 3-byte formats, misaligned traces).
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
_SU_FORMAT = SAMPLE_FORMATS[5]


@dataclass(frozen=True)
class SegyLayout:
    """What the file header says about a SEG-Y (or Seismic Unix) file, after checks.

    Attributes
    ----------
    path : pathlib.Path
    kind : {"SEG-Y", "Seismic Unix"}
    endian : {"big", "little"}
    sample_format : SampleFormat
    n_samples : int
        Samples per trace.
    n_traces : int
        Number of traces (at least 1).
    sample_interval : int
        Binary-header sample interval (bytes 3217-3218) as stored: µs for time data,
        mm for our depth models; 0 when not set (always 0 for Seismic Unix, which has
        only the trace headers' interval).
    n_extended_headers : int
        Extended textual headers after the binary header.
    text : str
        The main textual header (see ``headers.text_from_segyio``); "" for Seismic Unix.
    """

    path: Path
    kind: str
    endian: str
    sample_format: SampleFormat
    n_samples: int
    n_traces: int
    sample_interval: int
    n_extended_headers: int
    text: str = ""


def _read_head(path: Path) -> tuple[bytes, int]:
    if not path.exists():
        raise SegyError(path, "no such file")
    if path.is_dir():
        raise SegyError(path, "is a folder, not a SEG-Y file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            head = stream.read(FILE_HEADER_BYTES)
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
        "this is not a SEG-Y file, or its binary header is damaged (segyio would read the "
        "samples as IBM floats: if they are, set bytes 3225-3226 to 1)",
    )


def inspect_segy(path: str | os.PathLike[str]) -> SegyLayout:
    """Check a SEG-Y file's header against its size; return its layout.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    SegyLayout
        ``text`` is left empty (:func:`open_segy` fills it from segyio).

    Raises
    ------
    SegyError
        Missing or unreadable file, a file shorter than the 3600-byte header (for
        example a textual header alone), an unknown or unsupported sample format,
        no sample count in the binary header, no traces, a size that is not a whole number
        of traces (truncated file, or traces of different lengths), or rev 2 additional
        trace headers.
    """
    path = Path(path)
    head, size = _read_head(path)
    return _inspect(path, head, size)


def _inspect(path: Path, head: bytes, size: int) -> SegyLayout:
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

    def field(start: int, kind: str) -> int:  # start: 1-based byte in the file
        offset = start - TEXT_BYTES - 1
        return struct.unpack(order + kind, binary[offset : offset + struct.calcsize(kind)])[0]

    interval, code, n_ext = field(3217, "H"), field(3225, "h"), field(3505, "h")
    # segyio's rule (segy_samples): the 2-byte count, unless it is 0 or the file is rev 2+
    # and the 4-byte extended count is positive.
    n_samples, extended, revision = field(3221, "H"), field(3269, "i"), binary[100]
    if extended > 0 and (n_samples == 0 or revision >= 2):
        n_samples = extended
    if code not in SAMPLE_FORMATS:
        supported = ", ".join(f"{f.code} ({f.name})" for f in SAMPLE_FORMATS.values())
        raise SegyError(
            path,
            f"sample format code {code} ({_UNSUPPORTED_FORMATS.get(code, 'undefined')}) "
            "is not supported (segyio reads it as IBM floats, which is wrong)",
            f"supported codes: {supported}; convert the file first",
        )
    fmt = SAMPLE_FORMATS[code]
    if n_ext < 0:
        raise SegyError(
            path,
            "the binary header announces a variable number of extended textual headers (-1)",
            "segyio does not read such files; rewrite the file without extended headers",
        )
    data_start = FILE_HEADER_BYTES + TEXT_BYTES * n_ext
    if size <= data_start:
        extended_text = f" and {n_ext} extended textual headers" if n_ext else ""
        raise SegyError(path, f"file holds headers{extended_text} but zero traces")
    if n_samples == 0:
        in_trace = ""
        if size >= data_start + 116:
            with open(path, "rb") as stream:
                stream.seek(data_start + 114)
                first = struct.unpack(order + "H", stream.read(2))[0]
            in_trace = f" (the first trace header says {first})"
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
    extra = field(3507, "i") if revision >= 2 else 0
    if extra > 0:
        with_extra = trace_bytes + TRACE_HEADER_BYTES * extra
        if data_bytes % with_extra == 0:
            raise SegyError(
                path,
                f"a SEG-Y rev 2 file with {extra} additional 240-byte trace header(s) per trace "
                "(binary header bytes 3507-3510), which segyio would read as samples",
                "rewrite the file without the additional trace headers",
            )
        warn(f"{path}: the binary header announces {extra} additional trace header(s) per "
             "trace (bytes 3507-3510), but the file size shows none; ignored, as segyio does")
    return SegyLayout(
        path=path,
        kind="SEG-Y",
        endian=endian,
        sample_format=fmt,
        n_samples=int(n_samples),
        n_traces=data_bytes // trace_bytes,
        sample_interval=int(interval),
        n_extended_headers=int(n_ext),
    )


def _segyio_open(path: Path, opener: Callable[..., segyio.SegyFile], endian: str,
                 kind: str) -> segyio.SegyFile:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return opener(str(path), "r", ignore_geometry=True, endian=endian)
    except (RuntimeError, OSError, ValueError) as err:
        raise SegyError(path, f"segyio cannot open it as {endian}-endian {kind} ({err})") from err


def _open_as_segy(path: Path, head: bytes, size: int) -> tuple[segyio.SegyFile, SegyLayout]:
    layout = _inspect(path, head, size)
    handle = _segyio_open(path, segyio.open, layout.endian, "SEG-Y")
    if (handle.tracecount, handle.samples.size) != (layout.n_traces, layout.n_samples):
        handle.close()
        raise SegyError(
            path,
            f"segyio reads {handle.tracecount} traces of {handle.samples.size} samples where the "
            f"binary header and size give {layout.n_traces} traces of {layout.n_samples}",
        )
    try:
        text = text_from_segyio(handle.text[0])
    except (RuntimeError, OSError) as err:
        handle.close()
        raise SegyError(path, f"the textual header cannot be read ({err})") from err
    return handle, SegyLayout(**{**layout.__dict__, "text": text})


def _open_as_su(path: Path) -> tuple[segyio.SegyFile, SegyLayout]:
    reasons = []
    for endian in ("big", "little"):
        try:
            handle = _segyio_open(path, segyio.su.open, endian, "Seismic Unix")
        except SegyError as err:
            reasons.append(f"{endian}-endian: {err.problem}")
            continue
        n_samples = handle.samples.size
        counts = handle.attributes(segyio.TraceField.TRACE_SAMPLE_COUNT)[:]
        if n_samples > 0 and np.all(counts == n_samples):
            return handle, SegyLayout(
                path=path, kind="Seismic Unix", endian=endian, sample_format=_SU_FORMAT,
                n_samples=n_samples, n_traces=handle.tracecount, sample_interval=0,
                n_extended_headers=0,
            )
        handle.close()
        reasons.append(f"{endian}-endian: trace headers state sample counts "
                       f"{', '.join(str(c) for c in np.unique(counts)[:4])}")
    raise SegyError(path, f"not a Seismic Unix file either ({'; '.join(reasons)})")


def _warn_on_sample_counts(handle: segyio.SegyFile, layout: SegyLayout) -> None:
    """Warn when trace headers (bytes 115-116) disagree with the binary header's count."""
    if layout.kind != "SEG-Y":
        return
    counts = handle.attributes(segyio.TraceField.TRACE_SAMPLE_COUNT)[:]
    bad = np.flatnonzero((counts != 0) & (counts != layout.n_samples))
    if bad.size:
        warn(
            f"{layout.path}: inconsistent sample counts: trace {bad[0] + 1} says {counts[bad[0]]} "
            f"samples but the binary header says {layout.n_samples} ({bad.size} traces "
            f"disagree); read {layout.n_samples} samples per trace, as segyio does"
        )


@contextmanager
def open_segy(path: str | os.PathLike[str]) -> Iterator[tuple[segyio.SegyFile, SegyLayout]]:
    """Open a checked SEG-Y or Seismic Unix file read-only with segyio, trace order.

    Yields ``(file, layout)``; ``layout.text`` holds the textual header. segyio errors
    raised inside the ``with`` block (a ``RuntimeError`` or ``OSError`` while reading
    traces) become :class:`SegyError`.

    Raises
    ------
    SegyError
        Everything :func:`inspect_segy` checks, when the file is not Seismic Unix either
        (the SEG-Y reason is given; for a ``.su`` file, the Seismic Unix one).

    Warns
    -----
    UserWarning
        Trace headers whose sample count disagrees with the binary header.
    """
    path = Path(path)
    head, size = _read_head(path)
    attempts = (lambda: _open_as_segy(path, head, size), lambda: _open_as_su(path))
    if path.suffix.lower() == ".su":
        attempts = attempts[::-1]
    errors: list[SegyError] = []
    for attempt in attempts:
        try:
            handle, layout = attempt()
            break
        except SegyError as err:
            errors.append(err)
    else:
        raise errors[0]
    try:
        with handle:
            _warn_on_sample_counts(handle, layout)
            yield handle, layout
    except (RuntimeError, OSError) as err:
        raise SegyError(path, f"reading failed ({err})") from err


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
