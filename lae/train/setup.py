"""Setting up a run: the device, the memory check, the optimisers and the loss groups."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from lae.data import DataSplits
from lae.data.processing import perturb_values
from lae.data.registry import check_file_options, get_spec
from lae.distributions.likelihoods import LIKELIHOODS, build_likelihood
from lae.distributions.priors import PRIORS, build_prior
from lae.errors import ConfigError
from lae.models import MODELS, DataSpec, build_model
from lae.train.config import Config
from lae.train.guards import STALL_ACTIONS


def parse_device(name: str) -> torch.device | None:
    """``train.device`` read without asking the hardware: ``None`` for ``auto``, else the
    device it names; ConfigError for a name that is no device lae runs on."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: {name!r} is not a device; use auto, cpu, cuda, "
                          "cuda:N or mps") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"train.device: {name!r} is not supported; use auto, cpu, cuda, "
                          f"cuda:N or mps")
    return device


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else is passed to torch.device."""
    device = parse_device(name)
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda was asked for but torch sees no CUDA device")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise ConfigError("train.device: mps was asked for but this torch has no MPS device "
                          "(Apple GPUs only); use auto or cpu")
    return device


# (limit, usage) files of this process's memory cgroup: v2, then v1 (docker --memory, SLURM
# --mem); a limit there binds before the host's free memory does
CGROUP_MEMORY_FILES = (
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
     Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")),
)


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit, or None without one ("max", or
    v1's huge sentinel)."""
    for limit_file, usage_file in CGROUP_MEMORY_FILES:
        try:
            limit = limit_file.read_text().strip()
            usage = int(usage_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:
            return None
        return max(0, int(limit) - usage)
    return None


def _available_memory(device: torch.device) -> int | None:
    """Bytes free for tensors on ``device``: on the CPU under Linux the smaller of MemAvailable
    and the room under the memory cgroup's limit; None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    room = _cgroup_room()
    if room is not None:
        free = room if free is None else min(free, room)
    return free


def check_model_fits(cfg: Config, spec: DataSpec, device: torch.device) -> None:
    """Refuse a model whose parameters and buffers, with a gradient and two Adam moments per
    parameter, could not fit in the memory free on ``device``: the sizes are counted on the
    meta device (no memory), so an absurd ``model.latent_dim`` or ``net.hidden`` is an error
    naming them instead of an allocator crash."""
    model_cfg, prior_params = cfg.model, 0
    counted = getattr(PRIORS.get(cfg.model.prior), "parameter_count", None)
    if counted is not None:  # a prior that cannot be built on meta, counted by its own rule
        try:
            prior_params = counted(cfg.model.latent_dim, **cfg.model.prior_options)
        except TypeError:  # an option it does not take: said when the model is built
            return
        # the rest of the model with a normal prior (set, not validated: a flow-prior model's
        # config insists on its flow)
        model_cfg = copy.copy(cfg.model)
        model_cfg.prior, model_cfg.prior_options = "normal", {}
    try:
        with torch.device("meta"):
            meta = build_model(model_cfg, spec)
    except Exception:  # noqa: BLE001 (a model that cannot be built on meta: no check)
        return
    params = sum(p.numel() for p in meta.parameters()) + prior_params
    buffers = sum(b.numel() for b in meta.buffers())
    need = (4 * params + buffers) * 4  # float32: weights, gradients, Adam's two moments
    free = _available_memory(device)
    if free is not None and need > free:
        where = (" under this process's memory limit (its cgroup: docker --memory, SLURM --mem)"
                 if device.type == "cpu" and _cgroup_room() == free else "")
        raise ConfigError(
            f"the model needs about {need / 2**30:.1f} GiB ({params:,} parameters, "
            f"{buffers:,} buffer values) and {device} has {free / 2**30:.1f} GiB free{where}; "
            f"reduce model.latent_dim ({cfg.model.latent_dim}) or model.net.hidden "
            f"({cfg.model.net.hidden})" + (f", or the sizes in model.prior_options "
                                           f"({cfg.model.prior_options})"
                                           if cfg.model.prior_options else ""))


def warn_wide_latent(cfg: Config, spec: DataSpec) -> None:
    """Say, before training, that ``model.latent_dim`` exceeds the data's dimension: legal, but
    each step's work grows with it, and a code wider than the example it explains is more often
    a typo (an extra 0) than a choice."""
    dims = math.prod(spec.shape)
    if cfg.model.latent_dim > dims:
        warnings.warn(f"model.latent_dim={cfg.model.latent_dim} exceeds the data's "
                      f"{dims} dimensions per example {tuple(spec.shape)}: every step's work "
                      f"grows with it; is it meant?", stacklevel=2)


OPTIMIZERS = {  # train.optimizer -> (parameters, TrainConfig, learning rate, fused) -> optimiser
    "adam": lambda params, tc, lr, fused: torch.optim.Adam(
        params, lr=lr, betas=tuple(tc.adam_betas), fused=fused),
    "sgd": lambda params, tc, lr, fused: torch.optim.SGD(params, lr=lr, fused=fused),
}


def fused_supported(device: torch.device) -> bool:
    """Whether torch's fused optimisers run on ``device``: one kernel for a whole parameter group,
    and a step skipped on the device (``found_inf``) without reading the flag on the host."""
    return device.type in ("cpu", "cuda", "mps")


def build_optimizer(name: str, params: list[torch.nn.Parameter], tc: Any, lr: float,
                    device: torch.device) -> torch.optim.Optimizer:
    """The optimiser ``train.optimizer`` over ``params``, fused where the device allows (fused
    and unfused Adam/SGD compute the same update up to float rounding)."""
    fused = fused_supported(device) and all(p.is_floating_point() for p in params) and bool(params)
    return OPTIMIZERS[name](params, tc, lr, fused or None)


def data_spec(splits: DataSplits) -> DataSpec:
    return DataSpec(shape=tuple(splits.shape), value_range=tuple(splits.value_range),
                    n_bits=splits.n_bits, binary=splits.binarize != "none",
                    n_train=int(splits.train.shape[0]),
                    missing=bool(torch.isnan(splits.train).any()))


def check_loss_groups(model: torch.nn.Module, groups: dict[str, list[torch.nn.Parameter]]) -> None:
    """Refuse loss groups that do not partition the model's trainable parameters: a parameter in
    no group would never train (silently), one in two would take two optimisers' steps.

    Raises:
        ValueError: naming the parameters (as ``named_parameters`` names them) and the groups.
    """
    owners: dict[int, list[str]] = {}
    for name, params in groups.items():
        for p in params:
            owners.setdefault(id(p), []).append(name)
    orphans, shared = [], []
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        found = owners.pop(id(p), [])
        if not found:
            orphans.append(pname)
        elif len(found) > 1:
            shared.append(f"{pname} (in {', '.join(found)})")
    problems = []
    if orphans:
        problems.append(f"in no loss group, so they would never train: {', '.join(orphans)}")
    if shared:
        problems.append(f"in two or more loss groups: {', '.join(shared)}")
    if owners:
        problems.append(f"{len(owners)} parameter(s) in loss groups are not the model's")
    if problems:
        raise ValueError(f"model {getattr(model.cfg, 'name', type(model).__name__)!r}: "
                         f"loss_parameters() must put each trainable parameter in exactly one "
                         f"group; parameters " + "; ".join(problems))


def batch_noise(data_cfg: Any, splits: DataSplits):
    """``data.noise_fraction``: the perturbation of every training batch (the background model
    of the likelihood-ratio anomaly score) for the loader, or None."""
    fraction = data_cfg.noise_fraction
    if not fraction:
        return None
    if not all(math.isfinite(v) for v in splits.value_range):
        raise ConfigError(f"data.noise_fraction needs data with a bounded range to draw the "
                          f"noise from; {data_cfg.name} is unbounded")
    values = math.prod(splits.shape)
    if round(fraction * values) == 0:  # perturb_values replaces round(fraction * D) values
        raise ConfigError(f"data.noise_fraction={fraction:g} replaces round({fraction:g} x "
                          f"{values}) = 0 of the {values} values of each example: the "
                          f"background model would be the plain one; give more than "
                          f"{0.5 / values:.3g} (one value rounds to 1)")
    return functools.partial(perturb_values, fraction=fraction,
                             value_range=tuple(splits.value_range), n_bits=splits.n_bits)


def tensorboard_writer():
    """A factory for the tensorboard writer, run_dir -> SummaryWriter (checked before the run
    folder is made)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                          "pip install 'lae[tensorboard]'") from None
    return lambda run_dir: SummaryWriter(log_dir=str(run_dir / "tensorboard"))


# what train.patience watches on the validation split, the first a model logs: AIS when asked
# for (comparable between models), else the model's own bound through its own inference
STOPPING_KEYS = ("nll_ais_nats", "nll_iwae_nats", "nll_langevin_bound_nats", "neg_elbo_nats")


def check_config(cfg: Config) -> None:
    """What can be checked of a config without data or hardware, as ``lae train`` checks it
    first and ``lae config`` before printing: the choice keys, the device's name, the dataset's
    name and the file options it reads, and early stopping's needs."""
    check_train_choices(cfg.train)
    parse_device(cfg.train.device)
    check_file_options(cfg.data)  # an unknown data.name included
    if "path" in get_spec(cfg.data.name).reads and not cfg.data.path:
        raise ConfigError(f"data.name={cfg.data.name} needs data.path=FILE (its data file)")
    check_stopping(cfg)
    check_model_options(cfg)


def check_model_options(cfg: Config) -> None:
    """What building the model checks that needs no data: the prior and its options, whether
    the model can use that prior, and the likelihood's options (for a one-value placeholder of
    8-bit data: the data's shape is known only when it is read). Built on the meta device, so
    that a size option far too large is said by the memory check, not met here; a prior whose
    construction computes (a flow's) is left to the model's build."""
    mc = cfg.model
    try:
        with torch.device("meta"):
            prior = build_prior(mc.prior, mc.latent_dim, **mc.prior_options)
            if mc.likelihood in LIKELIHOODS:  # range (0, 1): whether the data suit a
                build_likelihood(mc.likelihood, (1,), n_bits=8,  # Bernoulli is known when
                                 **mc.likelihood_options)  # they are read
    except NotImplementedError:  # an operation without a meta kernel
        return
    needs = MODELS[mc.name].needs_exact_prior
    if needs and not (prior.normalized and prior.exact_sampling):
        raise ConfigError(f"model {mc.name!r} cannot use model.prior: {mc.prior}: {needs}")


def check_stopping(cfg: Config) -> None:
    """``train.patience`` needs a validation split and a bound to watch on it: a per-epoch AIS
    NLL (``train.eval_ais_temps``), or the model's own (IWAE and the ELBO through a trained q
    under a normalised prior, or a Langevin bound). Both are known from the config alone."""
    tc = cfg.train
    if not tc.patience:
        return
    if not cfg.data.val_size:
        raise ConfigError(f"train.patience={tc.patience} needs a validation split to choose "
                          "when to stop: set data.val_size (e.g. 0.1); the test split is never "
                          "used for that")
    model, prior = MODELS[cfg.model.name], PRIORS[cfg.model.prior]
    own_bound = model.has_langevin_bound or (model.has_proposal and model.proposal_is_inference
                                             and prior.normalized)
    if not tc.eval_ais_temps and not own_bound:
        raise ConfigError(f"train.patience={tc.patience}: {cfg.model.name} logs no bound to stop "
                          f"on (one of {', '.join(STOPPING_KEYS)}); set train.eval_ais_temps "
                          "(e.g. 100) for a per-epoch AIS NLL")


def check_train_choices(tc: Any) -> None:
    """Refuse an unknown ``train.optimizer`` or ``train.on_stall``, naming the choices."""
    if tc.optimizer not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer: expected one of {sorted(OPTIMIZERS)}, got "
                          f"{tc.optimizer!r}")
    if tc.on_stall not in STALL_ACTIONS:
        raise ConfigError(f"train.on_stall: expected one of {list(STALL_ACTIONS)}, got "
                          f"{tc.on_stall!r}")
    # a compile mode without compiling would be recorded as the run's: refused
    default = next(f.default for f in dataclasses.fields(tc) if f.name == "compile_mode")
    if not tc.compile and tc.compile_mode != default:
        raise ConfigError(f"train.compile_mode={tc.compile_mode!r} is set, but train.compile is "
                          f"false, so nothing reads it; leave it out, or set train.compile=true")


def threads_and_device(tc: Any, procs: Any) -> torch.device:
    """Set torch's CPU threads (``train.num_threads``; on several processes without it, the
    cores shared among this machine's processes, as torch's default on each would
    oversubscribe them) and return the device (one GPU per process on several)."""
    if tc.num_threads > 0:
        torch.set_num_threads(tc.num_threads)
    elif procs.distributed:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", procs.world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    device = resolve_device(tc.device)
    if procs.distributed and device.type == "cuda":
        device = torch.device("cuda", procs.local_rank)
    return device


def check_compiler(device: torch.device) -> None:
    """``train.compile=true`` on the CPU needs a C++ compiler (torch.compile's inductor builds C++
    kernels there); without one, torch failed with its InductorError at the first step, after
    the run folder was made. Refused before, naming the fix."""
    if device.type != "cpu":
        return
    candidates = [os.environ.get("CXX"), "c++", "g++", "clang++"]
    if not any(c and shutil.which(c) for c in candidates):
        raise ConfigError("train.compile=true needs a C++ compiler on the CPU (torch.compile "
                          "builds C++ kernels there) and none was found ($CXX, c++, g++, "
                          "clang++): install one (e.g. apt install g++) or set "
                          "train.compile=false")
