"""Bundled datasets: scikit-learn's 8x8 handwritten digits (the `plugrad[data]` extra)."""

from __future__ import annotations

import numpy as np

from ..backend.registry import get_device
from ..factory import tensor
from .dataset import TensorDataset

__all__ = ["load_digits"]

_SPLITS = ("all", "train", "test")


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as error:
        raise ImportError(
            "plugrad.data.datasets.load_digits needs scikit-learn, which is the optional extra "
            "`plugrad[data]`: pip install 'plugrad[data]'"
        ) from error
    bunch = sk_load_digits()
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def load_digits(
    split: str = "all",
    *,
    flatten: bool = True,
    test_fraction: float = 0.2,
    dtype: object = None,
    device: object = None,
) -> TensorDataset:
    """The 1797 8x8 digit images as a TensorDataset of (image, label).

    Images are scaled to [0, 1]: (N, 64) with flatten=True, else (N, 1, 8, 8); labels are int64
    in 0..9. split='train' / 'test' give a fixed, stratified split (test_fraction of each
    class), the same on every call and independent of `plugrad.manual_seed`.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    images, labels = _sklearn_digits()
    images = images / 16.0
    if split != "all":
        rng = np.random.default_rng(20240917)
        test = np.zeros(len(labels), dtype=bool)
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            chosen = rng.permutation(members)[: int(round(len(members) * test_fraction))]
            test[chosen] = True
        keep = test if split == "test" else ~test
        images, labels = images[keep], labels[keep]
    images = images.reshape(len(images), 64) if flatten else images.reshape(len(images), 1, 8, 8)
    target = get_device(device)
    return TensorDataset(
        tensor(images, dtype=dtype or "float32", device=target),
        tensor(labels, dtype="int64", device=target),
    )
