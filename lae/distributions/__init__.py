"""Likelihoods p(x | z) and priors p(z), as modules returning `torch.distributions` objects.

Log densities are in nats and summed over event dimensions: ``log_prob`` returns one value per
example, shape [B].
"""

from lae.distributions.base import Bernoulli, Independent, Normal, independent
from lae.distributions.likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
    Likelihood,
    build_likelihood,
)
from lae.distributions.linear_gaussian import LinearGaussian
from lae.distributions.logistic import DiscretizedLogistic, on_grid
from lae.distributions.priors import StandardNormalPrior

__all__ = [
    "LIKELIHOODS",
    "Bernoulli",
    "BernoulliLikelihood",
    "DiscretizedLogistic",
    "DiscretizedLogisticLikelihood",
    "GaussianLikelihood",
    "Independent",
    "Likelihood",
    "LinearGaussian",
    "Normal",
    "StandardNormalPrior",
    "build_likelihood",
    "independent",
    "on_grid",
]
