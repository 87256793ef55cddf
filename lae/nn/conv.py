"""DCGAN-style convolutional stacks for square images of side 28, 32 and 64.

Every stage is a 4x4 convolution of stride 2 and padding 1, which halves (encoder) or doubles
(decoder, transposed) the side exactly. Channels double per encoder stage, starting from
`channels`; the decoder mirrors the encoder. There is no BatchNorm: it couples the examples of a
batch, which breaks the per-example energies that Langevin dynamics needs. The optional
normalisation is GroupNorm with one group, i.e. a LayerNorm over (C, H, W) of each example.

Reference:
    Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks" (DCGAN), ICLR 2016.
"""

from __future__ import annotations

from torch import nn

from lae.errors import ConfigError

#: Supported image side -> (side after the conv stack, number of stride-2 stages).
CONV_SIZES: dict[int, tuple[int, int]] = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def conv_plan(shape: tuple[int, ...]) -> tuple[int, int]:
    """Return (bottom side, number of stages) for an image shape (C, H, W), or raise ConfigError."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in CONV_SIZES:
        sizes = ", ".join(f"(C, {s}, {s})" for s in CONV_SIZES)
        raise ConfigError(
            f"arch='conv' does not support the data shape {tuple(shape)}; "
            f"supported image shapes are {sizes} with any channel count C, "
            "or use arch='mlp'"
        )
    return CONV_SIZES[shape[1]]


def _norm(channels: int, enabled: bool) -> nn.Module:
    # GroupNorm(1, C) normalises each example over (C, H, W): per-example, unlike BatchNorm.
    return nn.GroupNorm(1, channels) if enabled else nn.Identity()


def conv_encoder_features(
    in_shape: tuple[int, ...], hidden: int, channels: int, layernorm: bool
) -> nn.Sequential:
    r"""Feature network :math:`g: [B, C, H, W] \to [B, \text{hidden}]`.

    Stages Conv(4, stride 2) -> (GroupNorm) -> LeakyReLU(0.2) with `channels`, 2 `channels`, ...
    channels, then flatten -> Linear -> (LayerNorm) -> ReLU to the feature width `hidden`.
    Sides: 28 -> 14 -> 7, 32 -> 16 -> 8 -> 4, 64 -> 32 -> 16 -> 8 -> 4.
    """
    side, stages = conv_plan(in_shape)
    layers: list[nn.Module] = []
    c_in = in_shape[0]
    for i in range(stages):
        c_out = channels * 2**i
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), _norm(c_out, layernorm), nn.LeakyReLU(0.2)]
        c_in = c_out
    layers += [
        nn.Flatten(),
        nn.Linear(c_in * side * side, hidden),
        nn.LayerNorm(hidden) if layernorm else nn.Identity(),
        nn.ReLU(),
    ]
    return nn.Sequential(*layers)


def conv_decoder(
    latent_dim: int, out_shape: tuple[int, ...], channels: int, layernorm: bool
) -> nn.Sequential:
    r"""Decoder :math:`[B, \text{latent\_dim}] \to [B, C, H, W]`, the mirror of the encoder.

    Linear to the bottom feature map (`channels` :math:`\cdot 2^{S-1}` channels of side 7 or 4),
    reshape, (GroupNorm) -> ReLU, then S transposed convolutions of stride 2, the last one to the
    C output channels with no activation (unconstrained per-pixel parameters).
    """
    side, stages = conv_plan(out_shape)
    c_top = channels * 2 ** (stages - 1)
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, c_top * side * side),
        nn.Unflatten(1, (c_top, side, side)),
        _norm(c_top, layernorm),
        nn.ReLU(),
    ]
    c_in = c_top
    for i in reversed(range(stages - 1)):
        c_out = channels * 2**i
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), _norm(c_out, layernorm), nn.ReLU()]
        c_in = c_out
    layers.append(nn.ConvTranspose2d(c_in, out_shape[0], 4, 2, 1))
    return nn.Sequential(*layers)
