"""Load a trained model back from its run directory (for sampling, evaluation and reports)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lae.errors import ConfigError, LaeError, RunDirError
from lae.eval.plots import read_metrics
from lae.models import DataSpec, LatentModel, build_model
from lae.train.checkpoint import (
    DAMAGED_ADVICE,
    check_checkpoint_records,
    checkpoint_part,
    find_checkpoint,
    load_checkpoint,
    load_model_state,
)
from lae.train.config import Config, config_from_dict
from lae.train.rundir import CHECKPOINT_DIR, LAST, read_manifest, resume_advice


def check_config_file(run_dir: Path, checkpoint_path: Path, saved: dict[str, Any]) -> None:
    """Refuse a run whose ``config.yaml`` disagrees with the config its checkpoint
    ``checkpoint_path`` was trained with (``saved``, the checkpoint's own): a file edited after
    training, or a checkpoint from another run, whose numbers would be filed under settings they
    do not have. Settings a resumed run may change (``lae.train.resume.resumable_changes``) are
    not compared: an older checkpoint of a resumed run keeps its old ones. A missing file passes
    (the checkpoint holds the config); an empty or unreadable one is damaged (``lae train
    --resume`` writes an emptied one back from the checkpoint).

    Raises:
        RunDirError: config.yaml is damaged, names another model, or differs in other settings.
    """
    import yaml

    from lae.train.resume import changed_settings, resumable_changes

    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunDirError(f"{path} is damaged ({first}); restore it (the checkpoint holds the "
                          f"run's config) or remove it") from None
    if raw is None:  # emptied: the one reader that writes the run folder repairs it
        raise RunDirError(f"{path} is damaged (expected a mapping with a 'model' section, as lae "
                          f"train writes it; it is empty): lae train --resume writes it back from "
                          f"the checkpoint; or restore it, or remove it")
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), dict):
        raise RunDirError(f"{path} is damaged (expected a mapping with a 'model' section, as lae "
                          f"train writes it); restore it (the checkpoint holds the run's config) "
                          f"or remove it")
    trained, held = raw["model"].get("name"), saved.get("model", {}).get("name")
    if trained is None:
        raise RunDirError(f"{path} has no model.name (lae train writes every key of the run's "
                          f"config there); restore it (the checkpoint holds the run's config, "
                          f"a {held!r} model) or remove it")
    if trained != held:
        raise RunDirError(f"checkpoint {checkpoint_path} holds a {held!r} model, but {path} says "
                          f"the run trained {trained!r}: its numbers would be filed under the "
                          "wrong model; if the checkpoint came from another run, evaluate that "
                          "run; if config.yaml was edited, restore it")
    try:  # a key lae does not know (an edit, a typo) is said, as --resume says it
        config_from_dict(raw)
    except ConfigError as exc:
        raise RunDirError(f"{path}: {exc}; restore it (the checkpoint holds the run's config) "
                          f"or remove it") from None
    changed = changed_settings(saved, raw, resumable_changes(config_from_dict(saved)))
    if changed:
        raise RunDirError(f"{path} differs from the config checkpoint {checkpoint_path} was "
                          f"trained with: {', '.join(changed)} (checkpoint -> config.yaml). "
                          "Its numbers belong to the checkpoint's settings: if config.yaml was "
                          "edited, restore it; if the checkpoint came from another run, "
                          "evaluate that run")


def check_run_config(run_dir: Path) -> dict[str, Any] | None:
    """:func:`check_config_file` against the run's last checkpoint, where it has one; returns
    the config the checkpoint holds, the run's config also where config.yaml was removed. A run
    stopped before its first checkpoint has nothing to compare with: its config.yaml read as a
    config (every key filled in), or None without one.

    Raises:
        RunDirError: as :func:`check_config_file`.
    """
    if not (run_dir / CHECKPOINT_DIR / LAST).exists():
        # nothing to compare with: config.yaml must at least be a config lae reads, and its
        # every key is then known (a hand-made file may leave some out)
        path = run_dir / "config.yaml"
        if not path.is_file():
            return None
        import yaml

        try:
            return config_from_dict(yaml.safe_load(path.read_text())).to_dict()
        except (OSError, UnicodeDecodeError, yaml.YAMLError, LaeError, TypeError, ValueError,
                AttributeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RunDirError(f"{path} is not a config lae train writes ({first}); restore it "
                              f"or remove the folder") from None
    path = find_checkpoint(run_dir, "last")
    advice = f"the run's config.yaml and records are checked against it; {resume_advice(run_dir)}"
    checkpoint = load_checkpoint(path, advice=advice)
    saved = checkpoint.get("config") or {}
    check_config_file(run_dir, path, saved)
    # the records a report reads: the ones this checkpoint was written with
    records = check_checkpoint_records(run_dir, path, checkpoint["epoch"], checkpoint["step"],
                                       advice)
    _check_dimensions(run_dir, records, checkpoint.get("data_spec"))
    return saved


def _check_dimensions(run_dir: Path, records: list[dict[str, Any]], data_spec: Any) -> None:
    """Bits per dimension in the run's scores (records and results.json) are per the data's
    dimensions, the product of the shape its checkpoint's ``data_spec`` records."""
    import math

    from lae.eval.keys import bits_per_dim_problems
    from lae.eval.results import read_results

    shape = data_spec.get("shape") if isinstance(data_spec, dict) else None
    if not (isinstance(shape, (list, tuple)) and shape
            and all(isinstance(n, int) and n >= 1 for n in shape)):
        return  # an edited data_spec is said where it is read (load_run)
    dims = math.prod(shape)
    scores = [(f"{run_dir / 'metrics.jsonl'} (epoch {r['epoch']})", r) for r in records
              if r["split"] in ("test", "val")]
    if (run_dir / "results.json").is_file():
        results = read_results(run_dir / "results.json")
        scores.append((str(run_dir / "results.json"), {
            k: v.get("value") if isinstance(v, dict) else None
            for k, v in results["metrics"].items()}))
    for where, values in scores:
        wrong = bits_per_dim_problems(values, dims)
        if wrong:
            raise RunDirError(f"{where}: {wrong[0]}: not as lae writes it, so the file was "
                              f"edited; restore it, or score the run again with lae eval "
                              f"{run_dir} --overwrite")


def check_run_results(run_dir: Path, config: dict[str, Any] | None = None) -> None:
    """Refuse a run's ``results.json`` that is not this run's: one not as lae eval writes it
    (:func:`lae.eval.results.read_results`), of another data set than the run's ``config``
    (its checkpoint's, :func:`check_run_config`), a checkpoint outside the run's own
    ``checkpoints`` folder, another run's ``run_id`` (a file copied between
    folders; ``lae eval`` refuses to add to it alike) or none where the run has one (lae eval
    has written the run's run_id into every results file since runs have one). A report would
    show its numbers as this run's.

    Raises:
        RunDirError: naming the file, what is wrong and what to do.
    """
    from lae.eval.results import checkpoint_in_run, read_results, training_warnings

    path = run_dir / "results.json"
    if not path.is_file():
        return
    results = read_results(path)
    # lae eval files under a run only what one of its own checkpoints scored
    # (lae.commands.base.refuse_foreign_checkpoint)
    inside = checkpoint_in_run(results)
    if results.get("checkpoint") and results.get("run_dir") and not (
            inside or "").startswith("checkpoints/"):
        raise RunDirError(f"{path}: its checkpoint {results['checkpoint']!r} is not one of the "
                          f"run's own (in {results['run_dir']}/checkpoints): lae eval files "
                          f"no other checkpoint's numbers under a run, so the file was edited; "
                          f"score the run again with lae eval {run_dir} --overwrite")
    data = (config or {}).get("data") or {}
    dataset = data.get("name")
    if results.get("split") == "val" and config and not data.get("val_size"):
        raise RunDirError(f"{path}: its split is 'val', and the run has no validation split "
                          f"(data.val_size is 0): the file was edited; score the run again with "
                          f"lae eval {run_dir} --overwrite")
    if dataset and results.get("dataset") not in (None, dataset):
        raise RunDirError(f"{path}: its dataset {results['dataset']!r} is not the run's "
                          f"({dataset!r}): the file was edited or copied here; score the run "
                          f"again with lae eval {run_dir} --overwrite")
    # the trainer's warnings it copied are the run's own warning records
    logged = training_warnings(read_metrics(run_dir / "metrics.jsonl"))
    made_up = [w for w in results.get("training_warnings") or [] if w not in logged]
    if made_up:
        raise RunDirError(f"{path}: its training_warnings hold {made_up[0]!r}, which is not a "
                          f"warning record of {run_dir / 'metrics.jsonl'} (lae eval copies "
                          f"them from there): the file was edited; score the run again with lae "
                          f"eval {run_dir} --overwrite")
    theirs = results.get("run_id")
    mine = (read_manifest(run_dir) or {}).get("run_id")
    if theirs and mine and theirs != mine:
        raise RunDirError(f"{path} holds the results of another run (run_id {theirs}; this "
                          f"run's {mine}): it was copied here; remove it, or score this run with "
                          f"lae eval {run_dir} --overwrite")
    if mine and not theirs:
        raise RunDirError(f"{path} has no run_id where this run has one ({mine}; lae eval "
                          f"writes it into each results file of a run that has one): the file "
                          f"was edited or comes from elsewhere; remove it, or score this run "
                          f"with lae eval {run_dir} --overwrite")
    # results of other data than the run trained on carry lae eval's sentence saying so
    # (lae.train.rundir.data_changed, which names the digest)
    digest, trained_on = results.get("data_digest"), (read_manifest(run_dir) or {}).get(
        "data_digest")
    changed = [w for w in results.get("warnings") or [] if " changed since it was trained" in w]
    if changed and trained_on and not all(f"trained on {trained_on}" in w and
                                          f"digest {digest}," in w for w in changed):
        raise RunDirError(f"{path}: its warning {changed[0]!r} names data digests that are not "
                          f"the run's ({trained_on}) and the file's ({digest}): the file was "
                          f"edited; score the run again with lae eval {run_dir} --overwrite")
    if digest and trained_on and digest != trained_on and not any(
            isinstance(w, str) and digest in w for w in results.get("warnings") or []):
        raise RunDirError(f"{path}: its data_digest {digest} is not that of the data the run "
                          f"trained on ({trained_on}), and the file does not say so as lae eval "
                          f"does: it was edited, or the run trained on other data since; score "
                          f"the run again with lae eval {run_dir} --overwrite")


@dataclass
class LoadedRun:
    run_dir: Path
    checkpoint_path: Path
    config: Config
    model: LatentModel  # in eval mode
    epoch: int
    step: int
    # the run's lae-run.json run_id when loaded (None: no manifest, or a checkpoint from
    # elsewhere): a later look tells whether the folder was trained over meanwhile
    run_id: str | None = None


def is_foreign_checkpoint(run: LoadedRun) -> bool:
    """True when the run's checkpoint is a file outside its own checkpoints folder (results
    written into the run folder would then describe another run)."""
    own = (run.run_dir / "checkpoints").resolve()
    return own not in run.checkpoint_path.resolve().parents


def load_run(run_dir: Path | str, checkpoint: str = "last",
             device: torch.device | str = "cpu",
             advice: str = DAMAGED_ADVICE) -> LoadedRun:
    """Rebuild the model of a run from a checkpoint; the data set is not needed.

    Args:
        run_dir: a folder written by ``lae train``.
        checkpoint: "last", an epoch number, or a path to a ``.pt`` file.
        device: where to put the model.
        advice: what the caller's user can do about a damaged checkpoint (ends its error).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is a file; expected a run folder written by lae train")
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist")
    path = find_checkpoint(run_dir, checkpoint)
    payload: dict[str, Any] = load_checkpoint(path, advice=advice)
    cfg = config_from_dict(payload["config"])
    check_config_file(run_dir, path, payload["config"])
    with checkpoint_part(path, "data description (data_spec)", advice):
        raw_spec = payload["data_spec"]
        spec = DataSpec(shape=tuple(raw_spec["shape"]),
                        value_range=tuple(raw_spec["value_range"]),
                        n_bits=raw_spec["n_bits"], binary=raw_spec["binary"],
                        missing=raw_spec.get("missing", False),
                        n_train=raw_spec.get("n_train", 0))
    model = build_model(cfg.model, spec)
    load_model_state(model, payload["model"], path, advice=advice)
    model.to(device).eval()
    run = LoadedRun(run_dir, path, cfg, model, payload["epoch"], payload["step"])
    if not is_foreign_checkpoint(run):
        run.run_id = (read_manifest(run_dir) or {}).get("run_id")
        check_checkpoint_records(run_dir, path, run.epoch, run.step, advice)
    return run

