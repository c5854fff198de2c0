"""plugrad.api.export: one definition gives the function, the method and the in-place form;
names are never silently taken over."""

from __future__ import annotations

import pytest

import plugrad
from plugrad.api import FUNCTIONS, export
from plugrad.autograd.tensor import Tensor


def test_one_definition_gives_function_method_and_inplace_form():
    @export(inplace_form=True)
    def _test_triple(x):
        return x * 3

    try:
        x = plugrad.tensor([1.0, 2.0], requires_grad=True)
        assert plugrad._test_triple(x).tolist() == [3.0, 6.0]
        y = x * 1
        y._test_triple_()  # recorded like every in-place write
        y.sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
    finally:
        for name in ("_test_triple", "_test_triple_"):
            if name in vars(Tensor):
                delattr(Tensor, name)
        FUNCTIONS.pop("_test_triple", None)
        vars(plugrad).pop("_test_triple", None)


def test_existing_names_are_refused():
    with pytest.raises(RuntimeError, match="already exists"):
        export(lambda x: x, aliases=("sum",), function=False)
