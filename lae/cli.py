"""The ``lae`` command: train, sample, eval, report, anomaly, inpaint, list, config, bench, toy.

    lae train PRESET_OR_YAML [--section.key=value ...] --out RUN_DIR [--resume | --overwrite]
    lae sample RUN_DIR -n 64 --out grid.png
    lae eval RUN_DIR [--metrics elbo,iwae,mse] [--out results.json]
    lae report RUN_DIR [RUN_DIR ...] --out DIR
    lae anomaly RUN_DIR [--score log-joint|refined|nll-iwae|nll-ais]   (docs/tasks.md)
    lae inpaint RUN_DIR [--mask centre|bottom|pixels:P|patches:S:P] [--steps 100]
    lae list
    lae config PRESET_OR_YAML [--section.key=value ...]   (the resolved config, every key)
    lae bench --out DIR [--models vae,lae,...] [--size tiny|small|default] [--threads 1]
        (docs/bench.md)
    lae toy {posterior,neural,energy,capacity,convergence,likelihood,shortrun,ebm-logz} ...
        (docs/toys.md)

Each subcommand is a module of :mod:`lae.commands`; this module builds the parser from their
registry, dispatches, and turns expected errors (bad keys, missing data, an existing run
directory, a full disk, an interrupt) into one line, ``error: ...``, with exit status 2 (130 for
an interrupt); no traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

from lae import interrupts
from lae.commands import COMMANDS
from lae.commands.base import forget_made_folders, remove_unused_folders
from lae.commands.train import resume_hint
from lae.errors import ERROR_FILE_ENV, LaeError
from lae.toy.cli import add_toy_commands


class ExactOptionParser(argparse.ArgumentParser):
    """A parser that takes options by their whole name only (its subcommands' too): argparse's
    abbreviations would read ``--data={name: digits}``, a config section, as ``--data-dir``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, refusing an option that takes one value given twice (argparse keeps
        the last: ``--metrics mse --metrics elbo`` scored ELBO alone)."""
        parsed = super().parse_known_args(args, namespace)
        tokens = [str(t) for t in (sys.argv[1:] if args is None else args)]
        for action in self._actions:
            if isinstance(action, (argparse._AppendAction, argparse._SubParsersAction,
                                   argparse._HelpAction)) or not action.option_strings:
                continue
            given = sum(t == o or t.startswith(o + "=") for t in tokens
                        for o in action.option_strings)
            if given > 1:
                self.error(f"{'/'.join(action.option_strings)} is given {given} times; give it "
                           f"once")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = ExactOptionParser(
        prog="lae", description="Train, sample, evaluate and compare deep latent variable "
        "models whose inference runs on Langevin dynamics (train, sample, eval, report, "
        "anomaly, inpaint, list, config, bench, toy; docs/cli.md).")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(p)
    add_toy_commands(sub)
    return parser


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """The ``lae`` command on ``argv`` (default: this process's); its exit status. ``parser``:
    one :func:`build_parser` made already."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if parser is None:
        # the commands' parsers import torch, scipy and matplotlib (a second or more): a Ctrl-C
        # or SIGTERM meanwhile waits, then ends as an interrupted command does
        try:
            with interrupts.interrupts_deferred():
                parser = build_parser()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    args, extra = parser.parse_known_args(argv)
    command = COMMANDS.get(args.command)
    if extra and not (command and command.overrides):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    bad = [e for e in extra if not e.startswith("--") or "=" not in e]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)} (config overrides look like "
                     "--section.key=value)")
    # what a command may need besides its options: the --section.key=value items, the command
    # line, and this entry point (lae train --nproc runs it in each process)
    args.overrides, args.argv, args.main = list(extra), argv, main
    # a job scheduler's stop (SIGTERM) is a Ctrl-C: same message, same resume, no empty --out
    # left behind. A process of lae train --nproc is stopped by SIGTERM when another one failed
    # or its launcher stopped: the launcher says why, so it leaves quietly (a KeyboardInterrupt
    # raised inside a finalizer printed "Exception ignored ... Traceback")
    worker = args.command == "train" and bool(os.environ.get(ERROR_FILE_ENV))
    # (recorded as well as raised: a raise inside a finalizer is dropped, lae.interrupts)
    interrupts.clear()
    sys.unraisablehook = interrupts.quiet_unraisable
    # a closed terminal (SIGHUP) alike: the run saves its place and says how to go on
    for stop in (signal.SIGTERM, *interrupts.HANGUP):
        if worker or not interrupts.ignored(stop):  # one the environment ignores stays so
            signal.signal(stop, _exit_quietly if worker else interrupts.request_stop)
    if not worker and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupts.request_stop)
    # a warning on the command line is one line for the user, not Python's file:line and source
    warnings.formatwarning = _warning_line
    try:
        code = _run(command, args)
    except BaseException:  # a defect's traceback: it leaves no empty output folder either
        remove_unused_folders()
        raise
    finally:  # a stop asked of this command is not one of the next (tests run several)
        interrupts.clear()
    if code:  # failed or interrupted: no empty output folder stays behind
        remove_unused_folders()
    forget_made_folders()
    return code


def _run(command: Any, args: argparse.Namespace) -> int:
    """The command's exit status; the errors a user can act on become one line, not a
    traceback."""
    try:
        return command.run(args) if command else args.toy_func(args)
    except LaeError as exc:
        _report(f"error: {exc}")
        return 2
    except OSError as exc:  # a full disk, a read-only folder: the system's words, no traceback
        if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename and \
                Path(exc.filename).is_file():  # an output path below a file ("File exists")
            _report(f"error: {exc.filename} is a file, not a folder: nothing can be written "
                    f"inside it; choose another output path")
            return 2
        where = f"{exc.filename}: " if exc.filename else ""
        hint = ""
        if args.command == "train":
            out = Path(args.out)
            kept = (out / "checkpoints" / "last.pt").is_file()
            hint = ("; the last checkpoint is kept: continue with --resume once this is fixed"
                    if kept else "; no checkpoint was written yet: once this is fixed, train "
                    "again with --overwrite" if out.is_dir() else
                    f"; no run folder was made: --out {args.out} must be a folder lae can create "
                    f"(its parent a writable folder)")
        _report(f"error: {where}{exc.strerror or exc}{hint}")
        return 2
    except (MemoryError, RuntimeError) as exc:
        # Path.resolve on a loop of symbolic links (Python < 3.13; later ones raise OSError
        # ELOOP, answered above): any path a command resolves may be one
        if isinstance(exc, RuntimeError) and str(exc).startswith("Symlink loop"):
            _report(f"error: {str(exc).removeprefix('Symlink loop from ')}: a loop of symbolic "
                    f"links (it leads back to itself); give another path")
            return 2
        if not isinstance(exc, MemoryError) and not _is_out_of_memory(exc):
            raise
        sizes = (OOM_SIZES.get(args.command) if args.command != "toy" else
                 f"the sizes of lae toy {args.toy_command}: see its --help")
        _report(f"error: out of memory ({str(exc).splitlines()[0][:200] if str(exc) else exc!r}); "
                f"ask for smaller sizes ({sizes or 'the command options that set sizes'})")
        return 2
    except KeyboardInterrupt:
        _report("interrupted" + (f"; {resume_hint(args)}" if args.command == "train" else ""))
        return 130


# what sets the memory a command needs, for its out-of-memory message
OOM_SIZES = {"train": "train.batch_size, model.latent_dim, model.net.hidden",
             "eval": "--n-examples, --batch-size, --ais-chains, --k, --posterior-samples, "
                     "--fd-samples, --interp-pairs, --interp-steps",
             "sample": "-n", "anomaly": "--n-examples, --k, --ais-chains",
             "inpaint": "--n-examples", "bench": "--size"}


def _warning_line(message: Warning | str, category: type[Warning], *args: Any,
                  **kwargs: Any) -> str:
    """How ``warnings`` prints under ``lae``: ``warning: MESSAGE``."""
    return f"warning: {message}\n"


def _report(line: str) -> None:
    """The command's one-line outcome on stderr; in a process that ``lae train --nproc`` started,
    into the file its launcher reads instead, so that the launcher prints one message for all."""
    path = os.environ.get(ERROR_FILE_ENV)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    else:
        print(line, file=sys.stderr)


def _exit_quietly(signum: int, frame: object) -> None:
    """Leave at once (checkpoints are written atomically, with signals held meanwhile)."""
    sys.stderr.flush()
    os._exit(128 + signum)


def _is_out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


if __name__ == "__main__":
    sys.exit(main())
