"""Threads running backward into shared tensors lose no gradient: accumulation into .grad
takes a lock per process (Tensor._accumulate_grad), as torch's is atomic per leaf. Each thread
builds its own graph from the shared tensors; every thread's contribution must arrive."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import plugrad

THREADS, ROUNDS = 6, 200


@pytest.fixture
def often_switching():
    """Make the interpreter switch threads every few bytecodes, so that an unprotected
    read-add-write of .grad would be interleaved (and lose updates) in this test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def run_in_threads(work) -> None:
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def body() -> None:
        try:
            start.wait()
            for _ in range(ROUNDS):
                work()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=body) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_six_threads_backward_into_one_leaf_lose_nothing(device, often_switching):
    leaf = plugrad.zeros(16, dtype=plugrad.float64, device=device, requires_grad=True)
    run_in_threads(lambda: (leaf * 1.0).sum().backward())
    np.testing.assert_array_equal(leaf.grad.numpy(), np.full(16, THREADS * ROUNDS))


def test_retained_non_leaf_gradients_and_hooks_are_safe_too(device, often_switching):
    """A shared intermediate (graph retained) with retain_grad and a hook: every thread's
    backward reaches the intermediate's .grad, the leaf's .grad and the hook. The hook is the
    user's code and runs in each backward's thread, so it takes its own lock (as in torch)."""
    leaf = plugrad.ones(4, dtype=plugrad.float64, device=device, requires_grad=True)
    middle = leaf * 3.0
    middle.retain_grad()
    calls = []
    calls_lock = threading.Lock()

    def count(grad):
        with calls_lock:
            calls.append(grad.shape)

    middle.register_hook(count)
    run_in_threads(lambda: (middle * 2.0).sum().backward(retain_graph=True))
    total = THREADS * ROUNDS
    assert len(calls) == total
    np.testing.assert_array_equal(middle.grad.numpy(), np.full(4, 2.0 * total))
    np.testing.assert_array_equal(leaf.grad.numpy(), np.full(4, 6.0 * total))


def test_post_accumulate_hooks_see_each_accumulation(device, often_switching):
    leaf = plugrad.zeros(3, dtype=plugrad.float64, device=device, requires_grad=True)
    seen = []
    leaf.register_post_accumulate_grad_hook(lambda t: seen.append(1))  # list.append is atomic
    run_in_threads(lambda: (leaf * 2.0).sum().backward())
    assert len(seen) == THREADS * ROUNDS
    np.testing.assert_array_equal(leaf.grad.numpy(), np.full(3, 2.0 * THREADS * ROUNDS))
