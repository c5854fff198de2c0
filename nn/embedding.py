"""Embedding: a lookup table of rows, indexed by int64 ids (torch's nn.Embedding)."""

from __future__ import annotations

from plugrad import dtypes as dt
from plugrad.api.index import index_select
from plugrad.api.select import bincount
from plugrad.autograd.grad_mode import no_grad
from plugrad.autograd.tensor import Tensor, where
from plugrad.factory import empty
from plugrad.linalg.norms import vector_norm

from . import init
from .module import Module
from .parameter import Parameter


def _padding_index(padding_idx: int | None, num_embeddings: int) -> int | None:
    """padding_idx checked against the table and made non-negative (torch's rule)."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"padding_idx {padding_idx} is outside the table of {num_embeddings} rows; "
            f"pass an index in [-{num_embeddings}, {num_embeddings})"
        )
    return padding_idx % num_embeddings


def _renorm_(weight: Tensor, ids: Tensor, max_norm: float, norm_type: float) -> None:
    """torch's max_norm: the referenced rows whose norm exceeds max_norm are scaled down to
    it, in place and outside the graph."""
    with no_grad():
        unique = ids.unique()
        rows = index_select(weight, 0, unique)
        norms = vector_norm(rows, ord=norm_type, dim=1, keepdim=True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[unique] = rows * scale


def embedding(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of weight (V, D) at the ids of input (*) -> (*, D).

    The row at padding_idx is returned as stored but takes no gradient; max_norm renormalizes
    the rows looked up (in place); scale_grad_by_freq divides each row's gradient by how often
    its id occurs in input (all as in torch)."""
    if input.dtype != dt.int64:
        raise TypeError(
            f"embedding() needs integer ids (int64), got {input.dtype}; convert with .long()"
        )
    if weight.ndim != 2:
        raise ValueError(f"embedding() needs a 2-d weight (V, D), got shape {weight.shape}")
    if sparse:
        raise ValueError("plugrad has no sparse gradients; pass sparse=False (dense gradients)")
    ids = input.reshape(-1)
    if max_norm is not None:
        _renorm_(weight, ids, max_norm, norm_type)
    rows = index_select(weight, 0, ids).reshape(*input.shape, weight.shape[1])
    if scale_grad_by_freq:
        # Same values (x + (x - x) * s is x exactly), gradient scaled by 1 / count(id).
        counts = bincount(ids, minlength=weight.shape[0]).to(weight.dtype)
        scale = (1.0 / index_select(counts, 0, ids)).reshape(*input.shape, 1)
        rows = rows.detach() + (rows - rows.detach()) * scale
    padding_idx = _padding_index(padding_idx, weight.shape[0])
    if padding_idx is None:
        return rows
    # where() routes no gradient to the padding row: its value comes from a detached copy.
    keep = (input != padding_idx).unsqueeze(-1)
    return where(keep, rows, weight[padding_idx].detach())


class Embedding(Module):
    """A table of num_embeddings rows of size embedding_dim: ids (*) -> (*, embedding_dim).

    Initialized N(0, 1) as torch does, with the padding_idx row zeroed."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim < 0:
            raise ValueError(
                f"Embedding needs num_embeddings > 0 and embedding_dim >= 0, got "
                f"({num_embeddings}, {embedding_dim})"
            )
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        if sparse:
            raise ValueError("plugrad has no sparse gradients; pass sparse=False")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(
                empty(num_embeddings, embedding_dim, dtype=dtype, device=device),
                requires_grad=not _freeze,
            )
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding weight has shape {tuple(_weight.shape)}, expected "
                    f"({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(_weight.detach().clone(), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1) rows; the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0.0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding over a copy of embeddings (V, D); frozen (no gradient) by default."""
        if embeddings.ndim != 2:
            raise ValueError(
                f"from_pretrained needs a 2-d tensor (V, D), got shape {tuple(embeddings.shape)}"
            )
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq)  # fmt: skip

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
