"""Plugin discovery and the device registry: isolation of broken plugins, the
PLUGRAD_BACKENDS filter, protocol checks at registration and device-name errors.

Fake plugins are real distributions: a `*.dist-info` with an `entry_points.txt` in a temporary
directory put on sys.path, discovered through importlib.metadata like installed ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import plugrad
from plugrad.backend import registry
from plugrad.backend.protocol import REQUIRED_KERNELS, Strided, missing_members

BROKEN_MODULE = """
try:
    import plugrad_fake_driver_that_is_not_installed  # noqa: F401
except ImportError as error:
    raise ImportError("fake driver library not found") from error
"""

UNAVAILABLE_MODULE = """
from plugrad import BackendUnavailable
from plugrad.backend import hookimpl


@hookimpl
def plugrad_backends():
    raise BackendUnavailable("no fake accelerator on this machine")
"""

INCOMPLETE_MODULE = """
from plugrad.backend import hookimpl
from plugrad_numpy_ref import NumpyRefBackend


class Incomplete(NumpyRefBackend):
    name = "fake_incomplete"
    gather = None  # not callable: the protocol check must refuse it


@hookimpl
def plugrad_backends():
    return [Incomplete()]
"""

FAKE_PLUGINS = {
    # entry-point name: (module name, source)
    "fake_broken": ("plugrad_fake_broken", BROKEN_MODULE),
    "fake_unavailable": ("plugrad_fake_unavailable", UNAVAILABLE_MODULE),
    "fake_incomplete": ("plugrad_fake_incomplete", INCOMPLETE_MODULE),
}


def write_fake_plugins(root, plugins: dict | None = None) -> None:
    """One distribution per fake plugin, each with its module, under `root`. A key is the
    entry-point name, or (distribution, entry-point name) to pick the distribution's name."""
    for key, (module, source) in (FAKE_PLUGINS if plugins is None else plugins).items():
        dist, ep_name = key if isinstance(key, tuple) else (f"plugrad_{key}", key)
        info = root / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 0.1\n"
        )
        (info / "entry_points.txt").write_text(f"[plugrad.backends]\n{ep_name} = {module}\n")
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def fresh_registry(monkeypatch):
    """An empty registry state for the test; the session's state comes back afterwards."""
    monkeypatch.delenv("PLUGRAD_BACKENDS", raising=False)
    old = registry._reset_for_tests()
    yield
    registry._reset_for_tests(old)


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch, fresh_registry):
    """The fake plugins on sys.path, over a fresh registry; their modules forgotten after."""
    write_fake_plugins(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module, _ in FAKE_PLUGINS.values():
        sys.modules.pop(module, None)


def records() -> dict[str, registry.PluginRecord]:
    return {r.name: r for r in registry.backend_report()}


def check_numpy_ref_works() -> None:
    backend = registry.get_device("numpy_ref").backend
    host = np.arange(5, dtype=np.float32)
    out = Strided(backend.from_numpy(host), (5,), (1,), 0, "float32")
    backend.unary("neg", out, out)
    np.testing.assert_array_equal(backend.to_numpy(out), -host)


# --- the installed state ------------------------------------------------------------------


def test_report_lists_numpy_ref_available(fresh_registry):
    record = records()["numpy_ref"]
    assert record.available, record.reason
    assert record.reason == ""
    assert record.distribution == "plugrad-numpy-ref"
    assert record.devices == ["numpy_ref"]
    assert {"float32", "float64", "int64", "bool"} <= set(record.dtypes)
    assert record.as_dict()["name"] == "numpy_ref"
    assert "numpy_ref" in registry.available_devices()
    assert [d.name for d in registry.iter_devices()] == registry.available_devices()


def test_cpu_alias_resolves_to_a_host_backend(fresh_registry):
    device = registry.get_device("cpu")
    assert device.backend.is_host
    assert registry.get_device("numpy_ref:0") is registry.get_device("numpy_ref")


def test_reset_for_tests_restores_the_old_state():
    before = registry.get_device("numpy_ref")
    old = registry._reset_for_tests()
    try:
        assert registry.get_device("numpy_ref") is not before  # rediscovered afresh
    finally:
        registry._reset_for_tests(old)
    assert registry.get_device("numpy_ref") is before


# --- fake plugins -------------------------------------------------------------------------


def test_broken_plugin_is_listed_with_its_chained_reason(fake_plugins):
    record = records()["fake_broken"]
    assert not record.available
    assert record.distribution == "plugrad-fake-broken"
    assert "ImportError: fake driver library not found" in record.reason
    assert "caused by ModuleNotFoundError" in record.reason
    assert "plugrad_fake_driver_that_is_not_installed" in record.reason
    assert "fake_broken" not in registry.available_devices()
    check_numpy_ref_works()


def test_unavailable_plugin_is_listed_with_its_reason(fake_plugins):
    record = records()["fake_unavailable"]
    assert not record.available
    assert record.reason == "BackendUnavailable: no fake accelerator on this machine"
    assert record.devices == []
    assert records()["numpy_ref"].available


def test_plugin_missing_a_kernel_is_refused(fake_plugins):
    record = records()["fake_incomplete"]
    assert not record.available
    assert record.reason.startswith("TypeError:")
    assert "gather" in record.reason
    assert "fake_incomplete" not in registry.available_devices()


def test_unknown_device_lists_installed_and_unavailable(fake_plugins):
    with pytest.raises(ValueError) as info:
        registry.get_device("no_such_device")
    message = str(info.value)
    assert "no_such_device" in message
    assert "numpy_ref" in message
    assert "fake_broken" in message and "fake driver library not found" in message
    assert "no fake accelerator" in message


def test_plugrad_backends_restricts_loading(fake_plugins, monkeypatch):
    monkeypatch.setenv("PLUGRAD_BACKENDS", "numpy_ref, fake_unavailable")
    assert set(records()) == {"numpy_ref", "fake_unavailable"}
    assert "plugrad_fake_broken" not in sys.modules  # never even imported
    check_numpy_ref_works()


def test_plugrad_backends_can_exclude_numpy_ref(fake_plugins, monkeypatch):
    monkeypatch.setenv("PLUGRAD_BACKENDS", "fake_broken")
    assert set(records()) == {"fake_broken"}
    assert registry.available_devices() == []
    with pytest.raises(ValueError, match="fake driver library not found"):
        registry.get_device("numpy_ref")


def test_import_plugrad_survives_a_broken_plugin(tmp_path):
    write_fake_plugins(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    env.pop("PLUGRAD_BACKENDS", None)
    code = (
        "import plugrad\n"
        "from plugrad.backend import registry\n"
        "report = {r.name: r for r in registry.backend_report()}\n"
        "assert not report['fake_broken'].available, report\n"
        "assert report['numpy_ref'].available, report\n"
        "print(registry.get_device('numpy_ref').name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "numpy_ref"


# --- in-process registration --------------------------------------------------------------


class Wrapper:
    """Delegates every protocol member to `inner`, except the names in `drop`."""

    def __init__(self, inner, name: str, drop: tuple[str, ...] = ()) -> None:
        self.name = name
        self._inner = inner
        self._drop = set(drop)

    def __getattr__(self, attr: str):
        if attr in self._drop or attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._inner, attr)


def test_register_refuses_a_backend_missing_a_kernel(fresh_registry):
    inner = registry.get_device("numpy_ref").backend
    with pytest.raises(TypeError, match="scatter_add") as info:
        plugrad.register_backend(Wrapper(inner, "toy_partial", drop=("scatter_add",)))
    assert "toy_partial" in str(info.value)
    assert "toy_partial" not in registry.available_devices()
    with pytest.raises(ValueError, match="unknown device 'toy_partial'"):
        registry.get_device("toy_partial")


def test_register_refuses_missing_attributes(fresh_registry):
    inner = registry.get_device("numpy_ref").backend
    with pytest.raises(TypeError, match="dtypes"):
        plugrad.register_backend(Wrapper(inner, "toy_nodtypes", drop=("dtypes",)))


def test_register_accepts_a_complete_wrapper(fresh_registry):
    inner = registry.get_device("numpy_ref").backend
    toy = Wrapper(inner, "toy_full")
    assert missing_members(toy) == [] and "scatter_add" in REQUIRED_KERNELS
    device = plugrad.register_backend(toy)
    assert device.name == "toy_full"
    assert registry.get_device("toy_full") is device
    assert device.backend is toy
    assert plugrad.device("toy_full") == "toy_full"
    assert "toy_full" in registry.available_devices()
    assert records()["toy_full"].available
    buffer = toy.allocate(3, "float64")
    view = Strided(buffer, (3,), (1,), 0, "float64")
    toy.fill(view, 2.5)
    np.testing.assert_array_equal(toy.to_numpy(view), [2.5, 2.5, 2.5])
    registry.unregister_backend("toy_full")
    assert "toy_full" not in registry.available_devices()


def test_register_refuses_a_duplicate_name(fresh_registry):
    inner = registry.get_device("numpy_ref").backend
    with pytest.raises(ValueError, match="already registered"):
        plugrad.register_backend(Wrapper(inner, "numpy_ref"))
    with pytest.raises(ValueError, match="'cpu'"):
        plugrad.register_backend(Wrapper(inner, "cpu"))


def test_register_refuses_names_that_are_not_identifiers(fresh_registry):
    inner = registry.get_device("numpy_ref").backend
    for name in ("numpy_ref:0", "cuda:1", "my dev", "2fast", "", "a-b"):
        with pytest.raises(ValueError, match="Python identifier"):
            plugrad.register_backend(Wrapper(inner, name))
    assert registry.get_device("numpy_ref:0") is registry.get_device("numpy_ref")  # a device


def test_register_refuses_a_class_and_bad_attributes(fresh_registry):
    from plugrad_numpy_ref import NumpyRefBackend

    with pytest.raises(TypeError, match=r"the class NumpyRefBackend, not an instance.*\(\)"):
        plugrad.register_backend(NumpyRefBackend)
    inner = registry.get_device("numpy_ref").backend
    bad_dtypes = Wrapper(inner, "toy_dtypes")
    bad_dtypes.dtypes = ("float32", "complex128")
    with pytest.raises(TypeError, match="unknown dtypes"):
        plugrad.register_backend(bad_dtypes)
    bad_host = Wrapper(inner, "toy_host")
    bad_host.is_host = "yes"
    with pytest.raises(TypeError, match="is_host must be a bool"):
        plugrad.register_backend(bad_host)


# --- hostile plugins: they raise anything, print, misname, collide --------------------------

BACKEND_NAMED = """
from plugrad.backend import hookimpl
from plugrad_numpy_ref import NumpyRefBackend


class Named(NumpyRefBackend):
    name = {name!r}
"""

PRINTS_AT_IMPORT = (
    """
import os
import sys

print("hello from a plugin at import")
sys.stdout.flush()
os.write(1, b"and from its C code\\n")
"""
    + BACKEND_NAMED.format(name="fake_prints")
    + """

@hookimpl
def plugrad_backends():
    print("hello from its hook")
    return [Named()]
"""
)

HOSTILE_PLUGINS = {
    "fake_exits": ("plugrad_fake_exits", "raise SystemExit(3)\n"),
    "fake_interrupts": ("plugrad_fake_interrupts", """
        from plugrad.backend import hookimpl


        @hookimpl
        def plugrad_backends():
            raise KeyboardInterrupt
        """),
    "fake_base": ("plugrad_fake_base", """
        class Odd(BaseException):
            pass


        raise Odd("an exception outside Exception")
        """),
    "fake_getattr": ("plugrad_fake_getattr", BACKEND_NAMED.format(name="fake_getattr") + """
    def __getattr__(self, attr):
        raise RuntimeError(f"no attribute reads today: {attr}")


@hookimpl
def plugrad_backends():
    return [Named()]
"""),
    "fake_prints": ("plugrad_fake_prints", PRINTS_AT_IMPORT),
    "fake_class": ("plugrad_fake_class", BACKEND_NAMED.format(name="fake_class") + """

@hookimpl
def plugrad_backends():
    return [Named]
"""),
    "fake_misnamed": ("plugrad_fake_misnamed", BACKEND_NAMED.format(name="not_my_entry") + """

@hookimpl
def plugrad_backends():
    return [Named()]
"""),
    "fake_none": ("plugrad_fake_none", """
        from plugrad.backend import hookimpl


        @hookimpl
        def plugrad_backends():
            return None
        """),
    ("plugrad_fake_indexed", "fake_indexed:0"): ("plugrad_fake_indexed", "raise SystemExit(9)\n"),
    ("evil_dist", "c_cpu"): ("plugrad_fake_evil", """
        raise RuntimeError("the colliding plugin must never be imported")
        """),
}  # fmt: skip

HOSTILE_MODULES = [module for module, _ in HOSTILE_PLUGINS.values()]


@pytest.fixture
def hostile_plugins(tmp_path, monkeypatch, fresh_registry):
    write_fake_plugins(tmp_path, HOSTILE_PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in HOSTILE_MODULES:
        sys.modules.pop(module, None)


def test_system_exit_and_keyboard_interrupt_from_plugins_are_contained(hostile_plugins):
    report = records()
    for name, kind, stage in (
        ("fake_exits", "SystemExit: 3", "importing the plugin"),
        ("fake_interrupts", "KeyboardInterrupt", "running plugrad_backends()"),
        ("fake_base", "Odd: an exception outside Exception", "importing the plugin"),
    ):
        assert not report[name].available
        assert report[name].reason.startswith(kind), report[name].reason
        assert f"raised while {stage}; plugrad contained it" in report[name].reason
    check_numpy_ref_works()


def test_a_backend_whose_attributes_raise_is_listed_unavailable(hostile_plugins):
    record = records()["fake_getattr"]
    assert not record.available
    assert "RuntimeError: no attribute reads today" in record.reason
    assert registry.get_device("cpu").backend.is_host  # the alias still resolves


def test_a_hook_returning_a_class_or_no_list_is_refused(hostile_plugins):
    report = records()
    assert "the class Named, not an instance" in report["fake_class"].reason
    assert "must return a list of backend objects, got None" in report["fake_none"].reason
    assert "fake_class" not in registry.available_devices()


def test_the_backend_must_be_named_as_its_entry_point(hostile_plugins):
    record = records()["fake_misnamed"]
    assert not record.available
    assert "registers a backend named 'not_my_entry'" in record.reason
    assert "named as its entry point" in record.reason
    assert "not_my_entry" not in registry.available_devices()
    indexed = records()["fake_indexed:0"]
    assert not indexed.available and "Python identifier" in indexed.reason
    assert "plugrad_fake_indexed" not in sys.modules  # refused by name, never imported


def test_a_name_collision_refuses_both_distributions(hostile_plugins):
    colliding = [r for r in registry.backend_report() if r.name == "c_cpu"]
    assert sorted(r.distribution for r in colliding) == ["evil-dist", "plugrad-c-cpu"]
    for record in colliding:
        assert not record.available
        assert "plugrad-c-cpu 0.1.0 and evil-dist 0.1" in record.reason or (
            "evil-dist 0.1 and plugrad-c-cpu 0.1.0" in record.reason
        )
        assert "refuses all of them" in record.reason
    assert "plugrad_fake_evil" not in sys.modules
    with pytest.raises(ValueError, match="refuses all of them"):
        registry.get_device("c_cpu")
    assert registry.get_device("cpu").name == "numpy_ref"


def test_plugin_output_goes_to_stderr(hostile_plugins, capsys):
    assert records()["fake_prints"].available
    captured = capsys.readouterr()
    assert "hello from a plugin at import" in captured.err
    assert "hello from its hook" in captured.err
    assert "hello" not in captured.out


def hostile_env(root) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), *sys.path]))
    env.pop("PLUGRAD_BACKENDS", None)
    return env


def test_plugrad_backends_survives_hostile_plugins_and_says_why(tmp_path):
    write_fake_plugins(tmp_path, HOSTILE_PLUGINS)
    command = [sys.executable, "-m", "plugrad", "backends"]
    result = subprocess.run(command, env=hostile_env(tmp_path), capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "fake_exits: SystemExit: 3 (raised while importing the plugin; plugrad contained" in (
        result.stdout
    )
    assert "KeyboardInterrupt (raised while running plugrad_backends()" in result.stdout
    assert "hello" not in result.stdout and "hello from a plugin" in result.stderr
    listing = subprocess.run([*command, "--json"], env=hostile_env(tmp_path),
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)  # parseable although a plugin printed, even from C
    names = {b["name"]: b for b in data["backends"]}
    assert names["fake_prints"]["available"] and not names["fake_exits"]["available"]
    assert "and from its C code" in listing.stderr


def test_a_users_program_survives_hostile_plugins(tmp_path):
    write_fake_plugins(tmp_path, HOSTILE_PLUGINS)
    code = "import plugrad\nprint(plugrad.ones(2, 3).sum().item())\n"
    result = subprocess.run([sys.executable, "-c", code], env=hostile_env(tmp_path),
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "6.0"


USER_PRESSES_CTRL_C = """
import os
import signal
import time

os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C while this plugin loads
time.sleep(5)
"""


def test_the_users_own_ctrl_c_during_discovery_is_not_contained(tmp_path):
    write_fake_plugins(tmp_path, {"fake_slow": ("plugrad_fake_slow", USER_PRESSES_CTRL_C)})
    code = "import plugrad\nplugrad.ones(1)\nprint('not interrupted')\n"
    result = subprocess.run([sys.executable, "-c", code], env=hostile_env(tmp_path),
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode != 0
    assert "KeyboardInterrupt" in result.stderr and "not interrupted" not in result.stdout


def test_an_empty_filter_says_which_plugins_exist(fresh_registry, monkeypatch):
    monkeypatch.setenv("PLUGRAD_BACKENDS", "nonexistent")
    with pytest.raises(ValueError) as info:
        registry.get_device("cpu")
    message = str(info.value)
    assert "PLUGRAD_BACKENDS='nonexistent'" in message
    assert "left out the installed plugins" in message and "numpy_ref" in message
    assert "no installed plugin is named nonexistent" in message
    with pytest.raises(ValueError, match="left out the installed plugins.*numpy_ref"):
        plugrad.zeros(2)
