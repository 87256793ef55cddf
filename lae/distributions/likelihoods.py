r"""Likelihoods :math:`p(x \mid z)`: modules mapping decoder outputs to distributions over data.

A likelihood module owns its learned parameters (a log-scale) and its normalising constants.
``likelihood(params)`` takes the decoder output of shape [B, *event_shape] and returns a
distribution whose ``log_prob(x)`` is in nats, **summed** over the event (pixel) dimensions,
shape [B]; its ``mean`` is what sample grids show and ``sample(generator=...)`` draws data.
Per-pixel terms (for a masked likelihood) are ``dist.base_dist.log_prob(x)``.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from lae.argtypes import NumberRangeError, decimal_number
from lae.distributions.base import Bernoulli, Independent, Normal, independent
from lae.distributions.logistic import DiscretizedLogistic, on_grid
from lae.errors import ConfigError


def _event_shape(event_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(event_shape)
    if not shape or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ConfigError(f"event_shape must be a non-empty tuple of positive ints, got {shape!r}")
    return shape


class Likelihood(nn.Module):
    """Base class: holds ``event_shape`` and checks the trailing shape of the parameters.
    ``discrete`` says whether ``log_prob`` is the log of a probability mass (then bits per
    dimension mean what they say) or of a density."""

    discrete: ClassVar[bool] = False

    def __init__(self, event_shape: Sequence[int]):
        super().__init__()
        self.event_shape = _event_shape(event_shape)

    def _check_params(self, params: Tensor) -> None:
        # A tuple comparison, cheap enough for the hot path; a wrong decoder shape would otherwise
        # broadcast silently against the data.
        n = len(self.event_shape)
        if tuple(params.shape[params.dim() - n :]) != self.event_shape or params.dim() < n:
            raise ValueError(
                f"{type(self).__name__} expects parameters of shape [..., *{self.event_shape}], "
                f"got {tuple(params.shape)}"
            )

    def forward(self, params: Tensor) -> Independent:
        """Distribution of ``x`` given the decoder output ``params`` [B, *event_shape]."""
        self._check_params(params)
        return independent(self._base(params), len(self.event_shape))

    def _base(self, params: Tensor) -> torch.distributions.Distribution:
        raise NotImplementedError

    def check_support(self, x: Tensor) -> Tensor:
        """Elementwise bool: whether each value of ``x`` is in the support. For data validation."""
        raise NotImplementedError

    def params_for_mean(self, mean: Tensor) -> Tensor | None:
        """Decoder output that gives ``p(x | z)`` the mean ``mean`` (any shape), used to start the
        decoder's output bias at the data's mean (:meth:`lae.models.LatentModel.init_from_data`);
        ``None``: this likelihood keeps the decoder's default initialisation."""
        return None

    def extra_repr(self) -> str:
        return f"event_shape={self.event_shape}"


class BernoulliLikelihood(Likelihood):
    r"""Bernoulli likelihood for binary data, :math:`x \in \{0, 1\}`, parameterised by logits.

    .. math:: \log p(x \mid \ell) = \sum_i x_i \ell_i - \mathrm{softplus}(\ell_i).

    Example:
        >>> import torch
        >>> lik = BernoulliLikelihood((1, 2, 2))
        >>> lik(torch.zeros(3, 1, 2, 2)).log_prob(torch.ones(3, 1, 2, 2)).shape
        torch.Size([3])
    """

    discrete = True  # a probability mass

    def _base(self, params: Tensor) -> Bernoulli:
        return Bernoulli(logits=params, validate_args=False)

    def check_support(self, x: Tensor) -> Tensor:
        return (x == 0) | (x == 1)

    #: Pixel means are clipped to [eps, 1 - eps] before the logit: pixels that are 0 in every
    #: training image (MNIST's border) would otherwise start at logit -inf. 1e-3 gives logits in
    #: [-6.9, 6.9], as in Burda et al.'s IWAE code.
    MEAN_EPS = 1e-3

    def params_for_mean(self, mean: Tensor) -> Tensor:
        r"""Logits of the (clipped) means, :math:`\log \frac{m}{1 - m}`.

        A decoder whose output bias starts here predicts the data's mean image for every z, the
        best z-independent model, so training does not have to spend its first steps (and the
        encoder its information) on getting from p = 0.5 to the mean; see docs/models.md,
        "Binarised MNIST: why the VAE started collapsed, and the fix".

        Example:
            >>> lik = BernoulliLikelihood((3,))
            >>> lik.params_for_mean(torch.tensor([0.5, 0.0, 1.0]))
            tensor([ 0.0000, -6.9068,  6.9068])
        """
        return torch.logit(mean.clamp(self.MEAN_EPS, 1 - self.MEAN_EPS))


class _ScaledLikelihood(Likelihood):
    r"""A likelihood with scale :math:`s = s_{\min} + \exp(\log s)`.

    :math:`\log s` is a parameter (if learned) or a buffer, a scalar or one per event element.
    The floor :math:`s_{\min}` keeps a learned scale from collapsing while its gradient stays
    alive (a clamp would stop it).
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        init_scale: float,
        learn_scale: bool,
        per_dim: bool,
        min_scale: float,
        init_name: str = "the initial scale",
    ):
        super().__init__(event_shape)
        for name, flag in (("learn_scale", learn_scale), ("per_dim", per_dim)):
            if not isinstance(flag, bool):  # 5 would be read as true
                raise ConfigError(f"{name}: expected true or false, got {flag!r}")
        if not 0 <= min_scale < math.inf:
            raise ConfigError(f"min_scale must be a finite number >= 0, got {min_scale}")
        if not math.isfinite(init_scale):
            raise ConfigError(f"{init_name} must be a finite number, got {init_scale}")
        if init_scale <= min_scale:
            raise ConfigError(f"{init_name} ({init_scale:g}) must exceed min_scale "
                              f"({min_scale:g})")
        if per_dim and not learn_scale:
            raise ConfigError("per_dim=True needs learn_scale=True (a fixed scale is one number)")
        shape = self.event_shape if per_dim else ()
        log_scale = torch.full(shape, math.log(init_scale - min_scale))
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.min_scale = float(min_scale)
        self.learn_scale, self.per_dim = learn_scale, per_dim

    @property
    def scale(self) -> Tensor:
        """The scale :math:`s`, shape () or event_shape."""
        return self.min_scale + self.log_scale.exp()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, learn_scale={self.learn_scale}, per_dim={self.per_dim}, "
            f"min_scale={self.min_scale}"
        )


class GaussianLikelihood(_ScaledLikelihood):
    r"""Gaussian likelihood with mean = decoder output and a fixed or learned scale.

    .. math:: \log p(x \mid \mu) = \sum_i -\frac{(x_i - \mu_i)^2}{2 s_i^2} - \log s_i
              - \tfrac12 \log 2\pi.

    Arguments:
        event_shape: shape of one data point, e.g. (C, H, W) or (2,).
        sigma: the fixed scale, or the initial one if learned.
        learn_scale: learn :math:`\log s` (one scalar, or per element if ``per_dim``).
        per_dim: one learned scale per event element.
        min_scale: floor :math:`s_{\min}` of the scale, :math:`s = s_{\min} + e^{\log s}`.
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        sigma: float = 1.0,
        learn_scale: bool = False,
        per_dim: bool = False,
        min_scale: float = 0.0,
    ):
        super().__init__(event_shape, sigma, learn_scale, per_dim, min_scale, init_name="sigma")

    def _base(self, params: Tensor) -> Normal:
        return Normal(params, self.scale, validate_args=False)

    def check_support(self, x: Tensor) -> Tensor:
        return torch.isfinite(x)


class DiscretizedLogisticLikelihood(_ScaledLikelihood):
    r"""Discretised logistic likelihood for n-bit data (PixelCNN++), location = decoder output.

    See :class:`lae.distributions.logistic.DiscretizedLogistic` for the maths. The scale is
    learned by default, one scalar as in the authors' Langevin autoencoder code (``per_dim`` for
    one per pixel). Report bits/dim as ``-log_prob / (D ln 2)``.

    Arguments:
        event_shape: shape of one data point, e.g. (C, H, W).
        value_range: (low, high) of the data; the grid has :math:`2^{n\_bits}` values, both ends
            included (e.g. ``k / 255`` for (0, 1)).
        n_bits: bits per value.
        init_log_scale: initial :math:`\log(s - s_{\min})`, in data units; default
            :math:`\log(0.05 (u - l))`. A scale near the range (e.g. 1 on [0, 1]) makes every
            pixel almost uniform and Adam then needs thousands of steps to shrink it.
        per_dim: one learned scale per event element.
        learn_scale: learn the scale (default) or keep it fixed.
        min_scale: floor :math:`s_{\min}` of the scale. Not needed for stability (the masses are
            at most 1 for any scale), only to cap the likelihood of constant pixels.
    """

    discrete = True  # a probability mass

    def __init__(
        self,
        event_shape: Sequence[int],
        value_range: tuple[float, float] = (0.0, 1.0),
        n_bits: int = 8,
        init_log_scale: float | None = None,
        per_dim: bool = False,
        learn_scale: bool = True,
        min_scale: float = 0.0,
    ):
        low, high = (float(v) for v in value_range)
        if init_log_scale is None:
            init_log_scale = math.log(0.05 * (high - low)) if high > low else 0.0
        if not -50 <= init_log_scale <= 50:  # exp() of it is the scale: beyond, 0 or overflow
            raise ConfigError(f"model.likelihood_options.init_log_scale must be a number in "
                              f"[-50, 50] (the log of the initial scale above min_scale, in data "
                              f"units), got {init_log_scale}")
        super().__init__(
            event_shape, min_scale + math.exp(init_log_scale), learn_scale, per_dim, min_scale,
            init_name="min_scale + exp(init_log_scale)"
        )
        if not low < high:
            raise ConfigError(f"value_range must be (low, high) with low < high, got {value_range}")
        if not isinstance(n_bits, int) or isinstance(n_bits, bool) or not 1 <= n_bits <= 16:
            raise ConfigError(f"n_bits must be an int in 1..16, got {n_bits!r}")
        self.low, self.high, self.n_bits = low, high, n_bits

    def _base(self, params: Tensor) -> DiscretizedLogistic:
        return DiscretizedLogistic(params, self.scale, self.low, self.high, self.n_bits)

    def check_support(self, x: Tensor) -> Tensor:
        return on_grid(x, self.low, self.high, self.n_bits)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, value_range=({self.low}, {self.high}), n_bits={self.n_bits}"
        )


#: Likelihoods by config name.
LIKELIHOODS: dict[str, type[Likelihood]] = {
    "bernoulli": BernoulliLikelihood,
    "gaussian": GaussianLikelihood,
    "logistic": DiscretizedLogisticLikelihood,
}

# Arguments that build_likelihood fills from the data description, not from user options.
_DATA_ARGS = ("event_shape", "value_range", "n_bits")


def _option_number(key: str, value: object, none_ok: bool = False) -> float | None:
    """``model.likelihood_options.<key>`` as a float (:func:`lae.argtypes.decimal_number`)."""
    if value is None and none_ok:
        return None
    try:
        number = decimal_number(value)
    except NumberRangeError as exc:
        raise ConfigError(f"model.likelihood_options.{key}: {value!r} is {exc}") from None
    if number is None:
        raise ConfigError(f"model.likelihood_options.{key}: expected a number, got {value!r}")
    return number


def build_likelihood(
    name: str,
    event_shape: Sequence[int],
    value_range: tuple[float, float] = (0.0, 1.0),
    n_bits: int | None = 8,
    **options: object,
) -> Likelihood:
    """Build the likelihood ``name`` for data of shape ``event_shape``.

    Arguments:
        name: one of :data:`LIKELIHOODS` (``"bernoulli"``, ``"gaussian"``, ``"logistic"``).
        event_shape: shape of one data point.
        value_range: (low, high) of the data. Passed to likelihoods that use it.
        n_bits: bits per value for discrete data, ``None`` for continuous data.
        options: the remaining constructor arguments of the class, e.g. ``sigma=0.1``.

    Raises:
        ConfigError: unknown name or option; ``"logistic"`` for continuous data (``n_bits=None``);
            ``"bernoulli"`` for data whose range is not (0, 1).

    Example:
        >>> lik = build_likelihood("gaussian", (2,), sigma=0.1, learn_scale=True)
        >>> round(lik.scale.item(), 6)
        0.1
    """
    if name not in LIKELIHOODS:
        raise ConfigError(f"likelihood {name!r} is unknown; choices are {sorted(LIKELIHOODS)}")
    cls = LIKELIHOODS[name]
    params = inspect.signature(cls).parameters
    allowed = sorted(p for p in params if p not in _DATA_ARGS)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"likelihood {name!r} has no option(s) {unknown}; valid options are {allowed}"
        )
    if name == "bernoulli" and tuple(value_range) != (0.0, 1.0):
        raise ConfigError(
            f"likelihood 'bernoulli' needs binary data in {{0, 1}}, got value_range={value_range}"
        )
    for key, value in options.items():  # YAML 1.1 reads 1e-1 as text: numbers made numbers
        hint = str(params[key].annotation)
        if hint.startswith("float"):
            options[key] = _option_number(key, value, none_ok="None" in hint)
    kwargs: dict[str, object] = {"event_shape": event_shape}
    if "n_bits" in params:
        if n_bits is None:
            raise ConfigError(
                f"model.likelihood: {name!r} needs discrete 8-bit data, but these data are "
                "not 8-bit: continuous points, or images binarised by data.binarize; set "
                "model.likelihood: auto (picks by the data), bernoulli for binary images or "
                "gaussian for points (on the command line: --model.likelihood=auto)"
            )
        kwargs.update(value_range=value_range, n_bits=n_bits)
    try:
        return cls(**kwargs, **options)
    except ConfigError as exc:  # the class names its argument; the user wrote it as this key
        text = str(exc)
        if re.match(r"\w+", text) and re.match(r"\w+", text)[0] in options:
            raise ConfigError(f"model.likelihood_options.{text}") from None
        raise
