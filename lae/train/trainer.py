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
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from lae.data import BatchLoader, evenly_spaced, load_dataset
from lae.errors import ConfigError, ModelDiverged
from lae.eval.metrics import METRICS, EvalSettings, evaluate
from lae.eval.plots import (
    read_metrics,
    save_loss_curves,
    save_model_samples,
    save_reconstructions,
    save_step_size_profile,
)
from lae.interrupts import interrupts_deferred, raise_if_requested
from lae.models import LatentModel, build_model
from lae.models.base import StepOutput
from lae.samplers import ChainReport
from lae.train import distributed
from lae.train.checkpoint import save_checkpoint
from lae.train.config import Config, save_config
from lae.train.distributed import Processes
from lae.train.guards import (
    DIAGNOSTICS,
    ChainStalled,
    ChainWatch,
    TrainingDiverged,
    divergence_report,
    looks_diverged,
    non_finite_keys,
    non_finite_losses,
)
from lae.train.resume import checkpoint_state, early_stopping_state, load_resumable, restore_state
from lae.train.rundir import BEST, CHECKPOINT_DIR, LAST, prepare_run_dir, record_data_digest
from lae.train.setup import (
    STOPPING_KEYS,
    batch_noise,
    build_optimizer,
    check_compiler,
    check_config,
    check_loss_groups,
    check_model_fits,
    data_spec,
    tensorboard_writer,
    threads_and_device,
    warn_wide_latent,
)

# those that do not apply to a model are skipped
EPOCH_METRICS = ["elbo", "iwae", "langevin-bound", "mse"]


def _is_max(key: str) -> bool:
    """Metrics named ``max_*`` (or ``.../max_*``) are reduced by their maximum over a logging
    window, the others by their mean."""
    return key.rsplit("/", 1)[-1].startswith("max_")


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
        # Everything that can be wrong with the config or the data fails before the run folder
        # is touched: options, then data, then the model and its optimisers.
        check_config(cfg)
        # several processes (torchrun, lae train --nproc): process 0 alone touches the run folder
        self.procs: Processes = distributed.processes_from_env()
        main = self.procs.is_main
        self.lock = None
        checkpoint = None
        if resume:
            if main:
                self.lock = prepare_run_dir(self.run_dir, resume=True, overwrite=overwrite)
            checkpoint = load_resumable(self.run_dir, cfg, self.procs.world_size)
        self.device = threads_and_device(tc, self.procs)
        torch.manual_seed(tc.seed)
        distributed.init_processes(self.procs, self.device)
        self.splits = load_dataset(cfg.data)
        self.spec = data_spec(self.splits)
        training_noise = batch_noise(cfg.data, self.splits)
        check_model_fits(cfg, self.spec, self.device)
        warn_wide_latent(cfg, self.spec)
        self.model: LatentModel = build_model(cfg.model, self.spec).to(self.device)
        if checkpoint is None:  # e.g. a Bernoulli decoder's output bias at the data's mean logit
            self.model.init_from_data(self.splits.train)
        if tc.compile:
            check_compiler(self.device)
            self.model.compile_log_joint(tc.compile_mode)
        self.param_groups = self.model.loss_parameters()
        check_loss_groups(self.model, self.param_groups)
        # each loss's learning rate: train.lr times the model's scale for it (default 1)
        self.lrs = {name: tc.lr * self.model.lr_scales().get(name, 1.0)
                    for name in self.param_groups}
        self.optimizers = {name: build_optimizer(tc.optimizer, params, tc, self.lrs[name],
                                                 self.device)
                           for name, params in self.param_groups.items()}
        # Device-side flags of non-finite losses and gradients, read on logging steps only (a
        # step whose loss or gradient is not finite is skipped on the device, see _apply).
        self.nonfinite: dict[tuple[str, ...], torch.Tensor] = {}
        make_writer = tensorboard_writer() if tc.tensorboard and main else None
        n_train = self.splits.train.shape[0]
        world = self.procs.world_size
        if self.procs.distributed and n_train < world * tc.batch_size:
            raise ConfigError(f"{n_train} training examples make no full global batch of "
                              f"{world} processes x train.batch_size={tc.batch_size}; lower "
                              "train.batch_size or the number of processes")
        if not self.procs.distributed and n_train < tc.batch_size and main:
            warnings.warn(f"train.batch_size={tc.batch_size} is more than the {n_train} training "
                          f"examples: every step trains on all {n_train}, one step per epoch",
                          stacklevel=2)
        # the same on every process: shuffling, binarisation
        self.generator = torch.Generator().manual_seed(tc.seed)
        # every random draw of the model's training steps (chain noise, q's samples, MH tests);
        # on several processes one stream per process, and the chains shared by the global
        # batch (the LAE's Phi) draw from chain_generator, seeded alike everywhere
        self.model_generator = torch.Generator(device=self.device).manual_seed(
            tc.seed + 1 + (((self.procs.rank + 1) << 32) if self.procs.distributed else 0))
        self.chain_generator = (torch.Generator(device=self.device).manual_seed(tc.seed + 1)
                                if self.procs.distributed else None)
        # The loader yields each batch's row indices with it (for per-example model state).
        self.loader = BatchLoader(self.splits.train, torch.arange(n_train), tc.batch_size,
                                  shuffle=True,  # several processes: full batches only
                                  drop_last=self.procs.distributed or n_train > tc.batch_size,
                                  dynamic_binarize=self.splits.binarize == "dynamic",
                                  perturb=training_noise,
                                  generator=self.generator, device=self.device,
                                  shard=(self.procs.rank, world))
        # Evenly spaced test examples: some test splits are sorted by class.
        self.x_eval = evenly_spaced(self.splits.test, tc.eval_size)
        self.x_val = evenly_spaced(self.splits.val, tc.eval_size) if tc.patience else None
        # early stopping: the best validation bound so far and its epoch
        self.best_epoch, self.best_value = 0, float("inf")
        self.x_recon = evenly_spaced(self.splits.test, 32)
        self.epoch, self.step = 0, 0
        self.train_seconds = 0.0  # wall-clock spent in training epochs (not in evaluation)
        self.chain_watch = ChainWatch(tc)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        if checkpoint is not None:
            restore_state(self, checkpoint)
        self.visited = None  # rows of the per-example buffers this process moved this epoch
        if self.procs.distributed:
            # averaged over the processes with the gradients: what the model adapts as it
            # trains (step sizes, normalisation statistics); per-example rows are merged per
            # epoch instead
            self.replicated_buffers = [b for name, b in self.model.named_buffers()
                                       if b.is_floating_point()
                                       and name not in self.model.per_example_buffers]
            # DDP's start: every process from process 0's parameters and buffers
            distributed.broadcast_([*self.model.parameters(), *self.model.buffers()])
            self.model.share_chains(distributed.all_reduce_sum, self.chain_generator,
                                    world * tc.batch_size)
            if self.model.per_example_buffers:
                self.visited = torch.zeros(n_train, dtype=torch.bool, device=self.device)
        if not resume and main:  # last: a setting only the processes can check fails first
            self.lock = prepare_run_dir(self.run_dir, resume=False, overwrite=overwrite)
        # a new run's config is written now; a resumed one's when it trains an epoch (a
        # resume that trains nothing leaves the run as it was)
        self.settings_recorded = False
        if not resume:
            self._record_settings()
        self.writer = make_writer(self.run_dir) if make_writer else None

    def _record_settings(self) -> None:
        """Write the run's config.yaml and the digest of its data (process 0); data changed
        since the run last trained are said."""
        if self.procs.is_main:
            save_config(self.cfg, self.run_dir / "config.yaml")
            before = record_data_digest(self.run_dir, self.splits.digest)
            if before is not None:  # resumed on other data: said, and the new data recorded
                warnings.warn(f"the training data changed since {self.run_dir} last trained "
                              f"(content digest {self.splits.digest}, was {before}): training "
                              f"goes on with the data as they are now", stacklevel=2)
        self.settings_recorded = True

    # -- the loop --------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train until ``train.epochs`` (or until ``train.patience`` epochs pass without a better
        validation bound); returns the last test record."""
        record: dict[str, Any] = {}
        tc = self.cfg.train
        if self.procs.distributed and self.procs.is_main:
            tqdm.write(f"training on {self.procs.world_size} processes: train.batch_size="
                       f"{tc.batch_size} per process, global batch "
                       f"{self.procs.world_size * tc.batch_size}")
        try:
            for epoch in range(self.epoch + 1, self.cfg.train.epochs + 1):
                # checked first: a resumed run may have stopped (said below, once)
                if self._patience_ran_out(announce=bool(record)):
                    break
                if not self.settings_recorded:
                    self._record_settings()
                self.train_epoch(epoch)
                record = self.end_of_epoch(epoch)
        finally:
            if self.procs.distributed:
                distributed.close_processes()
            if self.lock is not None:  # other processes may now resume the run
                self.lock.close()
        if self.writer is not None:
            self.writer.close()
        if not record:  # nothing trained (a resumed run already at its end): say why
            tests = [r for r in read_metrics(self.metrics_path) if r.get("split") == "test"]
            record = tests[-1] if tests else {}
            why = (f"it stopped early after epoch {self.epoch} ({self._early_stop_reason()}); "
                   f"raise train.patience to go on" if self.epoch < tc.epochs else
                   f"it has trained train.epochs={tc.epochs}; raise train.epochs to go on")
            if self.procs.is_main:
                tqdm.write(f"nothing to train: {why}")
        return record

    def train_epoch(self, epoch: int) -> None:
        tc = self.cfg.train
        self.model.train()
        sums: dict[str, Any] = {}
        n_images, n_steps, t0 = 0, 0, time.perf_counter()
        epoch_start = t0
        # disable=None: a bar on a terminal, none in a log file (the epoch lines still print)
        bar = tqdm(self.loader, desc=f"epoch {epoch}/{tc.epochs}",
                   disable=None if tc.progress and self.procs.is_main else True, leave=False,
                   dynamic_ncols=True)
        for x, index in bar:
            try:
                out = self.train_step(x, index)
            except ModelDiverged as exc:  # a model's own guard (e.g. exploding EBM energies)
                raise self._diverged(epoch, str(exc), x) from None
            except (torch.linalg.LinAlgError, ValueError, RuntimeError) as exc:
                # A factorisation or a distribution fails on non-finite values first (the SVD
                # of ALD's features, a Normal's argument check): that is divergence, reported
                # as such; any other error is a bug and keeps its traceback.
                if not looks_diverged(self.model, exc):
                    raise
                raise self._diverged(epoch, f"{type(exc).__name__}: {exc}", x) from None
            self.step += 1
            raise_if_requested()  # a stop whose KeyboardInterrupt a finalizer swallowed
            # Sums (maxima for max_* metrics) stay on the device: nothing here waits for the
            # step to finish.
            for key, value in out.logged().items():
                value = value.detach() if isinstance(value, torch.Tensor) else value
                if key not in sums:
                    sums[key] = value
                elif _is_max(key):
                    sums[key] = torch.maximum(torch.as_tensor(sums[key]), torch.as_tensor(value))
                else:
                    sums[key] = sums[key] + value
            if self.visited is not None:
                self.visited[index] = True
            n_images += x.shape[0] * self.procs.world_size  # the global batch
            n_steps += 1
            last_x = x
            if self.step % tc.log_every == 0:
                elapsed = time.perf_counter() - t0
                rec = self._checked_record(sums, n_steps, epoch, x)
                rec["images_per_s"] = n_images / max(elapsed, 1e-9)
                self._log({"split": "train", "epoch": epoch, "step": self.step, **rec})
                self._watch_chains(rec, out.chains, n_steps, epoch)
                for message in self.model.warnings(rec) if self.procs.is_main else ():
                    warnings.warn(message, stacklevel=1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k in out.losses
                                 or k == "images_per_s"})
                sums.clear()
                n_images, n_steps, t0 = 0, 0, time.perf_counter()
        if n_steps:  # steps since the last logging step: checked before the epoch's checkpoint
            rec = self._checked_record(sums, n_steps, epoch, last_x, diagnostics=False)
            # and watched: a chain stalled from step 1 of a short epoch counts every step
            self._watch_chains(rec, out.chains, n_steps, epoch)
        self.train_seconds += time.perf_counter() - epoch_start  # the check above synchronised

    def _checked_record(self, sums: dict[str, Any], n_steps: int, epoch: int, x: torch.Tensor,
                        diagnostics: bool = True) -> dict[str, float]:
        """The record of the last ``n_steps`` steps (means; maxima for ``max_*`` metrics), read
        from the device in one transfer, with the model's logging-step ``diagnostics`` on the
        batch x; stops the run if any of those steps had a non-finite loss or gradient, if a
        value is not finite, or if the model's guard (``check_record``) says it diverged."""
        self._raise_if_nonfinite(epoch, x)
        keys = list(sums)
        # stacked on the device, then one transfer (not one per metric)
        stacked = torch.stack([torch.as_tensor(sums[k], dtype=torch.float64, device=self.device)
                               for k in keys]) if keys else None
        if stacked is not None and self.procs.distributed:  # the record of every process's steps
            per_process = distributed.all_gather_rows(stacked)
            stacked = torch.where(torch.tensor([_is_max(k) for k in keys], device=self.device),
                                  per_process.amax(0), per_process.mean(0))
        values = stacked.cpu().tolist() if keys else []
        rec = {k: v if _is_max(k) else v / n_steps for k, v in zip(keys, values)}
        if diagnostics:
            rec |= {k: float(v) for k, v in self.model.diagnostics(x).items()}
        self._check_finite(rec, epoch, x)
        try:
            self.model.check_record(rec)
        except ModelDiverged as exc:
            raise self._diverged(epoch, str(exc), x) from None
        return rec

    def train_step(self, x: torch.Tensor, index: torch.Tensor | None = None) -> StepOutput:
        """One training step on the batch x [B, *shape] (rows ``index`` [B] of the training set):
        the model's ``training_step`` with the trainer's generator, then :meth:`_apply`. Reads
        nothing back from the device (what benchmarks time and profile)."""
        out = self.model.training_step(x, index, self.model_generator)
        self._apply(out.losses)
        return out

    def _apply(self, losses: dict[str, torch.Tensor]) -> None:
        """One optimiser step per named loss, each on its own parameter group, without waiting
        for the device. A non-finite loss or gradient in any group skips the whole step for
        every group (the fused optimisers' ``found_inf``, decided on the device), so the model
        stays finite; the flag is read on the next logging step or at the end of the epoch
        (:meth:`_raise_if_nonfinite`), which stops the run then."""
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
        if self.procs.distributed:  # the mean gradient of the global batch, one collective
            grads = [p.grad for name in names for p in self.param_groups[name]
                     if p.grad is not None]
            distributed.all_reduce_mean_(grads + self.replicated_buffers)
        values = []  # per group: its loss and its gradient norm
        for name in names:
            params = self.param_groups[name]
            present = [p.grad for p in params if p.grad is not None]
            if self.cfg.train.grad_clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.train.grad_clip,
                                                      foreach=True)
            else:
                norm = (torch.linalg.vector_norm(torch.stack(torch._foreach_norm(present)))
                        if present else losses[name].new_zeros(()))
            values += [losses[name].detach(), norm.to(losses[name].dtype)]
        bad = ~torch.isfinite(torch.stack(values))  # [2 * groups]: loss, gradient, ...
        key = tuple(names)
        self.nonfinite[key] = self.nonfinite[key] | bad if key in self.nonfinite else bad
        found_inf = bad.any().float()
        for name in names:
            opt = self.optimizers[name]
            if opt.defaults.get("fused"):
                opt.found_inf = found_inf.to(next(iter(self.param_groups[name])).device)
                opt.step()
            elif not bool(found_inf):  # an unfused optimiser: the one host read of the step
                opt.step()

    def _raise_if_nonfinite(self, epoch: int, x: torch.Tensor | None) -> None:
        """Stop the run if any step since the last check had a non-finite loss or gradient
        (those steps were skipped, so the parameters are still finite)."""
        if not self.nonfinite:
            return
        problems = non_finite_losses({names: bad.cpu().tolist()
                                      for names, bad in self.nonfinite.items()})
        self.nonfinite.clear()
        if problems:
            raise self._diverged(epoch, f"{', '.join(problems)} became non-finite (within the "
                                 f"last {self.cfg.train.log_every} steps; those steps were "
                                 "skipped)", x)

    def end_of_epoch(self, epoch: int) -> dict[str, Any]:
        """Score the test split, draw the pictures and write the checkpoint (process 0; the
        others first merge their per-example chains and random streams into it, then wait)."""
        tc = self.cfg.train
        self.epoch = epoch
        if self.procs.distributed:
            if self.visited is not None:  # each row from the process that moved it this epoch
                for name in self.model.per_example_buffers:
                    distributed.merge_rows_(self.model.get_buffer(name), self.visited)
                self.visited.zero_()
            state = checkpoint_state(self)  # every process's streams gathered (a collective)
            if not self.procs.is_main:
                distributed.barrier()  # until process 0 has written the checkpoint
                return {}
        else:
            state = None
        record = self._score(self.x_eval, "test", epoch)
        records = [record]  # logged with the checkpoint, below
        improved = False
        if self.x_val is not None:
            val = self._score(self.x_val, "val", epoch)
            key = next((k for k in STOPPING_KEYS if k in val), None)
            if key is None:
                raise ConfigError(f"train.patience={tc.patience}: {self.cfg.model.name} logs no "
                                  f"bound to stop on (one of {', '.join(STOPPING_KEYS)}); set "
                                  "train.eval_ais_temps (e.g. 100) for a per-epoch AIS NLL")
            improved = val[key] < self.best_value
            if improved:
                self.best_epoch, self.best_value = epoch, float(val[key])
            records.append({**val, "stopping_key": key, "best_epoch": self.best_epoch})
        shown = ", ".join(f"{k} {v:.4g}" for k, v in record.items()
                          if k not in ("split", "epoch", "step", "estimate"))
        estimate = ", ".join(f"{k} {v}" for k, v in record["estimate"].items())
        tqdm.write(f"epoch {epoch}/{tc.epochs} step {self.step}: test {shown} ({estimate})")
        sys.stdout.flush()  # one line per epoch reaches a log file as it happens
        self.model.eval()
        reference = None if self.spec.is_image else self.splits.test[:2000]
        save_model_samples(self.model, tc.n_samples, self.run_dir / "samples" /
                           f"samples_{epoch:04d}.png", seed=tc.seed, reference=reference)
        save_reconstructions(self.model, self.x_recon.to(self.device),
                             self.run_dir / "samples" / f"recon_{epoch:04d}.png")
        if state is not None:  # gathered before the validation split was scored
            state["early_stopping"] = early_stopping_state(self)
        # the epoch's records and its checkpoint land together: an interrupt between them left
        # records of an epoch no checkpoint holds (read as trained until a --resume)
        with interrupts_deferred():
            logged = self.metrics_path.stat().st_size if self.metrics_path.is_file() else 0
            try:
                for r in records:
                    self._log(r)
                save_checkpoint(self.run_dir, state or checkpoint_state(self), epoch,
                                tc.keep_checkpoints, best=improved)
            except BaseException:  # a full disk: the epoch's records go with its checkpoint
                if self.procs.is_main and self.metrics_path.is_file():
                    with self.metrics_path.open("r+") as f:
                        f.truncate(logged)
                raise
        save_loss_curves(self.metrics_path, self.run_dir / "plots" / "loss.png")
        save_step_size_profile(self.metrics_path, self.run_dir / "plots" / "step_sizes.png")
        if self.procs.distributed:
            distributed.barrier()
        return record

    def _score(self, x: torch.Tensor, split: str, epoch: int) -> dict[str, Any]:
        """The per-epoch record of split ``split`` (examples x): the bounds each model gives
        through its own inference (AIS too when ``train.eval_ais_temps``), and the MSE."""
        tc = self.cfg.train
        names = [m for m in EPOCH_METRICS if m in METRICS]
        if not self.model.proposal_is_inference:  # bounds through a hand-set q: not comparable
            names = [m for m in names if m not in ("elbo", "iwae")]
        if tc.eval_ais_temps:  # the one number that compares every model
            names.append("nll-ais")
        settings = EvalSettings(k=tc.eval_k, elbo_samples=1, batch_size=tc.eval_batch_size,
                                seed=tc.seed, ais_temps=max(tc.eval_ais_temps, 1),
                                ais_chains=tc.eval_ais_chains)
        results = evaluate(self.model, x, names, settings)
        # how the numbers were estimated, which --resume may change (train.eval_*): with them a
        # curve or a report can tell estimates apart
        scored = results["metrics"]  # a metric that does not apply is skipped: nothing read
        estimate = {"n_examples": int(x.shape[0]),
                    **({"k": tc.eval_k} if "nll_iwae_nats" in scored else {}),
                    **({"ais_chains": tc.eval_ais_chains, "ais_temps": tc.eval_ais_temps}
                       if "nll_ais_nats" in scored else {})}
        record = {"split": split, "epoch": epoch, "step": self.step,
                  "train_seconds": round(self.train_seconds, 3),
                  **{k: v["value"] for k, v in results["metrics"].items()},
                  "estimate": estimate}
        self._check_finite(record, epoch, None)
        return record

    def _patience_ran_out(self, announce: bool = True) -> bool:
        """True (on every process) when ``train.patience`` epochs passed without a better
        validation bound; the run then ends with checkpoints/best.pt the best epoch. ``announce``:
        say so (a resume that trains nothing says it once, in :meth:`fit`)."""
        patience = self.cfg.train.patience
        if not patience:  # the same config on every process: no collective needed
            return False
        stop = self.epoch - self.best_epoch >= patience
        if self.procs.distributed:  # process 0 alone scored the validation split
            flag = torch.tensor([float(stop)], device=self.device)
            distributed.broadcast_([flag])
            stop = bool(flag.item())
        if stop and announce and self.procs.is_main:
            tqdm.write(f"early stop after epoch {self.epoch}: {self._early_stop_reason()}; the "
                       f"best epoch is {self.run_dir / CHECKPOINT_DIR / BEST}")
        return stop

    def _early_stop_reason(self) -> str:
        """Why the run stopped: the best validation epoch, how long ago, and the epochs since
        that were trained without a validation score (train.patience was 0 then)."""
        scored = {r.get("epoch") for r in read_metrics(self.metrics_path)
                  if r.get("split") == "val"}
        unscored = [e for e in range(self.best_epoch + 1, self.epoch + 1) if e not in scored]
        since = self.epoch - self.best_epoch
        head = (f"no better validation bound in the {since} epoch(s) since the best, epoch "
                f"{self.best_epoch}" if self.best_epoch else
                f"no validation bound in the {since} epoch(s) trained")
        return (f"{head} (train.patience={self.cfg.train.patience})"
                + (f"; {len(unscored)} of those epochs trained without a validation score "
                   f"(train.patience was 0 then)" if unscored else ""))

    # -- state -----------------------------------------------------------------------------
    # -- logging ---------------------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        if not self.procs.is_main:
            return
        with self.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "epoch"):
                    self.writer.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def _check_finite(self, record: dict[str, Any], epoch: int, x: torch.Tensor | None) -> None:
        bad = non_finite_keys(record)
        if bad:
            raise self._diverged(epoch, f"{', '.join(bad)} became non-finite", x)

    # -- faults ----------------------------------------------------------------------------
    def _diverged(self, epoch: int, what: str, x: torch.Tensor | None) -> TrainingDiverged:
        """The divergence error (and, on process 0, ``diagnostics.json``): see
        :func:`lae.train.guards.divergence_report`."""
        last_train = next((r for r in reversed(read_metrics(self.metrics_path))
                           if r.get("split") == "train"), None)
        return divergence_report(
            self.model, self.cfg.train, what=what, epoch=epoch, step=self.step + 1, x=x,
            last_checkpoint=self.run_dir / CHECKPOINT_DIR / LAST, last_train_record=last_train,
            diagnostics_path=self.run_dir / DIAGNOSTICS if self.procs.is_main else None)

    def _watch_chains(self, record: dict[str, Any], chains: dict[str, ChainReport],
                      n_steps: int, epoch: int) -> None:
        """Stop the run (``train.on_stall=error``) or warn once when a chain the model reports
        has stalled (:class:`lae.train.guards.ChainWatch`)."""
        tc = self.cfg.train
        problems = self.chain_watch.problems(record, chains, n_steps)
        if not problems:
            return
        message = (f"a chain has stopped moving at step {self.step} (epoch {epoch}): "
                   f"{'; '.join(problems)}. {self.model.stall_hint()}. (train.stall_steps="
                   f"{tc.stall_steps}, train.on_stall={tc.on_stall})")
        if tc.on_stall == "error":
            last = self.run_dir / CHECKPOINT_DIR / LAST
            raise ChainStalled(message + (f"; the last checkpoint {last} is kept" if last.is_file()
                                          else "; no checkpoint was written yet: once this is "
                                          "fixed, train again with --overwrite"))
        tqdm.write(f"WARNING: {message}")
        self._log({"split": "warning", "epoch": epoch, "step": self.step,
                   "kind": "stalled_chain", "message": message})
        self.chain_watch.restart_counts()
