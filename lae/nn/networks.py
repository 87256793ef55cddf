r"""Encoder and decoder networks, built from a :class:`NetConfig`.

The encoder is split as :math:`f(x) = \Phi g(x) + b`: a feature network :math:`g` and a last
linear layer :math:`\Phi` (the `head`). Amortized Langevin dynamics runs its chains on the head's
weight, so the two parts are exposed separately (Taniguchi et al., "Langevin Autoencoders for
Learning Deep Latent Variable Models", NeurIPS 2022, section 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from lae.errors import ConfigError
from lae.nn.conv import conv_decoder, conv_encoder_features
from lae.nn.dense import mlp, mlp_trunk
from lae.nn.topdown import TopDown


@dataclass
class NetConfig:
    """Architecture of the encoder and decoder.

    Attributes:
        arch: ``"mlp"`` (any data shape, flattened) or ``"conv"`` (DCGAN-style, images of side 28,
            32 or 64).
        hidden: MLP width; for ``"conv"``, the width of the feature layer after the conv stack.
        depth: number of MLP hidden layers (unused by ``"conv"``).
        layernorm: per-example normalisation after each hidden layer (LayerNorm for Linear,
            GroupNorm with one group for convolutions). The authors' MLP is
            Linear -> LayerNorm -> ReLU, 3 x 1024.
        channels: base channel count of the conv stack, doubled per stride-2 stage.
        topdown_hidden: with several latent layers (:class:`lae.nn.TopDown`), the hidden width of
            each network from one layer to the mean and scale of the next (0: linear).
    """

    arch: str = "mlp"
    hidden: int = 1024
    depth: int = 3
    layernorm: bool = True
    channels: int = 64
    topdown_hidden: int = 256  # width of each layer-to-layer network of a multi-layer generator

    def __post_init__(self) -> None:  # a name is known before any data: refused with the config
        if self.arch not in _FEATURES:
            raise ValueError(f"arch={self.arch!r} is unknown; choices are {list(_FEATURES)} "
                             f"(or one registered with lae.nn.register_arch)")


class Encoder(nn.Module):
    r"""An encoder :math:`x \mapsto \text{head}(g(x))`.

    Attributes:
        features: the feature network
            :math:`g: [B, *\text{in\_shape}] \to [B, \text{feature\_dim}]`, everything but the
            last linear layer.
        head: the last layer, ``nn.Linear(feature_dim, out_features)``; amortized Langevin
            dynamics treats its weight as the chain state.
        feature_dim: width of :math:`g(x)`. ALD needs ``feature_dim >= batch size``.
    """

    def __init__(self, features: nn.Module, feature_dim: int, out_features: int):
        super().__init__()
        self.features = features
        self.head = nn.Linear(feature_dim, out_features)
        self.feature_dim = feature_dim

    def forward(self, x: Tensor) -> Tensor:
        """Map ``x`` of shape [B, *in_shape] to [B, out_features]."""
        return self.head(self.features(x))


def _mlp_features(cfg: NetConfig, in_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    d_in = math.prod(in_shape)
    trunk = mlp_trunk(d_in, cfg.hidden, cfg.depth, cfg.layernorm)
    # depth 0 leaves a linear encoder: the features are the flattened input itself.
    return nn.Sequential(nn.Flatten(), *trunk), cfg.hidden if cfg.depth > 0 else d_in


def _conv_features(cfg: NetConfig, in_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    return conv_encoder_features(in_shape, cfg.hidden, cfg.channels, cfg.layernorm), cfg.hidden


def _mlp_decoder(cfg: NetConfig, latent_dim: int, out_shape: tuple[int, ...]) -> nn.Module:
    net = mlp(latent_dim, math.prod(out_shape), cfg.hidden, cfg.depth, cfg.layernorm)
    return nn.Sequential(*net, nn.Unflatten(1, out_shape))


def _conv_decoder(cfg: NetConfig, latent_dim: int, out_shape: tuple[int, ...]) -> nn.Module:
    return conv_decoder(latent_dim, out_shape, cfg.channels, cfg.layernorm)


# Registries keyed by NetConfig.arch: adding an architecture means adding one entry to each.
_FEATURES: dict[str, Callable[[NetConfig, tuple[int, ...]], tuple[nn.Module, int]]] = {
    "mlp": _mlp_features,
    "conv": _conv_features,
}
_DECODERS: dict[str, Callable[[NetConfig, int, tuple[int, ...]], nn.Module]] = {
    "mlp": _mlp_decoder,
    "conv": _conv_decoder,
}
ARCHS: tuple[str, ...] = tuple(_FEATURES)  # the built-in ones


def register_arch(
    name: str,
    features: Callable[[NetConfig, tuple[int, ...]], tuple[nn.Module, int]],
    decoder: Callable[[NetConfig, int, tuple[int, ...]], nn.Module],
) -> None:
    r"""Make your own encoder/decoder pair available as ``model.net.arch=<name>``.

    Args:
        name: the value of ``net.arch`` that selects it.
        features: ``(cfg, in_shape) -> (g, feature_dim)``: the encoder's feature network
            :math:`g: [B, *\text{in\_shape}] \to [B, \text{feature\_dim}]` (the last linear
            layer is added by :func:`build_encoder`). Keep examples independent (no BatchNorm).
        decoder: ``(cfg, latent_dim, out_shape) -> module`` mapping [B, latent_dim] to
            [B, *out_shape] unconstrained likelihood parameters.

    Example:
        >>> from torch import nn
        >>> register_arch("tiny-linear",
        ...               lambda cfg, shape: (nn.Flatten(), math.prod(shape)),
        ...               lambda cfg, k, shape: nn.Sequential(nn.Linear(k, math.prod(shape)),
        ...                                                  nn.Unflatten(1, shape)))
        >>> build_encoder(NetConfig(arch="tiny-linear"), (1, 8, 8), 4).feature_dim
        64
    """
    if name in _FEATURES:
        raise ValueError(f"net.arch {name!r} is already registered")
    _FEATURES[name] = features
    _DECODERS[name] = decoder


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check(
    cfg: NetConfig, shape: tuple[int, ...], shape_name: str, dim_name: str, dim: int
) -> None:
    if cfg.arch not in _FEATURES:
        raise ConfigError(f"net.arch={cfg.arch!r} is unknown; choices are {list(_FEATURES)}")
    _positive("net.hidden", cfg.hidden)
    _positive("net.channels", cfg.channels)
    if not isinstance(cfg.depth, int) or cfg.depth < 0:
        raise ConfigError(f"net.depth must be a non-negative integer, got {cfg.depth!r}")
    _positive(dim_name, dim)
    if len(shape) == 0:
        raise ConfigError(f"{shape_name} must have at least one dimension, got {shape!r}")
    for s in shape:
        _positive(shape_name, s)


def build_encoder(cfg: NetConfig, in_shape: tuple[int, ...], out_features: int) -> Encoder:
    r"""Build an :class:`Encoder` :math:`[B, *\text{in\_shape}] \to [B, \text{out\_features}]`.

    The output is unconstrained (e.g. a latent sample for ALD, or a Gaussian mean and log-scale
    stacked for a VAE).

    Raises:
        ConfigError: unknown ``cfg.arch``, a non-positive size, or an image shape the conv stack
            does not support.

    Example:
        >>> import torch
        >>> enc = build_encoder(NetConfig(hidden=64, depth=2), (1, 28, 28), 8)
        >>> enc(torch.zeros(3, 1, 28, 28)).shape, enc.feature_dim
        (torch.Size([3, 8]), 64)
    """
    in_shape = tuple(in_shape)
    _check(cfg, in_shape, "in_shape", "out_features", out_features)
    features, feature_dim = _FEATURES[cfg.arch](cfg, in_shape)
    return Encoder(features, feature_dim, out_features)


def output_bias(decoder: nn.Module) -> nn.Parameter | None:
    r"""The bias of a decoder's output layer: its last ``Linear``, convolution or transposed
    convolution, or ``None`` if it has none (or that layer has no bias).

    For the MLP decoder it holds one value per output element (a flattened
    [\text{out\_shape}]); for the conv decoder one per output channel. Models start it at the
    data's mean (:meth:`lae.models.LatentModel.init_from_data`).

    Example:
        >>> output_bias(build_decoder(NetConfig(hidden=8, depth=1), 2, (1, 4, 4))).shape
        torch.Size([16])
        >>> output_bias(build_decoder(NetConfig(arch="conv", channels=4), 2, (3, 32, 32))).shape
        torch.Size([3])
    """
    if isinstance(decoder, TopDown):
        decoder = decoder.bottom
    layers = [m for m in decoder.modules()
              if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    if not layers or layers[-1].bias is None:
        return None
    return layers[-1].bias


def build_decoder(cfg: NetConfig, latent_dim: int | Sequence[int],
                  out_shape: tuple[int, ...]) -> nn.Module:
    r"""Build a decoder :math:`z \in [B, \text{latent\_dim}] \mapsto [B, *\text{out\_shape}]`.

    ``latent_dim`` is one layer's size, or several layers' sizes from the top down: then the
    decoder is a :class:`lae.nn.TopDown` generator whose input is the layers' standardised noise,
    concatenated ([B, sum of the sizes]).

    The output holds unconstrained per-pixel likelihood parameters (logits or means); the
    likelihood modules in :mod:`lae.distributions` map them to distributions.

    Raises:
        ConfigError: as :func:`build_encoder`.

    Example:
        >>> import torch
        >>> dec = build_decoder(NetConfig(arch="conv", channels=8), 4, (3, 32, 32))
        >>> dec(torch.zeros(2, 4)).shape
        torch.Size([2, 3, 32, 32])
    """
    out_shape = tuple(out_shape)
    layers = [latent_dim] if isinstance(latent_dim, int) else list(latent_dim)
    for k in layers:
        _check(cfg, out_shape, "out_shape", "latent_dim", k)
    if not isinstance(cfg.topdown_hidden, int) or cfg.topdown_hidden < 0:
        raise ConfigError(f"net.topdown_hidden must be a non-negative integer, got "
                          f"{cfg.topdown_hidden!r}")
    bottom = _DECODERS[cfg.arch](cfg, layers[-1], out_shape)
    if len(layers) == 1:
        return bottom
    return TopDown(layers, cfg.topdown_hidden, cfg.layernorm, bottom)
