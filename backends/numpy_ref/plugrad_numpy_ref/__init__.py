"""plugrad's NumPy reference backend: plain, readable NumPy, the oracle for every other backend."""

from __future__ import annotations

from plugrad.backend import hookimpl

from .backend import NumpyRefBackend

__all__ = ["NumpyRefBackend", "plugrad_backends"]


@hookimpl
def plugrad_backends() -> list[NumpyRefBackend]:
    return [NumpyRefBackend()]
