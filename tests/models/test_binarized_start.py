"""A VAE on binarised MNIST must start learning from the first epoch (not sit collapsed).

Before the fix the decoder's output bias started at logit 0, p = 0.5 for every pixel, about 560
nats per image; the first steps went into learning the mean image while the KL term pulled
q(z|x) onto the prior, and ``vae-mnist5k-mlp --data.binarize=dynamic
--model.likelihood=bernoulli`` sat at the mean image's 207.6 nats, KL ~0.1 nats and no active
unit, for up to 8 epochs. Now the trainer starts every Bernoulli decoder's output bias at the
logit of the mean training pixel (``LatentModel.init_from_data``); see docs/models.md, "Binarised
MNIST: why the VAE started collapsed, and the fix". Both tests build the model through the
``Trainer``, as ``lae train`` does, on the bundled MNIST-5k (no download), in a few seconds.
"""

from __future__ import annotations

import torch

from lae.train import Trainer, load_config

BINARISED = ["data.binarize=dynamic", "model.likelihood=bernoulli", "train.progress=false",
             "train.seed=0"]


def trainer(tmp_path, *overrides: str) -> Trainer:
    cfg = load_config("vae-mnist5k-mlp", [*BINARISED, *overrides])
    return Trainer(cfg, tmp_path / "run")


def test_untrained_bernoulli_decoder_predicts_the_mean_image(tmp_path):
    # An untrained model, z ~ p(z): its mean image should be the training mean and its test NLL
    # that of the per-pixel-marginal model, 206.8 nats on this data. Measured: 212.5 nats and a
    # mean absolute pixel error of 0.02 (what is left is the random output weights' spread);
    # without the initialisation 560.7 nats and 0.37 (every pixel p = 0.5, i.e. 784 ln 2 = 543
    # nats plus that spread). The thresholds sit far from both.
    tr = trainer(tmp_path)
    model, x_test = tr.model, tr.splits.test.to(tr.device)  # where the trainer put the model
    with torch.no_grad():
        z = model.prior.sample(x_test.shape[0],
                               generator=torch.Generator(tr.device).manual_seed(0))
        nll = -model.log_likelihood(x_test, z).mean().item()
        mean_image = model.decode(z).mean.mean(0).cpu()
    assert nll < 260, nll
    assert (mean_image - tr.splits.train.mean(0)).abs().mean().item() < 0.1


def test_latents_are_used_after_one_epoch(tmp_path):
    # One epoch (45 steps of 100 images) of a smaller copy of the preset's MLP (3 x 256, the
    # same depth, LayerNorm and latent dim 8), then KL(q(z|x) || p(z)) and the active units
    # (Cov_x E_q[z_j] > 0.01, Burda et al. 2016) on the 500 test images. Measured over seeds
    # 0-2: with the initialisation KL 2.4-3.0 nats and 8 of 8 units active; without it KL
    # 0.04-0.07 nats and 0 units (the collapsed start). Thresholds: KL > 1 nat, >= 4 units.
    tr = trainer(tmp_path, "model.net.hidden=256")
    tr.train_epoch(1)
    with torch.no_grad():
        q = tr.model.proposal(tr.splits.test.to(tr.device))
        mu, sd = q.mean, q.base_dist.scale
        kl = (0.5 * (mu**2 + sd**2 - 1) - sd.log()).sum(1).mean().item()
        active = int((mu.var(0) > 0.01).sum())
    assert kl > 1.0, kl
    assert active >= 4, active
