"""The paper's parameterisation: the additive output map, the paper's network sizes (counted
against the architectures' own formulas) and the registry derived from the classes."""

import numpy as np
import pytest
import torch

from devito_crfwi.ntk import ENCODING_PARAMETERS
from devito_crfwi.representations import (
    DEFAULT_LEARNING_RATES,
    REGISTRY,
    Pixel,
    default_bounds,
    make_representation,
    paper_parameter_counts,
)

NX, NZ = 24, 10
V0 = np.tile(np.linspace(1500.0, 3000.0, NZ), (NX, 1))
PAPER_SHAPE = (288, 94)


def dense(n_in: int, n_out: int) -> int:
    """Weights and biases of a linear layer."""
    return n_in * n_out + n_out


def test_paper_sizes_follow_the_architectures_of_the_paper():
    counts = {name: ours for name, _, ours, _ in paper_parameter_counts(PAPER_SHAPE)}
    assert counts["pixel"] == 288 * 94
    # IFWI: [2, 128, 128, 128, 128, 1].
    assert counts["inr"] == dense(2, 128) + 3 * dense(128, 128) + dense(128, 1)
    # MPE: 16 hashed levels of 2**8 rows x 2 features, decoder 32 -> 64 -> 64 -> 1.
    tables = 16 * 2**8 * 2
    decoder = dense(32, 64) + dense(64, 64) + dense(64, 1)
    assert counts["grid"] == tables + decoder
    # IG: the same tables + a [2 -> 128 -> 128] sine branch + a (32 + 128) -> 64 -> 64 -> 1 MLP.
    assert counts["ig"] == (tables + dense(2, 128) + dense(128, 128) + dense(160, 64)
                            + dense(64, 64) + dense(64, 1))
    # LR: two 1-D sine networks of depth 3, width 128, rank 47 = 94 / 2 outputs, and the core.
    factor = dense(1, 128) + 2 * dense(128, 128) + dense(128, 47)
    assert counts["lowrank"] == 2 * factor + 47 * 47


@pytest.mark.parametrize("name", ["inr", "grid", "ig", "lowrank"])
def test_paper_sizes_are_close_to_the_published_counts(name):
    (row,) = [r for r in paper_parameter_counts(PAPER_SHAPE) if r[0] == name]
    _, _, ours, paper = row
    assert abs(ours - paper) / paper < 0.04  # differences explained in the class comments


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_additive_output_adds_the_scaled_perturbation(name):
    rep = make_representation(name, V0, output="additive", vmin=500.0, vmax=6000.0, seed=1)
    with torch.no_grad():
        for p in rep.parameters():  # move away from the (near-zero) start
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
        expected = (rep.initial + rep.scale * rep.grid_perturbation()).clamp(500.0, 6000.0)
        np.testing.assert_allclose(rep().numpy(), expected.numpy(), rtol=1e-6)
    assert rep.scale == (1.0 if name == "pixel" else 1000.0)
    assert rep.learning_rate == (5.0 if name == "pixel" else 1e-4)


def test_additive_pixel_works_in_metres_per_second_and_clips_only_at_the_bounds():
    rep = Pixel(V0, output="additive", vmin=1000.0, vmax=3100.0)
    with torch.no_grad():
        rep.delta.fill_(7.0)
    v = rep()
    np.testing.assert_allclose(v.detach().numpy(), np.minimum(V0 + 7.0, 3100.0), rtol=1e-6)
    v.sum().backward()
    inside = (V0 + 7.0) < 3100.0
    np.testing.assert_array_equal(rep.delta.grad.numpy(), inside.astype(np.float32))


def test_default_output_is_the_bounded_map_and_rates_are_the_class_facts():
    for name, cls in REGISTRY.items():
        rep = make_representation(name, V0)
        assert rep.output == "bounded" and rep.learning_rate == cls.default_learning_rate
    assert DEFAULT_LEARNING_RATES == {n: c.default_learning_rate for n, c in REGISTRY.items()}
    assert ENCODING_PARAMETERS == {"grid": ("encoding",), "ig": ("encoding", "sine")}
    assert default_bounds(V0) == pytest.approx((1200.0, 3750.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"output": "logit"}, "output must be one of"),
        ({"scale": 10.0}, "scale applies to output='additive' only"),
        ({"output": "additive", "scale": -1.0}, "scale must be a positive number"),
        ({"output": "additive", "scale": True}, "scale must be a positive number"),
        ({"preset": "large"}, "preset must be one of"),
    ],
)
def test_bad_output_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_representation("inr", V0, **kwargs)


def test_a_preset_for_a_ready_made_module_is_refused():
    with pytest.raises(ValueError, match="preset"):
        make_representation(Pixel(V0), V0, preset="paper")


def test_paper_preset_options_can_be_overridden():
    rep = make_representation("lowrank", V0, preset="paper")
    assert rep.core.shape == (NZ // 2, NZ // 2)
    rep = make_representation("lowrank", V0, preset="paper", rank=3)
    assert rep.core.shape == (3, 3)
