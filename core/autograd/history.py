"""A tensor's history across in-place writes.

A Tensor is also its node in the graph. An in-place write that is recorded gives the tensor a
new node while the nodes recorded earlier still refer to the same Python object, so each
tensor keeps the chain of what it was: `snapshot()` moves its old graph identity into a new
object (`meta.prior`) and `meta.since` says from which storage version the current identity
holds. Every node records the storage versions of its inputs (and of its output) when it is
made, so backward finds the identity each input had then (`resolve`), and the version check
finds tensors whose values changed after an op saved them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tensor import Tensor


class AutogradMeta:
    """What a tensor carries beyond its node: earlier identities and hooks (rarely set)."""

    __slots__ = ("prior", "since", "hooks", "post_hooks")

    def __init__(self, prior: Tensor | None = None, since: int = 0) -> None:
        self.prior = prior  # the object that holds this tensor's graph before `since`
        self.since = since  # the storage version from which the tensor's own node holds
        self.hooks: dict[int, Any] | None = None  # register_hook
        self.post_hooks: dict[int, Any] | None = None  # register_post_accumulate_grad_hook


def meta_of(t: Tensor) -> AutogradMeta:
    """t's AutogradMeta, made on first use."""
    meta = t._meta
    if meta is None:
        meta = t._meta = AutogradMeta()
    return meta


def resolve(t: Tensor, version: int) -> Tensor:
    """The object that was `t`'s node when its storage was at `version`."""
    meta = t._meta
    while meta is not None and meta.since > version:
        t = meta.prior  # type: ignore[assignment]
        meta = t._meta
    return t


def graph_inputs(node: Tensor) -> tuple[Tensor, ...]:
    """node's inputs as they were when node was recorded; the tuple is fixed up once so that
    gradient functions reading `node._inputs` see the same objects."""
    inputs = node._inputs
    versions = node._versions
    for i, t in enumerate(inputs):
        meta = t._meta
        if meta is not None and meta.since > versions[i]:
            inputs = tuple(resolve(x, v) for x, v in zip(inputs, versions))
            node._inputs = inputs
            break
    return inputs


def snapshot(t: Tensor) -> Tensor:
    """A new object holding t's current node (same memory), for the nodes recorded so far.

    Hooks go with it: they see the gradient of the value before the write, as in torch."""
    from .tensor import Tensor

    old = Tensor._wrap(t.array)
    old.requires_grad = t.requires_grad
    old._op = t._op
    old._inputs = t._inputs
    if t._op is not None:
        old._versions = t._versions
    old._graph_freed = t._graph_freed
    old._base = t._base
    old._meta = t._meta
    old.name = t.name
    return old


def start_new_identity(t: Tensor, version: int) -> Tensor:
    """Move t's node into a snapshot and make t a fresh node from storage `version` on.

    Returns the snapshot. The caller sets t's new _op, _inputs and _versions."""
    old = snapshot(t)
    t._meta = AutogradMeta(prior=old, since=version)
    t._graph_freed = False
    return old


def check_saved_versions(node: Tensor) -> None:
    """Raise when a tensor node's op saved for backward was written in place since."""
    op = node._op
    saved = op.saved  # type: ignore[union-attr]
    if saved == ():
        return
    versions = node._versions
    inputs = node._inputs
    positions = saved if saved is not None else (*range(len(inputs)), -1)
    for i in positions:
        t = node if i == -1 else inputs[i]
        now = t.array.version[0]
        if now != versions[i]:
            what = "its output" if i == -1 else f"input {i}"
            raise RuntimeError(
                f"a tensor needed for the gradient of {op.name} ({what}, shape "  # type: ignore[union-attr]
                f"{t.shape}) was modified in place: version {versions[i]} then {now}. "
                "Write into a .clone() instead, or make the change before the op uses it"
            )
