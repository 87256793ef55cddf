"""Networks only, nothing probabilistic: MLP and DCGAN-style encoders and decoders.

Every network treats the examples of a batch independently (no BatchNorm), because Langevin
energies are per example.
"""

from lae.nn.conv import CONV_SIZES
from lae.nn.dense import mlp, mlp_trunk
from lae.nn.networks import (
    ARCHS,
    Encoder,
    NetConfig,
    build_decoder,
    build_encoder,
    output_bias,
    register_arch,
)
from lae.nn.topdown import TopDown

__all__ = [
    "ARCHS",
    "CONV_SIZES",
    "Encoder",
    "NetConfig",
    "TopDown",
    "build_decoder",
    "build_encoder",
    "mlp",
    "mlp_trunk",
    "output_bias",
    "register_arch",
]
