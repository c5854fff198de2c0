"""Sizes, dims and counts that make no sense are refused with a message naming the argument
and what it should be (plugrad.arguments), where torch refuses them too; the edge cases
that do make sense give torch's answer. Every case runs on every installed device."""

from __future__ import annotations

import numpy as np
import pytest

import plugrad
import plugrad.nn.functional as F

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)


class Lib:
    """The same call spelled for plugrad (on one device) and for torch."""

    def __init__(self, device=None) -> None:
        self.device = device
        self.torch = device is None

    def ones(self, *shape):
        return torch.ones(*shape) if self.torch else plugrad.ones(*shape, device=self.device)

    def tensor(self, data):
        return torch.tensor(data) if self.torch else plugrad.tensor(data, device=self.device)

    def __getattr__(self, name):  # cat, stack, conv2d, one_hot
        if self.torch:
            return getattr(torch.nn.functional if name in ("conv2d", "one_hot") else torch, name)
        return getattr(F if name in ("conv2d", "one_hot") else plugrad, name)


# (call, plugrad's error, what its message says): torch refuses each of these too.
REFUSED = {
    "expand-negative": (lambda m: m.ones(3).expand(-2, 3), ValueError, r"expand\(\): size has -2"),
    "expand-leading-minus-one": (
        lambda m: m.ones(3).expand(-1, 3), ValueError, r"expand\(\): size -1 at position 0 is a new"
    ),
    "expand-float": (lambda m: m.ones(1).expand(2.0), TypeError, r"expand\(\): size must be"),
    "expand-none": (lambda m: m.ones(1).expand(None), TypeError, r"expand\(\): size must be"),
    "broadcast_to-negative": (
        lambda m: m.ones(1).broadcast_to((-5,)), ValueError, r"broadcast_to\(\): size has -5"
    ),
    "broadcast_to-float": (
        lambda m: m.ones(1).broadcast_to((2.0,)), TypeError, r"got 2.0 \(float\) at position 0"
    ),
    "split-negative-section": (
        lambda m: m.ones(3).split([4, -1]), ValueError, r"split_sizes has -1 at position 1"
    ),
    "split-float-section": (
        lambda m: m.ones(3).split([1.0, 2]), TypeError, r"split\(\): split_sizes must be"
    ),
    "split-wrong-sum": (lambda m: m.ones(3).split([1, 1]), ValueError, r"must sum to the size"),
    "split-float-size": (lambda m: m.ones(3).split(2.5), TypeError, r"split_sizes must be"),
    "split-negative-size": (lambda m: m.ones(3).split(-1), ValueError, r"split_size must be"),
    "split-zero-size": (lambda m: m.ones(3).split(0), ValueError, r"can only be 0 if the dim"),
    "chunk-zero": (lambda m: m.ones(3).chunk(0), ValueError, r"chunk\(\): chunks must be an int"),
    "chunk-float": (lambda m: m.ones(3).chunk(2.0), TypeError, r"chunk\(\): chunks must be an int"),
    "flip-repeated-dim": (
        lambda m: m.ones(2, 3).flip((0, 0)), ValueError, r"flip\(\): dim 0 appears multiple times"
    ),
    "flip-repeated-negative-dim": (
        lambda m: m.ones(2, 3).flip((0, -2)), ValueError, r"dim 0 appears multiple times"
    ),
    "flip-float-dim": (lambda m: m.ones(3).flip(1.0), TypeError, r"flip\(\): dim must be an int"),
    "reshape-none": (
        lambda m: m.ones(2).reshape(None), TypeError, r"reshape\(\): shape must be a sequence"
    ),
    "reshape-float": (lambda m: m.ones(2).reshape(2.0), TypeError, r"reshape\(\): shape must be"),
    "reshape-none-entry": (
        lambda m: m.ones(2).reshape((1, None)), TypeError, r"got None \(NoneType\) at position 1"
    ),
    "reshape-negative": (
        lambda m: m.ones(2).reshape(-2), ValueError, r"reshape\(\): shape has -2 at position 0"
    ),
    "view-none": (lambda m: m.ones(2).view(None), TypeError, r"view\(\): shape must be"),
    "sum-float-dim": (
        lambda m: m.ones(2, 3).sum(1.0), TypeError, r"sum\(\): dim must be an int, a sequence"
    ),
    "sum-str-dim": (lambda m: m.ones(2, 3).sum("a"), TypeError, r"sum\(\): dim must be an int"),
    "sum-repeated-dim": (
        lambda m: m.ones(2, 3).sum((0, 0)), ValueError, r"sum\(\): dim 0 appears multiple"
    ),
    "mean-float-dim": (lambda m: m.ones(2, 3).mean(1.0), TypeError, r"mean\(\): dim must be"),
    "amax-repeated-dim": (
        lambda m: m.ones(2, 3).amax((1, -1)), ValueError, r"amax\(\): dim 1 appears"
    ),
    "max-float-dim": (lambda m: m.ones(2, 3).max(1.0), TypeError, r"max\(\): dim must be"),
    "cat-lists": (
        lambda m: m.cat([[1, 2], [3]]), TypeError, r"cat\(\): expected a Tensor as element 0"
    ),
    "cat-mixed": (
        lambda m: m.cat([m.ones(2), 3]), TypeError, r"expected a Tensor as element 1 of tensors"
    ),
    "cat-0d": (
        lambda m: m.cat([m.tensor(1.0), m.tensor(2.0)]), ValueError,
        r"cat\(\): zero-dimensional tensor \(at position 0\) cannot be concatenated",
    ),
    "cat-a-tensor": (
        lambda m: m.cat(m.ones(2, 3)), TypeError, r"cat\(\): tensors must be a list or tuple"
    ),
    "cat-empty": (lambda m: m.cat([]), ValueError, r"cat\(\): expected a non-empty list"),
    "stack-lists": (
        lambda m: m.stack([[1, 2], [3, 4]]), TypeError, r"stack\(\): expected a Tensor as element"
    ),
    "stack-0d-tensor": (
        lambda m: m.stack(m.tensor(1.0)), TypeError, r"stack\(\): tensors must be a list or tuple"
    ),
    "one_hot-float": (
        lambda m: m.one_hot(m.tensor([0, 1]), 2.5), TypeError,
        r"one_hot\(\): num_classes must be a non-negative int, or -1 to infer it, got 2.5",
    ),
    "one_hot-str": (
        lambda m: m.one_hot(m.tensor([0, 1]), "3"), TypeError, r"num_classes must be .* got '3'"
    ),
    "one_hot-below-minus-one": (
        lambda m: m.one_hot(m.tensor([0, 1]), -2), ValueError, r"num_classes must be a non-neg"
    ),
    "one_hot-too-few-classes": (
        lambda m: m.one_hot(m.tensor([0, 1]), 0), IndexError, r"class values must lie in \[0, 0\)"
    ),
    "one_hot-infer-from-empty": (
        lambda m: m.one_hot(m.tensor([1])[:0], -1),
        ValueError, r"cannot infer num_classes from an empty tensor",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_nonsense_arguments_are_refused_naming_the_argument(device, case):
    call, error, message = REFUSED[case]
    with pytest.raises(error, match=message):
        call(Lib(device))
    with pytest.raises((RuntimeError, TypeError, ValueError, IndexError)):
        call(Lib())  # torch refuses it too


def _shapes(pieces):
    return [tuple(p.shape) for p in pieces]


# Edge cases that are valid: plugrad gives torch's shapes.
ACCEPTED = {
    "chunk-empty-in-2": lambda m: _shapes(m.ones(0).chunk(2)),
    "chunk-empty-in-5": lambda m: _shapes(m.ones(0).chunk(5)),
    "chunk-empty-dim1": lambda m: _shapes(m.ones(2, 0).chunk(3, 1)),
    "chunk-empty-other-dim": lambda m: _shapes(m.ones(0, 3).chunk(2, 1)),
    "chunk-5-of-3": lambda m: _shapes(m.ones(3).chunk(5)),
    "chunk-4-of-6": lambda m: _shapes(m.ones(6).chunk(4)),
    "split-0-of-empty": lambda m: _shapes(m.ones(0).split(0)),
    "split-3-of-empty": lambda m: _shapes(m.ones(0).split(3)),
    "split-sections": lambda m: _shapes(m.ones(5).split((2, 0, 3))),
    "expand-keep": lambda m: tuple(m.ones(1, 3).expand(2, -1).shape),
    "expand-new-leading": lambda m: tuple(m.ones(3).expand(4, 2, 3).shape),
    "broadcast_to-keep": lambda m: tuple(m.ones(3).broadcast_to((2, -1)).shape),
    "reshape-infer": lambda m: tuple(m.ones(6).reshape(-1, 2).shape),
    "one_hot-empty-with-classes": lambda m: tuple(m.one_hot(m.tensor([1])[:0], 3).shape),
    "sum-two-dims": lambda m: m.ones(2, 3, 4).sum((0, -1)).tolist(),
    "flip-two-dims": lambda m: m.tensor([[1, 2], [3, 4]]).flip((0, 1)).tolist(),
}


@pytest.mark.parametrize("case", list(ACCEPTED), ids=list(ACCEPTED))
def test_edge_cases_that_make_sense_match_torch(device, case):
    assert ACCEPTED[case](Lib(device)) == ACCEPTED[case](Lib())


def test_integers_may_be_numpy_integers_or_0d_int_tensors(device):
    x = plugrad.ones(2, 6, device=device)
    assert x.reshape(np.int64(3), plugrad.tensor(4)).shape == (3, 4)
    assert len(x.chunk(np.int64(3), dim=1)) == 3
    assert x.sum(np.int64(1)).shape == (2,)
    with pytest.raises(
        TypeError, match=r"chunk\(\): chunks must be an int of at least 1, got True"
    ):
        x.chunk(True)
