"""Which ops autocast changes, and to what: torch's autocast op lists, for plugrad's ops.

Two lists per kind of device, from torch's aten/src/ATen/autocast_mode.cpp (torch 2.13):
LOWER ops run in the region's low-precision dtype (float16 or bfloat16), FP32 ops in float32,
BANNED ops raise.
Host backends ("cpu": numpy_ref, c_cpu, ...) follow torch's CPU lists, every other backend
(cuda, third-party accelerators) torch's CUDA lists. An op in neither list is not wrapped, or
passes through: it runs in its inputs' dtypes by plugrad's ordinary promotion, which is what
torch's "promote" list and its unlisted ops do. Composites that are not listed (einsum,
tensordot, multi_dot, multi-head attention) reach a listed op inside and follow it, as torch's
do. Add an op by naming it here and decorating its function with `autocast_op(name)`.
"""

from __future__ import annotations

from typing import Literal

Category = Literal["lower", "fp32", "banned"]

_LOWER_COMMON = frozenset({
    "conv1d", "conv2d", "conv_transpose2d", "linear", "matmul", "prelu",
    "scaled_dot_product_attention", "vecdot",
})  # fmt: skip

_LOSSES = frozenset({
    "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy", "huber_loss",
    "kl_div", "l1_loss", "margin_ranking_loss", "mse_loss", "nll_loss", "smooth_l1_loss",
})  # fmt: skip

LOWER: dict[str, frozenset[str]] = {
    "cpu": _LOWER_COMMON,
    "cuda": _LOWER_COMMON,
}
"""Ops cast to the region's dtype, by kind of device."""

FP32: dict[str, frozenset[str]] = {
    # CPU: the losses, prod, trace, quantile and the LAPACK decompositions; softmax, norms and
    # sum stay in the input's dtype there (torch's CPU kernels accumulate in float32 inside).
    "cpu": _LOSSES
    | {
        "binary_cross_entropy",
        "prod",
        "trace",
        "quantile",
        "cholesky",
        "eigh",
        "eigvalsh",
        "inv",
        "lstsq",
        "qr",
        "solve",
        "svd",
        "svdvals",
    },  # fmt: skip
    # CUDA: also the reductions and transcendental functions whose float16 range or rounding
    # hurts (softmax, log_softmax, sum, cumsum, exp, log, ...) and the normalisations.
    "cuda": _LOSSES
    | {
        "softmax",
        "log_softmax",
        "logsumexp",
        "sum",
        "prod",
        "cumsum",
        "cumprod",
        "exp",
        "log",
        "pow",
        "rsqrt",
        "softplus",
        "layer_norm",
        "group_norm",
        "cosine_similarity",
    },  # fmt: skip
}
"""Ops cast to float32, by kind of device."""

BANNED: dict[str, dict[str, str]] = {
    "cpu": {},
    "cuda": {
        "binary_cross_entropy": (
            "binary_cross_entropy and BCELoss are unsafe to autocast: the probabilities of a "
            "float16 sigmoid round to 0 and 1. Use binary_cross_entropy_with_logits (or "
            "BCEWithLogitsLoss) on the logits, which is safe, or turn autocast off around it "
            "(autocast(..., enabled=False)) with float32 inputs"
        ),
    },
}
"""Ops refused inside a region, with the reason, by kind of device (torch refuses these too)."""

KNOWN = frozenset().union(*LOWER.values(), *FP32.values(), *BANNED.values())


def kind_of(is_host: bool) -> str:
    """Whose lists a device follows: "cpu" for host backends, "cuda" for the others."""
    return "cpu" if is_host else "cuda"


def category(name: str, kind: str) -> Category | None:
    """What autocast does to op `name` on a device of `kind`: "lower", "fp32", "banned" or
    None."""
    if name in LOWER[kind]:
        return "lower"
    if name in FP32[kind]:
        return "fp32"
    if name in BANNED[kind]:
        return "banned"
    return None
