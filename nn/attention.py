"""nn.MultiheadAttention with torch's parameters (in_proj_weight, or q/k/v_proj_weight when
kdim or vdim differ from embed_dim; in_proj_bias, out_proj, bias_k, bias_v) and masks."""

from __future__ import annotations

from plugrad.autograd.tensor import Tensor
from plugrad.factory import empty

from . import init
from .functional_attention import causal_mask, multi_head_attention
from .linear import Linear
from .module import Module
from .parameter import Parameter


class MultiheadAttention(Module):
    """Attention over num_heads heads of embed_dim // num_heads each.

    forward(query (L, N, E), key (S, N, kdim), value (S, N, vdim)) -> (output (L, N, E),
    weights (N, L, S) or (N, heads, L, S) or None); batch_first puts N first; unbatched
    inputs (L, E) work too. Masks: attn_mask (L, S) or (N*heads, L, S) and key_padding_mask
    (N, S), bool (True = may not attend) or float (added to the scores)."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention needs embed_dim ({embed_dim}) a positive multiple of "
                f"num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must lie in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first, self.add_zero_attn = dropout, batch_first, add_zero_attn
        like = {"dtype": dtype, "device": device}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **like))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **like))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **like))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **like))
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **like))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **like)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **like))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **like))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's init: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/v."""
        for weight in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight,
                       self.v_proj_weight):  # fmt: skip
            if weight is not None:
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projections(self) -> tuple[tuple[Tensor, Tensor | None], ...]:
        e = self.embed_dim
        weights = (
            (self.in_proj_weight[:e], self.in_proj_weight[e : 2 * e], self.in_proj_weight[2 * e :])
            if self._qkv_same_embed_dim
            else (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        )
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
        return tuple(zip(weights, biases))

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """is_causal with no attn_mask applies the causal mask (torch takes it as a hint that
        attn_mask is causal)."""
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                "MultiheadAttention expects query, key and value all 3-d (batched) or all 2-d "
                f"(unbatched), got {query.shape}, {key.shape}, {value.shape}"
            )
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        for t, size, what in ((query, self.embed_dim, "query"), (key, self.kdim, "key"),
                              (value, self.vdim, "value")):  # fmt: skip
            if t.shape[-1] != size:
                raise ValueError(f"MultiheadAttention expects {what} with {size} features in "
                                 f"the last dim, got shape {tuple(t.shape)}")  # fmt: skip
        if is_causal and attn_mask is None:
            attn_mask = causal_mask(query.shape[1], key.shape[1], query)
        bias_kv = None if self.bias_k is None else (self.bias_k, self.bias_v)
        out, weights = multi_head_attention(
            query, key, value, self.num_heads, self._projections(),
            (self.out_proj.weight, self.out_proj.bias), bias_kv, self.add_zero_attn,
            key_padding_mask, attn_mask, self.dropout if self.training else 0.0,
            need_weights, average_attn_weights,
        )  # fmt: skip
        if unbatched:
            return out.squeeze(0), None if weights is None else weights.squeeze(0)
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
