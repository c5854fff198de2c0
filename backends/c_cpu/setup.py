"""Builds the C extension at install time through CFFI (API mode); see build_ffi.py."""

from setuptools import setup

setup(cffi_modules=["build_ffi.py:ffibuilder"])
