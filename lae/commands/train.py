"""``lae train``: train a model from a preset or YAML file, on one process or several."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

from lae.argtypes import count, nonempty_text, path_text
from lae.commands.base import Command
from lae.errors import ConfigError, LaeError, RunDirError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=nonempty_text,
                   help="preset name (see `lae list`) or path to a YAML file; with --resume "
                        "the run's own config.yaml is used, and this must name the same model")
    p.add_argument("--out", type=path_text, required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--data-dir", default=None, type=nonempty_text,
                   help="where the dataset files are (or go)")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--nproc", type=count(1, os.cpu_count() or 1,
                                         " (this machine's CPU cores)"), default=1,
                   help="train on this many processes on this machine (gloo on the CPU, one GPU "
                        "each with CUDA); train.batch_size is per process (docs/distributed.md)")


def run(args: argparse.Namespace) -> int:
    from lae.data.config import with_absolute_paths
    from lae.train import Trainer, load_config
    from lae.train.checkpoint import find_checkpoint, load_checkpoint
    from lae.train.config import (
        config_from_dict,
        merge,
        parse_overrides,
        read_yaml,
        refuse_repeated_overrides,
    )
    from lae.train.rundir import check_run_flags

    run_dir, overrides = Path(args.out), list(args.overrides)
    check_run_flags(run_dir, resume=args.resume, overwrite=args.overwrite)  # before the reading
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # start the processes here
        return _train_on_local_processes(args)
    if args.data_dir is not None:
        overrides.append(f"data.data_dir={args.data_dir}")
    if args.download:
        overrides.append("data.download=true")
    refuse_repeated_overrides(overrides)
    if args.resume:
        if not run_dir.is_dir():
            raise RunDirError(f"--resume: {run_dir} does not exist (or is not a folder); --resume "
                              f"continues a run in the folder lae train made")
        # the last checkpoint's config, read once: the preset check and config.yaml's missing
        # keys use it
        held = _checkpoint_config(run_dir)
        check_resumed_preset(args.config, overrides, run_dir, held)
        # The run's own config, with any overrides (for example more train.epochs).
        path = run_dir / "config.yaml"
        raw = read_yaml(path, allow_empty=True) if path.is_file() else {}
        source = path
        if not raw:  # missing or emptied: the checkpoint holds the run's config
            source = find_checkpoint(run_dir, "last")
            raw = held or load_checkpoint(source).get("config", {})  # unreadable: said here
            print(f"note: {path} is {'empty' if path.is_file() else 'missing'}: resuming with "
                  f"the config {source} holds, which is written back to it", file=sys.stderr)
        elif isinstance(raw, dict) and held and \
                (held.get("model") or {}).get("name") == (raw.get("model") or {}).get("name"):
            # a key the file lacks is the run's (its checkpoint's), not lae's default; a
            # checkpoint of another model is said by the resume's own check
            last = find_checkpoint(run_dir, "last")
            lacking = sorted(set(_leaf_keys(held)) - set(_leaf_keys(raw)))
            if lacking:
                raw = merge(held, raw)
                print(f"note: {path} lacks {', '.join(lacking[:5])}"
                      f"{f' and {len(lacking) - 5} more' if len(lacking) > 5 else ''}: the run's "
                      f"values are taken from {last} and written back to it", file=sys.stderr)
        try:  # the run's own config first: an error in it names the file, not an override
            config_from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        cfg = config_from_dict(merge(raw, parse_overrides(overrides)))
    else:
        cfg = load_config(args.config, overrides)
    cfg.data = with_absolute_paths(cfg.data)  # the run names its files from any folder
    trainer = Trainer(cfg, run_dir, resume=args.resume, overwrite=args.overwrite)
    summary = trainer.fit()
    if trainer.procs.is_main:
        print(json.dumps({"run_dir": str(run_dir), "last_test": summary}, indent=2))
    return 0


def _train_on_local_processes(args: argparse.Namespace) -> int:
    """``lae train --nproc N``: the same command line (``args.argv``) run by the CLI's entry
    point (``args.main``) in N processes on this machine, as torchrun would start them. When one
    fails the others are stopped, and one message says what failed: the failed process's error
    line (they leave theirs in files, :func:`lae.train.distributed.error_file`, not on the
    terminal), naming it where the processes disagree, or the signal that killed it with the
    command that resumes the run; its exit status is returned."""
    import tempfile

    import torch.multiprocessing as mp

    from lae.train.distributed import LOST_CONTACT, error_file, run_local_processes

    with tempfile.TemporaryDirectory(prefix="lae-train-") as reports:
        try:
            run_local_processes(args.main, args.nproc, args.argv, report_dir=reports)
        except mp.ProcessExitedException as exc:
            lines = {rank: error_file(reports, rank).read_text().strip()
                     for rank in range(args.nproc) if error_file(reports, rank).is_file()}
            failed = lines.get(exc.error_index)
            resume = resume_hint(args)
            signum = _stopping_signal(exc.exit_code)
            if failed is None:  # killed before it could say anything
                why = (f"signal {signal.Signals(signum).name}" if signum
                       else f"exit status {exc.exit_code}")
                failed = (f"error: training process {exc.error_index} of {args.nproc} (pid "
                          f"{exc.error_pid}) was stopped by {why}; {resume}")
            elif failed == LOST_CONTACT:  # the process that died said nothing: name it
                silent = [r for r in range(args.nproc) if r not in lines]
                who = (f"training process {silent[0]} of {args.nproc}" if silent
                       else "another training process")
                failed = (f"error: {who} died without a word (killed by a signal, or by the "
                          f"system for memory), and process {exc.error_index} lost contact "
                          f"with it; {resume}")
            lines = {r: line for r, line in lines.items() if line != LOST_CONTACT}
            # the others were stopped because this one failed (their "interrupted" is not
            # news), or failed alike (a divergence every process sees): said once
            others = {line for rank, line in lines.items() if rank != exc.error_index
                      and _kind(line) != _kind(failed) and not line.startswith("interrupted")}
            print(failed if not others else f"{failed} (process {exc.error_index})",
                  file=sys.stderr)
            for line in sorted(others):
                print(line, file=sys.stderr)
            return 128 + signum if signum else (exc.exit_code or 1)
        except mp.ProcessRaisedException as exc:
            print(f"error: a training process failed; its traceback:\n{exc}", file=sys.stderr)
            return 1
    return 0


def check_resumed_preset(config: str, overrides: list[str], run_dir: Path,
                         held: dict[str, Any]) -> None:
    """``lae train CONFIG --out RUN --resume`` continues RUN's own config; a CONFIG that is no
    preset or file, or one of another model than RUN's (``--model.name`` in ``overrides``
    included), is a mistake to say, not to ignore. The values the preset or YAML file sets that
    differ from the run's (and that ``overrides`` do not set) are not used: a warning names
    them. ``held`` is the config of the run's last checkpoint ({} without a readable one): the
    keys config.yaml lacks are the run's from there."""
    from lae.train import load_config
    from lae.train.config import config_from_dict, merge, read_preset, read_yaml
    from lae.train.resume import changed_settings

    named = [item.partition("=")[2] for item in overrides
             if item.removeprefix("--").startswith("model.name=")]
    given = load_config(config, [])  # unknown: fails here
    mine = named[-1] if named else given.model.name
    path = run_dir / "config.yaml"
    saved = read_yaml(path, allow_empty=True) if path.is_file() else {}
    theirs = (saved.get("model") or {}).get("name") if isinstance(saved, dict) else None
    if theirs is not None and theirs != mine:
        raise ConfigError(f"--resume continues {run_dir}, a {theirs!r} run, with its own "
                          f"config.yaml; {config} is a {mine!r} preset: give the run's preset, "
                          f"or another --out to train a new {mine!r} run")
    if not saved:
        return
    if isinstance(saved, dict) and (held.get("model") or {}).get("name") == theirs:
        saved = merge(held, saved)
    try:
        run_cfg = config_from_dict(saved).to_dict()
    except ConfigError:  # the run's own file is at fault: said where it is read
        return
    # the keys the named preset or file sets itself (its base's included), not the defaults
    set_there = set(_leaf_keys(read_preset(config)))
    set_here = {item.removeprefix("--").partition("=")[0] for item in overrides}
    differ = [d for d in changed_settings(run_cfg, given.to_dict(), set())
              if d.partition(" ")[0] in set_there and d.partition(" ")[0] not in set_here]
    if differ:
        warnings.warn(f"--resume continues {run_dir} with its own config.yaml: the values of "
                      f"{config} that differ from it are not used ({'; '.join(differ)}, the "
                      f"run's value first); a resume changes what it may (train.epochs, "
                      f"train.lr, ...) by --section.key=value", stacklevel=2)


def _checkpoint_config(run_dir: Path) -> dict[str, Any]:
    """The config the run's last checkpoint holds; {} where there is no readable one (the
    resume says why when it loads it)."""
    from lae.train.checkpoint import find_checkpoint, load_checkpoint

    try:
        held = load_checkpoint(find_checkpoint(run_dir, "last")).get("config")
    except LaeError:
        return {}
    return held if isinstance(held, dict) else {}


def _leaf_keys(raw: Any, prefix: str = "") -> list[str]:
    """The dotted keys of a config dict, each level's (``model``, ``model.net``,
    ``model.net.hidden``): what a preset or YAML file sets."""
    if not isinstance(raw, dict):
        return []
    keys = []
    for key, value in raw.items():
        name = f"{prefix}{key}"
        keys += [name, *_leaf_keys(value, name + ".")]
    return keys


def resume_hint(args: argparse.Namespace) -> str:
    """How to go on after a stopped or failed lae train (the end of its message): --resume when
    an epoch was kept, else start again (the folder, if made, holds nothing to resume)."""
    from lae.train.rundir import CHECKPOINT_DIR, LAST

    nproc = f" --nproc {args.nproc}" if getattr(args, "nproc", 1) > 1 else ""
    out = Path(args.out)
    if (out / CHECKPOINT_DIR / LAST).is_file():
        return (f"continue from the last finished epoch with: lae train {args.config} --out "
                f"{args.out} --resume{nproc}")
    # the same command line, overrides included, with --overwrite for the folder it made
    again = [a for a in getattr(args, "argv", None) or ["train", args.config, "--out", args.out]
             if a != "--resume"]
    again += ["--overwrite"] if out.exists() and "--overwrite" not in again else []
    return (f"nothing was kept (the run stopped before its first epoch ended); start again "
            f"with: {shlex.join(['lae', *again])}")


def _stopping_signal(exit_code: int | None) -> int | None:
    """The signal that stopped a process, from its exit status: -N (killed by signal N) or
    128 + N (it left on signal N, as a stopped process of lae train does); None otherwise."""
    code = exit_code or 0
    number = -code if code < 0 else code - 128 if 128 < code < 128 + signal.NSIG else 0
    return number if number in {s.value for s in signal.Signals} else None


def _kind(line: str) -> str:
    """What an error line is about, without its details: up to its second colon ("error:
    training diverged at step 8 (epoch 1)")."""
    return ":".join(line.split(":")[:2])


COMMAND = Command(
    "train", "train a model from a preset or YAML file", add_arguments, run,
    description="Train. Any config key can be overridden as --section.key=value, e.g. "
                "--train.epochs=5 --model.latent_dim=8.", overrides=True)
