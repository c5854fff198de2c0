"""A dtype change of the parameters mid-training: the optimizer's state follows (torch users
cast it by hand; plugrad does it at the next step or at opt.to(dtype))."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
from plugrad import nn

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def _pair(device: str):
    plugrad.manual_seed(0)
    model = nn.Linear(4, 3).to(device)
    peer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        peer.weight.copy_(torch.tensor(model.weight.detach().numpy()))
        peer.bias.copy_(torch.tensor(model.bias.detach().numpy()))
    return model, peer


def _step(model, opt, x: np.ndarray, lib) -> None:
    opt.zero_grad()
    dtype = model.weight.dtype
    if lib is torch:
        inputs = torch.tensor(x).to(dtype)
    else:
        inputs = plugrad.tensor(x, dtype=dtype, device=model.weight.device)
    (model(inputs) ** 2).sum().backward()
    opt.step()


@pytest.mark.parametrize("explicit", [False, True], ids=["lazily", "opt.to"])
@pytest.mark.parametrize("device", ["numpy_ref", "c_cpu"])
def test_adam_state_follows_model_to_float64(device, explicit):
    model, peer = _pair(device)
    opt = plugrad.optim.Adam(model.parameters(), lr=0.01)
    peer_opt = torch.optim.Adam(peer.parameters(), lr=0.01)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(6)]
    for x in xs[:3]:
        _step(model, opt, x, plugrad)
        _step(peer, peer_opt, x, torch)
    model.to(plugrad.float64)
    if explicit:
        opt.to(plugrad.float64)
    peer.double()
    for state in peer_opt.state.values():  # what torch leaves to its user
        for key in ("exp_avg", "exp_avg_sq"):
            state[key] = state[key].double()
    for x in xs[3:]:
        _step(model, opt, x, plugrad)
        _step(peer, peer_opt, x, torch)
    assert model.weight.dtype == plugrad.float64
    assert all(s["exp_avg"].dtype == plugrad.float64 for s in opt.state.values())
    for mine, theirs in ((model.weight, peer.weight), (model.bias, peer.bias)):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("cast", ["half", "bfloat16"])
def test_a_half_model_trains_as_torch_does(cast):
    """Module.half() / .bfloat16(): parameters, gradients and the SGD update in 16 bits."""
    model, peer = _pair("numpy_ref")
    getattr(model, cast)()
    getattr(peer, cast)()
    assert model.weight.dtype == getattr(plugrad, cast if cast == "bfloat16" else "float16")
    opt = plugrad.optim.SGD(model.parameters(), lr=0.1)
    peer_opt = torch.optim.SGD(peer.parameters(), lr=0.1)
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    _step(model, opt, x, plugrad)
    _step(peer, peer_opt, x, torch)
    assert model.weight.grad.dtype == model.weight.dtype
    tolerance = 2e-2 if cast == "bfloat16" else 2e-3
    np.testing.assert_allclose(
        model.weight.detach().numpy().astype(np.float32), peer.weight.detach().float().numpy(),
        rtol=tolerance, atol=tolerance,
    )  # fmt: skip


def test_optimizer_to_refuses_an_integer_dtype():
    model, _ = _pair("numpy_ref")
    opt = plugrad.optim.Adam(model.parameters())
    with pytest.raises(TypeError, match="floating dtypes, got int64"):
        opt.to(plugrad.int64)


def test_a_16_bit_model_on_a_device_without_16_bit_dtypes_is_refused_by_name(make_device):
    make_device("four_dtypes", ("float32", "float64", "int64", "bool"))
    model, _ = _pair("four_dtypes")
    with pytest.raises(TypeError, match="does not support dtype float16"):
        model.half()
    assert model.weight.dtype == plugrad.float32  # refused before anything changed
