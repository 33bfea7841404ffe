"""Figures: models on one colour scale in metres, loss history, shot gathers, summary PNG."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from devito_crfwi.initial_models import smooth
from devito_crfwi.plot import (
    plot_loss,
    plot_models,
    plot_shots,
    plot_slices,
    save_summary_figure,
)


@pytest.fixture(scope="module")
def result(layered):
    n = 5
    return xr.Dataset(
        {
            "vp": smooth(layered, 20.0),
            "loss": ("iteration", np.geomspace(1.0, 0.1, n)),
            "ssim": ("iteration", np.linspace(0.4, 0.6, n)),
        },
        coords={"iteration": np.arange(n)},
    )


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_plot_models_share_one_colour_scale_in_metres(layered, result):
    initial = smooth(layered, 60.0)
    fig = plot_models(layered, initial, result)
    assert isinstance(fig, Figure)
    images = _images(fig)
    assert len(images) == 3
    limits = {im.get_clim() for im in images}
    assert limits == {(float(layered.min()), float(layered.max()))}
    ax = images[0].axes
    assert ax.get_xlabel() == "x (m)" and ax.get_ylabel() == "depth (m)"
    left, right, bottom, top = images[0].get_extent()
    assert left < right and bottom > top  # depth down
    assert right == pytest.approx(float(layered.x[-1]) + 5.0)
    assert "SSIM" in images[1].axes.get_title()
    fig.canvas.draw()  # renders with Agg


def test_plot_models_options(layered):
    fig = plot_models(inverted=layered, titles=["mine"], vmin=1000.0, vmax=3000.0)
    (image,) = _images(fig)
    assert image.get_clim() == (1000.0, 3000.0) and image.axes.get_title() == "mine"
    with pytest.raises(ValueError, match="at least one"):
        plot_models()
    with pytest.raises(ValueError, match="titles"):
        plot_models(layered, titles=["a", "b"])


def test_plot_loss(result):
    fig = plot_loss(result)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # loss and SSIM
    assert fig.axes[0].get_yscale() == "log"
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), result["loss"].values)
    assert len(plot_loss([3.0, 2.0, -1.0]).axes) == 1


def test_plot_shots(crosswell_observed):
    fig = plot_shots(crosswell_observed, shot=1)
    (image,) = _images(fig)
    low, high = image.get_clim()
    assert low == -high and high > 0
    assert image.axes.get_ylabel() == "time (s)"
    assert "shot 1" in image.axes.get_title()
    with pytest.raises(ValueError, match="shot"):
        plot_shots(crosswell_observed, shot=7)


def test_save_summary_figure(tmp_path, layered, result):
    path = save_summary_figure(tmp_path / "summary.png", layered, smooth(layered, 60.0), result)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- 3-D: slices of (x, y, z) models and one receiver line of areal gathers ---------------------


@pytest.fixture(scope="module")
def model_3d():
    """12 x 8 x 7 cells at 10 m (7: SSIM's window), values that tell every cell apart (m/s)."""
    from tests.helpers import model_dataarray

    return model_dataarray(2000.0 + np.arange(12 * 8 * 7).reshape(12, 8, 7), 10.0)


def test_plot_slices_inline_crossline_and_depth_on_one_scale(model_3d):
    initial = smooth(model_3d, 20.0)
    fig = plot_slices(model_3d, initial, model_3d + 5.0)
    images = _images(fig)
    assert len(images) == 9  # three models x (inline, crossline, depth slice)
    assert {im.get_clim() for im in images} == {(float(model_3d.min()), float(model_3d.max()) + 5)}
    inline, crossline, depth = images[:3]
    # Defaults: the middle cell of each axis (x = 60 m, y = 40 m, z = 30 m).
    np.testing.assert_array_equal(inline.get_array(), model_3d.values[:, 4, :].T)
    np.testing.assert_array_equal(crossline.get_array(), model_3d.values[6, :, :].T)
    np.testing.assert_array_equal(depth.get_array(), model_3d.values[:, :, 3].T)
    labels = [(im.axes.get_xlabel(), im.axes.get_ylabel()) for im in images[:3]]
    assert labels == [("x (m)", "depth (m)"), ("y (m)", "depth (m)"), ("x (m)", "y (m)")]
    assert "inline, y = 40 m" in inline.axes.get_title()
    assert "crossline, x = 60 m" in crossline.axes.get_title()
    assert depth.axes.get_title() == "depth slice, z = 30 m"
    assert inline.get_extent() == [-5.0, 115.0, 65.0, -5.0]  # depth down
    assert depth.get_extent() == [-5.0, 115.0, -5.0, 75.0] and depth.origin == "lower"  # y up
    assert "SSIM" not in inline.axes.get_title() and "SSIM" in images[3].axes.get_title()
    fig.canvas.draw()  # renders with Agg


def test_plot_slices_positions_and_km(model_3d):
    fig = plot_slices(inverted=model_3d, x=21.0, y=0.0, z=52.0, units="km", titles=["mine"])
    inline, crossline, depth = _images(fig)
    np.testing.assert_array_equal(inline.get_array(), model_3d.values[:, 0, :].T)
    np.testing.assert_array_equal(crossline.get_array(), model_3d.values[2, :, :].T)
    np.testing.assert_array_equal(depth.get_array(), model_3d.values[:, :, 5].T)  # 50 m
    assert inline.axes.get_title().startswith("mine\ninline, y = 0 km")
    assert crossline.axes.get_xlabel() == "y (km)" and depth.axes.get_title().endswith("0.05 km")
    np.testing.assert_allclose(inline.get_extent(), [-0.005, 0.115, 0.065, -0.005])
    with pytest.raises(ValueError, match="outside the model"):
        plot_slices(model_3d, z=500.0)
    with pytest.raises(TypeError, match=r"\('x', 'y', 'z'\)"):
        plot_slices(model_3d.isel(y=0, drop=True))
    with pytest.raises(TypeError, match=r"\('x', 'z'\)"):
        plot_models(model_3d)


@pytest.fixture(scope="module")
def gathers_3d(model_3d):
    """Synthetic gathers (no modelling) of 2 x 1 shots into a 6 x 4 areal spread."""
    from devito_crfwi import Survey
    from devito_crfwi.bridge.modelling import shots_dataarray

    survey = Survey.surface(model_3d, (2, 1), (6, 4), f0=15.0, t_max=0.2)
    data = np.random.default_rng(0).normal(size=(survey.n_shots, survey.nt, 24))
    return shots_dataarray(data, survey)


def test_plot_shots_3d_shows_one_receiver_line(gathers_3d):
    ry = gathers_3d.receiver_y.values
    fig = plot_shots(gathers_3d, shot=1)
    (image,) = _images(fig)
    source_y = float(gathers_3d.source_y[1])
    line = np.unique(ry)[np.argmin(np.abs(np.unique(ry) - source_y))]
    np.testing.assert_array_equal(image.get_array(), gathers_3d.isel(shot=1).values[:, ry == line])
    assert image.get_array().shape[1] == 6
    assert image.axes.get_xlabel() == "receiver x (m)" and image.axes.get_ylabel() == "time (s)"
    assert f"receiver line y = {line:g} m" in image.axes.get_title()
    assert f"y = {source_y:g} m" in image.axes.get_title()
    (image,) = _images(plot_shots(gathers_3d, line_y=-100.0))  # the nearest: the first line
    np.testing.assert_array_equal(image.get_array(),
                                  gathers_3d.isel(shot=0).values[:, ry == ry.min()])


def test_plot_shots_line_y_needs_3d_gathers(crosswell_observed):
    with pytest.raises(ValueError, match="line_y"):
        plot_shots(crosswell_observed, line_y=10.0)


def test_save_summary_figure_3d(tmp_path, model_3d):
    n = 3
    result = xr.Dataset({"vp": model_3d + 5.0, "loss": ("iteration", np.geomspace(1, 0.1, n))},
                        coords={"iteration": np.arange(n)})
    path = save_summary_figure(tmp_path / "summary.png", model_3d, smooth(model_3d, 20.0), result)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
