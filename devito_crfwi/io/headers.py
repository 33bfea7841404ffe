"""Header conventions shared by the model and shot-gather writers and readers.

Three things live here:

* the textual header: 40 lines of 80 characters ("C01 ..." to "C40 ..."), in which
  our writers state the exact grid as ``key=value`` tokens (``dx=12.5 m``,
  ``units=m/s``, ``f0=6.0 Hz``); :func:`parse_text_fields` reads them back, from our
  files and from any file that uses the same ``key=value`` style;
* coordinate scalars: SEG-Y stores coordinates as int32 with a scalar
  (SourceGroupScalar for x, ElevationScalar for depths). A negative scalar ``-s``
  means "divide by s", a positive one "multiply by it", 0 means 1.
  :func:`choose_scalar` picks the smallest power of ten that stores every value
  exactly;
* what a file holds: :func:`gather_structure` tells shot gathers (several receiver
  positions per source) from a velocity model (one trace per (x[, y]) position), so each
  reader refuses the other's files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "INT32_MAX",
    "MODEL_TITLE",
    "MODEL_TITLE_3D",
    "SHOTS_TITLE",
    "apply_scalar",
    "choose_scalar",
    "float_field",
    "gather_structure",
    "make_textual_header",
    "parse_text_fields",
    "scale_to_int",
    "scalar_resolution",
    "text_from_segyio",
    "text_title",
]

INT32_MAX = 2**31 - 1
TEXT_LINES = 40
TEXT_WIDTH = 80

#: First textual-header line of the models :func:`~devito_crfwi.io.write_segy` writes.
MODEL_TITLE = "devito-crfwi 2-D depth velocity model"
#: First textual-header line of the 3-D models (cubes) :func:`~devito_crfwi.io.write_segy` writes.
MODEL_TITLE_3D = "devito-crfwi 3-D depth velocity model"
#: First textual-header line of the gathers :func:`~devito_crfwi.io.write_shots` writes.
SHOTS_TITLE = "devito-crfwi shot gathers"

_FIELD = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^\s,;]+)")


def make_textual_header(lines: Sequence[str]) -> str:
    """Build a 3200-character textual header, one "Cnn " line per entry.

    Parameters
    ----------
    lines : sequence of str
        At most 39 ASCII lines of at most 76 characters; line 40 is always
        "C40 END TEXTUAL HEADER".

    Returns
    -------
    str
        3200 ASCII characters (segyio encodes it as EBCDIC on write).
    """
    if len(lines) > TEXT_LINES - 1:
        raise ValueError(f"a textual header holds at most 39 lines, got {len(lines)}")
    rows = []
    for number in range(1, TEXT_LINES + 1):
        if number == TEXT_LINES:
            body = "END TEXTUAL HEADER"
        else:
            body = lines[number - 1] if number <= len(lines) else ""
        if len(body) > TEXT_WIDTH - 4 or not body.isascii():
            raise ValueError(
                f"textual header line {number} must be <= 76 ASCII characters, got {body!r}"
            )
        rows.append(f"C{number:02d} {body}".ljust(TEXT_WIDTH))
    return "".join(rows)


def text_from_segyio(raw: bytes | bytearray | str) -> str:
    """Turn segyio's ``f.text[0]`` into readable text: 40 lines joined by newlines.

    Non-printable bytes become spaces, trailing blanks and blank trailing lines are
    dropped.
    """
    if isinstance(raw, str):
        text = raw
    else:
        text = bytes(raw).decode("ascii", errors="replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    lines = [text[i : i + TEXT_WIDTH].rstrip() for i in range(0, len(text), TEXT_WIDTH)]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def parse_text_fields(text: str) -> dict[str, str]:
    """Read ``key=value`` tokens from a textual header.

    Keys are lower-cased; the first occurrence of a key wins. A value ends at white
    space, a comma or a semicolon, so ``dx=12.5 m`` gives ``{"dx": "12.5"}``.
    """
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        fields.setdefault(key.lower(), value)
    return fields


def float_field(fields: Mapping[str, str], key: str) -> float | None:
    """The value of ``key`` as a finite float, or None when absent or not a number."""
    value = fields.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def choose_scalar(values: np.ndarray, max_power: int = 4) -> tuple[int, bool]:
    """Pick the SEG-Y coordinate scalar that stores ``values`` (m) exactly as int32.

    Tries 1, -10, -100, ... -10**max_power and returns the first for which every
    value survives ``round(v * 10**k) / 10**k == v`` and fits int32.

    Parameters
    ----------
    values : numpy.ndarray, any shape, float
        Coordinates in metres (finite).
    max_power : int
        Largest power of ten tried (4: 0.1 mm resolution).

    Returns
    -------
    scalar : int
        The SEG-Y scalar (1 or a negative power of ten).
    exact : bool
        False when no scalar stores every value exactly; ``scalar`` is then the
        finest one that still fits int32 (values are rounded).
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0:
        return 1, True
    biggest = float(np.max(np.abs(flat)))
    finest = 1
    for power in range(max_power + 1):
        factor = 10**power
        if biggest * factor > INT32_MAX:
            break
        finest = -factor if power else 1
        if np.array_equal(np.rint(flat * factor) / factor, flat):
            return finest, True
    return finest, False


def scale_to_int(values: np.ndarray, scalar: int) -> np.ndarray:
    """Store metres as int32 header values for ``scalar`` (inverse of :func:`apply_scalar`)."""
    flat = np.asarray(values, dtype=np.float64)
    factor = float(-scalar) if scalar < 0 else 1.0 / (scalar or 1)
    scaled = np.rint(flat * factor)
    if np.any(np.abs(scaled) > INT32_MAX):
        raise ValueError(f"coordinates up to {np.max(np.abs(flat)):g} m overflow int32 headers")
    return scaled.astype(np.int64)


def apply_scalar(raw: np.ndarray, scalar: np.ndarray | int) -> np.ndarray:
    """Header integers to metres: ``raw / -scalar`` if scalar < 0, ``raw * scalar`` if > 0.

    Parameters
    ----------
    raw : numpy.ndarray of int, shape (n,)
        Header values.
    scalar : int or numpy.ndarray of int, shape (n,)
        SEG-Y scalar per value; 0 means 1.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
    """
    raw = np.asarray(raw, dtype=np.float64)
    scalar = np.broadcast_to(np.asarray(scalar, dtype=np.int64), raw.shape)
    divisor = np.where(scalar < 0, -scalar, 1).astype(np.float64)
    multiplier = np.where(scalar > 0, scalar, 1).astype(np.float64)
    # Division (not multiplication by 1/s) keeps e.g. 375 / 10 == 37.5 exactly.
    return raw * multiplier / divisor


def scalar_resolution(scalar: np.ndarray | int) -> float:
    """The coarsest step in m that header coordinates with ``scalar`` can take.

    One unit of the stored integer: ``1 / s`` for a scalar ``-s``, ``s`` for a positive one,
    1 for 0; the largest over ``scalar`` (int or int array of shape (n,)).
    """
    scalar = np.asarray(scalar, dtype=np.float64)
    steps = np.where(scalar < 0, 1.0 / np.abs(np.where(scalar < 0, scalar, -1.0)),
                     np.where(scalar > 0, scalar, 1.0))
    return float(np.max(steps)) if steps.size else 1.0


def text_title(text: str) -> str:
    """The first line of a textual header (as :func:`text_from_segyio` gives it), no "C01"."""
    return re.sub(r"^C\s*\d+\s?", "", text.split("\n", 1)[0]).strip()


def gather_structure(text: str, field_record: np.ndarray, source_x: np.ndarray,
                     source_y: np.ndarray, group_x: np.ndarray, group_y: np.ndarray,
                     offset: np.ndarray) -> str | None:
    """Why the traces are shot gathers, in words, or None when they are not.

    Gathers: the textual header starts with :data:`SHOTS_TITLE`, the offsets differ between
    traces, or a source (FieldRecord and SourceX, SourceY) was recorded at several receiver
    positions (GroupX, GroupY). A velocity model has one trace per (x, y) position: source
    and receiver positions equal, one offset for all traces (0, or 1 as
    ``segyio.tools.from_array`` writes post-stack data).

    Parameters
    ----------
    text : str
        The textual header.
    field_record, source_x, source_y, group_x, group_y, offset : numpy.ndarray, shape (trace,)
        Trace headers; positions in m (scaled) or as stored, alike for source and receiver.
    """
    if text_title(text).startswith(SHOTS_TITLE):
        return f"its textual header says {SHOTS_TITLE!r}"
    offsets = np.unique(offset)
    if offsets.size > 1:
        return f"the traces have {offsets.size} different offsets ({offsets[0]}..{offsets[-1]})"
    sources = np.stack([field_record, source_x, source_y], axis=1).astype(np.float64)
    pairs = np.unique(np.column_stack([sources, group_x, group_y]), axis=0)
    n_sources = np.unique(pairs[:, :3], axis=0).shape[0]
    if n_sources < pairs.shape[0]:
        return (f"{n_sources} source position(s) are recorded at {pairs.shape[0]} "
                "(source, receiver) position pairs")
    return None
