"""Op codes of the kernels' enums (kernels/elementwise.cu, reduce.cu, random.cu), by name."""

from __future__ import annotations

UNARY = (
    "neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sign", "sin", "cos",
    "erf", "floor", "ceil", "logical_not", "bitwise_not",
)  # fmt: skip
BINARY = (
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "logical_and", "logical_or",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
    "eq", "ne", "lt", "le", "gt", "ge",
)  # fmt: skip
COMPARISONS = frozenset(("eq", "ne", "lt", "le", "gt", "ge"))
REDUCE = ("sum", "max", "min", "prod")
ARG_REDUCE = ("argmax", "argmin")
RANDOM = ("uniform", "normal", "bernoulli")

UNARY_CODES = {name: i for i, name in enumerate(UNARY)}
BINARY_CODES = {name: i for i, name in enumerate(BINARY)}
REDUCE_CODES = {name: i for i, name in enumerate(REDUCE)}
ARG_REDUCE_CODES = {name: i for i, name in enumerate(ARG_REDUCE)}
RANDOM_CODES = {name: i for i, name in enumerate(RANDOM)}

# How pg_binary reads its operands (ScalarSide)
SCALAR_NONE, SCALAR_RIGHT, SCALAR_LEFT = 0, 1, 2
