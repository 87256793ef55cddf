"""Encoder/decoder shapes, head layout, per-example independence and config errors."""

import math

import pytest
import torch
from torch import nn

from lae.errors import ConfigError
from lae.nn import ARCHS, Encoder, NetConfig, build_decoder, build_encoder, mlp

LATENT = 5
SHAPES = {
    "mlp": [(2,), (1, 28, 28), (3, 32, 32), (3, 64, 64)],
    "conv": [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)],
}
CASES = [(arch, shape) for arch, shapes in SHAPES.items() for shape in shapes]


def small(arch: str, **kw) -> NetConfig:
    """A config small enough for fast tests."""
    return NetConfig(arch=arch, hidden=kw.pop("hidden", 48), depth=2, channels=4, **kw)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_defaults_are_the_authors_mlp():
    cfg = NetConfig()
    assert (cfg.arch, cfg.hidden, cfg.depth, cfg.layernorm) == ("mlp", 1024, 3, True)
    assert set(ARCHS) == {"mlp", "conv"}


@pytest.mark.parametrize("arch,shape", CASES)
def test_shapes_and_head(arch, shape):
    cfg = small(arch)
    enc, dec = build_encoder(cfg, shape, LATENT), build_decoder(cfg, LATENT, shape)
    x = torch.randn(3, *shape)
    feats = enc.features(x)
    assert isinstance(enc, Encoder)
    assert feats.shape == (3, enc.feature_dim) and enc.feature_dim == cfg.hidden
    assert isinstance(enc.head, nn.Linear)
    assert (enc.head.in_features, enc.head.out_features) == (cfg.hidden, LATENT)
    torch.testing.assert_close(enc(x), enc.head(feats))
    assert enc(x).shape == (3, LATENT)
    assert dec(torch.randn(3, LATENT)).shape == (3, *shape)


@pytest.mark.parametrize("arch,shape", CASES)
@pytest.mark.parametrize("layernorm", [True, False])
def test_no_batchnorm(arch, shape, layernorm):
    cfg = small(arch, layernorm=layernorm)
    for net in (build_encoder(cfg, shape, LATENT), build_decoder(cfg, LATENT, shape)):
        kinds = {type(m) for m in net.modules()}
        assert not kinds & {nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d}
        assert layernorm or not kinds & {nn.LayerNorm, nn.GroupNorm}


@pytest.mark.parametrize("arch,shape", CASES)
def test_per_example_independence(arch, shape):
    """Output i depends on input i only: zero cross-gradients and batch == single evaluation."""
    cfg = small(arch)
    enc, dec = build_encoder(cfg, shape, LATENT), build_decoder(cfg, LATENT, shape)
    for net, inp in ((enc, torch.randn(4, *shape)), (dec, torch.randn(4, LATENT))):
        inp.requires_grad_(True)
        out = net(inp)
        (grad,) = torch.autograd.grad(out[1].square().sum(), inp)
        assert grad[1].abs().sum() > 0
        assert torch.all(grad[[0, 2, 3]] == 0)
        torch.testing.assert_close(net(inp[2:3]), out[2:3], rtol=1e-5, atol=1e-5)


def test_mlp_depth_zero_is_linear_encoder():
    enc = build_encoder(NetConfig(hidden=16, depth=0), (1, 4, 4), 3)
    assert enc.feature_dim == 16 and enc.head.in_features == 16  # 1*4*4 flattened pixels
    x = torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(enc.features(x), x.flatten(1))


def test_mlp_builder_layout():
    net = mlp(3, 7, hidden=11, depth=2, layernorm=True)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.LayerNorm, nn.ReLU] * 2 + [nn.Linear]
    assert net(torch.zeros(4, 3)).shape == (4, 7)
    assert [type(m) for m in mlp(3, 7, 11, 1, layernorm=False)] == [nn.Linear, nn.ReLU, nn.Linear]


def test_bad_arch():
    # refused with the config (no data needed), naming the choices
    with pytest.raises(ValueError, match=r"resnet.*mlp.*conv"):
        NetConfig(arch="resnet")
    # and by the builders, for a config changed after it was made
    cfg = NetConfig()
    cfg.arch = "resnet"
    with pytest.raises(ConfigError, match=r"resnet.*mlp.*conv"):
        build_encoder(cfg, (2,), 4)
    with pytest.raises(ConfigError, match="resnet"):
        build_decoder(cfg, 4, (2,))


@pytest.mark.parametrize("shape", [(2,), (1, 30, 30), (3, 32, 28), (28, 28), (3, 128, 128)])
def test_bad_conv_shape(shape):
    cfg = small("conv")
    pattern = rf"{tuple(shape)}".replace("(", r"\(").replace(")", r"\)") + ".*28.*32.*64"
    with pytest.raises(ConfigError, match=pattern):
        build_encoder(cfg, shape, 4)
    with pytest.raises(ConfigError, match=pattern):
        build_decoder(cfg, 4, shape)


@pytest.mark.parametrize(
    "cfg,shape,n",
    [
        (NetConfig(hidden=0), (2,), 4),
        (NetConfig(depth=-1), (2,), 4),
        (NetConfig(arch="conv", channels=0), (1, 28, 28), 4),
        (NetConfig(), (2,), 0),
        (NetConfig(), (0, 3), 4),
        (NetConfig(), (), 4),
    ],
)
def test_bad_sizes(cfg, shape, n):
    with pytest.raises(ConfigError):
        build_encoder(cfg, shape, n)


def test_feature_width_default_conv():
    enc = build_encoder(NetConfig(arch="conv", hidden=100, channels=4), (3, 32, 32), 8)
    assert enc.feature_dim == 100 and math.prod(enc(torch.zeros(1, 3, 32, 32)).shape) == 8
