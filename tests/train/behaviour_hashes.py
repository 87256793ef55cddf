"""Parameter hashes of every registered preset after 20 training steps on 8x8 digits.

The reshape of the library (issue 30) must not change what any model computes: this module
trains each preset (its network narrowed, the data swapped for the bundled digits) for
``STEPS`` steps with the trainer's own step and hashes the parameters and buffers bitwise.
``tests/train/test_behaviour_unchanged.py`` compares the hashes with those recorded in
``behaviour_hashes.json`` before the reshape. A deliberate change of behaviour re-records them
(``python tests/train/behaviour_hashes.py --write``) in the same commit and says why.

Bitwise equality holds for one torch build on one CPU instruction set; the recorded file names
both, and the test skips where they differ (the hashes would differ for reasons that are not the
code's).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

STEPS = 20
HASH_FILE = Path(__file__).with_name("behaviour_hashes.json")
# digits are 8x8: the conv presets need 28x28 images, so only the MLP ones (and the toys) run
OVERRIDES = ["data.name=digits", "train.batch_size=50", "train.progress=false",
             "train.device=cpu", "train.num_threads=1", "model.net.hidden=32"]


def platform() -> dict[str, str]:
    """What bitwise equality depends on besides the code."""
    return {"torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def presets() -> list[str]:
    from lae.train.config import list_presets
    return [p for p in list_presets() if "conv" not in p]


def preset_hash(preset: str, tmp: Path) -> str:
    """sha256 over the model's parameters and buffers after STEPS training steps."""
    from lae.train import Trainer, load_config

    cfg = load_config(preset, list(OVERRIDES))
    trainer = Trainer(cfg, tmp / preset)
    x = trainer.splits.train
    generator = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        index = torch.randperm(x.shape[0], generator=generator)[:cfg.train.batch_size]
        trainer.train_step(x[index], index)
    digest = hashlib.sha256()
    for name, tensor in sorted(trainer.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    if trainer.lock is not None:
        trainer.lock.close()
    return digest.hexdigest()


def all_hashes(tmp: Path) -> dict[str, str]:
    return {p: preset_hash(p, tmp) for p in presets()}


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        hashes = all_hashes(Path(d))
    if "--write" in sys.argv:
        HASH_FILE.write_text(json.dumps({"platform": platform(), "hashes": hashes}, indent=1)
                             + "\n")
    print(json.dumps(hashes, indent=1))
