"""Likelihoods p(x | z) and priors p(z), as modules returning `torch.distributions` objects.

Log densities are in nats and summed over event dimensions: ``log_prob`` returns one value per
example, shape [B].
"""

from lae.distributions.base import (
    Bernoulli,
    Independent,
    Normal,
    independent,
    rsample_and_log_prob,
)
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
from lae.distributions.priors import (
    PRIORS,
    FlowPrior,
    LatentEBMPrior,
    NormalPrior,
    Prior,
    StandardNormalPrior,
    build_prior,
)

__all__ = [
    "LIKELIHOODS",
    "PRIORS",
    "Prior",
    "Bernoulli",
    "BernoulliLikelihood",
    "DiscretizedLogistic",
    "DiscretizedLogisticLikelihood",
    "FlowPrior",
    "GaussianLikelihood",
    "Independent",
    "LatentEBMPrior",
    "Likelihood",
    "LinearGaussian",
    "Normal",
    "NormalPrior",
    "StandardNormalPrior",
    "build_likelihood",
    "build_prior",
    "independent",
    "on_grid",
    "rsample_and_log_prob",
]
