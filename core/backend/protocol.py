"""The backend protocol: the only road from the core to a device.

A backend owns flat, one-dimensional buffers. Every kernel receives its operands as `Strided`
views: (buffer, shape, strides, offset, dtype), strides and offset counted in elements.
Strides may be 0 (broadcast) or negative (flip). Unless a kernel says otherwise its `out` is
compact: row-major strides, offset 0. Operands of elementwise kernels have already been
broadcast to `out.shape` by the core; for in-place updates `out` of `unary`, `binary` and
`scalar` may be the very memory of an operand with the same strides (element i is read before
element i is written).

dtypes are names from `plugrad.dtypes.ALL`: "bool" (stored one byte per element, 0 or 1:
bytes coming in through `from_numpy` are normalised), "uint8", "int8", "int16", "int32",
"int64", "float16", "bfloat16" (16 bits, ml_dtypes' layout), "float32", "float64". A backend
declares the subset it implements in `dtypes`; the core refuses the others before any kernel
runs. Element counts fit int64. Axes
are non-negative and below the operand's ndim (the core normalises negative ones). Scalars are
real numbers that the operand's dtype holds.

A backend is any object with the attributes and methods of `Backend` below. It is checked when
it registers; one that lacks a kernel is refused with the missing names. It may also have any
of the optional fused kernels of `FusedKernels`, which the core otherwise composes, of the
optional decompositions of `LinalgKernels`, which the core otherwise runs on the host, a `note`
string that `plugrad backends` shows ("emulated on the CPU"), and for device memory the DLPack
hooks `dlpack_device() -> (device type, index)`, `to_dlpack(view, stream) -> capsule` and
`from_dlpack(obj) -> (buffer, shape, strides, offset, dtype)`. Kernels must refuse bad
arguments with an exception before touching memory: `plugrad.backend.validation.Validator`
does every check of this protocol for a backend.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

Buffer = Any  # opaque to the core; only the backend that made it reads it


class Strided(NamedTuple):
    """A strided view of a backend buffer, the unit every kernel takes."""

    buffer: Buffer
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    dtype: str


UNARY_OPS = (
    "neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sign",
    "sin", "cos", "erf", "floor", "ceil", "logical_not", "bitwise_not",
)  # fmt: skip
"""`unary(op, x, out)`: out has x's dtype; logical_not takes and gives bool. bitwise_not takes
int64 (two's complement `~x`) or bool (logical not) only."""

BINARY_OPS = (
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "logical_and", "logical_or",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
)  # fmt: skip
"""`binary(op, a, b, out)` and `scalar(...)`: a, b and out share one dtype. On bool, add is
logical or and mul logical and (as in NumPy and torch).

Bitwise ops take integer and bool operands only (`BITWISE_DTYPES`), the shifts integers only.
Shifts follow torch: a shift count outside [0, bits) gives 0 for a left shift and the sign
(0 or -1) for an arithmetic right shift; a left shift wraps (two's complement)."""

BITWISE_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not")
SHIFT_OPS = ("bitwise_left_shift", "bitwise_right_shift")
BITWISE_DTYPES = ("uint8", "int8", "int16", "int32", "int64", "bool")
"""The dtypes bitwise and/or/xor/not take; the shifts take the integer ones of them."""

COMPARISON_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
"""`binary(op, a, b, out)` with a comparison: a and b share a dtype, out is bool."""

REDUCE_OPS = ("sum", "max", "min", "prod")
"""`reduce(op, x, axes, out)`."""

ARG_REDUCE_OPS = ("argmax", "argmin")
"""`arg_reduce(op, x, axis, out)`: out is int64, the first index of the extreme value."""

SCAN_OPS = ("sum", "prod", "max", "min", "logaddexp")
"""`scan(op, x, axis, out, indices_out)`: cumulative sums, products, extremes and
log-sum-exps (logaddexp: log(exp(a) + exp(b)), floating dtypes only)."""

SCAN_INDEXED_OPS = ("max", "min")
"""The scans that may also write the position of each running extreme (`indices_out`)."""


@runtime_checkable
class Backend(Protocol):
    """What a device backend implements. Kernels return None and write into `out`."""

    name: str
    """The device name users type: "numpy_ref", "c_cpu", "cuda"."""
    dtypes: tuple[str, ...]
    """The dtype names this backend stores and computes on."""
    is_host: bool
    """True when buffers live in host memory that NumPy may view without a copy."""

    # --- buffers -------------------------------------------------------------------------
    def allocate(self, size: int, dtype: str) -> Buffer:
        """A new uninitialised buffer of `size` elements (size may be 0)."""

    def from_numpy(self, array: np.ndarray, copy: bool = True) -> Buffer:
        """A buffer holding a 1-D contiguous array of a supported dtype.

        With copy=False a host backend shares the array's memory (and keeps it alive);
        other backends may copy regardless.
        """

    def to_numpy(self, x: Strided) -> np.ndarray:
        """The elements of `x` as an array of shape x.shape. Host backends may return a view."""

    def fill(self, out: Strided, value: float | int | bool) -> None:
        """Set every element of the (strided) view `out` to `value`."""

    def compact(self, x: Strided, out: Strided) -> None:
        """Copy the strided view `x` into the compact `out` (same shape and dtype)."""

    def assign(self, x: Strided, out: Strided) -> None:
        """Copy `x` into the strided view `out` (same shape and dtype). x and out may overlap
        only if they are the same view."""

    # --- elementwise ---------------------------------------------------------------------
    def unary(self, op: str, x: Strided, out: Strided) -> None: ...

    def binary(self, op: str, a: Strided, b: Strided, out: Strided) -> None: ...

    def scalar(
        self, op: str, a: Strided, value: float | int | bool, out: Strided, reflected: bool
    ) -> None:
        """`out = a op value`, or `value op a` when reflected."""

    def where(self, cond: Strided, a: Strided, b: Strided, out: Strided) -> None:
        """`out = a if cond else b`; cond is bool, a and b have out's dtype."""

    def cast(self, x: Strided, out: Strided) -> None:
        """Convert x's elements to out.dtype (float to int truncates toward zero)."""

    # --- reductions ----------------------------------------------------------------------
    def reduce(self, op: str, x: Strided, axes: tuple[int, ...], out: Strided) -> None:
        """Reduce over `axes` (unique, in [0, ndim), maybe empty); out.shape is x.shape without
        them (or with them as 1).
        Reducing nothing (an empty axis) gives 0 for sum and 1 for prod; max/min of an empty
        extent never reach a backend."""

    def arg_reduce(self, op: str, x: Strided, axis: int, out: Strided) -> None: ...

    # --- order and scans -----------------------------------------------------------------
    # Outputs are compact, of x's shape, in buffers other than x's. Rows along `axis` are
    # independent: a backend may run them in parallel.
    def sort(
        self, x: Strided, axis: int, descending: bool, values_out: Strided, indices_out: Strided
    ) -> None:
        """Stable sort along `axis`: values_out (x's dtype) gets the sorted values and
        indices_out (int64) the position along `axis` in x of each one. Equal elements keep
        their order, descending too (0.0 and -0.0 are equal); NaN is the largest value (last
        ascending, first descending), as in torch.sort(stable=True); False < True."""

    def scan(
        self, op: str, x: Strided, axis: int, out: Strided, indices_out: Strided | None
    ) -> None:
        """Inclusive cumulative `op` (SCAN_OPS) along `axis` into out (x's dtype):
        out[..., i, ...] = x[..., 0, ...] op ... op x[..., i, ...]. On bool, sum is logical or
        and prod logical and; int64 wraps; float32 may accumulate in float64. max and min
        propagate NaN: from a NaN on, out is NaN. logaddexp of two -inf is -inf. indices_out
        is None, or, for max and min only, int64: the position along `axis` of each running
        extreme, the last of equal values and the latest NaN (torch's cummax / cummin)."""

    # --- linear algebra and convolution --------------------------------------------------
    def matmul(self, a: Strided, b: Strided, out: Strided) -> None:
        """Batched matrix product: a (B, M, K) @ b (B, K, N) -> out (B, M, N). a and b are any
        strides (a batch stride of 0 broadcasts); out is compact. Floating dtypes only."""

    def conv2d(
        self, x: Strided, w: Strided, out: Strided,
        stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
        groups: int,
    ) -> None:  # fmt: skip
        """Cross-correlation, NCHW: x (N, C, H, W) and w (O, C/groups, KH, KW), both compact,
        into out (N, O, OH, OW). Zero padding."""

    def conv2d_backward_input(
        self, grad_out: Strided, w: Strided, grad_x: Strided,
        stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
        groups: int,
    ) -> None:  # fmt: skip
        """The gradient of conv2d with respect to x, written into compact grad_x."""

    def conv2d_backward_weight(
        self, x: Strided, grad_out: Strided, grad_w: Strided,
        stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
        groups: int,
    ) -> None:  # fmt: skip
        """The gradient of conv2d with respect to w, written into compact grad_w."""

    # --- indexing ------------------------------------------------------------------------
    def gather(self, x: Strided, axis: int, index: Strided, out: Strided) -> None:
        """torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1. index is int64 of
        out's shape (any strides); its values are already checked to lie in range."""

    def scatter_add(self, out: Strided, axis: int, index: Strided, src: Strided) -> None:
        """torch.Tensor.scatter_add_: out[i][index[i][j][k]][k] += src[i][j][k] for axis 1.
        `out` is strided and updated in place; repeated indices accumulate. index is no larger
        than src on any dimension (src is not broadcast; a larger one is used in part) and no
        larger than out off `axis`."""

    # --- random numbers ------------------------------------------------------------------
    # Specified to the bit in `plugrad.random_stream` (Philox4x32-10 keyed by `seed`, a uint64;
    # element e of `out`, row-major in out.shape whatever its strides, from counter e); its
    # NumPy reference is what the conformance kit checks. `out` may be strided (never
    # broadcast), empty or 0-d. Raise ValueError for a seed outside [0, 2**64).
    def random_uniform(self, out: Strided, low: float, high: float, seed: int) -> None:
        """low + (high - low) * u in float64, rounded once to out's dtype and kept below
        high. Floating `out` only (TypeError otherwise). Bit-identical to the reference."""

    def random_normal(self, out: Strided, mean: float, std: float, seed: int) -> None:
        """mean + std * z, z by Box-Muller from the element's four words, in float64 then
        rounded. Floating `out` only. z within 2 ulp of the reference's (libm's log, cos)."""

    def random_bernoulli(self, out: Strided, p: float, seed: int) -> None:
        """1 where u < p, else 0, in out's dtype (any dtype). Bit-identical to the reference."""

    # --- accounting ----------------------------------------------------------------------
    def allocated_bytes(self) -> int:
        """Bytes held by live buffers of this backend."""

    def synchronize(self) -> None:
        """Wait for queued work to finish (a no-op on synchronous backends)."""


class FusedKernels(Protocol):
    """Optional kernels that fuse hot training paths into one pass. A backend may implement any
    of them; for one it lacks, the core composes the same result from the kernels of `Backend`
    (`plugrad.ops.fused`). Floating dtypes only. The conformance kit checks each one a backend
    has against NumPy."""

    def relu_backward(self, grad: Strided, y: Strided, out: Strided) -> None:
        """`out = 0 where y <= 0, else grad` (y is relu's output; NaN passes the gradient, as
        in torch). grad, y and out share one shape and dtype; grad and y have any strides."""

    def axpy(self, alpha: float, x: Strided, out: Strided) -> None:
        """`out += alpha * x` in place. x has out's shape and dtype, any strides; out does not
        overlap x unless it is the same view."""

    def cross_entropy(
        self, logits: Strided, target: Strided, scale: float, log_probs: Strided, loss: Strided
    ) -> None:
        """Softmax cross-entropy by rows. logits (N, C), any strides, N and C at least 1;
        target (N,) int64. Writes log_probs (N, C), compact: log_softmax of each row; and the
        0-d loss: `scale * sum_i -log_probs[i, target[i]]`. Raises IndexError, before writing,
        when a target lies outside [0, C)."""

    def cross_entropy_backward(
        self, log_probs: Strided, target: Strided, grad: Strided, scale: float, out: Strided
    ) -> None:
        """The gradient of `cross_entropy`'s loss with respect to logits, into compact out
        (N, C): `grad * scale * (exp(log_probs) - one_hot(target, C))`. log_probs is compact as
        `cross_entropy` wrote it; grad is the loss's 0-d gradient. Raises IndexError, before
        writing, when a target lies outside [0, C)."""

    def softmax(self, x: Strided, out: Strided) -> None:
        """Softmax over the last axis, numerically stable (shifted by the row's max): x and
        out compact, of one shape (ndim >= 1) and dtype; rows of length 0 or no rows write
        nothing. A row holding +inf or NaN, or only -inf, gives NaN (as in torch); -inf
        elsewhere gives 0 (a mask)."""

    def softmax_backward(self, y: Strided, grad: Strided, out: Strided) -> None:
        """The gradient of `softmax` with respect to its input, by rows of the last axis:
        `out = y * (grad - sum(grad * y))`, y softmax's output. y, grad and out compact, of
        one shape and dtype."""

    def log_softmax(self, x: Strided, out: Strided) -> None:
        """log_softmax over the last axis: `(x - max) - log(sum(exp(x - max)))` by rows, x and
        out compact as for `softmax` (the same NaN rules; -inf stays -inf)."""

    def log_softmax_backward(self, y: Strided, grad: Strided, out: Strided) -> None:
        """The gradient of `log_softmax`, by rows of the last axis:
        `out = grad - exp(y) * sum(grad)`, y log_softmax's output; operands as for
        `softmax_backward`."""

    def lstm_gates(
        self, projected: Strided, recurrent: Strided, c_prev: Strided, gates: Strided,
        c: Strided, h: Strided,
    ) -> None:  # fmt: skip
        """One LSTM step. pre = projected + recurrent (N, 4H) splits into four blocks of H
        columns (i, f, g, o: torch's order); writes gates = [sigmoid(i), sigmoid(f), tanh(g),
        sigmoid(o)] (N, 4H), then c = f * c_prev + i * g and h = o * tanh(c) (N, H) from those
        activations. Every operand 2-D, of one dtype, with unit stride along its last axis (rows
        any stride); the outputs overlap nothing."""

    def lstm_gates_backward(
        self, dh: Strided, dc: Strided, gates: Strided, c: Strided, c_prev: Strided,
        d_pre: Strided, dc_prev: Strided,
    ) -> None:  # fmt: skip
        """The gradients of one `lstm_gates` step from dh and dc (N, H), the gradients of its h
        and c, and its gates (N, 4H), c and c_prev (N, H). With t = tanh(c) and
        dc' = dc + dh * o * (1 - t^2), writes d_pre (N, 4H), the gradient of pre:
        [dc' g i (1 - i), dc' c_prev f (1 - f), dc' i (1 - g^2), dh t o (1 - o)], and
        dc_prev = dc' f (N, H). Operands as for `lstm_gates`."""


class LinalgKernels(Protocol):
    """Optional matrix decompositions (`plugrad.linalg`). A backend may implement any of them;
    for one it lacks, the core copies the operands to the host, runs NumPy's LAPACK
    (`plugrad.linalg.host`) and copies the results back. The conformance kit checks each one
    a backend has.

    Operands are stacks of matrices: `a` is (B, m, n), any strides, float32 or float64, and
    every operand of a call shares its dtype (`info` is int64). Outputs have row-major
    strides; their offset may be non-zero (several outputs can share one buffer). The core
    never passes an empty operand (B, m or n of 0): it builds those results itself. A matrix
    that fails sets its `info` entry; what its other outputs then hold is unspecified."""

    def linalg_cholesky(self, a: Strided, out: Strided, info: Strided) -> None:
        """The lower Cholesky factor L (zeros above the diagonal) of each (n, n) matrix, read
        from its lower triangle, into out (B, n, n); info (B,): 0, or k when the leading minor
        of order k is not positive-definite (LAPACK potrf's code)."""

    def linalg_solve(self, a: Strided, b: Strided, out: Strided, info: Strided) -> None:
        """X with A X = B for a (B, n, n) and b (B, n, k) into out (B, n, k); info (B,): 0, or
        positive when A is singular (an exactly zero pivot of its LU factorisation)."""

    def linalg_slogdet(self, a: Strided, sign: Strided, logabsdet: Strided) -> None:
        """sign (B,) and log|det| (B,) of each (n, n) matrix; a singular one gives 0, -inf."""

    def linalg_qr(self, a: Strided, q: Strided, r: Strided) -> None:
        """Householder QR (LAPACK geqrf/orgqr conventions) of (B, m, n): reduced, q (B, m, k)
        and r (B, k, n) with k = min(m, n); or complete, q (B, m, m) and r (B, m, n), as
        q's shape says. r is upper triangular (zeros below)."""

    def linalg_eigh(self, a: Strided, eigenvalues: Strided, eigenvectors: Strided | None) -> None:
        """Eigenvalues in ascending order (B, n) and orthonormal eigenvectors as the columns of
        (B, n, n) (None: values only) of the symmetric matrices given by their lower
        triangles."""

    def linalg_svd(self, a: Strided, u: Strided | None, s: Strided, vh: Strided | None) -> None:
        """Singular values in descending order s (B, k), k = min(m, n), and singular vectors:
        u (B, m, k) and vh (B, k, n), or full u (B, m, m) and vh (B, n, n), as their shapes
        say; u and vh None for values only. A = u[..., :k] diag(s) vh[..., :k, :]."""


def _kernel_names(protocol: type) -> tuple[str, ...]:
    return tuple(
        name for name, value in vars(protocol).items() if callable(value) and not name[0] == "_"
    )


OPTIONAL_KERNELS = _kernel_names(FusedKernels)
LINALG_KERNELS = _kernel_names(LinalgKernels)

REQUIRED_ATTRIBUTES = ("name", "dtypes", "is_host")
REQUIRED_KERNELS = _kernel_names(Backend)


def missing_members(backend: object) -> list[str]:
    """The protocol names `backend` lacks (attributes, or kernels that are not callable)."""
    missing = [name for name in REQUIRED_ATTRIBUTES if not hasattr(backend, name)]
    missing += [name for name in REQUIRED_KERNELS if not callable(getattr(backend, name, None))]
    return missing


def optional_kernels_of(backend: object) -> list[str]:
    """The optional fused kernels `backend` implements (the core composes the others)."""
    return [name for name in OPTIONAL_KERNELS if callable(getattr(backend, name, None))]


def linalg_kernels_of(backend: object) -> list[str]:
    """The optional linear-algebra kernels `backend` implements (the host runs the others)."""
    return [name for name in LINALG_KERNELS if callable(getattr(backend, name, None))]
