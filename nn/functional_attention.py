"""Attention as a composite of matmuls and a softmax: F.scaled_dot_product_attention and the
multi-head forward that nn.MultiheadAttention runs (masks merged into one additive mask)."""

from __future__ import annotations

import math

from plugrad import dtypes as dt
from plugrad.amp.casting import autocast_op
from plugrad.autograd.tensor import Tensor, cat, pad, where
from plugrad.factory import ones

from .functional import dropout as _dropout
from .functional import linear, softmax


def additive_mask(mask: Tensor | None, like: Tensor, true_means: str) -> Tensor | None:
    """A bool or float mask as a float one to add to the scores: a bool mask's True means
    'attend' (true_means='keep', SDPA's rule) or 'ignore' (true_means='ignore', the rule of
    MultiheadAttention's masks); a float mask is added as it is."""
    if mask is None:
        return None
    if mask.dtype is dt.bool_:
        keep = mask if true_means == "keep" else mask.logical_not()
        return where(keep, 0.0, float("-inf")).to(like.dtype)
    if not mask.dtype.is_floating:
        raise TypeError(
            f"an attention mask is bool or floating (added to the scores), got {mask.dtype}"
        )
    return mask.to(like.dtype)


def causal_mask(target: int, source: int, like: Tensor) -> Tensor:
    """(L, S) additive mask: position i attends to positions j <= i (top-left aligned)."""
    allowed = ones(target, source, dtype=dt.bool_, device=like.device).tril()
    return where(allowed, 0.0, float("-inf")).to(like.dtype)


def attend(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None,
    dropout_p: float,
    scale: float,
) -> tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + mask) v for q (..., L, E), k (..., S, E), v (..., S, Ev), mask
    additive and broadcastable to (..., L, S); returns (output (..., L, Ev), weights (..., L, S)),
    the weights after dropout (as torch returns them)."""
    scores = (query * scale) @ key.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, training=True)
    return weights @ value, weights


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """torch's SDPA: q (..., Hq, L, E), k (..., H, S, E), v (..., H, S, Ev) -> (..., Hq, L, Ev).

    attn_mask: bool (True takes part) or float (added), broadcastable to (..., L, S);
    is_causal: the lower-triangular mask (not together with attn_mask); scale defaults to
    1/sqrt(E); enable_gqa: Hq a multiple of H, each key/value head shared by Hq/H queries."""
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(
            "scaled_dot_product_attention needs query, key and value of at least 2 dims "
            f"(..., L, E), got {query.shape}, {key.shape}, {value.shape}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: query (..., L, E) and key (..., S, E) share E, and "
            f"key and value share S; got {query.shape}, {key.shape}, {value.shape}"
        )
    if is_causal and attn_mask is not None:
        raise ValueError("pass attn_mask or is_causal=True, not both (is_causal is the mask)")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout_p must lie in [0, 1], got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = (_share_heads(t, query.shape[-3]) for t in (key, value))
    mask = additive_mask(attn_mask, query, "keep")
    if is_causal:
        mask = causal_mask(query.shape[-2], key.shape[-2], query)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    return attend(query, key, value, mask, dropout_p, scale)[0]


def _share_heads(t: Tensor, heads: int) -> Tensor:
    """(..., H, S, E) -> (..., heads, S, E), each head repeated heads/H times in a row."""
    groups, rest = divmod(heads, t.shape[-3])
    if rest:
        raise ValueError(
            f"enable_gqa needs the query heads ({heads}) a multiple of the key/value heads "
            f"({t.shape[-3]})"
        )
    lead, (h, s, e) = t.shape[:-3], t.shape[-3:]
    return t.unsqueeze(-3).expand(*lead, h, groups, s, e).reshape(*lead, heads, s, e)


def multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    num_heads: int,
    projections: tuple[tuple[Tensor, Tensor | None], ...],
    out_proj: tuple[Tensor, Tensor | None],
    bias_kv: tuple[Tensor, Tensor] | None,
    add_zero_attn: bool,
    key_padding_mask: Tensor | None,
    attn_mask: Tensor | None,
    dropout_p: float,
    need_weights: bool,
    average_attn_weights: bool,
) -> tuple[Tensor, Tensor | None]:
    """The multi-head forward on batch-first inputs: query (N, L, E), key (N, S, kdim), value
    (N, S, vdim); projections ((W_q, b_q), (W_k, b_k), (W_v, b_v)); masks with
    MultiheadAttention's rules (attn_mask (L, S) or (N*heads, L, S), key_padding_mask (N, S)).
    Returns (N, L, E) and the weights (N, L, S), (N, heads, L, S) unaveraged, or None."""
    n, target, embed = query.shape
    (w_q, b_q), (w_k, b_k), (w_v, b_v) = projections
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    mask = additive_mask(attn_mask, q, "ignore")
    padding = additive_mask(key_padding_mask, q, "ignore")
    if mask is not None and mask.ndim == 3:
        mask = mask.reshape(n, num_heads, target, mask.shape[-1])
    if bias_kv is not None:  # one learnt key and value appended to every sequence
        k = _append(k, bias_kv[0])
        v = _append(v, bias_kv[1])
        mask, padding = _widen(mask), _widen(padding)
    head = embed // num_heads
    q, k, v = (t.reshape(n, t.shape[1], num_heads, head).transpose(1, 2) for t in (q, k, v))
    if add_zero_attn:  # one zero key and value appended, after the projections
        k, v = pad(k, (0, 0, 0, 1)), pad(v, (0, 0, 0, 1))
        mask, padding = _widen(mask), _widen(padding)
    if padding is not None:
        padding = padding.reshape(n, 1, 1, padding.shape[-1])
        mask = padding if mask is None else mask + padding
    out, weights = attend(q, k, v, mask, dropout_p, 1.0 / math.sqrt(head))
    out = linear(out.transpose(1, 2).reshape(n, target, embed), *out_proj)
    if not need_weights:
        return out, None
    return out, (weights.mean(dim=1) if average_attn_weights else weights)


def _append(t: Tensor, row: Tensor) -> Tensor:
    """t (N, S, E) with row (E,) or (1, 1, E) appended along S."""
    n, _, e = t.shape
    return cat([t, row.reshape(1, 1, e).expand(n, 1, e)], 1)


def _widen(mask: Tensor | None) -> Tensor | None:
    """An additive mask given one more (unmasked) source position at the end."""
    return None if mask is None else pad(mask, (0, 1))
