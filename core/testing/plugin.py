"""The pytest plugin of the conformance kit (auto-loaded through the `pytest11` entry point).

It adds `--backend NAME` (repeatable) and the fixtures `device` and `backend`, parametrized
over the selected backends (every available one when no `--backend` is given). Only tests that
request them are parametrized, so unrelated test runs are not disturbed; a project's own
`device` or `backend` fixture overrides these.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

_KIT_DIR = Path(__file__).resolve().parent
_KIT_PACKAGE = __name__.rpartition(".")[0]  # "plugrad.testing"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("plugrad", "plugrad backend conformance kit")
    group.addoption(
        "--backend",
        "--plugrad-backend",
        action="append",
        dest="plugrad_backends",
        default=None,
        metavar="NAME",
        help="run plugrad conformance tests on this device (repeatable; default: every "
        "available device, see `plugrad backends`)",
    )


def selected_devices(config: pytest.Config) -> list[str]:
    """The device names the kit runs on: `--backend` values, else every available device."""
    names = config.getoption("plugrad_backends", default=None)
    if names:
        return list(dict.fromkeys(names))
    from plugrad.backend.registry import available_devices

    return available_devices()


def pytest_configure(config: pytest.Config) -> None:
    names = config.getoption("plugrad_backends", default=None)
    if not names:
        return
    from plugrad.backend.registry import get_device

    for name in names:
        try:
            get_device(name)
        except (ValueError, TypeError) as error:
            raise pytest.UsageError(f"--backend {name}: {error}") from error


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("plugrad_backends", default=None):
        return "plugrad backends: " + ", ".join(selected_devices(config))
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "plugrad_device" in metafunc.fixturenames:
        names = selected_devices(metafunc.config)
        metafunc.parametrize("plugrad_device", names, indirect=True, ids=names, scope="session")


@pytest.fixture(scope="session")
def plugrad_device(request: pytest.FixtureRequest):
    """The plugrad Device under test (parametrized by `pytest_generate_tests`)."""
    from plugrad.backend.registry import get_device

    return get_device(request.param)


@pytest.fixture(scope="session")
def device(plugrad_device):
    """The plugrad Device under test, one per selected backend."""
    return plugrad_device


@pytest.fixture(scope="session")
def backend(plugrad_device):
    """The backend object (protocol implementation) under test, one per selected backend."""
    return plugrad_device.backend


class _KitModule(pytest.Module):
    """A kit test module, imported under its package name (`plugrad.testing.test_x`) whatever
    the install layout or pytest import mode, so the kit never runs twice under two names."""

    def _getobj(self):
        return importlib.import_module(f"{_KIT_PACKAGE}.{self.path.stem}")


class _KitPackage(pytest.Package):
    """The kit's package or one above it: skip pytest's import of `__init__.py` by file path
    (which in a source checkout would import the core a second time as `core`)."""

    def setup(self) -> None:
        pass


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector):
    if (path == _KIT_DIR or path in _KIT_DIR.parents) and (path / "__init__.py").is_file():
        return _KitPackage.from_parent(parent, path=path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    if module_path.parent == _KIT_DIR and module_path.name.startswith("test_"):
        return _KitModule.from_parent(parent, path=module_path)
    return None
