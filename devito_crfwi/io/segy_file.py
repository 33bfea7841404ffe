"""Opening SEG-Y and Seismic Unix files safely: format, byte order, size and sample counts.

segyio reads the files and decides the trace and sample counts (it refuses a size that
is not a whole number of traces, so nothing is allocated for traces the file does not
hold). :func:`open_segy` reads the binary header only to pick the byte order, to refuse
what segyio would silently misread (unknown or unsupported sample-format codes, which it
reads as IBM floats, and SEG-Y rev 2 additional trace headers, which it reads as samples),
and to explain in a :class:`SegyError` that names the file why segyio could not open it
(truncated file, no sample count...) instead of a bare segyio ``RuntimeError``.

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
segyio's: the binary header's bytes 3221-3222, or the rev 2 extended count (bytes
3269-3272) when those are 0 or the file is rev 2. Trace headers (bytes 115-116) that
disagree get a warning; the binary header wins, as in segyio.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    "INTERVAL_MAX",
    "SAMPLE_FORMATS",
    "SampleFormat",
    "SegyLayout",
    "create_segy",
    "open_segy",
    "trace_sample_count",
]

TEXT_BYTES = 3200
BINARY_BYTES = 400
TRACE_HEADER_BYTES = 240
FILE_HEADER_BYTES = TEXT_BYTES + BINARY_BYTES
#: Largest sample interval written (µs or mm): segyio reads the 2-byte field as signed, so
#: a larger one would come back negative from ``f.bin`` and give segyio's default samples.
INTERVAL_MAX = 32767
# Largest sample count of the 2-byte fields (binary bytes 3221-3222, trace bytes 115-116);
# beyond it only the rev 2 extended count (bytes 3269-3272) holds it.
_SHORT_COUNT_MAX = 65535


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


def _check_header(path: Path, binary: bytes) -> tuple[str, SampleFormat]:
    """Byte order and sample format, refusing what segyio would misread."""
    endian = _choose_endian(path, binary)
    code = _field(binary, endian, 3225, "h")
    if code not in SAMPLE_FORMATS:
        supported = ", ".join(f"{f.code} ({f.name})" for f in SAMPLE_FORMATS.values())
        raise SegyError(
            path,
            f"sample format code {code} ({_UNSUPPORTED_FORMATS.get(code, 'undefined')}) "
            "is not supported (segyio reads it as IBM floats, which is wrong)",
            f"supported codes: {supported}; convert the file first",
        )
    if _field(binary, endian, 3505, "h") < 0:
        raise SegyError(
            path,
            "the binary header announces a variable number of extended textual headers (-1)",
            "segyio does not read such files; rewrite the file without extended headers",
        )
    return endian, SAMPLE_FORMATS[code]


def _field(binary: bytes, endian: str, byte: int, kind: str) -> int:
    """The binary-header field at 1-based file ``byte``, as the struct code ``kind``."""
    offset = byte - TEXT_BYTES - 1
    order = ">" if endian == "big" else "<"
    return struct.unpack(order + kind, binary[offset : offset + struct.calcsize(kind)])[0]


def _why_unopened(path: Path, binary: bytes, endian: str, fmt: SampleFormat, size: int,
                  err: Exception) -> SegyError:
    """Explain, from the binary header, why segyio could not open a SEG-Y file."""
    n_ext = _field(binary, endian, 3505, "h")
    data_start = FILE_HEADER_BYTES + TEXT_BYTES * n_ext
    n_samples = _field(binary, endian, 3221, "H") or max(_field(binary, endian, 3269, "i"), 0)
    if size <= data_start:
        extended_text = f" and {n_ext} extended textual headers" if n_ext else ""
        return SegyError(path, f"file holds headers{extended_text} but zero traces")
    if n_samples == 0:
        in_trace = ""
        if size >= data_start + 116:
            with open(path, "rb") as stream:
                stream.seek(data_start + 114)
                first = struct.unpack((">" if endian == "big" else "<") + "H", stream.read(2))
            in_trace = f" (the first trace header says {first[0]})"
        return SegyError(
            path,
            f"the binary header's sample count (bytes 3221-3222) is 0{in_trace}",
            "segyio needs it there: rewrite the file with the sample count set",
        )
    trace_bytes = TRACE_HEADER_BYTES + n_samples * fmt.itemsize
    data_bytes = size - data_start
    if data_bytes % trace_bytes:
        whole, rest = divmod(data_bytes, trace_bytes)
        return SegyError(
            path,
            f"{data_bytes} bytes of trace data are not a whole number of traces of "
            f"{trace_bytes} bytes (240-byte header + {n_samples} samples x {fmt.itemsize} bytes): "
            f"{whole} traces and {rest} bytes left over",
            "the file is truncated, or its traces have different sample counts",
        )
    return SegyError(path, f"segyio cannot open it as {endian}-endian SEG-Y ({err})")


def _segyio_open(path: Path, opener: Callable[..., segyio.SegyFile],
                 endian: str) -> segyio.SegyFile:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return opener(str(path), "r", ignore_geometry=True, endian=endian)


def _open_as_segy(path: Path, head: bytes, size: int) -> tuple[segyio.SegyFile, SegyLayout]:
    """Open with segyio after the header checks; the counts are segyio's."""
    if size < FILE_HEADER_BYTES:
        raise SegyError(
            path,
            f"file is {size} bytes, shorter than the {FILE_HEADER_BYTES}-byte SEG-Y file header "
            "(3200-byte textual + 400-byte binary header)",
            "it is not a SEG-Y file or it is truncated",
        )
    binary = head[TEXT_BYTES:FILE_HEADER_BYTES]
    endian, fmt = _check_header(path, binary)
    try:
        handle = _segyio_open(path, segyio.open, endian)
    except (RuntimeError, OSError, ValueError, IndexError) as err:
        raise _why_unopened(path, binary, endian, fmt, size, err) from err
    try:
        layout = SegyLayout(
            path=path, kind="SEG-Y", endian=endian, sample_format=fmt,
            n_samples=int(handle.samples.size), n_traces=int(handle.tracecount),
            sample_interval=int(handle.bin[segyio.BinField.Interval]) & 0xFFFF,  # unsigned
            n_extended_headers=int(handle.ext_headers), text=text_from_segyio(handle.text[0]),
        )
        if layout.n_samples == 0 or layout.n_traces == 0:
            counts = f"{layout.n_traces} traces of {layout.n_samples} samples"
            raise _why_unopened(path, binary, endian, fmt, size, RuntimeError(counts))
        if handle.bin[segyio.BinField.SEGYRevision] >= 2:
            _check_additional_headers(layout, binary, size)
    except BaseException:
        handle.close()
        raise
    return handle, layout


def _check_additional_headers(layout: SegyLayout, binary: bytes, size: int) -> None:
    """Refuse rev 2 additional trace headers (bytes 3507-3510, not read by segyio)."""
    extra = _field(binary, layout.endian, 3507, "i")
    if extra <= 0:
        return
    data_bytes = size - FILE_HEADER_BYTES - TEXT_BYTES * layout.n_extended_headers
    with_extra = TRACE_HEADER_BYTES * (1 + extra) + layout.n_samples * layout.sample_format.itemsize
    if data_bytes % with_extra == 0:
        raise SegyError(
            layout.path,
            f"a SEG-Y rev 2 file with {extra} additional 240-byte trace header(s) per trace "
            "(binary header bytes 3507-3510), which segyio would read as samples",
            "rewrite the file without the additional trace headers",
        )
    warn(f"{layout.path}: the binary header announces {extra} additional trace header(s) per "
         "trace (bytes 3507-3510), but the file size shows none; ignored, as segyio does")


def _open_as_su(path: Path) -> tuple[segyio.SegyFile, SegyLayout]:
    reasons = []
    for endian in ("big", "little"):
        try:
            handle = _segyio_open(path, segyio.su.open, endian)
        except (RuntimeError, OSError, ValueError, IndexError) as err:
            reasons.append(f"{endian}-endian: {err}")
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
    raise SegyError(path, f"not a Seismic Unix file ({'; '.join(reasons)})")


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
        A missing, unreadable, truncated or malformed file, an unsupported sample format,
        rev 2 additional trace headers, when it is not Seismic Unix either (the SEG-Y
        reason is given; for a ``.su`` file, the Seismic Unix one).

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
                overwrite: bool, binary: Mapping[int, int],
                extended: Sequence[str] = ()) -> Iterator[segyio.SegyFile]:
    """Write a SEG-Y rev 1 file of 4-byte IEEE floats, big-endian, atomically.

    Yields the open segyio file with its textual header ``text`` (3200 characters) and a
    binary header holding ``n_samples``, the sample ``interval`` (as stored: µs or mm,
    0 to :data:`INTERVAL_MAX`), format 5, metres and rev 1, updated with ``binary``
    (segyio ``BinField`` -> value); the caller writes the trace headers (their sample
    count as :func:`trace_sample_count` gives it) and traces. Over 65 535 samples per
    trace the file is rev 2: bytes 3221-3222 hold 0 and the extended count (bytes
    3269-3272) the number, which segyio and :func:`open_segy` read. ``path`` appears only
    once it is complete. ``extended`` are extended textual header records (3200 ASCII
    characters each, encoded like the main header), counted at bytes 3505-3506.
    """
    if not 0 <= interval <= INTERVAL_MAX:  # the callers refuse or zero it; never wrap
        raise ValueError(f"sample interval {interval} is outside 0..{INTERVAL_MAX}")
    short = n_samples <= _SHORT_COUNT_MAX
    spec = segyio.spec()
    spec.format = 5
    spec.samples = np.arange(n_samples)
    spec.tracecount = n_traces
    spec.endian = "big"
    spec.ext_headers = len(extended)
    fields = segyio.BinField
    with atomic_output(path, overwrite=overwrite) as tmp:
        with segyio.create(str(tmp), spec) as out:
            out.text[0] = text
            for number, record in enumerate(extended, start=1):
                out.text[number] = record
            out.bin.update({
                fields.JobID: 1, fields.LineNumber: 1, fields.ReelNumber: 1,
                fields.Interval: interval, fields.IntervalOriginal: interval,
                fields.Samples: trace_sample_count(n_samples),
                fields.SamplesOriginal: trace_sample_count(n_samples),
                fields.ExtSamples: 0 if short else n_samples,
                fields.ExtSamplesOriginal: 0 if short else n_samples,
                fields.Format: 5, fields.MeasurementSystem: 1,
                fields.SEGYRevision: 1 if short else 2, fields.SEGYRevisionMinor: 0,
                **binary,
            })
            yield out


def trace_sample_count(n_samples: int) -> int:
    """The value of a 2-byte sample-count field: ``n_samples``, or 0 over 65 535.

    A count that does not fit is written as 0 (the extended count holds it) rather than
    wrapped modulo 65 536, which readers would take for a different trace length.
    """
    return n_samples if n_samples <= _SHORT_COUNT_MAX else 0
