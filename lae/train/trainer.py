"""One trainer for every model.

The model returns named losses from ``training_step``; each name has its own optimiser
(``train.optimizer``: Adam or SGD) over the parameters ``model.loss_parameters()`` assigns to
it. Per epoch the trainer scores the test split, draws a sample grid and reconstructions,
redraws the loss curves and writes a checkpoint
(``epoch_NNNN.pt`` and ``last.pt``). ``resume=True`` continues from ``last.pt`` exactly: model,
optimisers, step counters and random streams are restored.

Example (a few seconds on a CPU)::

    >>> from pathlib import Path; import tempfile
    >>> from lae.train import Trainer, load_config
    >>> cfg = load_config("vae-toy2d", ["train.epochs=1", "train.progress=false"])
    >>> summary = Trainer(cfg, Path(tempfile.mkdtemp()) / "run").fit()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from lae.data import BatchLoader, DataSplits, evenly_spaced, load_dataset
from lae.errors import ConfigError, LaeError
from lae.eval.metrics import METRICS, EvalSettings, evaluate
from lae.eval.plots import save_loss_curves, save_model_samples, save_reconstructions
from lae.models import DataSpec, LatentModel, build_model
from lae.train.checkpoint import find_checkpoint, load_checkpoint, prepare_run_dir, save_checkpoint
from lae.train.config import Config, save_config

EPOCH_METRICS = ["elbo", "iwae", "mse"]  # those that do not apply to a model are skipped


class TrainingDiverged(LaeError):
    """A loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else is passed to torch.device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: {name!r} is not a device; use auto, cpu, cuda, "
                          "cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda was asked for but torch sees no CUDA device")
    return device


OPTIMIZERS = {  # train.optimizer -> (parameters, TrainConfig) -> optimiser
    "adam": lambda params, tc: torch.optim.Adam(params, lr=tc.lr, betas=tuple(tc.adam_betas)),
    "sgd": lambda params, tc: torch.optim.SGD(params, lr=tc.lr),
}


def data_spec(splits: DataSplits) -> DataSpec:
    return DataSpec(shape=tuple(splits.shape), value_range=tuple(splits.value_range),
                    n_bits=splits.n_bits, binary=splits.binarize != "none",
                    n_train=int(splits.train.shape[0]))


class Trainer:
    """Train ``cfg.model`` on ``cfg.data`` into ``run_dir``.

    Args:
        cfg: the resolved run config (saved as ``run_dir/config.yaml``).
        run_dir: output folder; must be new or empty unless ``resume`` or ``overwrite``.
        resume: continue the run in ``run_dir`` from ``checkpoints/last.pt``.
        overwrite: delete an existing run in ``run_dir`` first.
    """

    def __init__(self, cfg: Config, run_dir: Path, *, resume: bool = False,
                 overwrite: bool = False) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        tc = cfg.train
        if tc.optimizer not in OPTIMIZERS:  # before anything is written
            raise ConfigError(f"train.optimizer: expected one of {sorted(OPTIMIZERS)}, got "
                              f"{tc.optimizer!r}")
        checkpoint = None
        if resume:
            prepare_run_dir(self.run_dir, resume=True, overwrite=False)
            checkpoint = load_checkpoint(find_checkpoint(self.run_dir, "last"))
        if tc.num_threads > 0:
            torch.set_num_threads(tc.num_threads)
        torch.manual_seed(tc.seed)
        self.device = resolve_device(tc.device)
        # Data first: a missing or corrupt dataset must fail before the run dir is touched.
        self.splits = load_dataset(cfg.data)
        if not resume:
            prepare_run_dir(self.run_dir, resume=False, overwrite=overwrite)
        self.spec = data_spec(self.splits)
        self.model: LatentModel = build_model(cfg.model, self.spec).to(self.device)
        self.param_groups = self.model.loss_parameters()
        self.optimizers = {name: OPTIMIZERS[tc.optimizer](params, tc)
                           for name, params in self.param_groups.items()}
        self.generator = torch.Generator().manual_seed(tc.seed)  # shuffling, binarisation
        n_train = self.splits.train.shape[0]
        # The loader yields each batch's row indices with it (for per-example model state).
        self.loader = BatchLoader(self.splits.train, torch.arange(n_train), tc.batch_size,
                                  shuffle=True,
                                  drop_last=self.splits.train.shape[0] > tc.batch_size,
                                  dynamic_binarize=self.splits.binarize == "dynamic",
                                  generator=self.generator, device=self.device)
        # Evenly spaced test examples: some test splits are sorted by class.
        self.x_eval = evenly_spaced(self.splits.test, tc.eval_size)
        self.x_recon = evenly_spaced(self.splits.test, 32)
        self.epoch, self.step = 0, 0
        self.metrics_path = self.run_dir / "metrics.jsonl"
        if checkpoint is not None:
            self._restore(checkpoint)
        save_config(cfg, self.run_dir / "config.yaml")
        self.writer = self._tensorboard() if tc.tensorboard else None

    # -- the loop --------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train until ``train.epochs``; returns the last test record."""
        record: dict[str, Any] = {}
        for epoch in range(self.epoch + 1, self.cfg.train.epochs + 1):
            self.train_epoch(epoch)
            record = self.end_of_epoch(epoch)
        if self.writer is not None:
            self.writer.close()
        return record

    def train_epoch(self, epoch: int) -> None:
        tc = self.cfg.train
        self.model.train()
        sums: dict[str, torch.Tensor] = defaultdict(lambda: torch.zeros((), device=self.device))
        n_images, n_steps, t0 = 0, 0, time.perf_counter()
        # disable=None: a bar on a terminal, none in a log file (the epoch lines still print)
        bar = tqdm(self.loader, desc=f"epoch {epoch}/{tc.epochs}",
                   disable=None if tc.progress else True, leave=False, dynamic_ncols=True)
        for x, index in bar:
            out = self.model.training_step(x, index)
            self._apply(out.losses)
            self.step += 1
            for key, value in {**out.losses, **out.metrics}.items():
                sums[key] += torch.as_tensor(value, device=self.device).detach()
            n_images += x.shape[0]
            n_steps += 1
            if self.step % tc.log_every == 0:
                elapsed = time.perf_counter() - t0
                rec = {k: v.item() / n_steps for k, v in sums.items()}
                self._check_finite(rec, epoch)
                rec["images_per_s"] = n_images / max(elapsed, 1e-9)
                self._log({"split": "train", "epoch": epoch, "step": self.step, **rec})
                bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k in out.losses
                                 or k == "images_per_s"})
                sums.clear()
                n_images, n_steps, t0 = 0, 0, time.perf_counter()

    def _apply(self, losses: dict[str, torch.Tensor]) -> None:
        """One optimiser step per named loss, each on its own parameter group."""
        unknown = set(losses) - set(self.optimizers)
        if unknown:
            raise KeyError(f"model returned losses {sorted(unknown)} that loss_parameters() does "
                           f"not map to parameters (it maps {sorted(self.optimizers)})")
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        names = list(losses)
        for i, name in enumerate(names):
            params = self.param_groups[name]
            grads = torch.autograd.grad(losses[name], params, retain_graph=i < len(names) - 1,
                                        allow_unused=True)
            for p, g in zip(params, grads):
                p.grad = g
            if self.cfg.train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, self.cfg.train.grad_clip)
        for name in names:
            self.optimizers[name].step()

    def end_of_epoch(self, epoch: int) -> dict[str, Any]:
        tc = self.cfg.train
        self.epoch = epoch
        names = [m for m in EPOCH_METRICS if m in METRICS]
        settings = EvalSettings(k=tc.eval_k, elbo_samples=1, batch_size=tc.eval_batch_size,
                                seed=tc.seed)
        results = evaluate(self.model, self.x_eval, names, settings)
        record = {"split": "test", "epoch": epoch, "step": self.step,
                  **{k: v["value"] for k, v in results["metrics"].items()}}
        self._check_finite(record, epoch)
        self._log(record)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in record.items()
                          if k not in ("split", "epoch", "step"))
        tqdm.write(f"epoch {epoch}/{tc.epochs} step {self.step}: test {shown}")
        sys.stdout.flush()  # one line per epoch reaches a log file as it happens
        self.model.eval()
        reference = None if self.spec.is_image else self.splits.test[:2000]
        save_model_samples(self.model, tc.n_samples, self.run_dir / "samples" /
                           f"samples_{epoch:04d}.png", seed=tc.seed, reference=reference)
        save_reconstructions(self.model, self.x_recon.to(self.device),
                             self.run_dir / "samples" / f"recon_{epoch:04d}.png")
        save_loss_curves(self.metrics_path, self.run_dir / "plots" / "loss.png")
        save_checkpoint(self.run_dir, self._state(), epoch, tc.keep_checkpoints)
        return record

    # -- state -----------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(),
            "data_spec": self.spec.__dict__,
            "model": self.model.state_dict(),
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "epoch": self.epoch,
            "step": self.step,
            "rng": {"torch": torch.get_rng_state(), "data": self.generator.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        self.epoch, self.step = ckpt["epoch"], ckpt["step"]
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.generator.set_state(ckpt["rng"]["data"])
        if ckpt["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        # Records written after the checkpoint (by a run that then died) would be repeated.
        if self.metrics_path.is_file():
            kept = [line for line in self.metrics_path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= self.step]
            self.metrics_path.write_text("".join(line + "\n" for line in kept))

    # -- logging ---------------------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "epoch"):
                    self.writer.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def _check_finite(self, record: dict[str, Any], epoch: int) -> None:
        bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"{', '.join(bad)} became non-finite at step {self.step} (epoch {epoch}); the last "
                f"good checkpoint is {self.run_dir / 'checkpoints' / 'last.pt'} if any. Try a "
                "smaller train.lr or train.grad_clip > 0.")

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                              "pip install 'lae[tensorboard]'") from None
        return SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
