"""Multi-layer perceptrons: the one builder every MLP in `lae` is made from."""

from __future__ import annotations

from torch import nn


def mlp_trunk(in_features: int, hidden: int, depth: int, layernorm: bool) -> nn.Sequential:
    r"""The hidden stack of an MLP, without an output layer.

    Each of the `depth` blocks is

    .. math:: h \mapsto \mathrm{ReLU}(\mathrm{LN}(W h + b)),

    with the LayerNorm left out when `layernorm` is false. LayerNorm normalises each example on its
    own, so examples in a batch stay independent (unlike BatchNorm).

    Arguments:
        in_features: width of the input, :math:`[B, \text{in\_features}]`.
        hidden: width of every hidden layer.
        depth: number of hidden blocks; 0 gives an empty (identity) stack.
        layernorm: whether to put a LayerNorm between each Linear and its ReLU.

    Returns:
        A module :math:`[B, \text{in\_features}] \to [B, \text{hidden}]`
        (or the identity when `depth` is 0).
    """
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden))
        if layernorm:
            layers.append(nn.LayerNorm(hidden))
        layers.append(nn.ReLU())
        width = hidden
    return nn.Sequential(*layers)


def mlp(
    in_features: int, out_features: int, hidden: int, depth: int, layernorm: bool
) -> nn.Sequential:
    r"""An MLP :math:`[B, \text{in\_features}] \to [B, \text{out\_features}]`.

    `depth` hidden blocks Linear -> (LayerNorm) -> ReLU of width `hidden` (see :func:`mlp_trunk`),
    then an unconstrained output Linear. The authors' network for the Langevin autoencoder is
    ``mlp(d_in, d_out, hidden=1024, depth=3, layernorm=True)``.

    Example:
        >>> import torch
        >>> net = mlp(2, 8, hidden=32, depth=2, layernorm=True)
        >>> net(torch.zeros(5, 2)).shape
        torch.Size([5, 8])
    """
    trunk = mlp_trunk(in_features, hidden, depth, layernorm)
    width = hidden if depth > 0 else in_features
    return nn.Sequential(*trunk, nn.Linear(width, out_features))
