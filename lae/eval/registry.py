"""The evaluation registry: the settings every metric shares (:class:`EvalSettings`, one
``lae eval`` flag per field), what some metrics need besides the data (:class:`EvalContext`),
the registry of metrics by name (:func:`register_metric`, :data:`METRICS`) and the helpers
metric modules share (:func:`summarize`, :func:`batches`, :class:`NotApplicable`). Metric
modules import from here, never from :mod:`lae.eval.metrics`, which registers them: no cycle.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from lae.argtypes import COUNT_MAX, SEED_MAX, NumberRangeError, ascii_number, check_float32
from lae.errors import ConfigError
from lae.eval.ais import KERNELS, SCHEDULES
from lae.files import is_finite_number, is_whole_number
from lae.models import LatentModel


def _setting(default: Any, help: str, **metadata: Any) -> Any:
    """A field of :class:`EvalSettings`; ``help`` becomes the ``lae eval --flag`` help text.
    A count (a field with a ``minimum``) is at most :data:`COUNT_MAX`."""
    if "minimum" in metadata:
        metadata.setdefault("maximum", COUNT_MAX)
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class EvalSettings:
    """Settings shared by all metrics; recorded next to every number.

    Each field is also a ``lae eval`` flag (``ais_chains`` -> ``--ais-chains``), built from the
    field's type, default and help by :func:`add_settings_arguments`.
    """

    k: int = _setting(1000, "importance samples for the IWAE bound", minimum=1)
    elbo_samples: int = _setting(10, "samples per example for the ELBO estimate", minimum=1)
    batch_size: int = _setting(100, "examples per batch", minimum=1)
    seed: int = _setting(0, "seed of the evaluation's random numbers", minimum=0,
                         maximum=SEED_MAX)
    # AIS (nll-ais, bdmc; lae/eval/ais.py): cost K * ais_leapfrog decoder passes per chain
    ais_chains: int = _setting(16, "AIS chains per example (M)", minimum=1)
    ais_temps: int = _setting(1000, "AIS temperatures (K)", minimum=1)
    ais_schedule: str = _setting("sigmoid", "AIS temperature schedule",
                                 choices=SCHEDULES)
    ais_kernel: str = _setting("hmc", "AIS transition kernel", choices=KERNELS)
    ais_leapfrog: int = _setting(1, "leapfrog steps per HMC move", minimum=1)
    ais_step_size: float = _setting(0.3, "initial leapfrog eps (HMC) or eta (MALA); adapted "
                                    "per chain in a pilot run, then frozen", positive=True)
    bdmc_n_sim: int = _setting(10, "examples simulated from the model for the BDMC gap",
                               minimum=1)
    # posterior (lae/eval/posterior.py): cost ~ chains * (steps + warmup) decoder passes per point
    posterior_samples: int = _setting(200, "draws per example from the model's own inference",
                                      minimum=2)
    posterior_ref_chains: int = _setting(4, "reference MALA chains per example (for R-hat)",
                                         minimum=2)
    posterior_ref_steps: int = _setting(1500, "kept reference MALA steps per chain", minimum=4)
    posterior_ref_warmup: int = _setting(1500, "warm-up steps per reference chain (adaptive; "
                                         "coordinates rescaled after the first half)", minimum=0)
    posterior_ref_start: str = _setting("mixed", "reference chains start from the model's draws "
                                        "(model) or half of them from the prior (mixed)",
                                        choices=("mixed", "model"))
    # fd (lae/eval/fd.py)
    fd_samples: int = _setting(0, "model samples and test images compared by fd (0: as many "
                               "as test examples)", minimum=0)
    fd_bootstrap: int = _setting(50, "bootstrap resamples for the fd standard error", minimum=1)
    # probe (lae/eval/probe.py)
    probe_train: int = _setting(10000, "training codes the linear probe is fitted on (evenly "
                                "spaced; 0: all)", minimum=0)
    probe_C: float = _setting(1.0, "inverse L2 regularisation C of the linear probe",
                              positive=True)
    probe_max_iter: int = _setting(1000, "max iterations of the linear probe's solver", minimum=1)
    # interp (lae/eval/interpolate.py)
    interp_pairs: int = _setting(8, "pairs of test images interpolated (grid rows)", minimum=1)
    interp_steps: int = _setting(8, "images from one end of an interpolation to the other, both "
                                 "ends included", minimum=2)
    mse_inference: str = _setting(
        "infer", "the latents mse reconstructs from: infer (the model's own inference), mode "
        "(the posterior mode: --mse-steps backtracking gradient steps on U(x, z) from infer(x)) "
        "or noise-free (the papers' protocol: --mse-steps Langevin steps with the noise off, "
        "step --mse-step-size, from --mse-start)", choices=("infer", "mode", "noise-free"))
    mse_steps: int = _setting(500, "gradient steps of mse's mode and noise-free protocols",
                              minimum=1)
    mse_step_size: float = _setting(1e-3, "mse's noise-free step size (the mode's first step)",
                                    positive=True)
    mse_start: str = _setting("infer", "where mse's noise-free protocol starts: infer (the "
                              "model's inference or amortiser) or prior (a draw from p(z))",
                              choices=("infer", "prior"))

    def __post_init__(self) -> None:
        """Each count has a minimum and a maximum and each scale must be > 0; the error names
        the flag."""
        for f in fields(self):
            problem = _setting_problem(f, getattr(self, f.name))
            if problem:
                raise ConfigError(f"--{f.name.replace('_', '-')} {problem}")


def _setting_problem(f: Any, value: Any) -> str | None:
    """What is wrong with ``value`` for the :class:`EvalSettings` field ``f`` (None: nothing),
    as a phrase that follows the setting's name."""
    kind = type(f.default)
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
        return f"must be {'text' if kind is str else f'a number ({kind.__name__})'}, got {value!r}"
    if "minimum" in f.metadata and not value >= f.metadata["minimum"]:
        return f"must be >= {f.metadata['minimum']}, got {value}"
    if "maximum" in f.metadata and not value <= f.metadata["maximum"]:
        return f"must be <= {f.metadata['maximum']}, got {value}"
    if f.metadata.get("positive") and not (value > 0 and math.isfinite(value)):
        return f"must be a finite number > 0, got {value}"
    if isinstance(value, float):
        try:
            check_float32(value)
        except NumberRangeError as exc:
            return f"{value:g} is {exc}"
    if "choices" in f.metadata and value not in f.metadata["choices"]:
        return f"must be one of {list(f.metadata['choices'])}, got {value!r}"
    return None


def eval_settings_problems(values: dict[str, Any]) -> list[str]:
    """What in ``values``, the :class:`EvalSettings` a results file keeps (its top-level
    ``settings``), is not a setting or not a value ``lae eval`` takes; one phrase each."""
    by_name = {f.name: f for f in fields(EvalSettings)}
    wrong = []
    for name, value in values.items():
        if name not in by_name:
            wrong.append(f"settings.{name} (lae eval has no such setting)")
        elif problem := _setting_problem(by_name[name], value):
            wrong.append(f"settings.{name} {problem}")
    return wrong


# metrics that score points simulated from the model, not the data's examples (--n-examples)
SIMULATING = frozenset({"bdmc"})
_AIS = ("nll-ais", "bdmc")
# the metrics each setting changes (batch_size and seed: every metric); a setting given with none
# of them is an error (refuse_unused_settings), not silently ignored
USED_BY: dict[str, tuple[str, ...]] = {
    "k": ("iwae",), "elbo_samples": ("elbo", "langevin-bound"),
    **{f"ais_{k}": _AIS for k in ("chains", "temps", "schedule", "kernel", "leapfrog",
                                  "step_size")},
    "bdmc_n_sim": ("bdmc",),
    **{f"posterior_{k}": ("posterior",) for k in ("samples", "ref_chains", "ref_steps",
                                                  "ref_warmup", "ref_start")},
    "fd_samples": ("fd",), "fd_bootstrap": ("fd",),
    "probe_train": ("probe",), "probe_C": ("probe",), "probe_max_iter": ("probe",),
    "interp_pairs": ("interp",), "interp_steps": ("interp",),
    **{f"mse_{k}": ("mse",) for k in ("inference", "steps", "step_size", "start")},
}
# settings read only under some value of another: (that setting, the values that read it)
_READ_UNDER = {"mse_steps": ("mse_inference", ("mode", "noise-free")),
               "mse_step_size": ("mse_inference", ("mode", "noise-free")),
               "mse_start": ("mse_inference", ("noise-free",)),
               "ais_leapfrog": ("ais_kernel", ("hmc",))}


def refuse_unused_settings(settings: EvalSettings, metrics: list[str]) -> None:
    """A ConfigError naming each setting changed from its default that none of ``metrics``
    reads (or that the chosen value of another setting leaves unread: mse's protocol settings
    under ``mse_inference``, the leapfrog count under ``ais_kernel``)."""
    for f in fields(settings):
        value, flag = getattr(settings, f.name), "--" + f.name.replace("_", "-")
        if value == f.default:
            continue
        used_by = USED_BY.get(f.name)
        if used_by is not None and not set(used_by) & set(metrics):
            raise ConfigError(f"{flag} changes only {', '.join(used_by)}, and --metrics has "
                              f"{', '.join(metrics)}")
        under, readers = _READ_UNDER.get(f.name, (None, ()))
        if under is not None and getattr(settings, under) not in readers:
            chosen = "--" + under.replace("_", "-")
            raise ConfigError(f"{flag} is read under {chosen} {' or '.join(readers)}, not "
                              f"under {chosen} {getattr(settings, under)}")


def add_settings_arguments(parser: Any) -> None:
    """Add one ``--flag`` per :class:`EvalSettings` field to an argparse parser."""
    for f in fields(EvalSettings):
        kwargs = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
        kind = type(f.default)
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name,
                            type=ascii_number(kind) if kind in (int, float) else kind,
                            default=f.default, help=f"{f.metadata['help']} (default "
                            f"{f.default})", **kwargs)


def settings_from_arguments(args: Any) -> EvalSettings:
    """The :class:`EvalSettings` given by parsed :func:`add_settings_arguments` flags."""
    return EvalSettings(**{f.name: getattr(args, f.name) for f in fields(EvalSettings)})


@dataclass
class EvalContext:
    """What some metrics need besides the test data: labels, the training split, a folder."""

    train_x: Tensor | None = None  # training split [N, *shape] (fd, probe)
    train_labels: Tensor | None = None  # [N] int (fd, probe)
    test_labels: Tensor | None = None  # [n] int, rows matching the x given to evaluate (probe)
    out_dir: Path | None = None  # where pictures go (interp)


@dataclass(frozen=True)
class Rule:
    """What one setting a metric writes beside its numbers may be, read back from a
    ``results.json``: ``check(value)`` is whether it is; ``expected`` says what it should be."""

    check: Callable[[Any], bool]
    expected: str
    # the EvalSettings field whose value the setting repeats (k for iwae's k): equal to the
    # top-level settings of a file that holds one lae eval's metrics
    echoes: str = ""


def echo(rule: Rule, setting: str) -> Rule:
    """``rule`` for a setting that repeats the :class:`EvalSettings` field ``setting``."""
    return replace(rule, echoes=setting)


def whole(low: int = 0, high: int = COUNT_MAX) -> Rule:
    """A whole number in ``low..high``."""
    return Rule(lambda v: is_whole_number(v, low, high), f"a whole number in {low}..{high}")


def number(low: float = -math.inf, high: float = math.inf) -> Rule:
    """A finite number in ``low..high``."""
    return Rule(lambda v: is_finite_number(v, low, high),
                "a finite number" + ("" if (low, high) == (-math.inf, math.inf)
                                     else f" in {low:g}..{high:g}"))


def one_of(*choices: Any) -> Rule:
    """One of ``choices``."""
    return Rule(lambda v: v in choices and type(v) in {type(c) for c in choices},
                "one of " + ", ".join(repr(c) for c in choices))


def text_like(*patterns: str) -> Rule:
    """Text that one of the regular expressions ``patterns`` matches in full (text lae
    composes from other settings)."""
    return Rule(lambda v: isinstance(v, str) and any(re.fullmatch(p, v) for p in patterns),
                "text as lae writes it")


def numbers(length: int | None = None) -> Rule:
    """A list of finite numbers (of ``length``, where given)."""
    return Rule(lambda v: isinstance(v, list) and (length is None or len(v) == length)
                and all(is_finite_number(x) for x in v),
                f"a list of {length or 'finite'} numbers")


def or_null(rule: Rule) -> Rule:
    """``rule``, or null."""
    return Rule(lambda v: v is None or rule.check(v), f"null or {rule.expected}")


TEXT = Rule(lambda v: isinstance(v, str), "text")
FLAG = Rule(lambda v: isinstance(v, bool), "true or false")
MAPPING = Rule(lambda v: isinstance(v, dict), "a mapping")
SHARE = number(0.0, 1.0)
# what :func:`lae.eval.metrics.evaluate` writes beside every metric's own settings, and
# ``lae eval --model.KEY=VALUE``'s overrides (lae.commands.evaluate)
COMMON_SETTINGS = {
    "seed": echo(whole(0, SEED_MAX), "seed"), "n_examples": whole(1),
    "model_overrides": Rule(lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and k.startswith("model.") for k in v),
        "a mapping of model.KEY to the value it was given")}


Result = dict[str, Any]
MetricFn = Callable[[LatentModel, Tensor, EvalSettings], dict[str, Result]]
METRICS: dict[str, tuple[MetricFn, str]] = {}
NEEDS_CONTEXT: set[str] = set()  # metrics called as fn(model, x, settings, context)
# the start of every result key each metric writes (nll-ais: nll_ais_nats, nll_ais_bpd): what
# tells a results file's metric lae wrote from one written into it by hand
KEY_PREFIXES: dict[str, str] = {}
# the settings each metric writes beside its numbers, and what each may be (a name ending in *
# stands for every name that begins so): what tells them from settings edited by hand
SETTING_RULES: dict[str, dict[str, Rule]] = {}


class NotApplicable(Exception):
    """A metric does not apply to this model (the message says why)."""


def register_metric(name: str, description: str, key_prefix: str, settings: dict[str, Rule],
                    needs_context: bool = False) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn`` as the metric ``name``; each result key it returns starts with
    ``key_prefix``, and its results' ``settings`` are those of ``settings`` (besides
    :data:`COMMON_SETTINGS`)."""
    def add(fn: MetricFn) -> MetricFn:
        METRICS[name] = (fn, description)
        KEY_PREFIXES[name] = key_prefix
        SETTING_RULES[name] = {**settings, **COMMON_SETTINGS}
        if needs_context:
            NEEDS_CONTEXT.add(name)
        return fn

    return add


def setting_problems(metric: str, settings: dict[str, Any],
                     evaluation: dict[str, Any] | None = None) -> list[str]:
    """What in the ``settings`` of a result of ``metric`` read back from a file is not as the
    metric writes them (:data:`SETTING_RULES`), one phrase per setting; with ``evaluation``,
    the :class:`EvalSettings` of the one ``lae eval`` that wrote the result, the settings that
    repeat one of them must equal it."""
    rules = SETTING_RULES[metric]
    wrong = []
    for name, value in settings.items():
        rule = rules.get(name) or next((r for pattern, r in rules.items() if pattern.endswith("*")
                                        and name.startswith(pattern[:-1])), None)
        if rule is None:
            wrong.append(f"setting {name!r} (metric {metric} writes no such setting)")
        elif not rule.check(value):
            wrong.append(f"setting {name} {json_text(value)} (expected {rule.expected})")
        elif rule.echoes and evaluation and rule.echoes in evaluation \
                and evaluation[rule.echoes] != value:
            wrong.append(f"setting {name} {json_text(value)} is not the evaluation's "
                         f"settings.{rule.echoes} {json_text(evaluation[rule.echoes])}")
    return wrong


def json_text(value: Any, width: int = 60) -> str:
    """``value`` as JSON, cut to ``width`` characters: how a message shows a value read from
    a file."""
    import json

    text = json.dumps(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def metric_of_key(key: str) -> str | None:
    """The registered metric that writes the result key ``key`` (None: no metric does)."""
    return next((name for name, prefix in KEY_PREFIXES.items() if key.startswith(prefix)), None)


def batches(x: Tensor, batch_size: int, device: torch.device, progress: str | None = None
            ) -> Iterator[Tensor]:
    """x [N, ...] in batches of ``batch_size`` rows on ``device``; with a ``progress`` label, a
    progress bar over the examples with time left (on a terminal only)."""
    bar = tqdm(total=x.shape[0], desc=progress, unit="ex", leave=False, dynamic_ncols=True,
               disable=None if progress else True)
    for start in range(0, x.shape[0], batch_size):
        yield x[start:start + batch_size].to(device)
        bar.update(min(batch_size, x.shape[0] - start))
    bar.close()


def summarize(per_example: Tensor, **settings: Any) -> Result:
    """Mean, standard error of the mean and count of a per-example tensor [N], and the values
    themselves (``per_example``, in the order of the examples: what pairs two models scored on
    the same examples, :func:`lae.eval.results.paired_difference`)."""
    n = per_example.numel()
    std = per_example.std().item() if n > 1 else float("nan")
    return {"value": per_example.mean().item(), "stderr": std / math.sqrt(n), "n": n,
            "settings": settings, "per_example": per_example.flatten().tolist()}
