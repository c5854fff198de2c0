"""Issue 12's optimizers, schedulers, activations, losses, distances and init functions exist
under torch's names and take torch's parameters (names, order and defaults), less those
torch itself deprecates. A name that goes missing or drifts from torch fails here."""

from __future__ import annotations

import inspect

import pytest

import plugrad
import plugrad.nn
import plugrad.nn.functional
import plugrad.nn.init
import plugrad.optim
import plugrad.optim.lr_scheduler

torch = pytest.importorskip(
    "torch", reason="torch is the test-only oracle; make test installs torch==2.13.0"
)

NAMES = {
    "optim": ["RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "LBFGS"],
    "optim.lr_scheduler": [
        "ExponentialLR", "MultiStepLR", "LambdaLR", "OneCycleLR", "CosineAnnealingWarmRestarts",
        "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler",
    ],
    "nn": [
        "LeakyReLU", "ELU", "SELU", "SiLU", "Mish", "Softplus", "Hardtanh", "Hardswish", "PReLU",
        "BCELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineEmbeddingLoss",
        "MarginRankingLoss", "ReLU6", "CosineSimilarity", "PairwiseDistance",
    ],
    "nn.functional": [
        "leaky_relu", "elu", "selu", "silu", "mish", "softplus", "hardtanh", "hardswish", "prelu",
        "relu6", "binary_cross_entropy", "smooth_l1_loss", "huber_loss", "kl_div",
        "cosine_embedding_loss", "margin_ranking_loss", "normalize", "cosine_similarity",
        "pairwise_distance",
    ],
    "nn.init": ["trunc_normal_", "orthogonal_"],
}  # fmt: skip

# torch's deprecated parameters, which plugrad leaves out (reduction= replaces the first two).
DEPRECATED = {"size_average", "reduce", "min_value", "max_value"}

CASES = [(space, name) for space, names in NAMES.items() for name in names]


def resolve(root, space: str, name: str):
    obj = root
    for part in space.split("."):
        obj = getattr(obj, part)
    return getattr(obj, name)


def parameters(obj) -> list[tuple[str, object]] | None:
    """(name, default) of each parameter, or None where Python can't see a signature (torch's
    builtins such as F.softplus)."""
    try:
        signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):
        return None
    return [(p.name, p.default) for p in signature.parameters.values()
            if p.name not in DEPRECATED and p.name != "self"]  # fmt: skip


@pytest.mark.parametrize("space,name", CASES, ids=[f"{s}.{n}" for s, n in CASES])
def test_name_exists_with_torchs_parameters(space, name):
    theirs = resolve(torch, space, name)
    ours = resolve(plugrad, space, name)
    assert callable(ours)
    expected = parameters(theirs)
    if expected is None:  # a torch builtin: the names in its documented signature
        documented = theirs.__doc__.strip().splitlines()[0]
        names = documented[documented.index("(") + 1 : documented.index(")")].split(",")
        expected_names = [n.split("=")[0].strip() for n in names if n.strip() != "*"]
        assert [n for n, _ in parameters(ours)] == expected_names
        return
    got = parameters(ours)
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (pname, default), (_, their_default) in zip(got, expected):
        if their_default is not inspect.Parameter.empty:
            assert default == their_default, f"{name}({pname}=...) defaults differ"


def test_every_name_is_exported():
    for space, names in NAMES.items():
        module = plugrad
        for part in space.split("."):
            module = getattr(module, part)
        assert set(names) <= set(module.__all__), space
