"""Figures: models on one colour scale in metres, loss history, shot gathers, summary PNG."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from devito_crfwi.initial_models import smooth
from devito_crfwi.plot import plot_loss, plot_models, plot_shots, save_summary_figure


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
