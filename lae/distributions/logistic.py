r"""The discretised logistic distribution for n-bit data (PixelCNN++).

Data take the :math:`K = 2^{n}` values :math:`x_k = l + k \Delta`, :math:`k = 0, \dots, K - 1`,
with :math:`\Delta = (u - l) / (K - 1)` on the range :math:`[l, u]`. Each value owns the bin
:math:`[x_k - h, x_k + h]`, :math:`h = \Delta / 2`, and gets the logistic mass of its bin,

.. math:: P(x_k) = \sigma\big((x_k + h - \mu) / s\big) - \sigma\big((x_k - h - \mu) / s\big),

with the first bin extended to :math:`-\infty` and the last to :math:`+\infty`, so that the K
probabilities sum to exactly 1 for every :math:`\mu` and :math:`s > 0`.

Numerics. With :math:`a = (x_k + h - \mu)/s` and :math:`b = (x_k - h - \mu)/s` the identity

.. math:: \sigma(a) - \sigma(b) = \sigma(a)\, \sigma(-b)\, \big(1 - e^{-(a - b)}\big)

gives :math:`\log P = -\mathrm{softplus}(-a) - \mathrm{softplus}(b) + \log(-\mathrm{expm1}(b - a))`,
with :math:`a - b = 2h/s`.
Every term is stable for any :math:`\mu` and any scale: no difference of two probabilities close
to each other is ever formed. PixelCNN++ subtracts the two sigmoids in probability space and so
needs a fallback (log density times bin width) where that difference underflows; this exact form
needs none, also for tiny scales. The edge bins are :math:`\log\sigma(a) = -\mathrm{softplus}(-a)`
and :math:`\log(1 - \sigma(b)) = -\mathrm{softplus}(b)`.

Reference:
    Salimans, Karpathy, Chen and Kingma, "PixelCNN++: Improving the PixelCNN with Discretized
    Logistic Mixture Likelihood and Other Modifications", ICLR 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution, constraints
from torch.distributions.utils import broadcast_all

from lae.distributions.base import SampleShape


def grid(low: float, high: float, n_bits: int) -> tuple[float, int]:
    r"""Return (bin width :math:`\Delta`, number of values K) of the n-bit grid on [low, high]."""
    n_values = 2**n_bits
    return (high - low) / (n_values - 1), n_values


def on_grid(x: Tensor, low: float, high: float, n_bits: int, tol: float = 1e-3) -> Tensor:
    """Elementwise test that ``x`` lies on the n-bit grid of [low, high].

    ``tol`` is in bins: a value is accepted within ``tol`` bin widths of a grid point (float data
    such as ``k / 255`` are not exact). Returns a bool tensor shaped like ``x``.
    """
    width, n_values = grid(low, high, n_bits)
    k = (x - low) / width
    return (k >= -tol) & (k <= n_values - 1 + tol) & ((k - k.round()).abs() <= tol)


class DiscretizedLogistic(Distribution):
    r"""Discretised logistic distribution on the n-bit grid of [low, high], one value per element.

    The batch shape is the broadcast shape of ``loc`` and ``scale`` and the event shape is ``()``;
    wrap it in :class:`lae.distributions.base.Independent` to sum over pixels.

    ``log_prob`` checks nothing (it runs in every training step): a value off the grid gets the
    log-mass of the nearest grid value's bin. Use :meth:`check_support` to validate data once.

    The ``mean`` is ``loc`` clamped to [low, high], not the exact mean of the discretised
    distribution (which the edge bins pull towards the middle of the range); the two agree when
    ``loc`` lies inside the range a few scales away from its ends. It is what sample grids show.

    Arguments:
        loc: location :math:`\mu`, any shape.
        scale: scale :math:`s > 0`, broadcastable with ``loc``.
        low, high: the data range; the grid includes both ends.
        n_bits: bits per value, :math:`K = 2^{n\_bits}` values.

    Example:
        >>> import torch
        >>> d = DiscretizedLogistic(torch.tensor([0.3]), torch.tensor([0.05]))
        >>> p = d.log_prob(d.support_values()[:, None]).exp()
        >>> round(p.sum().item(), 5)
        1.0
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    has_rsample = False

    def __init__(
        self,
        loc: Tensor,
        scale: Tensor | float,
        low: float = 0.0,
        high: float = 1.0,
        n_bits: int = 8,
        validate_args: bool | None = False,
    ):
        # the scale before broadcasting (one number, or per pixel): what the bins' log-width
        # term of log_prob needs, computed once per distribution rather than per pixel
        self._scale = scale
        self.loc, self.scale = broadcast_all(loc, scale)
        self.low, self.high, self.n_bits = float(low), float(high), int(n_bits)
        self.bin_width, self.n_values = grid(self.low, self.high, self.n_bits)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        # The grid is discrete; its hull is the closest stock constraint.
        return constraints.interval(self.low, self.high)

    def expand(self, batch_shape: SampleShape, _instance=None) -> DiscretizedLogistic:
        new = self._get_checked_instance(DiscretizedLogistic, _instance)
        batch_shape = torch.Size(batch_shape)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        new._scale = self._scale
        new.low, new.high, new.n_bits = self.low, self.high, self.n_bits
        new.bin_width, new.n_values = self.bin_width, self.n_values
        super(DiscretizedLogistic, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.loc.clamp(self.low, self.high)

    def log_prob(self, value: Tensor) -> Tensor:
        """Log-mass of each element of ``value`` (no summation), in nats.

        ``value`` is snapped to the nearest grid index, so there is no gradient with respect to
        it (the data are discrete).
        """
        # Bin edges from the integer index k, so that bin k's upper edge and bin k+1's lower edge
        # are the same float: the masses then telescope to 1 even when the scale is below the
        # float resolution of x - mu (x +- h - mu computed from x would not).
        # (k + 0.5 and (k + 1) - 0.5 are the same float for integer k, so are the edges.)
        k = ((value - self.low) / self.bin_width).round()
        inv_scale = self.scale.reciprocal()
        offset = self.low - self.loc
        a = ((k + 0.5) * self.bin_width + offset) * inv_scale
        b = ((k - 0.5) * self.bin_width + offset) * inv_scale
        log_cdf_plus = -F.softplus(-a)  # log sigma(a)
        log_sf_min = -F.softplus(b)  # log (1 - sigma(b))
        # log(1 - exp(-(a - b))) with a - b = Delta / s: a function of the scale alone
        scale = self._scale if isinstance(self._scale, Tensor) else torch.tensor(self._scale)
        log_width = torch.log(-torch.expm1(-self.bin_width / scale))
        interior = log_cdf_plus + log_sf_min + log_width
        return torch.where(
            k <= 0, log_cdf_plus, torch.where(k >= self.n_values - 1, log_sf_min, interior)
        )

    def sample(
        self, sample_shape: SampleShape = (), generator: torch.Generator | None = None
    ) -> Tensor:
        """Exact sample: a logistic draw rounded to the nearest grid value (edges clamped)."""
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            tiny = torch.finfo(self.loc.dtype).eps
            u = torch.rand(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
            u = u.clamp(tiny, 1.0 - tiny)  # keep the logit finite
            y = self.loc + self.scale * (torch.log(u) - torch.log1p(-u))
            k = ((y - self.low) / self.bin_width).round().clamp(0, self.n_values - 1)
            return self.low + k * self.bin_width

    def entropy(self) -> Tensor:
        """Not implemented in closed form; estimate it from samples if needed."""
        raise NotImplementedError("the discretised logistic has no closed-form entropy")

    def support_values(self) -> Tensor:
        """All :math:`K` grid values :math:`x_k`, shape [K], on the device and dtype of ``loc``."""
        k = torch.arange(self.n_values, dtype=self.loc.dtype, device=self.loc.device)
        return self.low + k * self.bin_width

    def check_support(self, x: Tensor) -> Tensor:
        """Elementwise bool: ``x`` is a grid value (see :func:`on_grid`)."""
        return on_grid(x, self.low, self.high, self.n_bits)
