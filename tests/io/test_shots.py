"""Shot gathers through SEG-Y: exact round trips, plain segyio, foreign files, refusals."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi.io import SegyError, read_shots, write_shots

TF = segyio.TraceField
BF = segyio.BinField


def make_gathers(n_shots=3, nt=40, n_rec=5, dt=0.002, f0=6.0, per_shot=False) -> xr.DataArray:
    """Gathers shaped like devito_crfwi.simulate output."""
    rng = np.random.default_rng(7)
    source_x = np.array([37.5, 212.5, 1000.0, 640.25, 3.0][:n_shots])
    coords = {
        "shot": np.arange(n_shots),
        "time": dt * np.arange(nt),
        "source_x": ("shot", source_x),
        "source_z": ("shot", np.full(n_shots, 10.0)),
    }
    if per_shot:
        coords["receiver_x"] = (("shot", "receiver"), source_x[:, None] + 12.5 * np.arange(n_rec))
        coords["receiver_z"] = (("shot", "receiver"), np.full((n_shots, n_rec), 7.5))
    else:
        coords["receiver_x"] = ("receiver", 12.5 * np.arange(n_rec) + 0.5)
        coords["receiver_z"] = ("receiver", np.full(n_rec, 7.5))
    attrs = {"dt": dt, "units": "a.u."}
    if f0 is not None:
        attrs["f0"] = f0
    data = rng.standard_normal((n_shots, nt, n_rec)).astype(np.float32)
    return xr.DataArray(data, dims=("shot", "time", "receiver"), coords=coords, attrs=attrs)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"per_shot": True}, {"f0": None}, {"dt": 0.0005, "nt": 11}, {"dt": 0.004, "f0": 12.5}],
)
def test_shot_round_trip_is_identical(tmp_path, kwargs):
    gathers = make_gathers(**kwargs)
    write_shots(gathers, tmp_path / "shots.sgy")
    back = read_shots(tmp_path / "shots.sgy")
    xr.testing.assert_identical(back, gathers)
    assert back.dtype == np.float32
    assert back.receiver_x.dims == gathers.receiver_x.dims
    assert ("f0" in back.attrs) == (kwargs.get("f0", 6.0) is not None)


def test_written_shots_read_with_plain_segyio(tmp_path):
    gathers = make_gathers()
    write_shots(gathers, tmp_path / "shots.sgy")
    with segyio.open(str(tmp_path / "shots.sgy"), ignore_geometry=True) as f:
        assert f.tracecount == 3 * 5
        assert f.bin[BF.Interval] == 2000  # µs
        np.testing.assert_array_equal(f.samples, 2.0 * np.arange(40))  # segyio gives ms
        header = f.header[5]  # shot 1, receiver 0
        assert header[TF.FieldRecord] == 2 and header[TF.TraceNumber] == 1
        assert header[TF.SourceGroupScalar] == -10  # 37.5, 212.5, 0.5: tenths suffice
        assert header[TF.SourceX] == 2125 and header[TF.GroupX] == 5
        assert header[TF.ElevationScalar] == -10
        assert header[TF.SourceDepth] == 100 and header[TF.ReceiverGroupElevation] == -75
        np.testing.assert_array_equal(f.trace[5], gathers.values[1, :, 0])
        assert "f0=6.0 Hz" in f.text[0].decode("ascii", errors="replace")


def test_write_shots_does_not_mutate_input(tmp_path):
    gathers = make_gathers()
    before = gathers.copy(deep=True)
    write_shots(gathers, tmp_path / "s.sgy")
    xr.testing.assert_identical(gathers, before)


def _write_foreign_shots(path, *, ffid, sx, gx, endian="big", fmt=5, interval=4000, scalar=-100):
    n = len(ffid)
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount, spec.endian = fmt, np.arange(6), n, endian
    with segyio.create(str(path), spec) as f:
        f.bin.update({BF.Interval: interval})
        for i in range(n):
            f.header[i] = {
                TF.FieldRecord: int(ffid[i]),
                TF.SourceX: int(sx[i]),
                TF.GroupX: int(gx[i]),
                TF.SourceGroupScalar: scalar,
                TF.SourceDepth: 5,
                TF.ReceiverGroupElevation: 0,
            }
            f.trace[i] = np.full(6, i, dtype=np.int16 if fmt == 3 else np.float32)
    return path


def test_foreign_little_endian_int16_file(tmp_path):
    ffid = [101, 101, 101, 102, 102, 102]
    sx = [1000, 1000, 1000, 5000, 5000, 5000]
    gx = [0, 2500, 5000, 0, 2500, 5000]
    path = _write_foreign_shots(tmp_path / "f.sgy", ffid=ffid, sx=sx, gx=gx, endian="little", fmt=3)
    shots = read_shots(path)
    assert shots.dims == ("shot", "time", "receiver") and shots.shape == (2, 6, 3)
    assert shots.dtype == np.float32
    np.testing.assert_array_equal(shots.shot.values, [0, 1])
    np.testing.assert_array_equal(shots.time.values, 0.004 * np.arange(6))
    np.testing.assert_array_equal(shots.source_x.values, [10.0, 50.0])
    np.testing.assert_array_equal(shots.source_z.values, [5.0, 5.0])  # ElevationScalar 0 = 1
    assert shots.receiver_x.dims == ("receiver",)
    np.testing.assert_array_equal(shots.receiver_x.values, [0.0, 25.0, 50.0])
    np.testing.assert_array_equal(shots.values[1, 0], [3.0, 4.0, 5.0])
    assert shots.attrs == {"dt": 0.004, "units": "a.u."}


def test_grouping_by_source_when_field_record_is_unset(tmp_path):
    sx = [0, 0, 1000, 1000, 0, 1000]  # interleaved: first appearance orders the gathers
    path = _write_foreign_shots(tmp_path / "g.sgy", ffid=[0] * 6, sx=sx, gx=[1, 2, 3, 4, 5, 6])
    shots = read_shots(path)
    assert shots.shape == (2, 6, 3)
    np.testing.assert_array_equal(shots.source_x.values, [0.0, 10.0])
    np.testing.assert_array_equal(shots.values[0, 0], [0.0, 1.0, 4.0])
    assert shots.receiver_x.dims == ("shot", "receiver")
    np.testing.assert_array_equal(shots.receiver_x.values, [[0.01, 0.02, 0.05], [0.03, 0.04, 0.06]])


def test_missing_sample_interval(tmp_path):
    path = _write_foreign_shots(tmp_path / "i.sgy", ffid=[1, 1], sx=[0, 0], gx=[0, 1], interval=0)
    with pytest.raises(SegyError, match="sample interval is 0"):
        read_shots(path)


def test_sample_interval_from_trace_headers_when_binary_is_zero(tmp_path):
    path = write_shots(make_gathers(), tmp_path / "s.sgy")
    with open(path, "r+b") as stream:
        stream.seek(3216)
        stream.write(struct.pack(">H", 0))
    assert read_shots(path).attrs["dt"] == 0.002


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.transpose("shot", "receiver", "time"), "transpose"),
        (lambda g: g.isel(shot=0), "must have dims"),
        (lambda g: g.assign_coords(time=g.time + 0.1), "start at 0"),
        (lambda g: g.assign_coords(time=g.time * 1.0000001).assign_attrs(dt=2.0000002e-3), "micro"),
        (lambda g: g.assign_attrs(dt=0.003), "disagrees"),
        (lambda g: g.drop_vars("source_z"), "'source_z'"),
        (lambda g: g.assign_coords(receiver_x=("receiver", [0, 1, np.nan, 3, 4])), "NaN"),
        (lambda g: g.assign_attrs(units="arbitrary units"), "without spaces"),
        (lambda g: g.where(g.time < 0.01), "NaN or Inf"),
        (lambda g: g.assign_attrs(wavelet=np.ones(3)), r"attrs\['wavelet'\] .* 40 finite"),
        (lambda g: g.assign_attrs(wavelet=np.full(40, np.nan)), r"attrs\['wavelet'\].*NaN"),
    ],
)
def test_write_shots_refuses_bad_input(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        write_shots(change(make_gathers()), tmp_path / "bad.sgy")
    assert not (tmp_path / "bad.sgy").exists()


def test_write_shots_needs_overwrite(tmp_path):
    path = write_shots(make_gathers(), tmp_path / "s.sgy")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_shots(make_gathers(f0=3.0), path)
    write_shots(make_gathers(f0=3.0), path, overwrite=True)
    assert read_shots(path).attrs["f0"] == 3.0


def test_unrepresentable_coordinates_warn(tmp_path):
    gathers = make_gathers().assign_coords(source_x=("shot", [1 / 3, 2.0, 3.0]))
    with pytest.warns(UserWarning, match="rounded"):
        write_shots(gathers, tmp_path / "w.sgy")
    np.testing.assert_allclose(
        read_shots(tmp_path / "w.sgy").source_x.values, [1 / 3, 2, 3], atol=1e-4
    )


def test_over_65535_samples_round_trip_through_segyio_and_read_shots(tmp_path):
    # 2-byte sample counts used to wrap (70 000 -> 4 464): neither reader opened the file.
    gathers = make_gathers(n_shots=1, nt=70_000, n_rec=2, dt=0.0005)
    path = write_shots(gathers, tmp_path / "long.sgy")
    back = read_shots(path)
    xr.testing.assert_identical(back, gathers)
    with segyio.open(path, ignore_geometry=True) as f:
        assert f.samples.size == 70_000
        assert f.bin[BF.ExtSamples] == 70_000 and f.bin[BF.SEGYRevision] == 2
        np.testing.assert_array_equal(f.trace.raw[:], gathers.values[0].T)
        np.testing.assert_allclose(f.samples, gathers.time.values * 1000.0)  # ms


@pytest.mark.parametrize("dt", [0.032768, 0.04, 0.065535, 0.07])
def test_write_shots_refuses_intervals_segyio_reads_as_negative(tmp_path, dt):
    # 32 768 to 65 535 µs were written, and plain segyio read them as negative intervals.
    with pytest.raises(ValueError, match=rf"dt = {dt!r} s .* between 1 and 32767"):
        write_shots(make_gathers(dt=dt, nt=4), tmp_path / "coarse.sgy")
    assert not (tmp_path / "coarse.sgy").exists()


def test_write_shots_keeps_the_largest_interval_segyio_reads(tmp_path):
    gathers = make_gathers(dt=0.032767, nt=4)
    path = write_shots(gathers, tmp_path / "coarse.sgy")
    xr.testing.assert_identical(read_shots(path), gathers)
    with segyio.open(path, ignore_geometry=True) as f:
        assert segyio.tools.dt(f) == 32767.0


# -- what else round-trips: shot labels, the source wavelet, and what is said to be lost ---


@pytest.mark.parametrize("labels", [[1, 2, 3], [101, 205, 7], np.array([0, 5, 2], np.int32)])
def test_shot_labels_round_trip(tmp_path, labels):
    # Labels [1, 2] used to come back as [0, 1]: FieldRecord held the positions.
    gathers = make_gathers().assign_coords(shot=labels)
    path = write_shots(gathers, tmp_path / "labels.sgy")
    xr.testing.assert_identical(read_shots(path), gathers)
    with segyio.open(str(path), ignore_geometry=True) as f:  # FieldRecord = label + 1
        ffid = f.attributes(TF.FieldRecord)[:].reshape(3, 5)
        np.testing.assert_array_equal(ffid, np.repeat(np.add(labels, 1)[:, None], 5, axis=1))


@pytest.mark.parametrize("labels", [["a", "b", "c"], [0.5, 1.0, 2.0], [4, 4, 5], [-1, 0, 1]])
def test_shot_labels_that_cannot_be_kept_warn(tmp_path, labels):
    gathers = make_gathers().assign_coords(shot=labels)
    with pytest.warns(UserWarning, match=r"'shot' labels .* are not distinct integers"):
        path = write_shots(gathers, tmp_path / "labels.sgy")
    back = read_shots(path)
    np.testing.assert_array_equal(back.shot.values, [0, 1, 2])
    np.testing.assert_array_equal(back.values, gathers.values)


def test_foreign_field_records_are_not_taken_for_labels(tmp_path):
    # Only our files state that FieldRecord = label + 1; a field file's gathers are
    # numbered by position, as before.
    path = _write_foreign_shots(tmp_path / "f.sgy", ffid=[7, 7, 3, 3], sx=[0, 0, 9, 9],
                                gx=[0, 1, 0, 1])
    np.testing.assert_array_equal(read_shots(path).shot.values, [0, 1])


def _phase_rotated_ricker(t: np.ndarray, f0: float = 6.0) -> np.ndarray:
    """A Ricker of ``f0`` (Hz) at times ``t`` (s) rotated by 90 degrees (its Hilbert
    transform, by scipy): a wavelet no ``f0`` describes."""
    from scipy.signal import hilbert

    arg = (np.pi * f0 * (t - 1.0 / f0)) ** 2
    return np.imag(hilbert((1.0 - 2.0 * arg) * np.exp(-arg)))


def _segyio_wavelet_stanza(path) -> tuple[list[str], np.ndarray]:
    """(the stanza's lines, its samples) as plain segyio and Python read them."""
    with segyio.open(str(path), ignore_geometry=True) as f:
        records = [bytes(f.text[k]).decode("ascii") for k in range(1, f.ext_headers + 1)]
    lines = [r[i : i + 80].strip() for r in records for i in range(0, 3200, 80)]
    start = lines.index("((devito-crfwi: Source Wavelet ver 1.0))")
    end = next(k for k in range(start + 1, len(lines)) if lines[k].startswith("(("))
    assert lines[end] == "((SEG: EndText))" and lines[-40] == "((SEG: EndText))"
    samples = np.array(" ".join(lines[start + 2 : end]).split(), dtype=np.float64)
    return lines[start : end], samples


@pytest.mark.parametrize("nt", [40, 1500])
def test_wavelet_round_trips_exactly_in_an_extended_textual_stanza(tmp_path, nt):
    gathers = make_gathers(nt=nt)
    wavelet = _phase_rotated_ricker(gathers.time.values)
    gathers.attrs["wavelet"] = wavelet
    path = write_shots(gathers, tmp_path / "wavelet.sgy")
    back = read_shots(path)
    xr.testing.assert_identical(back, gathers)
    np.testing.assert_array_equal(back.attrs["wavelet"], wavelet)  # float64, exact
    stanza, samples = _segyio_wavelet_stanza(path)
    assert stanza[1] == f"t0=0 s dt=0.002 s nt={nt}"
    np.testing.assert_array_equal(samples, wavelet)
    with segyio.open(str(path), ignore_geometry=True) as f:  # the traces are data only
        assert f.tracecount == 15 and f.bin[BF.ExtendedHeaders] == f.ext_headers
        np.testing.assert_array_equal(f.trace[14], gathers.values[2, :, 4])
        assert "source=wavelet" in bytes(f.text[0]).decode("ascii")


def test_a_ricker_is_stated_by_f0_alone(tmp_path):
    path = write_shots(make_gathers(), tmp_path / "ricker.sgy")
    with segyio.open(str(path), ignore_geometry=True) as f:
        assert f.ext_headers == 0
        assert "source=ricker of f0" in bytes(f.text[0]).decode("ascii")
    assert "wavelet" not in read_shots(path).attrs


def _drop_extended_headers(path) -> None:
    """Rewrite ``path`` without its extended textual headers, as some copies do."""
    raw = bytearray(path.read_bytes())
    count = struct.unpack(">h", raw[3504:3506])[0]
    raw[3504:3506] = struct.pack(">h", 0)
    path.write_bytes(bytes(raw[:3600] + raw[3600 + 3200 * count :]))


def test_a_lost_wavelet_stanza_warns(tmp_path):
    gathers = make_gathers().assign_attrs(wavelet=_phase_rotated_ricker(0.002 * np.arange(40)))
    path = write_shots(gathers, tmp_path / "w.sgy")
    _drop_extended_headers(path)
    with pytest.warns(UserWarning, match=r"source=wavelet but the file holds no .*wavelet="):
        back = read_shots(path)
    assert "wavelet" not in back.attrs
    np.testing.assert_array_equal(back.values, gathers.values)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda line: line.replace("nt=40", "nt=41") if line.startswith("t0=") else line,
         r"on an axis .*nt=41.* other than the traces' .*nt=40"),
        (lambda line: line.replace("dt=0.002", "dt=0.004") if line.startswith("t0=") else line,
         "on an axis"),
        (lambda line: "" if line.startswith("t0=") else line, "lacks its axis line"),
        (lambda line: line.replace(" ", " x", 1) if line[:1] in "-0123456789" else line,
         "holds a value that is not a number"),
        (lambda line: " ".join(line.split()[1:]) if line[:1] in "-0123456789" else line,
         r"holds \d+ samples, not nt=40"),
    ],
)
def test_a_damaged_wavelet_stanza_is_refused(tmp_path, edit, message):
    gathers = make_gathers().assign_attrs(wavelet=_phase_rotated_ricker(0.002 * np.arange(40)))
    path = write_shots(gathers, tmp_path / "w.sgy")
    with segyio.open(str(path), "r+", ignore_geometry=True) as f:
        record = bytes(f.text[1]).decode("ascii")
        f.text[1] = "".join(edit(record[i : i + 80].rstrip()).ljust(80)
                            for i in range(0, 3200, 80))
    with pytest.raises(SegyError, match=message):
        read_shots(path)


def test_what_write_shots_cannot_keep_is_named(tmp_path):
    gathers = make_gathers().assign_attrs(history="made by hand").assign_coords(
        ffid=("shot", [11, 12, 13])).rename("pressure")
    with pytest.warns(UserWarning, match=r"attrs\['history'\], coord 'ffid', name 'pressure' "
                                         r"are not stored"):
        path = write_shots(gathers, tmp_path / "extra.sgy")
    back = read_shots(path)
    assert "history" not in back.attrs and "ffid" not in back.coords and back.name is None
