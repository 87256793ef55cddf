"""The examples in examples/ run as documented."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_custom_modules_example_trains(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_modules.py"),
                           "--out", str(tmp_path / "run"), "--epochs", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert "nll_iwae_nats" in proc.stdout


def test_tasks_example_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "tasks.py"),
                           "--out", str(tmp_path / "run"), "--epochs", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'auprc'" in proc.stdout and "PSNR" in proc.stdout
