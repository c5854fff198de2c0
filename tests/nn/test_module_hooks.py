"""Module hooks against torch: forward pre-hooks and forward hooks (replacing args and
outputs, kwargs, order, prepend, always_call), full backward hooks and pre-hooks (what they
see, replacing gradients, modules whose inputs do not require grad), and removal."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.nn as pnn

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy()).copy()


def scenario(lib, nn, device=None):
    kw = {"device": device} if lib is plugrad else {}
    log = []
    lin = nn.Linear(3, 2).double()
    if lib is plugrad:
        lin.to(device)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3) / 10, **kw))
        lin.bias.copy_(lib.tensor([0.5, -0.5], **kw))
    handles = [
        lin.register_forward_pre_hook(lambda m, a: (a[0] * 2,)),
        lin.register_forward_hook(lambda m, a, o: o + 1),
        lin.register_forward_hook(lambda m, a, o: log.append(("first", _np(o))), prepend=True),
        lin.register_full_backward_hook(
            lambda m, gi, go: (
                log.append(("bw", [_np(g) for g in gi], [_np(g) for g in go])) or (gi[0] * 3,)
            )
        ),
        lin.register_full_backward_pre_hook(
            lambda m, go: log.append(("pre", [_np(g) for g in go])) or (go[0] * 10,)
        ),
    ]
    x = lib.tensor(np.arange(6.0).reshape(2, 3), dtype=lib.float64, requires_grad=True, **kw)
    y = lin(x)
    (y * y).sum().backward()
    log.append(("grads", _np(x.grad), _np(lin.weight.grad), _np(lin.bias.grad)))
    for h in handles:
        h.remove()
    log.append(("removed", _np(lin(x))))
    lin.register_full_backward_hook(lambda m, gi, go: log.append(("no-grad input", gi)))
    lin(lib.ones(1, 3, dtype=lib.float64, **kw)).sum().backward()
    return log


def flat(v):
    if isinstance(v, (list, tuple)):
        return [e for item in v for e in flat(item)]
    return [v]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_module_hooks_match_torch(device):
    ours, theirs = scenario(plugrad, pnn, device), scenario(torch, torch.nn)
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    for a, b in zip(ours, theirs):
        fa, fb = flat(list(a[1:])), flat(list(b[1:]))
        assert len(fa) == len(fb), a[0]
        for p, q in zip(fa, fb):
            if p is None or q is None:
                assert p is None and q is None, a[0]
            else:
                np.testing.assert_allclose(np.asarray(p), np.asarray(q), err_msg=a[0])


def test_forward_hooks_with_kwargs_and_always_call(device):
    class Scale(pnn.Module):
        def forward(self, x, factor=1.0):
            if factor < 0:
                raise ValueError("negative factor")
            return x * factor

    m = Scale()
    seen = []
    m.register_forward_pre_hook(
        lambda mod, a, k: (a, {"factor": k["factor"] * 2}), with_kwargs=True
    )
    m.register_forward_hook(lambda mod, a, k, out: seen.append((k, out.item())), with_kwargs=True)
    m.register_forward_hook(lambda mod, a, out: seen.append(("always", out)), always_call=True)
    assert m(plugrad.tensor(3.0, device=device), factor=2.0).item() == 12.0
    assert seen[0] == ({"factor": 4.0}, 12.0)
    with pytest.raises(ValueError):
        m(plugrad.tensor(3.0, device=device), factor=-1.0)
    assert seen[-1] == ("always", None)


def test_backward_hook_sees_each_submodule_once_in_reverse_order(device):
    model = pnn.Sequential(pnn.Linear(4, 3), pnn.Tanh(), pnn.Linear(3, 1)).to(device)
    order = []
    for name, sub in model.named_children():
        sub.register_full_backward_hook(lambda m, gi, go, name=name: order.append(name))
    x = plugrad.randn(5, 4, device=device, requires_grad=True)
    model(x).sum().backward()
    assert order == ["2", "1", "0"]


def test_writing_a_hooked_output_in_place_is_refused(device):
    lin = pnn.Linear(2, 2).to(device)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    y = lin(plugrad.randn(1, 2, device=device, requires_grad=True))
    with pytest.raises(RuntimeError, match="backward hook"):
        y.relu_()
