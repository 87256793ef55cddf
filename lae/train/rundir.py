"""Run directories: what makes a folder a lae run, and what ``--overwrite`` may delete.

A folder is a lae run only if lae wrote its marker, ``lae-run.json`` (the lae version and the
time the run was made). ``--overwrite`` deletes only files lae itself writes (``OWNED``, matched
by name inside the run folder), never the folder itself or anything else in it, so
``--out . --overwrite`` in a project folder that once held a run leaves the user's files alone.

Layout written by ``lae train`` (and ``lae eval``)::

    lae-run.json  config.yaml  metrics.jsonl  diagnostics.json  results.json  interpolations.png
    checkpoints/epoch_NNNN.pt  checkpoints/last.pt
    samples/samples_NNNN.png  samples/recon_NNNN.png  plots/loss.png  plots/step_sizes.png
    tensorboard/events.*  anomaly/SCORE/anomaly.json  anomaly/SCORE/anomaly_scores.npz
    inpaint/MASK.json  inpaint/MASK.png  .lae.lock  .NAME.lock beside a results file

A process that trains into a run folder holds an exclusive lock on its ``.lae.lock`` (a POSIX
record lock, released by the system when the process ends, however it ends), so a second
``--resume`` or ``--overwrite`` of a folder another process is training into is refused before
it touches anything.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import uuid
from pathlib import Path
from typing import IO, Any

import lae
from lae.errors import RunDirError
from lae.eval import interpolate, probe
from lae.tasks.anomaly import SCORES

MANIFEST = "lae-run.json"
CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"  # the epoch with the best validation bound (train.patience)
# Every file lae writes in a run folder: regular expressions on the path relative to the folder
# (what --overwrite deletes; anything else there stays, even beside lae's own files).
_NUMBER = r"[0-9.][0-9.eE+-]*"  # 0.5, .5, 5e-1: every spelling lae inpaint takes
_SCORE = "|".join(re.escape(s) for s in SCORES)
OWNED = tuple(re.compile(p) for p in (
    re.escape(MANIFEST), r"config\.yaml", r"metrics\.jsonl", r"diagnostics\.json",
    r"results(-val|-train)?\.json",
    re.escape(interpolate.PICTURE), re.escape(probe.PICTURE),
    rf"{CHECKPOINT_DIR}/(epoch_\d{{4,}}|{LAST[:-3]}|{BEST[:-3]})\.pt",
    rf"{CHECKPOINT_DIR}/\.(epoch_\d{{4,}}|{LAST[:-3]}|{BEST[:-3]})\.pt\.tmp",
    r"samples/(samples|recon)_\d{4,}\.png", r"plots/(loss|step_sizes)\.png",
    r"tensorboard/events\.out\.tfevents\.[^/]+", r"anomaly\.json",
    rf"anomaly/({_SCORE})(-vs-[^/]+)?/(anomaly\.json|anomaly_scores\.npz)",
    rf"inpaint/(train-)?(centre|bottom|pixels_{_NUMBER}|patches_\d+_{_NUMBER})\.(json|png)"))
# folders lae makes there, removed once empty (glob patterns, the deepest first)
OWNED_DIRS = ("anomaly/*", CHECKPOINT_DIR, "samples", "plots", "tensorboard", "inpaint",
              "anomaly")


def write_manifest(run_dir: Path) -> None:
    """Mark ``run_dir`` as a lae run (kept as it is when the run is resumed)."""
    path = run_dir / MANIFEST
    if not path.is_file():
        created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        # run_id tells this run from every other, also one made in the same second
        path.write_text(json.dumps({"lae_version": lae.__version__, "created_utc": created,
                                    "run_id": uuid.uuid4().hex}, indent=2) + "\n")


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of a lae run, or None where the folder has none."""
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path} is not a readable lae run manifest ({exc}); lae will not "
                          "treat the folder as a run") from None
    if not isinstance(manifest, dict) or "lae_version" not in manifest:
        raise RunDirError(f"{path} has no lae_version; not a manifest written by lae")
    # each field text, as write_manifest and record_data_digest write it (older runs lack some)
    edited = [f"{key} {manifest[key]!r}" for key in ("lae_version", "created_utc", "run_id",
                                                     "data_digest")
              if manifest.get(key) is not None and not (isinstance(manifest[key], str)
                                                        and manifest[key].strip())]
    if edited:
        raise RunDirError(f"{path}: {', '.join(edited)} (expected text, as lae writes them): the "
                          f"file was edited; restore it")
    return manifest


def record_data_digest(run_dir: Path, digest: str) -> str | None:
    """Write the digest of the data the run trains on (:attr:`lae.data.DataSplits.digest`) into
    its manifest; returns the digest recorded before when it differs (the data changed since
    the run last trained), else None."""
    manifest = read_manifest(run_dir)
    if manifest is None:  # not a lae run folder (prepare_run_dir writes the manifest first)
        return None
    before = manifest.get("data_digest")
    if before != digest:
        manifest["data_digest"] = digest
        (run_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return before if before not in (None, digest) else None


def data_changed(run_dir: Path, digest: str) -> str | None:
    """A sentence saying that the data now read differ from those ``run_dir`` last trained on
    (by :attr:`lae.data.DataSplits.digest`); None when they agree or the run recorded none."""
    trained_on = (read_manifest(run_dir) or {}).get("data_digest")
    if trained_on in (None, digest):
        return None
    return (f"the data of {run_dir} changed since it was trained (content digest {digest}, "
            f"trained on {trained_on}): the results describe the data as they are now")


def is_lae_run(run_dir: Path) -> bool:
    return read_manifest(run_dir) is not None


def enclosing_run(path: Path) -> Path | None:
    """The lae run folder ``path`` is (or lies inside), resolved; None outside every run."""
    target = path.resolve()
    return next((p for p in (target, *target.parents) if p.is_dir() and is_lae_run(p)), None)


def is_owned(relative: str) -> bool:
    """Whether ``relative`` (a path inside a run folder, with /) names a file lae writes: one of
    :data:`OWNED`, or the lock ``.NAME.lock`` beside one (lae.eval.results.results_locked)."""
    folder, _, name = relative.rpartition("/")
    locked = re.fullmatch(r"\.(.+)\.lock", name)  # .lae.lock names no owned file: not owned
    if locked:
        relative = f"{folder}/{locked[1]}" if folder else locked[1]
    return any(pattern.fullmatch(relative) for pattern in OWNED)


def owned_files(run_dir: Path) -> list[Path]:
    """The files in ``run_dir`` that lae writes (those ``--overwrite`` deletes)."""
    return sorted(p for p in run_dir.rglob("*")
                  if p.is_file() and is_owned(p.relative_to(run_dir).as_posix()))


def stale_temporaries(run_dir: Path) -> list[Path]:
    """Half-written checkpoint files left by a run killed while saving."""
    return sorted((run_dir / CHECKPOINT_DIR).glob(".*.tmp"))


def remove_owned(run_dir: Path) -> list[Path]:
    """Delete lae's files in ``run_dir`` (and its folders once they are empty); returns them."""
    removed = owned_files(run_dir)
    for path in removed:
        path.unlink()
    for pattern in OWNED_DIRS:
        for folder in sorted(run_dir.glob(pattern)):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return removed


LOCK = ".lae.lock"


class RunLock:
    """The locks a training process holds on its run folder: a POSIX record lock on
    ``.lae.lock`` (which names the process) and a ``flock`` on the folder itself, which deleting
    ``.lae.lock`` does not release (with the file alone, a second process could then train into
    the same folder). Both end with :meth:`close` or with the process, however it ends."""

    def __init__(self, file: IO[str], folder: str | None) -> None:
        self.file, self.folder = file, folder

    def close(self) -> None:
        self.file.close()
        if self.folder is not None:
            _release_folder(self.folder)
            self.folder = None

    __del__ = close  # a trainer that failed after taking the locks lets them go with it


# folders this process holds a flock on -> [fd, count]: like the POSIX record lock on
# .lae.lock, the folder's lock belongs to the process, which may take it again (a flock belongs
# to one open file, so a second open in the same process would be refused)
_HELD_FOLDERS: dict[str, list[int]] = {}


def _lock_folder(run_dir: Path) -> str | None:
    """flock the folder for this process (again, if it holds it already); its key, or None
    where the file system has no flock on folders. Raises BlockingIOError when another process
    holds it."""
    import fcntl

    key = os.path.realpath(run_dir)
    if key in _HELD_FOLDERS:
        _HELD_FOLDERS[key][1] += 1
        return key
    try:
        fd = os.open(run_dir, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    except OSError:
        os.close(fd)
        return None
    _HELD_FOLDERS[key] = [fd, 1]
    return key


def _release_folder(key: str) -> None:
    held = _HELD_FOLDERS.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        del _HELD_FOLDERS[key]
        os.close(held[0])


def lock_run_dir(run_dir: Path) -> RunLock | None:
    """Take the run folder's exclusive locks (the folder must exist), or raise
    :class:`RunDirError` naming the process that holds them. They last until the returned
    :class:`RunLock` is closed (None where the system has no POSIX locks)."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock
        return None
    try:  # the folder's own lock (where the file system has flock on folders)
        folder = _lock_folder(run_dir)
    except BlockingIOError:
        raise RunDirError(f"{run_dir} is in use: {_holder(run_dir)} is training into it; wait "
                          f"for it to end or choose another --out") from None
    f = open(run_dir / LOCK, "a+")  # noqa: SIM115 (held open for the life of the run)
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        if folder is not None:
            _release_folder(folder)
        raise RunDirError(f"{run_dir} is in use: {_holder(run_dir)} is training into it; wait "
                          f"for it to end or choose another --out") from None
    f.seek(0)
    f.truncate()
    f.write(f"lae process {os.getpid()} on {socket.gethostname()}\n")
    f.flush()
    return RunLock(f, folder)


def _holder(run_dir: Path) -> str:
    """Who holds the run's lock, as its ``.lae.lock`` says (if it is still there)."""
    try:
        return (run_dir / LOCK).read_text().strip() or "another process"
    except OSError:
        return "another process (its .lae.lock was deleted)"


def check_run_flags(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """--resume and --overwrite together are an error (lae train checks it first thing, before
    reading the run to resume; :func:`prepare_run_dir` for every other caller)."""
    if resume and overwrite:
        raise RunDirError(f"--resume continues the run in {run_dir} and --overwrite replaces "
                          f"it: give one of them")


def epoch_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the epoch checkpoints a run keeps (``checkpoints/epoch_NNNN.pt``),
    oldest first by epoch number (a name sort puts epoch 10000 before 9999)."""
    ckpt_dir = run_dir / CHECKPOINT_DIR
    found = ((p.stem.split("_", 1)[1], p) for p in ckpt_dir.glob("epoch_*.pt")
             ) if ckpt_dir.is_dir() else ()
    return sorted((int(epoch), p) for epoch, p in found if epoch.isdigit())


def resume_advice(run_dir: Path) -> str:
    """How to resume a run whose ``last.pt`` is missing or damaged: from its newest epoch
    checkpoint where it kept one, else from the start."""
    epochs = epoch_checkpoints(run_dir)
    if epochs:
        return (f"to resume from the newest epoch checkpoint kept, copy {epochs[-1][1]} to "
                f"{run_dir / CHECKPOINT_DIR / LAST} and run --resume again")
    return "no epoch checkpoint is kept: start the run again with --overwrite"


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> RunLock | None:
    """Make sure we may write into ``run_dir``, and lock it (:func:`lock_run_dir`; the lock
    lasts while the returned file stays open); never delete what lae did not write.

    - new or empty folder: created and marked;
    - a lae run with ``resume``: kept (training continues from ``checkpoints/last.pt``);
      half-written checkpoint temporaries from a killed run are removed;
    - a lae run with ``overwrite``: lae's files in it are deleted, anything else stays;
    - anything else: an error that says which flag to use.
    """
    check_run_flags(run_dir, resume=resume, overwrite=overwrite)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} is a file, not a folder; choose another --out")
    if run_dir.is_symlink() and not run_dir.exists():
        raise RunDirError(f"--out {run_dir} is a symbolic link to {os.readlink(run_dir)}, which "
                          f"does not exist; make that folder, or choose another --out")
    marked = run_dir.is_dir() and is_lae_run(run_dir)
    # runs from before the manifest existed are recognised by their config and checkpoint
    legacy = (run_dir / "config.yaml").is_file() and (run_dir / CHECKPOINT_DIR / LAST).is_file()
    linked = [run_dir / d for d in OWNED_DIRS if "*" not in d and (run_dir / d).is_symlink()]
    if linked:  # lae would write (and --overwrite delete) inside the folder it points to
        raise RunDirError(f"{linked[0]} is a symbolic link to {os.readlink(linked[0])}: lae "
                          f"would write into (and --overwrite delete from) that folder, another "
                          f"run's perhaps; replace the link by a folder")
    # a folder where lae writes a file (or the reverse) would fail mid-way, after --overwrite
    # deleted the run: said before anything is touched
    for name, kind in (("config.yaml", "file"), ("metrics.jsonl", "file"), (MANIFEST, "file"),
                       (CHECKPOINT_DIR, "folder"), ("samples", "folder"), ("plots", "folder")):
        path = run_dir / name
        if path.exists() and not (path.is_file() if kind == "file" else path.is_dir()):
            raise RunDirError(f"{path} is not a {kind}, and lae writes its {kind} {name} there: "
                              f"move it away (nothing in {run_dir} was changed)")
    if resume:
        if not (marked or legacy):
            raise RunDirError(f"--resume: {run_dir} is not a lae run directory (no {MANIFEST})")
        lock = lock_run_dir(run_dir)
        for tmp in stale_temporaries(run_dir):
            tmp.unlink()
        if not (run_dir / CHECKPOINT_DIR / LAST).is_file():
            raise RunDirError(f"--resume: {run_dir} has no {CHECKPOINT_DIR}/{LAST} (the run "
                              f"stopped before the end of its first epoch, or it was removed); "
                              f"{resume_advice(run_dir)}")
        write_manifest(run_dir)
        return lock
    outer = enclosing_run(run_dir.resolve().parent)
    if outer is not None:  # its --overwrite would delete this run with its own files
        raise RunDirError(f"--out {run_dir} is inside the lae run {outer}; a run folder holds "
                          f"one run: choose an --out outside it")
    lock = None
    if run_dir.is_dir() and any(p.name != LOCK for p in run_dir.iterdir()):
        if not (marked or legacy):  # neither --resume nor --overwrite could help
            doing = "--overwrite: refusing to delete anything in" if overwrite else \
                "refusing to write into"
            raise RunDirError(f"{doing} {run_dir}: it is not empty and not a lae run directory (no "
                              f"{MANIFEST} written by lae); choose another --out (a new or empty "
                              f"folder)")
        if not overwrite:
            raise RunDirError(f"run directory {run_dir} already exists and is not empty; pass "
                              "--resume to continue it, --overwrite to replace it, or choose "
                              "another --out")
        if not marked:
            raise RunDirError(f"--overwrite: refusing to delete anything in {run_dir}, which "
                              f"has no {MANIFEST} (a run from before lae wrote one): --resume "
                              f"continues it")
        lock = lock_run_dir(run_dir)  # before deleting: another process may be training here
        remove_owned(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = lock or lock_run_dir(run_dir)
    write_manifest(run_dir)
    return lock
