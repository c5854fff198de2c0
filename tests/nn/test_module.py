"""Module, Parameter and containers: registration, traversal, modes, devices, state_dict."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.nn as nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.norm = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(plugrad.ones(4))
        self.register_buffer("steps", plugrad.zeros((), dtype=plugrad.int64))
        self.register_buffer("cache", plugrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


def test_parameter_is_a_leaf_tensor_sharing_memory():
    t = plugrad.zeros(3)
    p = nn.Parameter(t)
    assert isinstance(p, plugrad.Tensor) and p.requires_grad and p.is_leaf
    t.fill_(2.0)
    assert p.tolist() == [2.0, 2.0, 2.0]
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(plugrad.zeros(2), requires_grad=False).requires_grad
    assert type(p * 2) is plugrad.Tensor
    with pytest.raises(TypeError, match="plugrad Tensor"):
        nn.Parameter(np.zeros(3))


def test_registration_and_traversal():
    m = nn.Sequential(Block(), nn.ReLU(), Block())
    names = [n for n, _ in m.named_parameters()]
    # torch's order: a module's own parameters, then its children's, depth first
    assert names == [
        "0.scale",
        "0.fc.weight",
        "0.fc.bias",
        "0.norm.weight",
        "0.norm.bias",
        "2.scale",
        "2.fc.weight",
        "2.fc.bias",
        "2.norm.weight",
        "2.norm.bias",
    ]
    assert len(list(m.parameters())) == 10
    assert [n for n, _ in m.named_children()] == ["0", "1", "2"]
    assert [type(x).__name__ for x in m.modules()] == [
        "Sequential",
        "Block",
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Block",
        "Linear",
        "BatchNorm1d",
    ]
    assert [n for n, _ in m.named_buffers()] == [
        "0.steps", "0.cache", "0.norm.running_mean", "0.norm.running_var",
        "0.norm.num_batches_tracked", "2.steps", "2.cache", "2.norm.running_mean",
        "2.norm.running_var", "2.norm.num_batches_tracked"]  # fmt: skip
    assert "0.cache" not in m.state_dict() and "0.steps" in m.state_dict()
    assert m.get_submodule("2.fc") is m[2].fc
    assert m.get_parameter("0.fc.bias") is m[0].fc.bias
    assert len(list(m[0].parameters(recurse=False))) == 1


def test_shared_parameters_appear_once():
    shared = nn.Linear(3, 3)
    m = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_attribute_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.weight = plugrad.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope  # noqa: B018

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Early()
    del m.weight
    assert "weight" not in dict(m.named_parameters())
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_train_eval_propagates():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert all(x.training for x in m.modules())
    assert m.eval() is m and not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())


def test_zero_grad_and_apply():
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    m(plugrad.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())

    def init(module):
        if isinstance(module, nn.Linear):
            nn.init.constant_(module.weight, 0.5)

    assert m.apply(init) is m
    assert (m[0].weight.detach().numpy() == 0.5).all()
    assert (m[2].weight.detach().numpy() == 0.5).all()


def test_repr_is_readable():
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.LayerNorm(128),
                      nn.Residual(nn.Linear(128, 128)), nn.Linear(128, 10, bias=False))  # fmt: skip
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=64, out_features=128, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.1)\n"
        "  (3): LayerNorm((128,), eps=1e-05, elementwise_affine=True)\n"
        "  (4): Residual(\n"
        "    (fn): Linear(in_features=128, out_features=128, bias=True)\n"
        "  )\n"
        "  (5): Linear(in_features=128, out_features=10, bias=False)\n"
        ")"
    )
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Tanh())
    assert len(layers) == 4 and len(list(layers.parameters())) == 6
    assert isinstance(layers[-1], nn.Tanh) and len(layers[1:]) == 3
    with pytest.raises(IndexError, match="out of range"):
        layers[4]  # noqa: B018
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert list(heads) == ["a", "b"] and "a" in heads
    assert [n for n, _ in heads.named_parameters()][:2] == ["a.weight", "a.bias"]
    with pytest.raises(KeyError, match="has no module 'c'"):
        heads["c"]  # noqa: B018
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    assert seq(plugrad.randn(5, 2)).shape == (5, 1)
    with pytest.raises(ValueError, match="same shape"):
        nn.Residual(nn.Linear(2, 3))(plugrad.randn(4, 2))
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Linear(2, 2), "relu")


def test_state_dict_round_trip_and_errors(device):
    plugrad.manual_seed(0)
    a, b = Block().to(device), Block().to(device)
    x = plugrad.randn(6, 4, device=device)
    a(x)  # update running statistics
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    state = a.state_dict()
    assert not any(t.requires_grad for t in state.values())
    state["fc.weight"] = plugrad.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc.weight.*\(3, 4\).*\(4, 4\)"):
        b.load_state_dict(state)
    partial = {k: v for k, v in a.state_dict().items() if k != "scale"}
    partial["extra"] = plugrad.zeros(1)
    with pytest.raises(RuntimeError, match="unexpected keys: extra") as info:
        b.load_state_dict(partial)
    assert "missing keys: scale" in str(info.value)
    result = b.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra"]


@pytest.mark.parametrize("target", plugrad.available_devices())
def test_to_moves_in_place_keeping_parameter_objects(device, target):
    m = Block().to(device)
    m(plugrad.randn(3, 4, device=device)).sum().backward()
    params = list(m.parameters())
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    assert m.to(target) is m
    assert all(p is q for p, q in zip(m.parameters(), params))
    for t in list(m.parameters()) + list(m.buffers()):
        assert t.device is plugrad.device(target)
    assert all(p.grad.device is plugrad.device(target) for p in m.parameters())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    m.double()
    assert m.fc.weight.dtype is plugrad.float64 and m.steps.dtype is plugrad.int64
    with pytest.raises(TypeError, match="floating"):
        m.to(plugrad.int64)


def test_dropout_is_reproducible_and_unbiased(device):
    layer = nn.Dropout(0.25)
    x = plugrad.ones(200, 100, device=device)
    plugrad.manual_seed(7)
    first = layer(x).numpy()
    plugrad.manual_seed(7)
    np.testing.assert_array_equal(first, layer(x).numpy())
    assert abs((first == 0).mean() - 0.25) < 0.02
    assert abs(first.mean() - 1.0) < 0.03
    assert set(np.unique(first)) <= {0.0, np.float32(1 / 0.75)}
    assert not nn.Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(1.5)


def test_layer_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(2, 4\)"):
        nn.Linear(4, 2)(plugrad.randn(5, 3))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(plugrad.randn(1, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\)"):
        nn.BatchNorm1d(3)(plugrad.randn(4, 5))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(4)(plugrad.randn(2, 5))
    logits = plugrad.randn(4, 3)
    with pytest.raises(ValueError, match=r"class probabilities.*\(4, 3\).*int64"):
        nn.CrossEntropyLoss()(logits, plugrad.tensor([0, 1, 2, 0], dtype=plugrad.float32))
    with pytest.raises(TypeError, match="int64"):
        nn.NLLLoss()(logits, plugrad.tensor([0, 1, 2, 0], dtype=plugrad.float32))
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        nn.CrossEntropyLoss()(logits, plugrad.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"target of shape \(4,\)"):
        nn.CrossEntropyLoss()(logits, plugrad.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
