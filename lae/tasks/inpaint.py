r"""Inpainting: fill the missing values of x from the model, conditioning on the observed ones.

Protocol (every registered model; ``lae inpaint``):

1. the missing values are set to the middle of the data's range (the value is never used by the
   likelihood, only seen by an encoder), and the model's own inference gives a start
   z_0 = ``model.infer(x_observed)`` (an encoder's mean, the LAE's Phi g(x), a chain's state);
2. ``steps`` MALA transitions on the masked posterior, U(z) = -log p(z) - sum over observed values
   of log p(x_i | z) (``model.log_joint(x, z, mask)``), each chain's step size adapted toward
   57.4 % acceptance (``warmup``: all but the last ``steps // 4``, which run frozen);
3. the missing values are the decoder's mean at the last state; the observed ones are kept.

Scores (on [0, 1], whatever the data scale): the MSE per missing value, the PSNR of the missing
values, 10 log10(1 / MSE) per image, averaged over images, and the MSE of the decoder's mean on
the observed values (how well the model explains what it was shown). A whole-image MSE (what some
published code prints) would count the observed pixels, which the model copies, as solved.

Example:
    >>> import torch
    >>> from lae.models import MODELS, DataSpec, build_model
    >>> from lae.nn import NetConfig
    >>> cfg = MODELS["vae"].Config(latent_dim=2, likelihood="gaussian", net=NetConfig(hidden=8))
    >>> model = build_model(cfg, DataSpec.points(4))
    >>> x = torch.randn(3, 4)
    >>> mask = make_mask("pixels:0.5", (4,), 3, torch.Generator().manual_seed(0))
    >>> out = inpaint(model, x, mask, steps=8, generator=torch.Generator().manual_seed(1))
    >>> out.filled.shape, bool((out.filled[mask] == x[mask]).all())
    (torch.Size([3, 4]), True)
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from lae.data.masks import make_mask  # noqa: F401  (the doctest above uses it)
from lae.eval.plots import save_image_grid
from lae.models import LatentModel
from lae.samplers import MALA, StepSizeAdapter, run_chain
from lae.samplers.kernels import MALA_TARGET


class InpaintResult(NamedTuple):
    """What :func:`inpaint` returns; per-image values are [B]."""

    filled: Tensor  # [B, *shape], data scale: observed values kept, missing ones from the model
    z: Tensor  # [B, K], the masked posterior chain's last state
    mse_missing: Tensor  # [B], per missing value, on [0, 1]; NaN for an image missing none
    mse_observed: Tensor  # [B], the decoder's mean against the observed values, on [0, 1]; NaN
    # for an image with none observed
    psnr_missing: Tensor  # [B], dB, of the missing values; NaN for an image missing none
    acceptance: Tensor  # [B], the frozen steps' mean MALA acceptance
    moved: Tensor  # [B], how far each chain went from the inference's z (0: the fill is its)


@torch.no_grad()
def inpaint(model: LatentModel, x: Tensor, mask: Tensor, *, steps: int = 100,
            step_size: float = 0.01, generator: torch.Generator | None = None) -> InpaintResult:
    """Fill the values of x [B, *shape] where ``mask`` (bool, same shape) is False.

    Args:
        model: a trained model (any registered one).
        x: the data, on the model's device and data scale.
        mask: True where observed.
        steps: MALA transitions on the masked posterior (0: the model's inference alone).
        step_size: each chain's initial MALA step size (adapted).
        generator: every random draw (inference and the chains).
    """
    if mask.shape != x.shape:
        raise ValueError(f"mask has shape {tuple(mask.shape)}, x {tuple(x.shape)}: expected "
                         f"the same")
    mask = mask.to(x.device)
    x_obs = torch.where(mask, x, torch.full_like(x, model.fill_value))
    z = start = model.infer(x_obs, generator).detach()
    acceptance = torch.full((x.shape[0],), float("nan"), device=x.device)
    if steps > 0:
        energy_fn = lambda z: -model.log_joint(x_obs, z, mask)  # noqa: E731
        kernel = MALA(torch.full((x.shape[0],), step_size, dtype=z.dtype, device=z.device))
        frozen = max(1, steps // 4)
        with torch.enable_grad():
            state, _, info = run_chain(kernel, kernel.init(z, energy_fn), energy_fn, frozen,
                                       warmup=steps - frozen, adapt=StepSizeAdapter(MALA_TARGET),
                                       keep_trace=False, generator=generator,
                                       progress="inpaint")
        z, acceptance = state.z.detach(), info.acceptance.mean(0)
    mean = model.decode(z).mean
    filled = torch.where(mask, x, mean)
    missing = (~mask).flatten(1).float()
    err = (model.spec.to_unit(mean) - model.spec.to_unit(x)).pow(2).flatten(1)
    mse = (err * missing).sum(1) / missing.sum(1)  # 0 / 0 = NaN: no value to score
    mse_observed = (err * (1 - missing)).sum(1) / (1 - missing).sum(1)
    psnr = 10 * torch.log10(1 / mse.clamp_min(1e-10))
    moved = (z - start).flatten(1).norm(dim=1)
    return InpaintResult(filled, z, mse, mse_observed, psnr, acceptance, moved)


def save_inpainting_grid(model: LatentModel, x: Tensor, mask: Tensor, filled: Tensor,
                         path: Path, n: int = 8) -> Path | None:
    """A PNG of up to ``n`` images: observed (missing values grey), filled, truth, one row
    each. None for data that are not images."""
    if not model.spec.is_image:
        return None
    x, mask, filled = x[:n].cpu(), mask[:n].cpu(), filled[:n].cpu()
    observed = torch.where(mask, model.spec.to_unit(x), torch.full_like(x, 0.5))
    rows = torch.cat([observed, model.spec.to_unit(filled), model.spec.to_unit(x)])
    return save_image_grid(rows.clamp(0, 1), path, nrow=x.shape[0])
