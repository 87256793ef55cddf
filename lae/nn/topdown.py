r"""A top-down generator over several latent layers, each written as standardised noise.

The latent vector holds the layers' noise from the top down, :math:`z = [\epsilon_L, \dots,
\epsilon_1]`, all :math:`\mathcal N(0, I)` a priori. The network turns it into the bottom layer
and then into likelihood parameters:

.. math::

    h_L = \epsilon_L, \qquad
    h_l = \mu_l(h_{l+1}) + \sigma_l(h_{l+1}) \odot \epsilon_l \quad (l = L-1, \dots, 1), \qquad
    \text{out} = \text{bottom}(h_1).

So :math:`h_{l}\,|\,h_{l+1} \sim \mathcal N(\mu_l, \sigma_l^2)` is a hierarchical prior
:math:`z_L \to \dots \to z_1 \to x`, while every sampler sees one flat latent with a standard normal
prior (the non-centred form: Langevin runs jointly on all :math:`\epsilon_l`; Nijkamp et al.,
ECCV 2020; Pang et al., EACL 2021). Nothing here is probabilistic: the noise comes in as input.

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = TopDown([2, 3], hidden=16, layernorm=False, bottom=nn.Linear(3, 5))
    >>> net(torch.zeros(4, 5)).shape        # z = [eps_2 (2), eps_1 (3)]
    torch.Size([4, 5])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.functional import softplus

from lae.nn.dense import mlp

# softplus(x + SOFTPLUS_ONE) = 1 at x = 0: each sigma_l starts near 1
SOFTPLUS_ONE = 0.5413248546129181


class TopDown(nn.Module):
    r"""``[B, sum(layers)] -> bottom's output``, with ``layers`` sizes from the top down.

    Args:
        layers: latent layer sizes :math:`[d_L, \dots, d_1]` (at least two).
        hidden: width of each :math:`(\mu_l, \sigma_l)` network (one hidden block; 0 gives a
            linear map).
        layernorm: LayerNorm in those networks.
        bottom: the decoder from :math:`h_1` [B, d_1] to likelihood parameters. It is registered
            last, so its output layer is the module's last linear layer
            (:func:`lae.nn.output_bias`).
    """

    def __init__(self, layers: Sequence[int], hidden: int, layernorm: bool,
                 bottom: nn.Module) -> None:
        super().__init__()
        if len(layers) < 2:
            raise ValueError(f"TopDown needs at least two latent layers, got {list(layers)}")
        self.layers = tuple(int(k) for k in layers)
        depth = 1 if hidden > 0 else 0
        self.transitions = nn.ModuleList(
            mlp(above, 2 * below, max(hidden, 1), depth, layernorm)
            for above, below in zip(self.layers[:-1], self.layers[1:]))
        self.bottom = bottom

    def bottom_layer(self, z: Tensor) -> Tensor:
        """h_1 [B, d_1] for z [B, sum(layers)]."""
        eps = torch.split(z, self.layers, dim=-1)
        h = eps[0]
        for transition, noise in zip(self.transitions, eps[1:]):
            mu, raw_scale = transition(h).chunk(2, dim=-1)
            h = mu + softplus(raw_scale + SOFTPLUS_ONE) * noise
        return h

    def forward(self, z: Tensor) -> Tensor:
        return self.bottom(self.bottom_layer(z))

    def extra_repr(self) -> str:
        return f"layers={list(self.layers)} (top first)"
