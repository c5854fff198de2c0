"""`plugrad.array_api`: the Python Array API standard (2024.12) namespace over plugrad.

`x.__array_namespace__()` returns this module for any plugrad Tensor, so libraries written
against the standard (scikit-learn with `array_api_dispatch=True`, SciPy, array-api-compat
users) run on plugrad arrays, on any device:

    xp = x.__array_namespace__()
    xp.mean(x, axis=0), xp.linalg.svd(x, full_matrices=False)

The functions are plugrad's own under the standard's names and arguments. Differences a user
may meet: the dtypes are bool, int8, int16, int32, int64, uint8, float32 and float64 (no
wider unsigned or complex ones; which of them a device holds, `__array_namespace_info__()`
says); the default floating dtype is float64 (NumPy's), where plugrad's own factories default
to float32; `tan`, `copysign`, `nextafter`, `signbit` and the `unique_*` functions compute on
a host copy. The namespace's functions follow the standard where torch differs (promotion
whatever the ranks, a zero remainder with x2's sign); the array's operators (`+`, `%`, `>`...)
are plugrad's, i.e. torch's: a 0-d array of a wider dtype of the same kind does not widen the
result (int8 array + 0-d int16 is int8), and `x % y` is 0 with x's sign where it is 0.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

from .. import dtypes as _dt
from ..autograd.tensor import Tensor
from ..backend.registry import get_device
from . import linalg
from ._creation import (
    arange,
    asarray,
    empty,
    empty_like,
    eye,
    from_dlpack,
    full,
    full_like,
    linspace,
    meshgrid,
    ones,
    ones_like,
    tril,
    triu,
    zeros,
    zeros_like,
)
from ._dtypes import (
    __array_namespace_info__,
    bool,
    can_cast,
    finfo,
    float32,
    float64,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    isdtype,
    result_type,
    uint8,
)
from ._elementwise import *  # noqa: F403 - the standard's elementwise functions
from ._elementwise import __all__ as _ELEMENTWISE
from ._functions import *  # noqa: F403 - statistical, searching, sorting, set, manipulation...
from ._functions import __all__ as _FUNCTIONS

__array_api_version__ = "2024.12"

e = math.e
inf = math.inf
nan = math.nan
pi = math.pi
newaxis = None


def astype(x: Tensor, dtype: Any, /, *, copy: builtins.bool = True, device: Any = None) -> Tensor:
    """x as `dtype` (and on `device`): a new array unless copy=False and nothing changes."""
    dtype = _dt.as_dtype(dtype)
    target = get_device(device) if device is not None else x.device
    if dtype is x.dtype and target is x.device:
        return x.clone() if copy else x
    out = x.astype(dtype)
    return out.to(target) if target is not out.device else out


CONSTANTS = ("e", "inf", "nan", "newaxis", "pi")
CREATION = (
    "arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
)  # fmt: skip
DATA_TYPE_FUNCTIONS = ("astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type")
DATA_TYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64")

__all__ = [
    "__array_api_version__", "__array_namespace_info__", "linalg",
    *CONSTANTS, *CREATION, *DATA_TYPE_FUNCTIONS, *DATA_TYPES, *_ELEMENTWISE, *_FUNCTIONS,
]  # fmt: skip
