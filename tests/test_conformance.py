"""The conformance kit (`plugrad.testing`) on every installed backend, as part of this
repository's test run.

Each `test_*` module of the kit becomes a class here (`test_kernels` -> `TestKernels`) holding
its tests, so names may repeat across kit modules; the kit's fixtures are re-exported. The
kit's pytest plugin (auto-loaded) parametrizes the tests over every available device, or the
`--backend NAME` ones. Third-party backends run the kit directly:
`pytest --pyargs plugrad.testing --backend NAME`.
"""

from __future__ import annotations

import importlib
import pkgutil

import plugrad.testing


def _reexport_kit() -> None:
    namespace = globals()
    for info in sorted(pkgutil.iter_modules(plugrad.testing.__path__), key=lambda i: i.name):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"plugrad.testing.{info.name}")
        members = {}
        for name, value in vars(module).items():
            if name.startswith(("test", "Test")):
                members[name] = value if isinstance(value, type) else staticmethod(value)
            elif name == "pytestmark":
                members[name] = value
            elif not name.startswith("__"):
                namespace.setdefault(name, value)  # fixtures (and helpers) the tests request
        title = "".join(part.capitalize() for part in info.name.split("_")[1:])
        namespace[f"Test{title}"] = type(f"Test{title}", (), members)


_reexport_kit()
