"""Plugin discovery and the device registry.

Plugins are found through the entry-point group `plugrad.backends` and loaded lazily, at the
first use of a device, each in isolation: a plugin that fails to import or reports missing
hardware is recorded with its reason and never breaks `import plugrad`. `PLUGRAD_BACKENDS=a,b`
restricts which entry points load. After loading, hot paths hold backend objects directly;
pluggy is never on a per-op path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import hookspecs
from .protocol import OPTIONAL_KERNELS, missing_members, optional_kernels_of

ENTRY_POINT_GROUP = "plugrad.backends"


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
            "note": self.note,
        }


class Device:
    """A device: a name and the backend object behind it. Also a context manager that makes
    itself the default device: `with plugrad.device("c_cpu"): ...`."""

    __slots__ = ("name", "backend", "type", "index")

    def __init__(self, name: str, backend: object) -> None:
        self.name = name
        self.backend = backend
        self.type, _, index = name.partition(":")
        self.index = int(index) if index else 0

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
        _state.default_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _state.default_stack.pop()

    def __reduce__(self):
        return (get_device, (self.name,))


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.loaded = False
        self.devices: dict[str, Device] = {}
        self.records: list[PluginRecord] = []
        self.default: Device | None = None
        self.default_stack: list[Device] = []
        self.plugin_manager = pluggy.PluginManager("plugrad")
        self.plugin_manager.add_hookspecs(hookspecs)


_state = _State()


def _reset_for_tests(state: _State | None = None) -> _State:
    """Swap in a fresh registry state (or `state`) and return the old one, so a test can
    rediscover plugins and restore afterwards: `old = _reset_for_tests(); ...;
    _reset_for_tests(old)`. For tests only."""
    global _state
    with _state.lock:
        old, _state = _state, state if state is not None else _State()
    return old


def _describe(error: BaseException) -> str:
    """An exception and its chained causes as one line: 'ImportError: x (caused by OSError: y)'."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " (caused by ".join(parts) + ")" * (len(parts) - 1)


def _check(backend: object) -> None:
    missing = missing_members(backend)
    if missing:
        name = getattr(backend, "name", type(backend).__name__)
        raise TypeError(
            f"backend {name!r} does not implement the plugrad protocol: missing "
            f"{', '.join(missing)} (see plugrad.backend.protocol.Backend)"
        )


def _add_device(backend: object) -> Device:
    name = backend.name  # type: ignore[attr-defined]
    if not isinstance(name, str) or not name or name == "cpu":
        raise ValueError(f"invalid backend name {name!r}: use a non-empty name other than 'cpu'")
    if name in _state.devices and _state.devices[name].backend is not backend:
        raise ValueError(f"a backend named {name!r} is already registered")
    device = Device(name, backend)
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
        wanted = _wanted()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if wanted is not None and ep.name not in wanted:
                continue
            dist = ep.dist.name if ep.dist is not None else "(unknown)"
            version = ep.dist.version if ep.dist is not None else ""
            record = PluginRecord(ep.name, dist, version, available=False)
            _state.records.append(record)
            try:
                module = ep.load()
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
                backends = [b for impl in impls for b in impl.function()]
                for backend in backends:
                    _check(backend)
                for backend in backends:
                    record.devices.append(_add_device(backend).name)
                    record.dtypes = sorted(set(record.dtypes) | set(backend.dtypes))
                    record.fused = _merged(record.fused, optional_kernels_of(backend))
                    record.note = record.note or str(getattr(backend, "note", "") or "")
                record.available = True
            except Exception as error:  # isolation: one broken plugin must not break others
                record.reason = _describe(error)


def _merged(names: list[str], more: list[str]) -> list[str]:
    """Optional kernel names of several backends of one plugin, in protocol order."""
    return [name for name in OPTIONAL_KERNELS if name in names or name in more]


def register_backend(backend: object, distribution: str = "(in-process)") -> Device:
    """Register a backend object made in this process (tests, experiments).

    Raises TypeError naming the missing kernels when `backend` lacks part of the protocol.
    """
    _load_plugins()
    with _state.lock:
        _check(backend)
        device = _add_device(backend)
        _state.records.append(
            PluginRecord(
                device.name, distribution, "", True, devices=[device.name],
                dtypes=sorted(backend.dtypes),  # type: ignore[attr-defined]
                fused=optional_kernels_of(backend),
            )
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
    hosts = [d for d in _state.devices.values() if getattr(d.backend, "is_host", False)]
    if not hosts:
        raise ValueError(
            f"device 'cpu' names the best host backend, but none is installed: {_installed_hint()}"
        )
    # Among host backends the highest `priority` wins (c_cpu over numpy_ref); ties by name.
    return max(hosts, key=lambda d: (getattr(d.backend, "priority", 0), d.name))


def _installed_hint() -> str:
    names = ", ".join(sorted(_state.devices)) or "none"
    failed = [f"{r.name} ({r.reason})" for r in _state.records if not r.available]
    hint = f"installed devices: {names}"
    if failed:
        hint += "; unavailable: " + "; ".join(failed)
    return hint + " (run `plugrad backends` for details)"


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
    if _state.default_stack:
        return _state.default_stack[-1]
    if _state.default is None:
        _state.default = get_device(os.environ.get("PLUGRAD_DEVICE") or "cpu")
    return _state.default


def set_default_device(spec: object) -> None:
    """Make `spec` the device that factories use when given none."""
    _state.default = get_device(spec)


def memory_allocated(device: object = None) -> int:
    """Bytes held by live buffers on `device` (the default device when None)."""
    return get_device(device).backend.allocated_bytes()


def iter_devices() -> Iterator[Device]:
    _load_plugins()
    return iter(list(_state.devices.values()))
