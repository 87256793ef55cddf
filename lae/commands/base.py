"""What the ``lae`` subcommands share: the :class:`Command` record the CLI builds its parser
from, argument types with checked ranges, and the checks every command makes on its outputs
before any work."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lae.argtypes import count, nonempty_text, path_text, seed
from lae.errors import ConfigError, LaeError, RunDirError
from lae.eval.json import json_safe
from lae.files import atomic_write, check_creatable, check_writable


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one-line help (``lae --help``), longer description (``lae NAME
    --help``), the function that adds its arguments to its parser, and the one that runs it on
    the parsed arguments (``args.overrides`` holds ``--section.key=value`` items where
    ``overrides`` is True; ``args.argv`` the command line) and returns the exit status."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None
    overrides: bool = False


def add_checkpoint_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=nonempty_text, default="last",
                   help="last, best (train.patience), an epoch number, or a .pt path")


# the folders check_output_folder made, deepest last: removed again if a command fails or is
# interrupted before writing into them (remove_unused_folders), so no empty --out stays behind
_MADE_FOLDERS: list[Path] = []


def check_output_folder(folder: Path, what: str = "") -> None:
    """A folder the command will write into (``what``, for the message: "the results"): not a
    file, and writable (made if missing)."""
    if folder.exists() and not folder.is_dir():
        raise LaeError(f"cannot write {what} to {folder}: it is a file" if what else
                       f"--out {folder} is a file; this command writes a folder")
    check_creatable(folder, f"cannot write {what} to" if what else "--out")
    made = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        check_writable(folder)
    except OSError as exc:
        raise LaeError(f"cannot write {what or 'anything'} to {folder}: "
                       f"{exc.strerror or exc}") from None
    _MADE_FOLDERS.extend(made)


def forget_made_folders() -> None:
    """A command finished: the folders it made are its outputs'."""
    _MADE_FOLDERS.clear()


def remove_unused_folders() -> None:
    """Remove the folders :func:`check_output_folder` made that are still empty (called when a
    command failed or was interrupted)."""
    while _MADE_FOLDERS:
        folder = _MADE_FOLDERS.pop()
        try:
            folder.rmdir()  # only if empty
        except OSError:
            pass


def refuse_another_runs_folder(folder: Path, run_dir: Path | None = None) -> None:
    """Outputs of the run in ``run_dir`` go in its own folder or outside every run (those of no
    one run, a report or a benchmark, outside every run): inside another run's folder
    (``--out OTHER/results.json``) they would be read as that run's."""
    from lae.train.rundir import enclosing_run

    owner = enclosing_run(folder)
    if owner is not None and (run_dir is None or owner != Path(run_dir).resolve()):
        whose = f"the results of {run_dir}" if run_dir is not None else "these outputs"
        raise ConfigError(f"--out {folder} is inside the lae run {owner}: {whose} would be "
                          f"read as that run's; choose an --out outside other runs")


def refuse_run_files(out: Path, run_dir: Path, mine: tuple[str, ...]) -> None:
    """An output inside the run folder may be one of the command's own files (``mine``, paths
    relative to the run) or a new name, never another file lae keeps there (its checkpoints,
    config.yaml, lae-run.json, metrics.jsonl): --overwrite would replace the run itself."""
    from lae.train.rundir import is_owned

    try:
        relative = out.resolve().relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:  # outside the run
        return
    if is_owned(relative) and relative not in mine:
        writes = f"{' or '.join(mine)} there, or a new file" if mine else "new files only there"
        raise ConfigError(f"--out {out} is the run's own {relative}; this command writes "
                          f"{writes}: choose another --out")


def write_json(path: Path, results: dict[str, Any], echo: bool = True) -> None:
    """``results`` as JSON at ``path``, written whole or not at all (and printed)."""
    text = json.dumps(json_safe(results), indent=2)
    atomic_write(path, lambda f: f.write(text.encode()))
    if echo:
        print(text)
    print(f"wrote {path}")


def refuse_foreign_checkpoint(run: Any, out: str | None) -> None:
    """A checkpoint from outside the run's own folder may be scored only into a place the user
    names: results written into the run folder would be another run's numbers under its name."""
    from lae.train.run import is_foreign_checkpoint

    if out is None and is_foreign_checkpoint(run):
        raise ConfigError(f"--checkpoint {run.checkpoint_path} is not one of {run.run_dir}'s "
                          "own checkpoints: its results would be filed under that run; pass "
                          "--out to write them elsewhere")


def add_task_arguments(p: argparse.ArgumentParser, n_examples: int, out: str,
                       examples: str = "images") -> None:
    """The options lae anomaly and lae inpaint share (``examples``: what --n-examples counts)."""
    p.add_argument("--n-examples", type=count(0), default=n_examples,
                   help=f"N evenly spaced {examples} (0: all; default {n_examples})")
    add_checkpoint_argument(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the task's random draws "
                                                       "(default 0)")
    p.add_argument("--out", type=path_text, default=None, help=out)
    p.add_argument("--overwrite", action="store_true", help="replace existing results")


def refuse_replaced_run(run: Any) -> None:
    """A :class:`RunDirError` when the folder of the loaded ``run`` was trained over since it
    was loaded (its ``lae-run.json`` has another run_id): results computed from the model
    loaded would be filed under the new one."""
    from lae.train.rundir import read_manifest

    if run.run_id is not None and (read_manifest(run.run_dir) or {}).get("run_id") != run.run_id:
        raise RunDirError(f"{run.run_dir} was trained again (--overwrite) while this command "
                          f"ran: its results are of the model that was there before, and would "
                          f"be filed under the new one; nothing was written")


@contextmanager
def writing_results(run: Any, paths: list[Path], overwrite: bool) -> Iterator[None]:
    """Around the writing of a command's result files ``paths`` (checked free when it started):
    one command at a time (a lock on the first, :func:`lae.eval.results.results_locked`), and
    nothing written when, while this command computed, the run's folder was trained over
    (its run_id changed: the numbers are the model's before) or another command wrote these
    files (without ``overwrite``: the later used to replace the earlier's unasked)."""
    from lae.eval.results import results_locked

    refuse_replaced_run(run)  # first: a run trained over lost its output folder, lock and all
    with results_locked(paths[0]):
        refuse_replaced_run(run)
        appeared = [str(p) for p in paths if p.exists()]
        if appeared and not overwrite:
            raise RunDirError(f"{', '.join(appeared)} appeared while this command ran (another "
                              f"lae command wrote it); nothing was written: run again with "
                              f"--overwrite to replace it")
        yield


def load_task_run(args: argparse.Namespace) -> Any:
    """The run a task command works on (``args.run_dir`` at ``args.checkpoint``), refusing a
    foreign checkpoint whose results would land in the run's folder."""
    from lae.train import load_run

    run = load_run(args.run_dir, args.checkpoint)
    refuse_foreign_checkpoint(run, args.out)
    return run


def note_all_examples(n_examples: int, available: int, what: str) -> None:
    """Say so on stderr when ``--n-examples`` asks for more than the ``available`` examples of
    ``what`` (the command then uses all of them, and records how many)."""
    if n_examples > available:
        print(f"note: --n-examples {n_examples} is more than the {available} {what}: using all "
              f"{available}", file=sys.stderr)


def run_data(run: Any, data_cfg: Any = None) -> tuple[Any, str | None]:
    """The data of a loaded run (:class:`lae.data.DataSplits` of its ``config.data``, or of
    ``data_cfg``: the same with another folder or without its mask), checked against the model:
    the example shape it was trained on (else a ConfigError), and a warning when their content
    differs from what the run last trained on (the digest in its ``lae-run.json``). Returns
    (the splits, that warning or None), so that a command can keep it with its results."""
    from lae.data import load_dataset
    from lae.train.rundir import data_changed
    from lae.train.setup import data_spec

    cfg = run.config.data if data_cfg is None else data_cfg
    splits = load_dataset(cfg)
    if tuple(splits.shape) != tuple(run.model.spec.shape):
        raise ConfigError(f"the data of {run.run_dir} ({cfg.name}) now have shape "
                          f"{tuple(splits.shape)} per example, but the model was trained on "
                          f"{tuple(run.model.spec.shape)}: the dataset changed since training")
    # how the model reads the data is in its checkpoint (data_spec): the data must agree
    # (whether values hide, and how many examples, may differ: a mask left out, other data)
    spec = data_spec(splits)
    differ = [f"{key} {getattr(run.model.spec, key)!r} (the data: {getattr(spec, key)!r})"
              for key in ("value_range", "n_bits", "binary")
              if getattr(run.model.spec, key) != getattr(spec, key)]
    if differ:
        raise RunDirError(f"{run.checkpoint_path}: its data_spec has {', '.join(differ)}: the "
                          f"checkpoint was edited, or the data changed since training")
    change = data_changed(run.run_dir, splits.digest)
    if change:
        warnings.warn(change, stacklevel=2)
    return splits, change


def test_images(run: Any, n_examples: int) -> tuple[Any, Any, Any]:
    """The run's test images (evenly spaced ``n_examples``; 0: all) on the model's device,
    their labels (or None) and the training split, for the task commands."""
    from lae.data import evenly_spaced

    splits, _ = run_data(run)
    x, y = splits.test, splits.test_labels
    note_all_examples(n_examples, len(x), f"test images of {run.config.data.name}")
    x = evenly_spaced(x, n_examples)
    y = None if y is None else evenly_spaced(y, n_examples)
    device = next(run.model.parameters()).device
    return x.to(device), y, splits.train
