"""Embedding, RNN/LSTM/GRU and their cells against torch with copied weights (float64, every
device): outputs, final states, input, initial-state and parameter gradients over a covering
subset of the options (batch, sizes, length, layers, batch_first, bidirectional, h0)."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_torch import assert_close, make, to_torch

import plugrad
import plugrad.nn as nn

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)
F64 = plugrad.float64


def _load(ours: nn.Module, theirs):
    theirs = theirs.double()
    missing = theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    assert not missing.missing_keys and not missing.unexpected_keys
    return theirs


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flatten(item)]
    return [out]


def _compare(ours, theirs, inputs, device):
    """Forward both on the same inputs; backward a random projection of every output."""
    xs = [x.detach().requires_grad_(True) for x in inputs]
    txs = [to_torch(x).requires_grad_(True) for x in inputs]
    outs = _flatten(ours(xs[0], *_pack(ours, xs[1:])))
    touts = _flatten(theirs(txs[0], *_pack(ours, txs[1:])))
    assert len(outs) == len(touts)
    total, ttotal = 0, 0
    for k, (o, t) in enumerate(zip(outs, touts)):
        assert_close(o, t, F64)
        up = make(o.shape, device, F64, seed=10 + k)
        total = total + (o * up).sum()
        ttotal = ttotal + (t * to_torch(up)).sum()
    total.backward()
    ttotal.backward()
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad, F64)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_params[name].grad, F64)


def _pack(module, states):
    """LSTM modules take (h0, c0) as one argument."""
    if not states:
        return ()
    if isinstance(module, (nn.LSTM, nn.LSTMCell)):
        return (tuple(states),)
    return tuple(states)


RECURRENT = [
    # (kind, extra kwargs, batch, length, layers, batch_first, bidirectional, with h0, bias)
    ("RNN", {"nonlinearity": "tanh"}, 3, 4, 1, False, False, False, True),
    ("RNN", {"nonlinearity": "relu"}, 2, 3, 2, True, True, True, False),
    ("LSTM", {}, 3, 4, 1, False, True, True, True),
    ("LSTM", {}, 2, 3, 2, True, False, False, True),
    ("LSTM", {}, None, 3, 2, False, True, True, True),
    ("GRU", {}, 3, 4, 2, False, True, True, True),
    ("GRU", {}, 1, 5, 1, True, False, True, False),
    ("GRU", {}, None, 2, 1, False, False, False, True),
]


@pytest.mark.parametrize(
    "kind, extra, batch, length, layers, batch_first, bidirectional, with_h0, bias", RECURRENT
)
def test_recurrent_matches_torch(
    device, kind, extra, batch, length, layers, batch_first, bidirectional, with_h0, bias
):
    plugrad.manual_seed(0)
    kwargs = dict(num_layers=layers, bias=bias, batch_first=batch_first,
                  bidirectional=bidirectional, **extra)  # fmt: skip
    ours = getattr(nn, kind)(3, 4, device=device, dtype=F64, **kwargs)
    theirs = _load(ours, getattr(torch.nn, kind)(3, 4, **kwargs))
    if batch is None:
        shape = (length, 3)
    else:
        shape = (batch, length, 3) if batch_first else (length, batch, 3)
    inputs = [make(shape, device, F64)]
    if with_h0:
        directions = 2 if bidirectional else 1
        state = (layers * directions,) + (() if batch is None else (batch,)) + (4,)
        count = 2 if kind == "LSTM" else 1
        inputs += [make(state, device, F64, seed=3 + k) for k in range(count)]
    _compare(ours, theirs, inputs, device)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched, with_h0", [(True, True), (False, False)])
def test_cells_match_torch(device, kind, batched, with_h0):
    plugrad.manual_seed(1)
    ours = getattr(nn, kind)(3, 5, device=device, dtype=F64)
    theirs = _load(ours, getattr(torch.nn, kind)(3, 5))
    inputs = [make((2, 3) if batched else (3,), device, F64)]
    if with_h0:
        count = 2 if kind == "LSTMCell" else 1
        inputs += [make((2, 5), device, F64, seed=4 + k) for k in range(count)]
    _compare(ours, theirs, inputs, device)


def test_dropout_between_layers_only_while_training(device):
    plugrad.manual_seed(2)
    ours = nn.GRU(3, 4, num_layers=2, dropout=0.5, device=device, dtype=F64)
    x = make((4, 2, 3), device, F64)
    ours.eval()
    theirs = _load(ours, torch.nn.GRU(3, 4, num_layers=2, dropout=0.5)).eval()
    assert_close(ours(x)[0], theirs(to_torch(x))[0], F64)
    ours.train()
    plugrad.manual_seed(5)
    first = ours(x)[0].detach().numpy()
    plugrad.manual_seed(5)
    again = ours(x)[0].detach().numpy()
    np.testing.assert_array_equal(first, again)  # one seed, one mask
    assert not np.allclose(first, ours.eval()(x)[0].detach().numpy())


def test_recurrent_bad_input_names_the_fix(device):
    lstm = nn.LSTM(3, 4, device=device)
    with pytest.raises(ValueError, match="3 features"):
        lstm(plugrad.zeros(2, 1, 5, device=device))
    with pytest.raises(ValueError, match="initial state of shape"):
        lstm(plugrad.zeros(2, 1, 3, device=device), (plugrad.zeros(2, 1, 4, device=device),) * 2)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    for kind in (nn.LSTM, nn.GRU, nn.RNN):  # torch: "Expected sequence length to be larger than 0"
        with pytest.raises(ValueError, match="at least one step"):
            kind(3, 4, device=device)(plugrad.zeros(0, 2, 3, device=device))
        with pytest.raises(ValueError, match="at least one step"):
            kind(3, 4, batch_first=True, device=device)(plugrad.zeros(2, 0, 3, device=device))


@pytest.mark.parametrize(
    "padding_idx, options",
    [(None, {}), (1, {"scale_grad_by_freq": True}), (-1, {"max_norm": 1.5, "norm_type": 1.0})],
)
def test_embedding_matches_torch(device, padding_idx, options):
    plugrad.manual_seed(3)
    ours = nn.Embedding(6, 4, padding_idx=padding_idx, device=device, dtype=F64, **options)
    theirs = _load(ours, torch.nn.Embedding(6, 4, padding_idx=padding_idx, **options))
    if padding_idx is not None:
        assert not ours.weight[padding_idx].detach().numpy().any()  # torch zeroes the padding row
    ids_host = np.array([[0, 1, 5], [1, 1, 3]])
    ids = plugrad.tensor(ids_host, device=device)
    out, tout = ours(ids), theirs(torch.from_numpy(ids_host))
    assert_close(out, tout, F64)
    up = make(out.shape, device, F64, seed=7)
    (out * up).sum().backward()
    (tout * to_torch(up)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, F64)
    assert_close(ours.weight, theirs.weight, F64)  # max_norm renormalized the same rows


def test_embedding_from_pretrained(device):
    table = make((4, 3), device, F64)
    frozen = nn.Embedding.from_pretrained(table, padding_idx=2)
    assert not frozen.weight.requires_grad
    ids = plugrad.tensor([2, 0], device=device)
    np.testing.assert_array_equal(frozen(ids).numpy(), table.numpy()[[2, 0]])
    trained = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=2)
    trained(ids).sum().backward()
    expected = np.zeros((4, 3))
    expected[0] = 1.0  # the padding row (2) takes no gradient
    np.testing.assert_array_equal(trained.weight.grad.numpy(), expected)
    with pytest.raises(TypeError, match="integer ids"):
        frozen(plugrad.zeros(2, device=device))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 3, padding_idx=4)
