"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers against torch
with copied weights (float64, every device): outputs, input and parameter gradients, with every
mask kind (bool and additive attn_mask, key_padding_mask, causal), kdim/vdim, bias_kv,
zero_attn, batch_first, norm_first and relu/gelu."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_torch import assert_close, make, to_torch

import plugrad
import plugrad.nn as nn
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)
F64 = plugrad.float64


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flatten(item) if t is not None]
    return [] if out is None else [out]


def check(ours_fn, theirs_fn, inputs, device, modules=(None, None), constants=()):
    """ours_fn(*xs, *constants) against theirs_fn on the same values; every output, the
    gradients of the float inputs and of the modules' parameters."""
    xs = [x.detach().requires_grad_(True) for x in inputs]
    txs = [to_torch(x).requires_grad_(True) for x in inputs]
    tconstants = [None if c is None else torch.from_numpy(np.array(c.numpy())) for c in constants]
    outs, touts = _flatten(ours_fn(*xs, *constants)), _flatten(theirs_fn(*txs, *tconstants))
    assert len(outs) == len(touts)
    total, ttotal = 0, 0
    for k, (o, t) in enumerate(zip(outs, touts)):
        assert_close(o, t, F64)
        up = make(o.shape, device, F64, seed=20 + k)
        total, ttotal = total + (o * up).sum(), ttotal + (t * to_torch(up)).sum()
    total.backward()
    ttotal.backward()
    for x, tx in zip(xs, txs):
        assert_close(x.grad, tx.grad, F64)
    ours, theirs = modules
    if ours is not None:
        theirs_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            assert_close(p.grad, theirs_params[name].grad, F64)


def _load(ours, theirs):
    theirs = theirs.double()
    result = theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    return theirs


def _bool_mask(shape, device, seed, keep_diagonal=True):
    """A random bool mask that leaves every row at least one position (the diagonal)."""
    mask = np.random.default_rng(seed).random(shape) < 0.4
    if keep_diagonal:
        mask[..., np.arange(shape[-2]), np.arange(shape[-2]) % shape[-1]] = False
    return plugrad.tensor(mask, device=device)


@pytest.mark.parametrize("mask_kind", ["none", "bool", "additive", "causal"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(device, mask_kind, scale):
    q, k, v = (
        make((2, 3, 4, 5), device, F64, 1),
        make((2, 3, 6, 5), device, F64, 2),
        make((2, 3, 6, 7), device, F64, 3),
    )
    mask = None
    if mask_kind == "bool":  # SDPA's bool: True takes part
        mask = plugrad.tensor(np.logical_not(_bool_mask((4, 6), device, 4).numpy()), device=device)
    elif mask_kind == "additive":
        mask = make((3, 4, 6), device, F64, 5)
    causal = mask_kind == "causal"

    def ours(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal, scale=scale)

    def theirs(q, k, v, m):
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=m, is_causal=causal, scale=scale
        )

    check(ours, theirs, [q, k, v], device, constants=(mask,))


def test_sdpa_grouped_heads_and_dropout(device):
    q, k, v = (
        make((2, 4, 3, 5), device, F64, 1),
        make((2, 2, 3, 5), device, F64, 2),
        make((2, 2, 3, 5), device, F64, 3),
    )

    def theirs(q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)

    check(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), theirs,
          [q, k, v], device)  # fmt: skip
    plugrad.manual_seed(3)
    first = F.scaled_dot_product_attention(q, k[:, :1].expand(2, 4, 3, 5), v[:, :1].expand(
        2, 4, 3, 5), dropout_p=0.5).numpy()  # fmt: skip
    plugrad.manual_seed(3)
    again = F.scaled_dot_product_attention(q, k[:, :1].expand(2, 4, 3, 5), v[:, :1].expand(
        2, 4, 3, 5), dropout_p=0.5).numpy()  # fmt: skip
    np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=plugrad.zeros(3, 3), is_causal=True)


MHA_CASES = [
    # (kdim/vdim, batch_first, attn_mask kind, key_padding kind, need_weights, average, extras)
    (None, False, "none", "none", True, True, {}),
    (None, True, "bool", "bool", True, False, {}),
    ((3, 5), False, "additive", "additive", True, True, {}),
    ((3, 5), True, "per_head", "additive", False, True, {}),
    (None, False, "causal", "none", True, True, {"add_bias_kv": True}),
    (None, True, "bool", "bool", True, True, {"add_zero_attn": True, "bias": False}),
]


@pytest.mark.parametrize("dims, batch_first, mask_kind, pad_kind, need, average, extras", MHA_CASES)
def test_multihead_attention_matches_torch(
    device, dims, batch_first, mask_kind, pad_kind, need, average, extras
):
    plugrad.manual_seed(4)
    kdim, vdim = dims or (8, 8)
    kwargs = dict(kdim=kdim, vdim=vdim, batch_first=batch_first, **extras)
    ours = nn.MultiheadAttention(8, 2, device=device, dtype=F64, **kwargs)
    theirs = _load(ours, torch.nn.MultiheadAttention(8, 2, **kwargs))
    n, length, source = 2, 4, 5 if dims else 4
    layout = (lambda s, e: (n, s, e)) if batch_first else (lambda s, e: (s, n, e))
    q = make(layout(length, 8), device, F64, 1)
    k = make(layout(source, kdim), device, F64, 2)
    v = make(layout(source, vdim), device, F64, 3)
    attn_mask = {
        "none": None,
        "bool": _bool_mask((length, source), device, 5),
        "additive": make((length, source), device, F64, 6),
        "per_head": make((n * 2, length, source), device, F64, 7),
        "causal": plugrad.ones(length, source, dtype=plugrad.bool, device=device).triu(1),
    }[mask_kind]
    padding = {
        "none": None,
        "bool": plugrad.tensor([[False] * (source - 1) + [True], [False] * source], device=device),
        "additive": make((n, source), device, F64, 8),
    }[pad_kind]
    causal = mask_kind == "causal"

    def run(module):
        return lambda q, k, v, m, p: module(q, k, v, key_padding_mask=p, need_weights=need,
                                            attn_mask=m, average_attn_weights=average,
                                            is_causal=causal)  # fmt: skip

    check(run(ours), run(theirs), [q, k, v], device, (ours, theirs), (attn_mask, padding))


def test_multihead_attention_unbatched_and_bad_input(device):
    plugrad.manual_seed(5)
    ours = nn.MultiheadAttention(4, 2, device=device, dtype=F64)
    theirs = _load(ours, torch.nn.MultiheadAttention(4, 2))
    x = make((3, 4), device, F64)
    check(lambda x: ours(x, x, x), lambda x: theirs(x, x, x), [x], device, (ours, theirs))
    with pytest.raises(ValueError, match="multiple of"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match="4 features"):
        ours(make((3, 2, 5), device, F64), x.unsqueeze(1), x.unsqueeze(1))


@pytest.mark.parametrize(
    "norm_first, activation, batch_first", [(False, "relu", False), (True, "gelu", True)]
)
def test_transformer_encoder_matches_torch(device, norm_first, activation, batch_first):
    plugrad.manual_seed(6)
    kwargs = dict(dim_feedforward=12, dropout=0.0, activation=activation,
                  batch_first=batch_first, norm_first=norm_first)  # fmt: skip
    ours = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, device=device, dtype=F64, **kwargs), 2,
        norm=nn.LayerNorm(8, device=device, dtype=F64),
    )  # fmt: skip
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, **kwargs), 2, norm=torch.nn.LayerNorm(8),
        enable_nested_tensor=False,
    )  # fmt: skip
    theirs = _load(ours, theirs)
    x = make((2, 5, 8) if batch_first else (5, 2, 8), device, F64)
    causal = plugrad.ones(5, 5, dtype=plugrad.bool, device=device).triu(1)
    padding = plugrad.tensor([[False] * 4 + [True], [False] * 5], device=device)

    def run(module):
        return lambda x, m, p: module(x, mask=m, src_key_padding_mask=p, is_causal=True)

    check(run(ours), run(theirs), [x], device, (ours, theirs), (causal, padding))


@pytest.mark.parametrize("norm_first, activation", [(False, "gelu"), (True, "relu")])
def test_transformer_decoder_matches_torch(device, norm_first, activation):
    plugrad.manual_seed(7)
    kwargs = dict(dim_feedforward=12, dropout=0.0, activation=activation, norm_first=norm_first)
    ours = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(8, 2, device=device, dtype=F64, **kwargs), 2
    )
    theirs = _load(
        ours, torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kwargs), 2)
    )
    tgt, memory = make((4, 2, 8), device, F64, 1), make((6, 2, 8), device, F64, 2)
    causal = make((4, 4), device, F64, 3)
    memory_padding = plugrad.tensor([[False] * 5 + [True], [False] * 6], device=device)

    def run(module):
        return lambda t, m, c, p: module(t, m, tgt_mask=c, memory_key_padding_mask=p)

    check(run(ours), run(theirs), [tgt, memory], device, (ours, theirs), (causal, memory_padding))


def test_transformer_dropout_trains_and_evaluates(device):
    layer = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.5, device=device, dtype=F64)
    x = make((3, 2, 8), device, F64)
    assert not np.allclose(layer(x).detach().numpy(), layer.eval()(x).detach().numpy())
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
