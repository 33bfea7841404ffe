"""The source wavelet of shot gathers in a SEG-Y extended textual header stanza.

SEG-Y (rev 1 and 2) lets extended textual file headers follow the binary header (their
count at bytes 3505-3506): 3200-byte records of 40 lines of 80 characters, holding
stanzas that each open with a ``((Organisation: Name))`` line, the last record being
``((SEG: EndText))``. :func:`~devito_crfwi.io.write_shots` states a user wavelet (gathers'
``attrs["wavelet"]``) in one stanza, so the data traces stay data::

    ((devito-crfwi: Source Wavelet ver 1.0))
    t0=0 s dt=0.002 s nt=151
    0.0 3.0590232050182579e-07 ...      (nt samples in time order)

The samples are on the gathers' recording axis (from ``t0 = 0``, step ``dt``, ``nt`` of
them), written as the shortest decimals that read back to the same float64 (exact), as
many to a line as fit. A Ricker source needs no stanza: ``f0=`` in the main header
describes it. segyio reads the records as ``f.text[1:]``; readers that ignore extended
headers skip them (the binary header gives their count).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import SegyError
from .headers import TEXT_LINES, TEXT_WIDTH, float_field, parse_text_fields

__all__ = ["WAVELET_STANZA", "read_wavelet_stanza", "wavelet_records"]

#: The opening line of the wavelet stanza.
WAVELET_STANZA = "((devito-crfwi: Source Wavelet ver 1.0))"
_END_STANZA = "((SEG: EndText))"


def _records(lines: list[str]) -> list[str]:
    """``lines`` (each <= 80 characters) as 3200-character records, 40 lines each."""
    return ["".join(line.ljust(TEXT_WIDTH) for line in lines[i : i + TEXT_LINES]).ljust(
        TEXT_LINES * TEXT_WIDTH) for i in range(0, len(lines), TEXT_LINES)]


def wavelet_records(wavelet: np.ndarray, dt: float) -> list[str]:
    """The extended textual header records (3200 ASCII characters each) stating ``wavelet``.

    Parameters
    ----------
    wavelet : numpy.ndarray (time,)
        The source wavelet on the recording axis (finite; float64 decimals, exact).
    dt : float
        Its sample interval (s), the gathers'.

    Returns
    -------
    list of str
        The stanza's records, then the ``((SEG: EndText))`` record.
    """
    samples = [repr(float(value)) for value in np.asarray(wavelet, dtype=np.float64)]
    lines = [WAVELET_STANZA, f"t0=0 s dt={dt!r} s nt={len(samples)}"]
    row: list[str] = []
    for token in samples:
        if row and len(" ".join([*row, token])) > TEXT_WIDTH:
            lines.append(" ".join(row))
            row = []
        row.append(token)
    if row:
        lines.append(" ".join(row))
    return [*_records(lines), *_records([_END_STANZA])]


def read_wavelet_stanza(path: Path, records: Sequence[str], dt: float,
                        nt: int) -> np.ndarray | None:
    """The wavelet (nt,) of the stanza in ``records`` (extended textual headers as text),
    float64, or None when they hold no wavelet stanza.

    Raises
    ------
    SegyError
        A stanza that is malformed or whose axis is not the traces' (``t0`` 0, ``dt`` in s
        to 1e-6, ``nt`` samples): it cannot be the wavelet these gathers were modelled with.
    """
    lines = [record[i : i + TEXT_WIDTH].strip() for record in records
             for i in range(0, len(record), TEXT_WIDTH)]
    opening = WAVELET_STANZA.lower()
    start = next((k for k, line in enumerate(lines) if line.lower() == opening), None)
    if start is None:
        return None
    end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("((")),
               len(lines))
    body = lines[start + 1 : end]

    def refuse(problem: str) -> SegyError:
        return SegyError(path, f"its source wavelet stanza {WAVELET_STANZA} {problem}",
                         "rewrite the file with write_shots, or strip the stanza to read the "
                         "gathers without their wavelet")

    fields = parse_text_fields(body[0]) if body else {}
    axis = {key: float_field(fields, key) for key in ("t0", "dt", "nt")}
    if any(value is None for value in axis.values()):
        raise refuse("lacks its axis line 't0=.. s dt=.. s nt=..'")
    if axis["t0"] != 0.0 or not np.isclose(axis["dt"], dt, rtol=1e-6, atol=0.0) or \
            axis["nt"] != nt:
        raise refuse(f"is on an axis (t0={axis['t0']:g} s, dt={axis['dt']:g} s, "
                     f"nt={axis['nt']:g}) other than the traces' (t0=0 s, dt={dt:g} s, nt={nt})")
    tokens = " ".join(body[1:]).split()
    try:
        samples = np.array([float(token) for token in tokens], dtype=np.float64)
    except ValueError as err:
        raise refuse(f"holds a value that is not a number ({err})") from None
    if samples.size != nt or not np.all(np.isfinite(samples)):
        problem = (f"holds {samples.size} samples, not nt={nt}" if samples.size != nt else
                   "holds NaN or Inf samples")
        raise refuse(problem)
    return samples
