"""The README's self-contained examples (the python blocks that start with `import plugrad`)
run as written, so the README cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
          if b.startswith("import plugrad")]  # fmt: skip


def test_readme_has_runnable_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    pytest.importorskip("sklearn", reason="the training example loads scikit-learn's digits")
    monkeypatch.chdir(tmp_path)  # examples may write checkpoints
    if "plugrad.distributed" in BLOCKS[index]:
        pytest.importorskip("mpi4py", reason="the DDP example needs plugrad[distributed]")
    try:
        exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "readme"})
    finally:  # the DDP example runs here as a world of one process: leave no group behind
        import plugrad.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
