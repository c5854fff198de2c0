"""einsum with torch's syntax, lowered to diagonal views, sums, permutes, reshapes and
batched matrix products (no loop over elements, so gradients come from those ops).

    plugrad.einsum("bij,bjk->bik", a, b)      # batched matmul
    plugrad.einsum("...ii->...i", x)          # batched diagonals (a view)
    plugrad.einsum("ij,jk", a, b)             # implicit output: labels seen once, sorted
    plugrad.einsum(a, [0, 1], b, [1, 2], [0, 2])   # sublist format

Labels are letters; "..." stands for broadcast dimensions (right-aligned across operands,
first in an implicit output, summed when an explicit output leaves it out). A label's sizes
must agree or be 1 (broadcast). Operands are contracted left to right, as torch does without
opt_einsum: each pair becomes one (batch, M, K) x (batch, K, N) product.
"""

from __future__ import annotations

import string
from typing import Any

from ..autograd.tensor import Tensor
from .contraction import batched_product
from .registry import export

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # torch's sublist ints 0..51
Label = int  # a letter's code point; ellipsis dimensions are -1, -2, ... (right to left)


@export(method=False)
def einsum(*args: Any) -> Tensor:
    """torch.einsum(*args), as torch's own signature: einsum("ij,jk->ik", a, b), or the
    sublist format einsum(a, [0, 1], b, [1, 2], [0, 2])."""
    equation, operands = _arguments(args)
    terms, output = _parse(equation, operands)
    sizes = _label_sizes(terms, operands)
    keep_final = set(output)
    pending: list[tuple[Tensor, list[Label]]] = []
    for i, (x, labels) in enumerate(zip(operands, terms)):
        x, labels = _take_diagonals(x, labels)
        elsewhere = {lab for j, t in enumerate(terms) if j != i for lab in t} | keep_final
        x, labels = _sum_out(x, labels, [lab for lab in labels if lab not in elsewhere])
        pending.append((x, labels))
    x, labels = pending[0]
    for i in range(1, len(pending)):
        later = {lab for _, t in pending[i + 1 :] for lab in t} | keep_final
        x, labels = _contract((x, labels), pending[i], later, sizes)
    x, labels = _sum_out(x, labels, [lab for lab in labels if lab not in keep_final])
    x = _expand_to(x, labels, sizes)
    order = [labels.index(lab) for lab in output]
    return x.permute(order) if order != list(range(len(order))) else x


def _arguments(args: tuple) -> tuple[str, list[Tensor]]:
    if not args:
        raise TypeError("einsum(): expected an equation and operands")
    if isinstance(args[0], str):
        operands = list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        equation = args[0]
    else:  # einsum(op0, sublist0, op1, sublist1, ..., [output sublist])
        pairs = list(args)
        out = pairs.pop() if len(pairs) % 2 else None
        operands = pairs[0::2]
        terms = [_sublist(s) for s in pairs[1::2]]
        equation = ",".join(terms) + ("" if out is None else "->" + _sublist(out))
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): operand {i} is a {type(x).__name__}, not a Tensor")
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    device = operands[0].device
    if any(x.device is not device for x in operands):
        names = ", ".join(x.device.name for x in operands)
        raise RuntimeError(f"einsum(): operands are on different devices ({names})")
    return equation, operands


def _sublist(items: Any) -> str:
    text = []
    for item in items:
        if item is Ellipsis:
            text.append("...")
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(LETTERS):
            text.append(LETTERS[item])
        else:
            raise ValueError(
                f"einsum(): sublist labels must be ints in [0, 52) or Ellipsis, got {item!r}"
            )
    return "".join(text)


def _parse(equation: str, operands: list[Tensor]) -> tuple[list[list[Label]], list[Label]]:
    """(labels of each operand, labels of the output), ellipses expanded."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    if "->" in rhs:
        raise ValueError(f"einsum(): more than one '->' in {equation!r}")
    texts = lhs.split(",")
    if len(texts) != len(operands):
        raise ValueError(
            f"einsum(): the equation {equation!r} has {len(texts)} operand terms, but "
            f"{len(operands)} operands were given"
        )
    width = 0  # the number of ellipsis dimensions after broadcasting
    terms = []
    for i, (text, x) in enumerate(zip(texts, operands)):
        letters, has_ellipsis = _letters(text, f"operand {i}")
        extra = x.ndim - len(letters)
        if extra < 0 or (extra and not has_ellipsis):
            raise ValueError(
                f"einsum(): the term {text!r} for operand {i} has {len(letters)} subscripts, but "
                f"the operand has {x.ndim} dimensions {x.shape}"
            )
        terms.append((text, extra if has_ellipsis else None))
        width = max(width, extra)
    expanded = [_expand(text, extra) for text, extra in terms]
    ellipsis = list(range(-width, 0))
    if arrow:
        letters, has_ellipsis = _letters(rhs, "the output")
        output = _expand(rhs, width) if has_ellipsis else [ord(c) for c in rhs]
        seen = {lab for t in expanded for lab in t}
        for c in rhs.replace("...", ""):
            if ord(c) not in seen:
                raise ValueError(f"einsum(): output subscript {c} does not appear in the inputs")
            if rhs.count(c) > 1:
                raise ValueError(f"einsum(): output subscript {c} appears more than once")
    else:
        counts: dict[Label, int] = {}
        for t in expanded:
            for lab in t:
                counts[lab] = counts.get(lab, 0) + 1
        output = ellipsis + sorted(lab for lab, n in counts.items() if n == 1 and lab >= 0)
    return expanded, output


def _letters(text: str, what: str) -> tuple[str, bool]:
    has_ellipsis = "..." in text
    if text.count("...") > 1:
        raise ValueError(f"einsum(): {what} has more than one ellipsis in {text!r}")
    letters = text.replace("...", "")
    for c in letters:
        if c not in LETTERS:
            raise ValueError(
                f"einsum(): invalid subscript {c!r} in {text!r} for {what}; subscripts are "
                "letters (a-z, A-Z), '...' for broadcast dimensions, ',' and '->'"
            )
    return letters, has_ellipsis


def _expand(text: str, extra: int | None) -> list[Label]:
    """The labels of one term, its ellipsis as the last `extra` ellipsis labels."""
    before, _, after = text.partition("...")
    middle = list(range(-extra, 0)) if extra else []
    return [ord(c) for c in before] + middle + [ord(c) for c in after]


def _label_sizes(terms: list[list[Label]], operands: list[Tensor]) -> dict[Label, int]:
    sizes: dict[Label, int] = {}
    for i, (labels, x) in enumerate(zip(terms, operands)):
        own: dict[Label, int] = {}
        for lab, size in zip(labels, x.shape):
            if own.setdefault(lab, size) != size:
                raise ValueError(
                    f"einsum(): subscript {chr(lab)} is repeated for operand {i} but the sizes "
                    f"don't match, {own[lab]} != {size}"
                )
        for lab, size in zip(labels, x.shape):
            seen = sizes.get(lab)
            if seen is None or seen == 1:
                sizes[lab] = size
            elif size not in (1, seen):
                name = "an ellipsis dimension" if lab < 0 else f"subscript {chr(lab)}"
                raise ValueError(
                    f"einsum(): {name} has size {size} for operand {i}, which does not "
                    f"broadcast with the size {seen} seen before"
                )
    return sizes


def _take_diagonals(x: Tensor, labels: list[Label]) -> tuple[Tensor, list[Label]]:
    """A label repeated within one operand ('ii') selects the diagonal (a view)."""
    labels = list(labels)
    for lab in dict.fromkeys(labels):
        while labels.count(lab) > 1:
            first = labels.index(lab)
            second = labels.index(lab, first + 1)  # (sizes checked equal by _label_sizes)
            x = x.diagonal(0, first, second)
            labels = [v for i, v in enumerate(labels) if i not in (first, second)] + [lab]
    return x, labels


def _sum_out(x: Tensor, labels: list[Label], gone: list[Label]) -> tuple[Tensor, list[Label]]:
    if not gone:
        return x, labels
    dims = tuple(labels.index(lab) for lab in gone)
    return x.sum(dims), [lab for lab in labels if lab not in gone]


def _expand_to(x: Tensor, labels: list[Label], sizes: dict[Label, int]) -> Tensor:
    """Size-1 dimensions stretched to their label's size (broadcasting)."""
    target = tuple(sizes[lab] for lab in labels)
    return x if target == x.shape else x.expand(target)


def _contract(
    left: tuple[Tensor, list[Label]], right: tuple[Tensor, list[Label]],
    keep: set[Label], sizes: dict[Label, int],
) -> tuple[Tensor, list[Label]]:  # fmt: skip
    """One pairwise product: labels in both and kept are batch dims, in both and not kept are
    summed over (K), the others stay (M from the left, N from the right)."""
    (a, la), (b, lb) = left, right
    a, la = _sum_out(a, la, [lab for lab in la if lab not in lb and lab not in keep])
    b, lb = _sum_out(b, lb, [lab for lab in lb if lab not in la and lab not in keep])
    batch = [lab for lab in la if lab in lb and lab in keep]
    summed = [lab for lab in la if lab in lb and lab not in keep]
    a_free = [lab for lab in la if lab not in lb]
    b_free = [lab for lab in lb if lab not in la]
    a, b = _expand_to(a, la, sizes), _expand_to(b, lb, sizes)
    labels = batch + a_free + b_free
    if not summed:  # a broadcast product, no reduction
        a_view = _arranged(a, la, batch + a_free, len(b_free))
        b_view = _arranged(b, lb, batch, 0, b_free, len(a_free))
        return a_view * b_view, labels
    shape = [sizes[lab] for lab in labels]
    a3 = _grouped(a, la, [batch, a_free, summed], sizes)
    b3 = _grouped(b, lb, [batch, summed, b_free], sizes)
    return batched_product(a3, b3).reshape(shape), labels


def _arranged(
    x: Tensor, labels: list[Label], first: list[Label], ones: int,
    last: list[Label] | None = None, middle_ones: int = 0,
) -> Tensor:  # fmt: skip
    """x permuted to `first`, then `middle_ones` size-1 dims, then `last`, then `ones` size-1
    dims (for broadcasting against the other operand)."""
    last = last or []
    order = [labels.index(lab) for lab in first + last]
    moved = x.permute(order) if order != list(range(len(order))) else x
    shape = moved.shape
    head = shape[: len(first)]
    tail = shape[len(first) :]
    return moved.reshape(head + (1,) * middle_ones + tail + (1,) * ones)


def _grouped(
    x: Tensor, labels: list[Label], groups: list[list[Label]], sizes: dict[Label, int]
) -> Tensor:
    """x permuted to the groups' labels, each group merged into one dimension."""
    order = [labels.index(lab) for group in groups for lab in group]
    moved = x.permute(order) if order != list(range(len(order))) else x
    merged = []
    for group in groups:
        n = 1
        for lab in group:
            n *= sizes[lab]
        merged.append(n)
    return moved.reshape(tuple(merged))
