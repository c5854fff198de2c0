"""One seed, one stream: a model with Dropout, moved between devices mid-training together with
its Adam optimizer, gives the losses of a run that never moved (float64, within 1e-6).

Initialisation, dropout masks and DataLoader shuffles all come from the same seeds on every
device, so the only difference left is the rounding of sums, far below the tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad import nn
from plugrad.data import DataLoader, TensorDataset

pytestmark = pytest.mark.skipif(
    not {"numpy_ref", "c_cpu"} <= set(plugrad.available_devices()),
    reason="moving between devices needs both numpy_ref and c_cpu installed",
)

STEPS = 12


def digits_like(n: int = 120) -> TensorDataset:
    """8x8 'digits': ten class centres plus noise (float64 inputs, int64 labels), on the host."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 64))
    labels = rng.integers(0, 10, size=n)
    images = centres[labels] + 0.7 * rng.normal(size=(n, 64))
    return TensorDataset(plugrad.tensor(images, dtype="float64"), plugrad.tensor(labels))


def train(devices: list[str], move_optimizer_at: set[int] = frozenset()) -> list[float]:
    """Losses of STEPS Adam steps; step i runs on devices[i] (the model moves when it changes;
    at the steps in move_optimizer_at the optimizer's state moves at once, else lazily)."""
    plugrad.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 32, device=devices[0], dtype="float64"),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(32, 10, device=devices[0], dtype="float64"),
    )
    opt = plugrad.optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(digits_like(), batch_size=16, shuffle=True)
    batches = (batch for _ in range(STEPS) for batch in loader)
    losses = []
    for step, device in enumerate(devices):
        if device != model[0].weight.device.name:
            model.to(device)
            if step in move_optimizer_at:
                opt.to(device)
        x, y = next(batches)
        loss = nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("home", ["c_cpu", "numpy_ref"])
def test_moving_mid_training_matches_a_run_that_never_moved(home):
    away = "numpy_ref" if home == "c_cpu" else "c_cpu"
    still = train([home] * STEPS)
    moved = train([home] * 4 + [away] * 4 + [home] * 4, move_optimizer_at={4})
    np.testing.assert_allclose(moved, still, rtol=0, atol=1e-6)
    assert len(set(still)) == STEPS  # the losses move: the comparison means something


def test_every_device_trains_the_same_from_the_same_seed():
    np.testing.assert_allclose(train(["numpy_ref"] * STEPS), train(["c_cpu"] * STEPS), atol=1e-6)
