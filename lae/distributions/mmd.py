r"""The maximum mean discrepancy between two sample sets: the one estimator every part of `lae`
uses (InfoVAE's training objective, posterior fidelity, the toy experiments).

For samples :math:`a_1..a_m \sim P` and :math:`b_1..b_n \sim Q` the unbiased estimate of
:math:`\mathrm{MMD}^2(P, Q)` is

.. math::

    \frac{1}{m(m-1)} \sum_{i \ne j} k(a_i, a_j) + \frac{1}{n(n-1)} \sum_{i \ne j} k(b_i, b_j)
    - \frac{2}{mn} \sum_{i,j} k(a_i, b_j)

(Gretton et al., JMLR 2012); it can be slightly negative when P = Q. Kernels, with scale h:
``rbf`` :math:`\exp(-\lVert u - v \rVert^2 / 2h^2)` and ``imq`` (inverse multiquadric)
:math:`C / (C + \lVert u - v \rVert^2)` with :math:`C = 2h^2`; both equal 1 at u = v.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g) + 2
    >>> c = torch.randn(200, 2, generator=g)
    >>> bool(mmd2_unbiased(a, b, 1.0) > 0.1), bool(abs(mmd2_unbiased(a, c, 1.0)) < 0.02)
    (True, True)
"""

from __future__ import annotations

import torch
from torch import Tensor

KERNELS = ("rbf", "imq")


def kernel_matrix(u: Tensor, v: Tensor, scale: Tensor | float, kernel: str = "rbf") -> Tensor:
    """k(u_i, v_j) for u [..., m, K] and v [..., n, K]: [..., m, n]."""
    d2 = torch.cdist(u, v).pow(2)
    c = 2 * torch.as_tensor(scale, dtype=d2.dtype, device=d2.device) ** 2
    if kernel == "rbf":
        return torch.exp(-d2 / c)
    if kernel == "imq":
        return c / (c + d2)
    raise ValueError(f"unknown MMD kernel {kernel!r}; choices: {', '.join(KERNELS)}")


def mmd2_unbiased(a: Tensor, b: Tensor, scale: Tensor | float, kernel: str = "rbf") -> Tensor:
    """Unbiased MMD^2 between a [..., m, K] and b [..., n, K] (batched over leading dims): [...].
    Needs m, n >= 2."""
    m, n = a.shape[-2], b.shape[-2]
    if m < 2 or n < 2:
        raise ValueError(f"mmd2_unbiased needs at least 2 samples on each side, got {m} and {n}")

    def within(u: Tensor, size: int) -> Tensor:  # the mean over i != j (k(u, u) = 1)
        return (kernel_matrix(u, u, scale, kernel).sum((-1, -2)) - size) / (size * (size - 1))

    cross = kernel_matrix(a, b, scale, kernel).mean((-1, -2))
    return within(a, m) + within(b, n) - 2 * cross
