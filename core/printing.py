"""plugrad.set_printoptions: how tensors print (torch's options, kept here rather than in
NumPy's global state, which belongs to the user)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": sys.maxsize, "edgeitems": 3, "linewidth": 80},
}
_options: dict[str, Any] = {}  # empty: NumPy's defaults, as plugrad always printed


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Digits after the point, how many elements print before summarising (threshold) and
    how many at each edge then, the line width; profile "default", "short" or "full" sets
    all four; sci_mode True forces scientific notation, False forbids it."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}")
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):  # fmt: skip
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"set_printoptions: {name} must be a non-negative int")
            _options[name] = value
    if sci_mode is not None:
        _options["sci_mode"] = bool(sci_mode)


def array_to_string(values: np.ndarray, prefix: str) -> str:
    """The body of a tensor's repr under the current options."""
    options = {k: v for k, v in _options.items() if k not in ("sci_mode", "linewidth")}
    if "linewidth" in _options:
        options["max_line_width"] = _options["linewidth"]
    sci = _options.get("sci_mode")
    if sci is False:
        options["suppress_small"] = True
    elif sci is True and values.dtype.kind == "f":
        digits = options.get("precision", 4)
        options["formatter"] = {"float_kind": lambda v: f"{v:.{digits}e}"}
    return np.array2string(values, separator=", ", prefix=prefix, **options)
