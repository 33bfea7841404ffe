"""Variable acquisition through SEG-Y: gathers with different receivers per shot, padded
with missing (all-NaN) traces; dead traces masked; the schema's rules for NaN."""

from __future__ import annotations

import numpy as np
import pytest
import segyio
import xarray as xr

from devito_crfwi.io import check_shots, read_shots, write_shots
from devito_crfwi.io.traces import dead_traces, mask_dead_traces, missing_traces
from tests.io.test_shots import make_gathers

TF = segyio.TraceField
BF = segyio.BinField


def _streamer_file(path, counts, nt=7, zero=None):
    """A foreign file (plain segyio) of ``len(counts)`` FieldRecords holding ``counts``
    traces each, receivers moving with the shot; trace ``zero`` is all zero."""
    n = sum(counts)
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount = 5, np.arange(nt), n
    rng = np.random.default_rng(3)
    with segyio.create(str(path), spec) as f:
        f.bin.update({BF.Interval: 2000})
        i = 0
        for shot, count in enumerate(counts):
            for r in range(count):
                f.header[i] = {TF.FieldRecord: 10 + shot, TF.TraceNumber: r + 1,
                               TF.SourceX: 100 * shot, TF.GroupX: 100 * shot + 25 * (r + 1),
                               TF.SourceGroupScalar: 1, TF.SourceDepth: 5,
                               TF.ReceiverGroupElevation: -5}
                f.trace[i] = (np.zeros(nt) if i == zero else rng.standard_normal(nt)
                              ).astype(np.float32)
                i += 1
    return path


def test_varying_trace_counts_read_padded_with_segyio_values(tmp_path):
    counts = [3, 5, 4]
    path = _streamer_file(tmp_path / "streamer.sgy", counts)
    shots = read_shots(path)
    assert shots.shape == (3, 7, 5) and shots.dtype == np.float32
    assert shots.receiver_x.dims == ("shot", "receiver")
    with segyio.open(str(path), ignore_geometry=True) as f:
        raw = f.trace.raw[:]
        group_x = f.attributes(TF.GroupX)[:]
    starts = np.cumsum([0, *counts])
    for s, count in enumerate(counts):
        np.testing.assert_array_equal(shots.values[s, :, :count], raw[starts[s]:starts[s + 1]].T)
        np.testing.assert_array_equal(shots.receiver_x.values[s, :count],
                                      group_x[starts[s]:starts[s + 1]])
        assert np.isnan(shots.values[s, :, count:]).all()
        assert np.isnan(shots.receiver_x.values[s, count:]).all()
        assert np.isnan(shots.receiver_z.values[s, count:]).all()
    np.testing.assert_array_equal(~missing_traces(shots.values),
                                  np.arange(5) < np.array(counts)[:, None])
    np.testing.assert_array_equal(shots.source_x.values, [0.0, 100.0, 200.0])
    assert check_shots(shots) == 0.002


def _variable_gathers() -> xr.DataArray:
    """make_gathers' per-shot spread with receiver 1 of shot 0 and the last two of shot 2
    missing (a gap inside a gather and a shorter gather)."""
    gathers = make_gathers(per_shot=True)
    missing = np.zeros((3, 5), dtype=bool)
    missing[0, 1] = missing[2, 3:] = True
    out = gathers.where(~xr.DataArray(missing, dims=("shot", "receiver")))
    return out.assign_coords(
        {name: (("shot", "receiver"), np.where(missing, np.nan, out[name].values))
         for name in ("receiver_x", "receiver_z")}).astype(np.float32)


def test_write_shots_writes_only_recorded_traces_and_reads_back_identical(tmp_path):
    gathers = _variable_gathers()
    write_shots(gathers, tmp_path / "v.sgy")
    with segyio.open(str(tmp_path / "v.sgy"), ignore_geometry=True) as f:
        assert f.tracecount == 12  # 15 slots, 3 missing
        raw = f.trace.raw[:]
        assert np.isfinite(raw).all()
        np.testing.assert_array_equal(f.attributes(TF.FieldRecord)[:], [1] * 4 + [2] * 5 + [3] * 3)
        np.testing.assert_array_equal(f.attributes(TF.TraceNumber)[:4], [1, 3, 4, 5])
        np.testing.assert_array_equal(raw[1], gathers.values[0, :, 2])
    back = read_shots(tmp_path / "v.sgy")
    xr.testing.assert_identical(back, gathers)


def test_dead_traces_are_masked_on_request(tmp_path):
    path = _streamer_file(tmp_path / "dead.sgy", [4, 4], zero=5)  # shot 1, receiver 1
    kept = read_shots(path)
    assert not missing_traces(kept.values).any()
    np.testing.assert_array_equal(np.argwhere(dead_traces(kept.values)), [[1, 1]])
    masked = read_shots(path, mask_dead_traces=True)
    np.testing.assert_array_equal(np.argwhere(missing_traces(masked.values)), [[1, 1]])
    assert np.isnan(masked.receiver_x.values[1, 1]) and masked.receiver_x.values[0, 1] == 50.0
    xr.testing.assert_identical(masked, mask_dead_traces(kept))
    np.testing.assert_array_equal(np.nan_to_num(masked.values), kept.values)


def test_mask_dead_traces_gives_shared_positions_per_shot():
    gathers = make_gathers()  # receiver coords (receiver,)
    gathers[1, :, 2] = 0.0
    masked = mask_dead_traces(gathers)
    assert masked.receiver_x.dims == ("shot", "receiver") and masked.dtype == np.float32
    assert np.isnan(masked.receiver_x.values[1, 2]) and masked.receiver_x.values[0, 2] == 25.5
    assert np.isnan(masked.values[1, :, 2]).all() and np.isfinite(masked.values[0]).all()
    check_shots(masked)
    xr.testing.assert_identical(mask_dead_traces(make_gathers()), make_gathers())


@pytest.mark.parametrize(("change", "match"), [
    pytest.param(lambda g: g.where(g.time != g.time[2]), r"NaN or Inf values \(first at shot 0, "
                 r"time index 2, receiver 0\)", id="nan-samples-in-a-recorded-trace"),
    pytest.param(lambda g: g.where(g.shot != 1), r"shot 1 has no recorded trace", id="empty-shot"),
    pytest.param(lambda g: g.assign_coords(receiver_x=g.receiver_x.where(g.receiver != 0)),
                 r"coordinate 'receiver_x' holds 3 NaN or Inf", id="nan-position-of-a-trace"),
])
def test_nan_only_as_whole_missing_traces(change, match):
    with pytest.raises(ValueError, match=match):
        check_shots(change(_variable_gathers()))


def test_a_receiver_missing_from_every_shot_keeps_a_shared_spread(tmp_path):
    gathers = make_gathers()
    gathers = gathers.where(gathers.receiver != 4).assign_coords(
        receiver_x=gathers.receiver_x.where(gathers.receiver != 4),
        receiver_z=gathers.receiver_z.where(gathers.receiver != 4)).astype(np.float32)
    check_shots(gathers)
    write_shots(gathers, tmp_path / "s.sgy")
    back = read_shots(tmp_path / "s.sgy")
    xr.testing.assert_identical(back, gathers)
    assert back.receiver_x.dims == ("receiver",)
