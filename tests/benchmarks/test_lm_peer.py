"""The LM demo against torch (benchmarks/tools/lm_peer.py) as an oracle: the torch twin, loaded
with plugrad's initial weights and trained on the same batches with the same AdamW, clipping
and schedule, has the same training loss at every step and the same held-out loss in float64."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import plugrad
from plugrad import demo_lm as lm

TOOL = Path(__file__).resolve().parents[2] / "benchmarks" / "tools" / "lm_peer.py"
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def peer():
    spec = importlib.util.spec_from_file_location("lm_peer_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("device", [d for d in ("c_cpu", "numpy_ref")
                                    if d in plugrad.available_devices()])  # fmt: skip
def test_losses_match_torch_in_float64(peer, device):
    config = lm.LMConfig(seq_len=12, d_model=16, layers=2, heads=2, feedforward=32)
    hp = lm.Training(lr=1e-2, warmup=2)
    ours, theirs = peer.compare(config, hp, steps=5, batch_size=3, seed=1, dtype="float64",
                                device=device, eval_chars=240, max_chars=20000)  # fmt: skip
    assert ours.losses[-1] < ours.losses[0]  # it learns, so later steps test the updates too
    assert ours.losses == pytest.approx(theirs.losses, rel=1e-10, abs=0)
    assert ours.held_out == pytest.approx(theirs.held_out, rel=1e-10, abs=0)


def test_the_twin_refuses_weights_it_has_no_place_for(peer):
    config = lm.LMConfig(seq_len=4, d_model=8, layers=1, heads=2, feedforward=16)
    deeper = lm.build_lm(lm.LMConfig(seq_len=4, d_model=8, layers=2, heads=2, feedforward=16))
    twin = peer.torch_twin(lm.build_lm(config), config)
    assert set(twin.state_dict()) == set(lm.build_lm(config).state_dict())
    with pytest.raises(RuntimeError, match="Unexpected key"):
        peer.torch_twin(deeper, config)
