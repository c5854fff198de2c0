"""Named results, as torch.return_types: `values, indices = x.sort()` or `x.sort().values`.

Each is a named tuple: it unpacks, indexes and compares as a tuple and names its fields.
"""

from __future__ import annotations

from collections import namedtuple


def _result(name: str, fields: tuple[str, ...]) -> type:
    result = namedtuple(name, fields)
    result.__module__ = __name__
    return result


sort = _result("sort", ("values", "indices"))
topk = _result("topk", ("values", "indices"))
kthvalue = _result("kthvalue", ("values", "indices"))
median = _result("median", ("values", "indices"))
cummax = _result("cummax", ("values", "indices"))
cummin = _result("cummin", ("values", "indices"))
aminmax = _result("aminmax", ("min", "max"))

__all__ = ["aminmax", "cummax", "cummin", "kthvalue", "median", "sort", "topk"]
