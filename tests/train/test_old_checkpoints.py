"""Checkpoints written before the reshape of the trainer and the LAE (commit 2149085: the LAE
with refinement, with a latent-EBM prior sampled by amortized ALD, and with two latent layers,
one epoch on digits each) still load, evaluate and resume: the reshape kept every buffer and
parameter name."""

import shutil
from pathlib import Path

import pytest
import torch

from lae.cli import main
from lae.models import build_model
from lae.train import load_run

OLD = Path(__file__).parent / "old_runs"


@pytest.mark.parametrize("preset", sorted(p.name for p in OLD.iterdir()))
def test_a_checkpoint_from_before_the_reshape_loads_and_resumes(preset, tmp_path, capsys):
    run = load_run(OLD / preset)
    fresh = build_model(run.config.model, run.model.spec)
    assert set(run.model.state_dict()) == set(fresh.state_dict())
    x = torch.rand(8, *run.model.spec.shape)
    out = run.model.training_step(x, torch.arange(8), torch.Generator().manual_seed(0))
    assert all(torch.isfinite(v) for v in out.losses.values())
    copy = tmp_path / preset
    shutil.copytree(OLD / preset, copy)
    assert main(["train", str(copy / "config.yaml"), "--out", str(copy), "--resume",
                 "--train.epochs=2"]) == 0, capsys.readouterr().err
    assert load_run(copy).epoch == 2
