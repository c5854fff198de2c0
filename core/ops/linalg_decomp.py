"""Decompositions with several outputs as graph ops: QR, eigh, SVD and slogdet; det and pinv,
whose gradients need them.

A graph node has one output, so a decomposition packs its outputs into one flat buffer and
hands each out as a view of it (`Part`). Torch's gradient formulas skip the terms of outputs
that received no gradient (an undefined gradient in torch), which matters beyond speed: the
eigenvector and singular-vector terms divide by eigenvalue gaps, infinite for repeated
values. Each `Part` therefore tells its decomposition when a gradient reached it.

The formulas are torch's (FunctionsManual.cpp), in Tensor ops: differentiable again, and
finite only where torch's are (distinct eigenvalues / singular values when the vectors are
used; a loss invariant to the vectors' signs).
"""

from __future__ import annotations

import abc
import threading
from typing import TYPE_CHECKING

import numpy as np

from ..linalg import kernels
from ..ndarray import NDArray
from ..shapes import prod
from . import shape as shape_ops
from .base import Op
from .linalg_solve import Inv, Solve, stacked

if TYPE_CHECKING:
    from ..autograd.tensor import Tensor

Grads = list  # one Tensor or None per output


class Packed(Op):
    """An op whose outputs (each (*batch, *part shape)) share one flat buffer."""

    saved: tuple[int, ...] = (-1,)

    def __init__(self) -> None:
        self.parts: list[tuple[int, int, tuple[int, ...]]] = []  # (start, stop, shape)
        # The outputs a gradient reached in the backward pass under way. A pass runs in one
        # thread, so one set per thread keeps concurrent passes through this node apart.
        self._local = threading.local()

    def received(self) -> set[int]:
        indices = getattr(self._local, "indices", None)
        if indices is None:
            indices = self._local.indices = set()
        return indices

    @abc.abstractmethod
    def part_shapes(self, m: int, n: int) -> list[tuple[int, ...]]:
        """The shape of each output for one (m, n) matrix."""

    @abc.abstractmethod
    def fill(self, a: NDArray, outs: list[NDArray]) -> None:
        """Write the outputs (B, *part shape) for the stack a (B, m, n)."""

    @abc.abstractmethod
    def backward(self, a: Tensor, outs: tuple[Tensor, ...], grads: Grads) -> Tensor | None:
        """A's gradient from the outputs and their gradients (None: none reached it)."""

    def compute(self, a: NDArray) -> NDArray:
        batch, (m, n) = a.shape[:-2], a.shape[-2:]
        count = prod(batch)
        shapes = self.part_shapes(m, n)
        packed = NDArray.empty((sum(count * prod(s) for s in shapes),), a.dtype, a.device)
        outs, start = [], 0
        self.parts = []
        for s in shapes:
            stop = start + count * prod(s)
            outs.append(packed.slice_view((slice(start, stop),)).reshape((count,) + s))
            self.parts.append((start, stop, batch + s))
            start = stop
        self.fill(stacked(a), outs)
        return packed

    def gradient(self, g: Tensor, node: Tensor) -> Tensor | None:
        received = self.received()
        self._local.indices = set()
        grads = [
            g[start:stop].reshape(shape) if i in received else None
            for i, (start, stop, shape) in enumerate(self.parts)
        ]
        return self.backward(node._inputs[0], unpack(self, node), grads)


class Part(Op):
    """Output i of a Packed op: a view of its buffer."""

    saved = ()

    def __init__(self, parent: Packed, index: int) -> None:
        self.parent, self.index = parent, index

    @property
    def name(self) -> str:
        return f"{self.parent.name}[{self.index}]"

    def compute(self, packed: NDArray) -> NDArray:
        start, stop, shape = self.parent.parts[self.index]
        return packed.slice_view((slice(start, stop),)).reshape(shape)

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        self.parent.received().add(self.index)
        start, stop, _ = self.parent.parts[self.index]
        total = self.parent.parts[-1][1]
        return shape_ops.IndexPut((total,), (slice(start, stop),))(g.reshape(-1))


def unpack(op: Packed, packed: Tensor) -> tuple[Tensor, ...]:
    return tuple(Part(op, i)(packed) for i in range(len(op.parts)))


def decompose(op: Packed, a: Tensor) -> tuple[Tensor, ...]:
    """Run `op` on `a`; its outputs as tensors."""
    return unpack(op, op(a))


def _unit_diagonal(x: Tensor) -> Tensor:
    """x (*, k, k) with its diagonal replaced by ones (the gap matrices' diagonal is unused)."""
    from ..autograd.tensor import Tensor as T
    from ..autograd.tensor import where

    k = x.shape[-1]
    mask = T._wrap(NDArray.from_numpy(np.eye(k, dtype=bool), x.device))
    return where(mask, 1.0, x)


def _skew(x: Tensor) -> Tensor:
    return x - x.mT


class QR(Packed):
    """A = QR: mode 'reduced', 'complete' or 'r' (R only; Q still computed, for gradients)."""

    saved = (0, -1)  # the m < n case reads A's trailing columns

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    @property
    def name(self) -> str:
        return "linalg_qr"

    def part_shapes(self, m: int, n: int) -> list[tuple[int, ...]]:
        if self.mode == "complete":
            return [(m, m), (m, n)]
        k = min(m, n)
        return [(m, k), (k, n)]

    def fill(self, a: NDArray, outs: list[NDArray]) -> None:
        kernels.qr(a, outs[0], outs[1])

    def backward(self, a: Tensor, outs: tuple[Tensor, ...], grads: Grads) -> Tensor:
        q, r = outs
        gq, gr = grads
        m, n = a.shape[-2:]
        if self.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and "
                "nrows > ncols; use mode='reduced'"
            )
        if m >= n:
            return _qr_backward(q, r, gq, gr)
        # A = [X | Y] with X square: X = Q U, Y = Q V where R = [U | V] (torch's m < n case).
        from ..autograd.tensor import cat

        y, u = a[..., m:], r[..., :m]
        gu = gr[..., :m] if gr is not None else None
        gv = gr[..., m:] if gr is not None else None
        if gv is not None:
            gq = y @ gv.mT if gq is None else gq + y @ gv.mT
        gx = _qr_backward(q, u, gq, gu)
        gy = q @ gv if gv is not None else y * 0.0
        return cat([gx, gy], -1)


def _qr_backward(q: Tensor, r: Tensor, gq: Tensor | None, gr: Tensor | None) -> Tensor:
    """m >= n: gA = [gQ + Q copyltu(M)] R^-T with M = R gR^T - gQ^T Q and copyltu(M) the
    symmetric matrix of M's lower triangle."""
    m_ = r @ gr.mT if gr is not None else None
    if gq is not None:
        m_ = -(gq.mT @ q) if m_ is None else m_ - gq.mT @ q
    b = q @ (m_.tril() + m_.tril(-1).mT)  # type: ignore[union-attr]
    if gq is not None:
        b = b + gq
    return Solve("linalg.qr")(r, b.mT).mT  # b R^-T


class Eigh(Packed):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (lower triangle read)."""

    @property
    def name(self) -> str:
        return "linalg_eigh"

    def part_shapes(self, m: int, n: int) -> list[tuple[int, ...]]:
        return [(n,), (n, n)]

    def fill(self, a: NDArray, outs: list[NDArray]) -> None:
        kernels.eigh(a, outs[0], outs[1])

    def backward(self, a: Tensor, outs: tuple[Tensor, ...], grads: Grads) -> Tensor:
        values, vectors = outs
        g_values, g_vectors = grads
        if g_vectors is None:  # eigvalsh: V diag(gL) V^T
            return (vectors * g_values.unsqueeze(-2)) @ vectors.mT  # type: ignore[union-attr]
        inner = 0.5 * _skew(vectors.mT @ g_vectors)
        gaps = _unit_diagonal(values.unsqueeze(-2) - values.unsqueeze(-1))  # L_j - L_i
        inner = inner / gaps
        if g_values is not None:
            inner = inner + g_values.diag_embed()
        return vectors @ inner @ vectors.mT


class SVD(Packed):
    """A = U diag(S) Vh: reduced or full (U (m, m), Vh (n, n))."""

    def __init__(self, full: bool) -> None:
        super().__init__()
        self.full = full

    @property
    def name(self) -> str:
        return "linalg_svd"

    def part_shapes(self, m: int, n: int) -> list[tuple[int, ...]]:
        k = min(m, n)
        return [(m, m), (k,), (n, n)] if self.full else [(m, k), (k,), (k, n)]

    def fill(self, a: NDArray, outs: list[NDArray]) -> None:
        kernels.svd(a, outs[0], outs[1], outs[2])

    def backward(self, a: Tensor, outs: tuple[Tensor, ...], grads: Grads) -> Tensor:
        u, s, vh = outs
        gu, gs, gvh = grads
        k = s.shape[-1]
        if self.full:  # torch: the extra columns of U and rows of Vh take no part
            u, vh = u[..., :k], vh[..., :k, :]
            gu = gu[..., :k] if gu is not None else None
            gvh = gvh[..., :k, :] if gvh is not None else None
        return svd_backward(u, s, vh, gu, gs, gvh)


def svd_backward(
    u: Tensor, s: Tensor, vh: Tensor, gu: Tensor | None, gs: Tensor | None, gvh: Tensor | None
) -> Tensor:
    """torch's svd_backward for the reduced SVD (real case)."""
    m, n = u.shape[-2], vh.shape[-1]
    if gu is None and gvh is None:  # svdvals: U diag(gS) Vh
        return (u * gs.unsqueeze(-2)) @ vh  # type: ignore[union-attr]
    squares = s * s
    gaps = _unit_diagonal(squares.unsqueeze(-2) - squares.unsqueeze(-1))  # S_j^2 - S_i^2
    row, col = s.unsqueeze(-1), s.unsqueeze(-2)
    uhgu = _skew(u.mT @ gu) if gu is not None else None
    vhgv = _skew(vh @ gvh.mT) if gvh is not None else None
    if uhgu is not None and vhgv is not None:
        inner = (uhgu * col + row * vhgv) / gaps
    elif uhgu is not None:
        inner = uhgu * (col / gaps)
    else:
        inner = (row / gaps) * vhgv
    if gs is not None:
        inner = inner + gs.diag_embed()
    if m > n and gu is not None:  # + (I - U U^T) gU S^-1, the part of gU outside U's span
        scaled = gu / col
        out = u @ inner + scaled - u @ (u.mT @ scaled)
        return out @ vh
    if m < n and gvh is not None:  # + S^-1 gVh (I - V V^T)
        scaled = gvh / row
        out = inner @ vh + scaled - (scaled @ vh.mT) @ vh
        return u @ out
    return u @ (inner @ vh)


class Slogdet(Packed):
    """(sign, log|det|) of square matrices; sign has no gradient."""

    saved = (0, -1)  # the gradient is A^-T

    @property
    def name(self) -> str:
        return "linalg_slogdet"

    def part_shapes(self, m: int, n: int) -> list[tuple[int, ...]]:
        return [(), ()]

    def fill(self, a: NDArray, outs: list[NDArray]) -> None:
        kernels.slogdet(a, outs[0], outs[1])

    def backward(self, a: Tensor, outs: tuple[Tensor, ...], grads: Grads) -> Tensor | None:
        g_log = grads[1]
        if g_log is None:
            return None
        return g_log.unsqueeze(-1).unsqueeze(-1) * Inv()(a).mT


def slogdet_arrays(a: NDArray) -> tuple[NDArray, NDArray]:
    """(sign, log|det|) of (*, n, n) on arrays (no graph)."""
    batch = a.shape[:-2]
    count = prod(batch)
    sign = NDArray.empty((count,), a.dtype, a.device)
    logabsdet = NDArray.empty((count,), a.dtype, a.device)
    kernels.slogdet(stacked(a), sign, logabsdet)
    return sign.reshape(batch), logabsdet.reshape(batch)


class Det(Op):
    """det(A) = sign * exp(log|det|). Its gradient is the cofactor matrix: det * A^-T, or,
    where some matrix is singular (det exactly 0), U diag(prod_{j!=i} S_j) Vh * det(U Vh),
    which stays right there (torch's first-order gradient is 0 at an exactly singular
    matrix)."""

    saved = (0, -1)

    @property
    def name(self) -> str:
        return "linalg_det"

    def compute(self, a: NDArray) -> NDArray:
        sign, logabsdet = slogdet_arrays(a)
        return sign.binary("mul", logabsdet.unary("exp"))

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (a,) = node._inputs
        scale = (g * node).unsqueeze(-1).unsqueeze(-1)
        singular = node.numel() and bool(node.array.scalar_op("eq", 0.0).reduce("max").item())
        if not singular:
            return scale * Inv()(a).mT
        from ..autograd.tensor import Tensor as T

        u, s, vh = decompose(SVD(full=False), a)
        sign_u, _ = slogdet_arrays(u.array)
        sign_vh, _ = slogdet_arrays(vh.array)
        alpha = T._wrap(sign_u.binary("mul", sign_vh))
        k = s.shape[-1]
        others = _unit_diagonal(s.unsqueeze(-2).expand(s.shape[:-1] + (k, k))).prod(-1)
        weights = (g * alpha).unsqueeze(-1) * others  # d det / d S_i, times g
        return (u * weights.unsqueeze(-2)) @ vh


class Pinv(Op):
    """The Moore-Penrose pseudo-inverse (*, n, m) of A (*, m, n), from the SVD (or, for
    hermitian=True, eigh): singular values at most max(atol, rtol * largest) count as 0."""

    saved = (0, -1)

    def __init__(self, atol: NDArray | float, rtol: NDArray | float, hermitian: bool) -> None:
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian

    @property
    def name(self) -> str:
        return "linalg_pinv"

    def compute(self, a: NDArray) -> NDArray:
        a3 = stacked(a)
        count, m, n = a3.shape
        k = min(m, n)
        if self.hermitian:
            values = NDArray.empty((count, n), a.dtype, a.device)
            vectors = NDArray.empty((count, n, n), a.dtype, a.device)
            kernels.eigh(a3, values, vectors)
            magnitude = values.unary("abs")
            left, right = vectors, _transposed(vectors)
        else:
            left = NDArray.empty((count, m, k), a.dtype, a.device)
            values = NDArray.empty((count, k), a.dtype, a.device)
            right = NDArray.empty((count, k, n), a.dtype, a.device)
            kernels.svd(a3, left, values, right)
            magnitude = values
        batch = a.shape[:-2]
        largest = magnitude.reduce("max", (1,), keepdims=True) if k else magnitude
        cutoff = cutoffs(self.atol, self.rtol, largest, batch, a)
        kept = magnitude.binary("gt", cutoff)
        safe = NDArray.where(kept, values, 1.0)
        inverted = NDArray.where(kept, safe.scalar_op("div", 1.0, reflected=True), 0.0)
        scaled = _transposed(right).binary("mul", inverted.unsqueeze(1))  # V diag(1/s)
        out = scaled.matmul(_transposed(left))
        return out.reshape(batch + (n, m))

    def gradient(self, g: Tensor, node: Tensor) -> Tensor:
        (a,) = node._inputs
        return pinv_backward(g, node, a)


def cutoffs(
    atol: NDArray | float, rtol: NDArray | float, largest: NDArray, batch: tuple, a: NDArray
) -> NDArray:
    """max(atol, rtol * largest) per matrix, as (B, 1), for `largest` (B, 1) of the stack a
    (*batch, m, n); the tolerances are numbers or arrays that broadcast to batch."""
    count = largest.shape[0]

    def per_matrix(t: NDArray | float) -> NDArray | float:
        if isinstance(t, NDArray):
            return t.astype(a.dtype).broadcast_to(batch).reshape((count, 1))
        return t

    relative = per_matrix(rtol)
    scaled = (
        largest.binary("mul", relative)
        if isinstance(relative, NDArray)
        else largest.scalar_op("mul", relative)
    )
    absolute = per_matrix(atol)
    if isinstance(absolute, NDArray):
        return scaled.binary("maximum", absolute)
    return scaled.scalar_op("maximum", absolute)


def _transposed(x: NDArray) -> NDArray:
    return x.transpose(-2, -1)


def pinv_backward(g: Tensor, pinv: Tensor, a: Tensor) -> Tensor:
    """torch's pinv_backward (real case), arranged for the smaller intermediate products."""
    m, n = a.shape[-2:]
    pinv_t, g_t = pinv.mT, g.mT
    if m <= n:
        k = g_t @ pinv
        k_pinv_t = k @ pinv_t
        return -(pinv @ k).mT + k_pinv_t - (a @ pinv) @ k_pinv_t + (pinv_t @ pinv) @ (g_t - k @ a)
    k = pinv @ g_t
    pinv_t_k = pinv_t @ k
    return -(k @ pinv).mT + (g_t - a @ k) @ pinv @ pinv_t + pinv_t_k - pinv_t_k @ pinv @ a
