"""The pluggy hook specifications a backend plugin implements (project name "plugrad")."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("plugrad")
hookimpl = pluggy.HookimplMarker("plugrad")


@hookspec
def plugrad_backends() -> list:
    """Return the backend objects this plugin provides (each satisfying the protocol).

    Raise `plugrad.BackendUnavailable` (or any exception) when the hardware or a library is
    missing: the plugin is then listed as unavailable with that reason.
    """
