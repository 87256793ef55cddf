"""Every Python block in README.md and docs/ runs, or says on its first line that it is a
sketch (``# a sketch: ...``, naming what the reader supplies). A block that stops running is a
test failure, not a reader's surprise."""

import re
from pathlib import Path

import pytest

from lae.cli import main

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks():
    for path in FILES:
        for i, match in enumerate(BLOCK.finditer(path.read_text())):
            yield pytest.param(path, match.group(1), id=f"{path.relative_to(ROOT)}#{i}")


def _set_up(path: Path, tmp_path: Path) -> None:
    """What a block expects to exist: docs/tasks.md's block reads a run trained with class 3
    held out (tiny here: digits, one epoch)."""
    if path.name == "tasks.md":
        assert main(["train", "vae-mnist5k-mlp", "--data.name=digits", "--data.holdout_class=3",
                     "--out", str(tmp_path / "runs" / "tasks"), "--train.epochs=1",
                     "--train.progress=false", "--model.net.hidden=16", "--train.eval_size=20",
                     "--train.eval_k=2", "--train.n_samples=4"]) == 0


@pytest.mark.parametrize("path,code", list(_blocks()))
def test_every_python_block_in_the_docs_runs_or_is_marked_a_sketch(path, code, tmp_path,
                                                                   monkeypatch):
    if "sketch" in code.splitlines()[0].lower():
        return  # the reader supplies the set-up it names
    monkeypatch.chdir(tmp_path)
    _set_up(path, tmp_path)
    exec(compile(code, str(path), "exec"), {"__name__": "__doc_block__"})  # noqa: S102


def test_the_docs_have_python_blocks_to_check():
    assert len(list(_blocks())) >= 3
