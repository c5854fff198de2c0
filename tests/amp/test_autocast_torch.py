"""The dtype of every autocast op's output against torch.autocast("cpu") on the same inputs:
the lower-precision list (matrix products, convolutions, attention), the float32 list
(losses, prod, trace, quantile, the decompositions), the ops in neither (they keep or promote
their inputs' dtypes) and composites that reach a listed op inside (einsum, tensordot,
multi-head attention). Runs on every installed device that declares the low dtype."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import plugrad
import plugrad.nn as pnn
import plugrad.nn.functional as pF

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)
tnn = torch.nn
tF = torch.nn.functional

LOW = [plugrad.bfloat16, plugrad.float16]


class Lib:
    """plugrad or torch, under one spelling: the probes below run on either."""

    def __init__(self, lib: Any, nn: Any, functional: Any, make: Callable[..., Any]) -> None:
        self.lib, self.nn, self.F, self.make = lib, nn, functional, make

    def inputs(self, low: str) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4, 4)).astype(np.float32)
        spd = x @ x.T + 4 * np.eye(4, dtype=np.float32)
        return {
            "x": self.make(x),
            "x64": self.make(x.astype(np.float64)),
            "low": self.make(x, low),
            "probs": self.make(1 / (1 + np.exp(-x)), low),
            "spd": self.make(spd, low),
            "img": self.make(x.reshape(1, 1, 4, 4)),
            "target": self.make(np.array([0, 1, 2, 1]), "int64"),
            "ones": self.make(np.ones(4, dtype=np.float32)),
        }


def _mha(lib: Lib, v: dict) -> Any:
    lib.lib.manual_seed(0)
    attention = lib.nn.MultiheadAttention(4, 2, batch_first=True)
    q = v["x"].reshape(1, 4, 4)
    return attention(q, q, q)[0]


PROBES: dict[str, tuple[str, Callable[[Lib, dict], Any]]] = {
    # lower precision
    "matmul": ("lower", lambda L, v: v["x"] @ v["x"]),
    "matmul-of-low-and-float32": ("lower", lambda L, v: L.lib.matmul(v["low"], v["x"])),
    "linear": ("lower", lambda L, v: L.F.linear(v["x"], v["x"], v["x"][0])),
    "conv1d": ("lower", lambda L, v: L.F.conv1d(v["x"][None], v["x"][:, :, None])),
    "conv2d": ("lower", lambda L, v: L.F.conv2d(v["img"], v["img"], v["ones"][:1])),
    "conv_transpose2d": ("lower", lambda L, v: L.F.conv_transpose2d(v["img"], v["img"])),
    "prelu": ("lower", lambda L, v: L.F.prelu(v["x"], v["ones"][:1])),
    "sdpa": ("lower", lambda L, v: L.F.scaled_dot_product_attention(*[v["x"][None]] * 3)),
    "vecdot": ("lower", lambda L, v: L.lib.linalg.vecdot(v["x"], v["x"])),
    "nn.Linear": ("lower", lambda L, v: L.nn.Linear(4, 3)(v["x"])),
    # composites of lower-precision ops
    "einsum": ("lower", lambda L, v: L.lib.einsum("ij,jk->ik", v["x"], v["x"])),
    "tensordot": ("lower", lambda L, v: L.lib.tensordot(v["x"], v["x"], 1)),
    "multi_dot": ("lower", lambda L, v: L.lib.linalg.multi_dot([v["x"], v["x"], v["x"]])),
    "MultiheadAttention": ("lower", _mha),
    # float32
    "cross_entropy": ("fp32", lambda L, v: L.F.cross_entropy(v["low"], v["target"])),
    "nll_loss": ("fp32", lambda L, v: L.F.nll_loss(v["low"], v["target"])),
    "mse_loss": ("fp32", lambda L, v: L.F.mse_loss(v["low"], v["low"])),
    "l1_loss": ("fp32", lambda L, v: L.F.l1_loss(v["low"], v["low"])),
    "smooth_l1_loss": ("fp32", lambda L, v: L.F.smooth_l1_loss(v["low"], v["low"])),
    "huber_loss": ("fp32", lambda L, v: L.F.huber_loss(v["low"], v["low"])),
    "kl_div": ("fp32", lambda L, v: L.F.kl_div(v["low"], v["probs"], reduction="batchmean")),
    "binary_cross_entropy": ("fp32", lambda L, v: L.F.binary_cross_entropy(v["probs"], v["probs"])),
    "binary_cross_entropy_with_logits": (
        "fp32",
        lambda L, v: L.F.binary_cross_entropy_with_logits(v["low"], v["probs"]),
    ),
    "margin_ranking_loss": (
        "fp32",
        lambda L, v: L.F.margin_ranking_loss(v["low"][0], v["low"][1], v["low"][2]),
    ),
    "cosine_embedding_loss": (
        "fp32",
        lambda L, v: L.F.cosine_embedding_loss(v["low"], v["low"], v["ones"]),
    ),
    "nn.CrossEntropyLoss": ("fp32", lambda L, v: L.nn.CrossEntropyLoss()(v["low"], v["target"])),
    "prod": ("fp32", lambda L, v: v["low"].prod()),
    "trace": ("fp32", lambda L, v: v["low"].trace()),
    "quantile": ("fp32", lambda L, v: L.lib.quantile(v["low"], 0.5)),
    "inv": ("fp32", lambda L, v: L.lib.linalg.inv(v["spd"])),
    "cholesky": ("fp32", lambda L, v: L.lib.linalg.cholesky(v["spd"])),
    "qr": ("fp32", lambda L, v: L.lib.linalg.qr(v["spd"])[0]),
    "svd": ("fp32", lambda L, v: L.lib.linalg.svd(v["spd"])[1]),
    "svdvals": ("fp32", lambda L, v: L.lib.linalg.svdvals(v["spd"])),
    "eigh": ("fp32", lambda L, v: L.lib.linalg.eigh(v["spd"])[0]),
    "eigvalsh": ("fp32", lambda L, v: L.lib.linalg.eigvalsh(v["spd"])),
    "solve": ("fp32", lambda L, v: L.lib.linalg.solve(v["spd"], v["low"])),
    "lstsq": ("fp32", lambda L, v: L.lib.linalg.lstsq(v["spd"], v["low"])[0]),
    # in neither list: the inputs' dtype, or their promotion
    "softmax": ("none", lambda L, v: v["low"].softmax(-1)),
    "log_softmax": ("none", lambda L, v: L.F.log_softmax(v["low"], -1)),
    "layer_norm": ("none", lambda L, v: L.F.layer_norm(v["low"], (4,))),
    "sum": ("none", lambda L, v: v["low"].sum()),
    "exp": ("none", lambda L, v: v["low"].exp()),
    "cumsum": ("none", lambda L, v: v["low"].cumsum(0)),
    "logsumexp": ("none", lambda L, v: v["low"].logsumexp(0)),
    "softplus": ("none", lambda L, v: L.F.softplus(v["low"])),
    "cosine_similarity": ("none", lambda L, v: L.F.cosine_similarity(v["low"], v["low"])),
    "relu": ("none", lambda L, v: L.F.relu(v["low"])),
    "add-promotes": ("none", lambda L, v: v["low"] + v["x"]),
    "cat-promotes": ("none", lambda L, v: L.lib.cat([v["low"], v["x"]])),
    "matmul-of-float64": ("none", lambda L, v: v["x64"] @ v["x64"]),
    "float32-alone": ("none", lambda L, v: v["x"] * 2),
}


def _torch_lib() -> Lib:
    return Lib(torch, tnn, tF, lambda a, d="float32": torch.tensor(a, dtype=getattr(torch, d)))


def _our_lib(device: Any) -> Lib:
    def make(a: np.ndarray, d: str = "float32") -> plugrad.Tensor:
        return plugrad.tensor(a, dtype=d, device=device)

    def module(cls: Any) -> Any:
        return lambda *args, **kwargs: cls(*args, **kwargs).to(device)

    class NN:  # the two modules the probes build, on the device under test
        Linear = module(pnn.Linear)
        MultiheadAttention = module(pnn.MultiheadAttention)
        CrossEntropyLoss = pnn.CrossEntropyLoss

    return Lib(plugrad, NN, pF, make)


def _declares(device: Any, dtype: plugrad.DType) -> None:
    if dtype.name not in device.backend.dtypes:
        pytest.skip(f"{device.name} does not declare {dtype.name}")


@pytest.mark.parametrize("name", list(PROBES))
@pytest.mark.parametrize("low", LOW, ids=str)
def test_output_dtype_matches_torch_autocast_cpu(device, low, name):
    _declares(device, low)
    if not device.is_host:
        pytest.skip("torch.autocast('cpu') is the oracle of host devices")
    kind, probe = PROBES[name]
    theirs_lib, ours_lib = _torch_lib(), _our_lib(device)
    with torch.autocast("cpu", dtype=getattr(torch, low.name)):
        try:
            theirs = probe(theirs_lib, theirs_lib.inputs(low.name))
        except (RuntimeError, NotImplementedError) as error:
            pytest.skip(f"torch's CPU kernel refuses it: {str(error)[:80]}")
    with plugrad.autocast("cpu", dtype=low):
        ours = probe(ours_lib, ours_lib.inputs(low.name))
    expected = str(theirs.dtype).removeprefix("torch.")
    assert ours.dtype.name == expected, f"{name} ({kind}): torch gives {expected}"
    assert ours.device is device


@pytest.mark.parametrize("name", [n for n, (kind, _) in PROBES.items() if kind != "none"])
def test_outside_autocast_the_listed_ops_keep_their_dtypes(device, name):
    """The wrappers are inert outside a region: float32 stays float32, bfloat16 stays (and
    the decompositions refuse it, as they do without autocast)."""
    _declares(device, plugrad.bfloat16)
    kind, probe = PROBES[name]
    try:
        ours = probe(_our_lib(device), _our_lib(device).inputs("bfloat16"))
    except TypeError as error:
        assert kind == "fp32" and "low precision dtypes are not supported" in str(error)
        return
    assert ours.dtype is (plugrad.float32 if kind == "lower" else plugrad.bfloat16)
