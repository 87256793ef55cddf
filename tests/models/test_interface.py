"""The model interface evaluation relies on, declared rather than probed: ``has_proposal`` says
whether ``proposal(x)`` gives a q(z|x) with a density, for every registered model."""

import pytest
import torch

from lae.models import MODELS, DataSpec, build_model
from lae.train import load_config


@pytest.mark.parametrize("name", sorted(MODELS))
def test_has_proposal_matches_what_proposal_does(name):
    cfg = load_config("vae-toy2d", [f"model.name={name}", "model.net.hidden=16"])
    model = build_model(cfg.model, DataSpec.points(2, n_train=8))
    x = torch.randn(5, 2)
    if model.has_proposal:
        q = model.proposal(x)
        assert q.log_prob(q.sample()).shape == (5,)
        assert isinstance(model.proposal_description, str) and model.proposal_description
    else:
        with pytest.raises(NotImplementedError, match="no proposal"):
            model.proposal(x)
