"""Building blocks of the coordinate networks: seeded linear layers, SIREN layers, MLPs, Fourier
features.

Every initialisation draws from an explicit :class:`torch.Generator`; layers are created with
:func:`torch.nn.utils.skip_init`, so building a network never touches the global RNG.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

Activation = Literal["sine", "relu", "gelu"]
ACTIVATIONS: tuple[str, ...] = ("sine", "relu", "gelu")


def linear(
    n_in: int,
    n_out: int,
    *,
    weight_bound: float,
    bias_bound: float,
    generator: torch.Generator,
    dtype: torch.dtype,
) -> nn.Linear:
    """An :class:`nn.Linear` with weights U(-weight_bound, weight_bound), bias U(-bias_bound, ...).

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    weight_bound, bias_bound : float
        Half-widths of the uniform initialisations (0 gives zeros).
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Parameter dtype.
    """
    layer = skip_init(nn.Linear, n_in, n_out, dtype=dtype)
    with torch.no_grad():
        layer.weight.uniform_(-weight_bound, weight_bound, generator=generator)
        layer.bias.uniform_(-bias_bound, bias_bound, generator=generator)
    return layer


class SineLayer(nn.Module):
    """SIREN layer ``sin(omega0 * (W x + b))`` (Sitzmann et al. 2020, "Implicit neural
    representations with periodic activation functions").

    Parameters
    ----------
    n_in, n_out : int
        Input and output features.
    omega0 : float
        Frequency factor ``omega0`` (30 in the paper).
    is_first : bool
        Whether the layer reads the coordinates (changes the initialisation).
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Parameter dtype.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        omega0: float,
        is_first: bool,
        generator: torch.Generator,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        self.omega0 = float(omega0)
        # Sitzmann et al. 2020, sec. 3.2: first U(-1/n, 1/n), others U(±sqrt(6/n)/ω0), n = fan-in
        bound = 1.0 / n_in if is_first else math.sqrt(6.0 / n_in) / self.omega0
        # Biases keep nn.Linear's default U(-1/sqrt(n), 1/sqrt(n)), as in the authors' code.
        self.linear = linear(
            n_in,
            n_out,
            weight_bound=bound,
            bias_bound=1.0 / math.sqrt(n_in),
            generator=generator,
            dtype=dtype,
        )
        self.output_dim = n_out

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.omega0 * self.linear(x))  # (..., n_out)

    def extra_repr(self) -> str:
        return f"omega0={self.omega0:g}"


def mlp(
    n_in: int,
    *,
    hidden_features: int,
    hidden_layers: int,
    n_out: int | None = 1,
    activation: Activation = "relu",
    omega0: float = 30.0,
    out_scale: float = 1e-3,
    generator: torch.Generator,
    dtype: torch.dtype,
) -> nn.Sequential:
    """Fully connected network: ``hidden_layers`` activated layers, then an optional linear head.

    Parameters
    ----------
    n_in : int
        Input features.
    hidden_features : int
        Width of every hidden layer.
    hidden_layers : int
        Number of activated layers (the first reads the input), at least 1.
    n_out : int or None
        Output features of the linear head; ``None`` returns the last hidden features.
    activation : {"sine", "relu", "gelu"}
        ``"sine"`` builds :class:`SineLayer` s (SIREN init); the others use PyTorch's
        default ``nn.Linear`` init, U(-1/sqrt(n), 1/sqrt(n)).
    omega0 : float
        SIREN frequency factor (``activation="sine"`` only).
    out_scale : float
        The head has weights U(-out_scale/sqrt(n), out_scale/sqrt(n)) and zero bias, so for
        O(1) hidden features the initial output is O(out_scale); 1 is a standard init.
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Parameter dtype.

    Returns
    -------
    nn.Sequential
        Maps (..., n_in) to (..., n_out), or (..., hidden_features) when ``n_out`` is None;
        the width of its output is stored in its ``output_dim`` attribute.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if hidden_layers < 1 or hidden_features < 1:
        raise ValueError(
            "hidden_layers and hidden_features must be >= 1, "
            f"got {hidden_layers} and {hidden_features}"
        )
    layers: list[nn.Module] = []
    width = n_in
    for i in range(hidden_layers):
        if activation == "sine":
            layers.append(
                SineLayer(
                    width,
                    hidden_features,
                    omega0=omega0,
                    is_first=i == 0,
                    generator=generator,
                    dtype=dtype,
                )
            )
        else:
            bound = 1.0 / math.sqrt(width)
            layers.append(
                linear(
                    width,
                    hidden_features,
                    weight_bound=bound,
                    bias_bound=bound,
                    generator=generator,
                    dtype=dtype,
                )
            )
            layers.append(nn.ReLU() if activation == "relu" else nn.GELU())
        width = hidden_features
    if n_out is not None:
        layers.append(
            linear(
                width,
                n_out,
                weight_bound=out_scale / math.sqrt(width),
                bias_bound=0.0,
                generator=generator,
                dtype=dtype,
            )
        )
        width = n_out
    net = nn.Sequential(*layers)
    net.output_dim = width
    return net


class GaussianFourierEncoding(nn.Module):
    """Random Fourier features ``[cos(2 pi B x), sin(2 pi B x)]`` with ``B ~ N(0, scale^2)``
    (Tancik et al. 2020, "Fourier features let networks learn high frequency functions").

    Parameters
    ----------
    n_in : int
        Coordinate dimension.
    n_features : int
        Number of frequencies; the encoding has ``2 * n_features`` outputs.
    scale : float
        Standard deviation of ``B``, in cycles per unit of normalised coordinate.
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Buffer dtype.

    Attributes
    ----------
    frequencies : Tensor, shape (n_features, n_in)
        Buffer ``B`` (persistent: it is part of the model).
    output_dim : int
        ``2 * n_features``.
    """

    def __init__(
        self,
        n_in: int,
        n_features: int,
        scale: float,
        *,
        generator: torch.Generator,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        if n_features < 1 or not scale > 0:
            raise ValueError(f"n_features must be >= 1 and scale > 0, got {n_features} and {scale}")
        frequencies = scale * torch.randn(n_features, n_in, generator=generator, dtype=dtype)
        self.register_buffer("frequencies", frequencies)  # (n_features, n_in)
        self.output_dim = 2 * n_features

    def forward(self, coords: Tensor) -> Tensor:
        phase = 2.0 * math.pi * coords @ self.frequencies.T  # (..., n_features)
        return torch.cat((torch.cos(phase), torch.sin(phase)), dim=-1)  # (..., 2 n_features)
