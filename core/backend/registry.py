"""Plugin discovery and the device registry.

Plugins are found through the entry-point group `plugrad.backends` and loaded lazily, at the
first use of a device, each in isolation (`isolation`): a plugin that fails to import, reports
missing hardware or raises anything at all (SystemExit and KeyboardInterrupt included) is
recorded with its reason and never breaks `import plugrad`. `PLUGRAD_BACKENDS=a,b` restricts
which entry points load. After loading, hot paths hold backend objects directly; pluggy is
never on a per-op path.

Names: a backend's name is a Python identifier other than "cpu" (`cuda:1`-style indices name
devices of a backend, never a backend), and a plugin's backend is named as its entry point.
Two distributions with an entry point of one name collide: both are refused, so no plugin can
take over another's device.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from .. import dtypes as _dtypes
from . import hookspecs, isolation
from .memory import MemoryStats
from .protocol import (
    LINALG_KERNELS,
    OPTIONAL_KERNELS,
    linalg_kernels_of,
    missing_members,
    optional_kernels_of,
)

ENTRY_POINT_GROUP = "plugrad.backends"
NAMING_RULE = (
    "a backend name is a Python identifier (letters, digits and underscores, not starting with "
    "a digit) other than 'cpu', and a plugin's backend is named as its entry point; "
    "'name:1'-style indices name devices, not backends"
)


class BackendUnavailable(RuntimeError):
    """Raised by a plugin whose hardware or libraries are absent on this machine."""


@dataclass
class PluginRecord:
    """One line of `plugrad backends`."""

    name: str
    distribution: str
    version: str
    available: bool
    reason: str = ""
    devices: list[str] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)
    fused: list[str] = field(default_factory=list)  # the optional kernels it implements
    linalg: list[str] = field(default_factory=list)  # its linear-algebra kernels (else host)
    note: str = ""  # how it runs, from the backends' `note` attribute ("emulated on the CPU")

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "available": self.available,
            "reason": self.reason,
            "devices": list(self.devices),
            "dtypes": list(self.dtypes),
            "fused_kernels": list(self.fused),
            "linalg_kernels": list(self.linalg),
            "note": self.note,
        }


class Device:
    """A device: a name and the backend object behind it. Also a context manager that makes
    itself the default device for the current thread: `with plugrad.device("c_cpu"): ...`.
    `is_host` and `priority` are the backend's, read once when it registered."""

    __slots__ = ("name", "backend", "type", "index", "is_host", "priority", "memory")

    def __init__(self, name: str, backend: object, is_host: bool = False, priority: int = 0):
        self.name = name
        self.backend = backend
        self.type, _, index = name.partition(":")
        self.index = int(index) if index else 0
        self.is_host = is_host
        self.priority = priority
        self.memory = MemoryStats()  # what the core allocated here (plugrad.memory_stats)

    def __repr__(self) -> str:
        return f"device('{self.name}')"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Device):
            return self.backend is other.backend
        if isinstance(other, str):
            try:
                return get_device(other) is self
            except ValueError:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __enter__(self) -> Device:
        _default_stack().append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _default_stack().pop()

    def __reduce__(self):
        return (get_device, (self.name,))


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.loaded = False
        self.devices: dict[str, Device] = {}
        self.records: list[PluginRecord] = []
        self.default: Device | None = None  # process-wide, as torch.set_default_device
        self.filter: str | None = None  # PLUGRAD_BACKENDS as it was when plugins loaded
        self.left_out: list[str] = []  # installed plugins the filter did not load
        self.unmatched: list[str] = []  # names in the filter that no plugin has
        self.plugin_manager = pluggy.PluginManager("plugrad")
        self.plugin_manager.add_hookspecs(hookspecs)


_state = _State()
_thread = threading.local()  # per thread, as grad mode: the `with plugrad.device(...)` stack


def _default_stack() -> list[Device]:
    try:
        return _thread.default_stack
    except AttributeError:
        _thread.default_stack = []
        return _thread.default_stack


def _reset_for_tests(state: _State | None = None) -> _State:
    """Swap in a fresh registry state (or `state`) and return the old one, so a test can
    rediscover plugins and restore afterwards: `old = _reset_for_tests(); ...;
    _reset_for_tests(old)`. For tests only."""
    global _state
    with _state.lock:
        old, _state = _state, state if state is not None else _State()
    return old


def check_backend_name(name: object) -> str:
    """`name` when it may name a backend (see NAMING_RULE), else ValueError saying why."""
    if not isinstance(name, str) or not name.isidentifier() or name == "cpu":
        raise ValueError(f"invalid backend name {name!r}: {NAMING_RULE}")
    return name


@dataclass
class _Facts:
    """What the registry reads from a backend, once, when it registers (never afterwards, so
    a backend whose attributes misbehave cannot break the listing or the 'cpu' alias)."""

    name: str
    dtypes: list[str]
    is_host: bool
    priority: int
    fused: list[str]
    linalg: list[str]
    note: str  # shown by `plugrad backends`, e.g. "emulated on the CPU"


def _check(backend: object) -> _Facts:
    """The protocol check at registration: an instance (not a class) with every kernel, a
    valid name, known dtypes, a bool is_host and an int priority."""
    if isinstance(backend, type):
        raise TypeError(
            f"got the class {backend.__name__}, not an instance: return or register "
            f"{backend.__name__}() (plugrad_backends() returns backend objects)"
        )
    missing = missing_members(backend)
    if missing:
        name = getattr(backend, "name", type(backend).__name__)
        raise TypeError(
            f"backend {name!r} does not implement the plugrad protocol: missing "
            f"{', '.join(missing)} (see plugrad.backend.protocol.Backend)"
        )
    name = check_backend_name(backend.name)  # type: ignore[attr-defined]
    dtypes = backend.dtypes  # type: ignore[attr-defined]
    if isinstance(dtypes, str) or not all(isinstance(d, str) for d in dtypes) or not dtypes:
        raise TypeError(f"backend {name!r}: dtypes must be a tuple of dtype names, got {dtypes!r}")
    unknown = sorted(set(dtypes) - set(_dtypes.ALL))
    if unknown:
        raise TypeError(
            f"backend {name!r}: unknown dtypes {unknown}; plugrad has {list(_dtypes.ALL)}"
        )
    is_host = backend.is_host  # type: ignore[attr-defined]
    priority = getattr(backend, "priority", 0)
    if not isinstance(is_host, bool) or isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(
            f"backend {name!r}: is_host must be a bool and priority an int, got {is_host!r} and "
            f"{priority!r}"
        )
    note = getattr(backend, "note", "") or ""
    if not isinstance(note, str):
        raise TypeError(f"backend {name!r}: note must be a string, got {note!r}")
    return _Facts(
        name, sorted(set(dtypes)), is_host, priority, optional_kernels_of(backend),
        linalg_kernels_of(backend), note,
    )  # fmt: skip


def _add_device(backend: object, facts: _Facts) -> Device:
    name = facts.name
    if name in _state.devices and _state.devices[name].backend is not backend:
        raise ValueError(f"a backend named {name!r} is already registered")
    device = Device(name, backend, facts.is_host, facts.priority)
    _state.devices[name] = device
    return device


def _wanted() -> set[str] | None:
    value = os.environ.get("PLUGRAD_BACKENDS", "").strip()
    return {n.strip() for n in value.split(",") if n.strip()} if value else None


def _load_plugins() -> None:
    """Import every entry point once, each isolated; record what happened."""
    with _state.lock:
        if _state.loaded:
            return
        _state.loaded = True
        found: dict[str, list[metadata.EntryPoint]] = {}
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            found.setdefault(ep.name, []).append(ep)
        wanted = _wanted()
        if wanted is not None:
            _state.filter = os.environ.get("PLUGRAD_BACKENDS", "").strip()
            _state.left_out = [name for name in found if name not in wanted]
            _state.unmatched = sorted(wanted - set(found))
        with isolation.watching_interrupts() as interrupts, isolation.output_to_stderr():
            for name, eps in found.items():
                if wanted is not None and name not in wanted:
                    continue
                if len(eps) > 1:
                    _refuse_collision(name, eps)
                    continue
                _load_plugin(eps[0], interrupts)


def _distribution(ep: metadata.EntryPoint) -> tuple[str, str]:
    return (ep.dist.name, ep.dist.version) if ep.dist is not None else ("(unknown)", "")


def _refuse_collision(name: str, eps: list[metadata.EntryPoint]) -> None:
    """Two distributions offer a plugin of one name: refuse both (none is imported)."""
    dists = [" ".join(_distribution(ep)).strip() for ep in eps]
    why = (
        f"ValueError: {len(eps)} installed distributions register a backend named {name!r}: "
        f"{' and '.join(dists)}; plugrad refuses all of them (uninstall all but one)"
    )
    for ep in eps:
        dist, version = _distribution(ep)
        _state.records.append(PluginRecord(name, dist, version, available=False, reason=why))


def _load_plugin(ep: metadata.EntryPoint, interrupts: isolation.InterruptWatch) -> None:
    dist, version = _distribution(ep)
    record = PluginRecord(ep.name, dist, version, available=False)
    _state.records.append(record)
    stage = "importing the plugin"
    try:
        check_backend_name(ep.name)
        module = ep.load()
        stage = "registering its hooks"
        if _state.plugin_manager.get_plugin(ep.name) is None:
            _state.plugin_manager.register(module, name=ep.name)
        impls = [
            impl
            for impl in _state.plugin_manager.hook.plugrad_backends.get_hookimpls()
            if impl.plugin is module
        ]
        if not impls:
            raise TypeError(
                f"entry point {ep.value!r} has no plugrad_backends() hook implementation"
            )
        stage = "running plugrad_backends()"
        backends = [b for impl in impls for b in _returned(impl.function())]
        stage = "checking the backends it returned"
        facts = [_check(backend) for backend in backends]
        names = [f.name for f in facts]
        for f in facts:
            if f.name != ep.name:
                raise ValueError(
                    f"entry point {ep.name!r} of {dist} registers a backend named {f.name!r}: "
                    f"the backend must be named as its entry point ({NAMING_RULE})"
                )
        if len(names) > 1:
            raise ValueError(f"{dist} returned {len(names)} backends named {ep.name!r}: one only")
        for backend, f in zip(backends, facts):
            record.devices.append(_add_device(backend, f).name)
            record.dtypes = sorted(set(record.dtypes) | set(f.dtypes))
            record.fused = _merged(record.fused, f.fused)
            record.linalg = _merged(record.linalg, f.linalg, LINALG_KERNELS)
            record.note = record.note or f.note
        record.available = True
    except BaseException as error:  # isolation: no plugin may break others, or end the program
        if interrupts.passes_on(error):
            raise
        record.reason = isolation.reason(error, stage)


def _returned(result: object) -> list:
    """The backends a hook returned: a list or tuple of them."""
    if not isinstance(result, list | tuple):
        raise TypeError(f"plugrad_backends() must return a list of backend objects, got {result!r}")
    return list(result)


def _merged(
    names: list[str], more: list[str], order: tuple[str, ...] = OPTIONAL_KERNELS
) -> list[str]:
    """Optional kernel names of several backends of one plugin, in protocol order."""
    return [name for name in order if name in names or name in more]


def register_backend(backend: object, distribution: str = "(in-process)") -> Device:
    """Register a backend object made in this process (tests, experiments).

    Raises TypeError naming the missing kernels when `backend` lacks part of the protocol.
    """
    _load_plugins()
    with _state.lock:
        facts = _check(backend)
        device = _add_device(backend, facts)
        _state.records.append(
            PluginRecord(device.name, distribution, "", True, devices=[device.name],
                         dtypes=facts.dtypes, fused=facts.fused, linalg=facts.linalg)
        )  # fmt: skip
        return device


def unregister_backend(name: str) -> None:
    """Remove an in-process backend registered with `register_backend` (for tests)."""
    with _state.lock:
        device = _state.devices.pop(name, None)
        _state.records = [r for r in _state.records if name not in r.devices]
        if device is not None and _state.default is device:
            _state.default = None


def backend_report() -> list[PluginRecord]:
    """Every plugin found, available or not, with its reason."""
    _load_plugins()
    return list(_state.records)


def available_devices() -> list[str]:
    _load_plugins()
    return sorted(_state.devices)


def _host_alias() -> Device:
    hosts = [d for d in _state.devices.values() if d.is_host]
    if not hosts:
        raise ValueError(
            f"device 'cpu' names the best host backend, but none is installed: {_installed_hint()}"
        )
    # Among host backends the highest `priority` wins (c_cpu over numpy_ref); ties by name.
    return max(hosts, key=lambda d: (d.priority, d.name))


def _installed_hint() -> str:
    names = ", ".join(sorted(_state.devices)) or "none"
    failed = [f"{r.name} ({r.reason})" for r in _state.records if not r.available]
    hint = f"installed devices: {names}"
    if failed:
        hint += "; unavailable: " + "; ".join(failed)
    filtered = filter_note()
    if filtered:
        hint += "; " + filtered
    return hint + " (run `plugrad backends` for details)"


def filter_note() -> str:
    """What PLUGRAD_BACKENDS did, when it was set: the plugins it left out, the names in it
    that no installed plugin has. Empty when it was not set."""
    if _state.filter is None:
        return ""
    note = f"PLUGRAD_BACKENDS={_state.filter!r} restricted loading to {_state.filter}"
    if _state.left_out:
        note += f" and left out the installed plugins {', '.join(_state.left_out)}"
    if _state.unmatched:
        note += f"; no installed plugin is named {', '.join(_state.unmatched)}"
    return note


def get_device(spec: object = None) -> Device:
    """Resolve a Device, a name ('numpy_ref', 'cpu', 'cuda:1') or None (the default)."""
    if isinstance(spec, Device):
        return spec
    if spec is None:
        return get_default_device()
    if not isinstance(spec, str):
        raise TypeError(f"device must be a name or a plugrad Device, got {type(spec).__name__}")
    _load_plugins()
    found = _state.devices.get(spec)
    if found is not None:
        return found
    if spec == "cpu":
        return _host_alias()
    base, _, index = spec.partition(":")
    if index == "0" and base in _state.devices:
        return _state.devices[base]
    raise ValueError(f"unknown device {spec!r}; {_installed_hint()}")


def device(spec: object = None) -> Device:
    """`plugrad.device(name)`: the Device for a name; usable as `with plugrad.device(...)`."""
    return get_device(spec)


def get_default_device() -> Device:
    """The innermost `with plugrad.device(...)` of this thread, else the process default."""
    stack = getattr(_thread, "default_stack", None)
    if stack:
        return stack[-1]
    if _state.default is None:
        _state.default = get_device(os.environ.get("PLUGRAD_DEVICE") or "cpu")
    return _state.default


def set_default_device(spec: object) -> None:
    """Make `spec` the device that factories use when given none, in every thread (as
    torch.set_default_device); a `with plugrad.device(...)` block still wins in its thread."""
    _state.default = get_device(spec)


def iter_devices() -> Iterator[Device]:
    _load_plugins()
    return iter(list(_state.devices.values()))
