"""Grad modes as torch's: no_grad and enable_grad as context managers and decorators (with
or without parentheses), inference_mode, set_grad_enabled, and per-thread state."""

from __future__ import annotations

import threading

import pytest

import plugrad


def test_no_grad_as_bare_and_called_decorator():
    @plugrad.no_grad
    def bare():
        return plugrad.is_grad_enabled()

    @plugrad.no_grad()
    def called():
        return plugrad.is_grad_enabled()

    assert bare() is False and called() is False
    assert plugrad.is_grad_enabled()
    assert bare.__name__ == "bare"


def test_inference_mode_records_nothing():
    x = plugrad.tensor([1.0], requires_grad=True)
    with plugrad.inference_mode():
        assert plugrad.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    with plugrad.inference_mode(False):
        assert (x * 2).requires_grad

    @plugrad.inference_mode
    def predict(t):
        return t * 2

    assert not predict(x).requires_grad
    assert not plugrad.is_inference_mode_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    plugrad.set_grad_enabled(False)
    assert not plugrad.is_grad_enabled()
    plugrad.set_grad_enabled(True)
    with plugrad.set_grad_enabled(False):
        assert not plugrad.is_grad_enabled()
    assert plugrad.is_grad_enabled()

    @plugrad.set_grad_enabled(False)
    def off():
        return plugrad.is_grad_enabled()

    assert plugrad.is_grad_enabled()  # decorating changes nothing outside the function
    assert off() is False


def test_enable_grad_inside_no_grad():
    x = plugrad.tensor([1.0], requires_grad=True)
    with plugrad.no_grad():
        with plugrad.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_modes_are_per_thread():
    seen = []
    with plugrad.no_grad():
        t = threading.Thread(target=lambda: seen.append(plugrad.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_no_grad_refuses_a_non_function_argument():
    with pytest.raises(TypeError, match="no arguments"):
        plugrad.no_grad(3)
