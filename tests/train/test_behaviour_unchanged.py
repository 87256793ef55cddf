"""Refactors keep behaviour: every MLP preset's parameters after 20 steps on digits are bitwise
those recorded in behaviour_hashes.json (see behaviour_hashes.py for what is hashed and when the
file is re-recorded)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import behaviour_hashes as bh  # noqa: E402

RECORDED = json.loads(bh.HASH_FILE.read_text())


def test_every_mlp_preset_is_recorded():
    assert sorted(RECORDED["hashes"]) == sorted(bh.presets())


@pytest.mark.parametrize("preset", sorted(RECORDED["hashes"]))
def test_parameters_after_20_steps_are_bitwise_unchanged(preset, tmp_path):
    if bh.platform() != RECORDED["platform"]:
        pytest.skip(f"hashes recorded on {RECORDED['platform']}, this is {bh.platform()}")
    assert bh.preset_hash(preset, tmp_path) == RECORDED["hashes"][preset], (
        f"{preset}: 20 training steps on digits no longer give the recorded parameters; if the "
        "change of behaviour is deliberate, re-record with python tests/train/behaviour_hashes.py "
        "--write and say why in the commit")
