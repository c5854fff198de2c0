"""Hypothesis strategies and helpers for conformance tests: shapes, dtypes, strided views.

A view is drawn as a `ViewCase`: a flat host array (the whole buffer) plus a NumPy view into it
with the same element strides and offset that the backend is given. Upload the flat array with
`backend.from_numpy`, describe the view with `case.strided(buffer)`, and compare with NumPy
computed on `case.view` (or on `case.flat` for writes into the view).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import plugrad
from plugrad.backend.protocol import Strided

# Every dtype plugrad has, from plugrad.dtypes (the one place they are defined); a test draws
# each one the backend declares and skips the others (`need`).
DTYPES = tuple(plugrad.dtypes.ALL)
FLOAT_DTYPES = tuple(d.name for d in plugrad.dtypes.FLOATING)
INT_DTYPES = tuple(d.name for d in plugrad.dtypes.INTEGER)
NUMERIC = FLOAT_DTYPES + INT_DTYPES
# float16 and bfloat16: every backend computes them in float32 and rounds once to 16 bits.
HALF_DTYPES = tuple(d for d in FLOAT_DTYPES if plugrad.dtypes.ALL[d].bits == 16)
NUMPY_DTYPES = {name: d.numpy.type for name, d in plugrad.dtypes.ALL.items()}  # scalar types

MAX_EXAMPLES = int(os.environ.get("PLUGRAD_KIT_MAX_EXAMPLES", "25"))


def kit_settings(max_examples: int | None = None) -> settings:
    """Hypothesis settings for kit tests: derandomized, no database, no deadline."""
    return settings(
        max_examples=max_examples or MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
    )


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 5):
    """Shapes with a few small sides; 0-d and empty (a 0 side) included unless excluded."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        tuple
    )


def _integer_values(rng: np.random.Generator, size: int, dtype: str, kind: str) -> np.ndarray:
    """Integers valid for `dtype` (uint8 non-negative), small unless `kind` is "wrap"."""
    np_dtype = NUMPY_DTYPES[dtype]
    info = np.iinfo(np_dtype)
    signed = info.min < 0
    if kind == "wrap":  # the whole range: sums, differences and products wrap
        return rng.integers(int(info.min), int(info.max), size=size, endpoint=True, dtype=np_dtype)
    if kind == "prod":  # magnitudes 1 and 2 only, so products of ~80 terms stay modest
        choices = [-2, -1, 1, 1, 2] if signed else [1, 1, 2]
        return rng.choice(np.array(choices, dtype=np_dtype), size=size)
    low, high = {"positive": (1, 6), "nonzero": (1, 6), "exponent": (0, 4), "base": (-5, 6),
                 "shift": (-2, info.bits + 6)}.get(kind, (-9, 10))  # fmt: skip
    values = rng.integers(low if signed else max(low, 0), high, size=size)
    if kind == "nonzero" and signed:
        values *= rng.choice(np.array([-1, 1]), size=size)
    return values.astype(np_dtype)


def random_values(rng: np.random.Generator, size: int, dtype: str, kind: str = "any"):
    """`size` host values of `dtype`. kind: "any", "positive" (0.1..3), "nonzero" (|x| >= 0.5),
    "ties" (small integers, so equal values are common), "exponent" (int 0..3 / float -2..2),
    "base" (int -5..5, so a cube fits int8; floats as "any"),
    "prod" (near 1, so products stay modest), "shift" (int -2..bits+5: shift counts, some
    outside [0, bits)), "wrap" (integers over their whole range; floats as "any"). Unsigned
    integers never go below 0."""
    if dtype == "bool":
        return rng.random(size) < 0.5
    if dtype in INT_DTYPES:
        return _integer_values(rng, size, dtype, kind)
    if kind == "positive":
        values = rng.uniform(0.1, 3.0, size)
    elif kind == "nonzero":
        values = rng.uniform(0.5, 3.0, size) * rng.choice(np.array([-1.0, 1.0]), size=size)
    elif kind == "ties":
        values = rng.integers(-3, 4, size=size).astype(np.float64)
    elif kind == "exponent":
        values = rng.uniform(-2.0, 2.0, size)
    elif kind == "prod":
        values = rng.uniform(0.5, 1.5, size) * rng.choice(np.array([-1.0, 1.0]), size=size)
    else:
        values = rng.uniform(-3.0, 3.0, size)
    return values.astype(NUMPY_DTYPES[dtype])


@dataclass
class ViewCase:
    """A strided view into a flat host array; `view` is the NumPy equivalent of `strided()`."""

    flat: np.ndarray
    view: np.ndarray
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    dtype: str
    layout: str

    def strided(self, buffer) -> Strided:
        return Strided(buffer, self.shape, self.strides, self.offset, self.dtype)

    def view_on(self, flat: np.ndarray) -> np.ndarray:
        """The same view over another flat array of the same size (e.g. an expected copy)."""
        item = flat.itemsize
        return np.lib.stride_tricks.as_strided(
            flat[self.offset :], self.shape, tuple(s * item for s in self.strides)
        )

    def upload(self, backend) -> Strided:
        """The view over a fresh backend copy of `flat`."""
        return self.strided(backend.from_numpy(self.flat.copy()))


def _element_layout(flat: np.ndarray, view: np.ndarray) -> tuple[tuple[int, ...], int]:
    item = flat.itemsize
    offset_bytes = view.__array_interface__["data"][0] - flat.__array_interface__["data"][0]
    return tuple(s // item for s in view.strides), offset_bytes // item


@st.composite
def views(
    draw,
    shape: tuple[int, ...],
    dtype: str,
    kind: str = "any",
    writable: bool = False,
    compact: bool = False,
) -> ViewCase:
    """A view of `shape` laid out at random inside a larger flat buffer: permuted axes, steps,
    flips (negative strides), broadcast axes (stride 0, only when not `writable`) and a
    leading offset; `compact` asks for a plain row-major buffer at offset 0."""
    ndim = len(shape)
    # Hypothesis draws the shape and one seed; the layout comes from the seed, so every
    # feature keeps a fair share of examples (Hypothesis itself favours the simplest draws).
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if compact or rng.random() < 0.2:
        flat = random_values(rng, int(np.prod(shape, dtype=np.int64)), dtype, kind)
        view = flat.reshape(shape)
        strides, offset = _element_layout(flat, view)
        return ViewCase(flat, view, shape, strides, offset, dtype, "compact")
    perm = [int(i) for i in rng.permutation(ndim)]
    inverse = np.argsort(perm) if ndim else np.array([], dtype=np.int64)
    physical = [shape[inverse[j]] for j in range(ndim)]
    base_shape, slices, flips, broadcast = [], [], [], []
    for extent in physical:
        bcast = (not writable) and rng.random() < 0.2
        step = int(rng.integers(1, 4))
        lead, trail = int(rng.integers(0, 2)), int(rng.integers(0, 2))
        flips.append(bool(rng.random() < 0.4))
        broadcast.append(bcast)
        if bcast:
            base_shape.append(1 + lead + trail)
            slices.append(slice(lead, lead + 1))
        elif extent == 0:
            base_shape.append(lead + trail)
            slices.append(slice(lead, lead))
        else:
            span = (extent - 1) * step + 1
            base_shape.append(lead + span + trail)
            slices.append(slice(lead, lead + span, step))
    pre, post = int(rng.integers(0, 4)), int(rng.integers(0, 3))
    base_size = int(np.prod(base_shape, dtype=np.int64))
    flat = random_values(rng, pre + base_size + post, dtype, kind)
    view = flat[pre : pre + base_size].reshape(base_shape)[(*slices, Ellipsis)]
    view = view[(*(slice(None, None, -1) if f else slice(None) for f in flips), Ellipsis)]
    view = np.broadcast_to(view, physical) if any(broadcast) else view
    view = view.transpose(perm)
    strides, offset = _element_layout(flat, view)
    layout = (
        f"perm={list(perm)} steps={[s.step for s in slices]} flips={flips} "
        f"broadcast={broadcast} offset={offset}"
    )
    return ViewCase(flat, view, tuple(shape), strides, offset, dtype, layout)


def shapes_and_views(shape_strategy=None, dtype: str = "float32", **view_options):
    """A view of a drawn shape (`views` options pass through)."""
    shape_strategy = shape_strategy if shape_strategy is not None else shapes()
    return shape_strategy.flatmap(lambda shape: views(shape, dtype, **view_options))
