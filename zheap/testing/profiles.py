"""Hypothesis settings profiles for allocator fuzzing: ``dev``, ``ci`` and ``thorough``.

:func:`load` registers them and loads the one named by the ``HYPOTHESIS_PROFILE``
environment variable (default ``dev``). :func:`deep` gives the loaded profile's settings
for the machines that must run longer sequences than the rest (see :data:`DEEP`).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["DEEP", "deep", "load", "register"]

#: Per profile, what the deep machines run instead (a profile not listed: its own
#: settings). The DebugAllocator machines are deep under ``ci``: their rare paths need a
#: block allocated, its neighbours mapped, then the block remapped. Hole 4 (a remap that
#: moved a large block under never_unmap + retain_metadata left a record that made deinit
#: unmap the old range) was reached by the never_unmap machine in about 1 run in 5 at
#: ``ci``'s 60 x 40, 1 in 7 at ``dev``'s 30 x 30, and about 9 in 10 at 200 x 100.
DEEP: dict[str, dict[str, int]] = {"ci": {"max_examples": 200, "stateful_step_count": 100}}

_loaded: str | None = None


def register() -> None:
    """Register the three profiles (idempotent)."""
    settings.register_profile("dev", max_examples=30, stateful_step_count=30)
    settings.register_profile(
        "ci",
        # what Hypothesis's own "ci" profile sets (built in only from 6.11x; ours must
        # load on the oldest Hypothesis the extras allow): the same examples every run,
        # no deadline, no example database, and the blob to reproduce a failure
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=True,
        max_examples=60,
        stateful_step_count=40,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "thorough",
        max_examples=1000,
        stateful_step_count=100,
        suppress_health_check=[HealthCheck.too_slow],
    )


def load(name: str | None = None) -> str:
    """Load profile ``name`` (default: $HYPOTHESIS_PROFILE, else ``dev``) and return it."""
    register()
    global _loaded
    chosen = name or os.getenv("HYPOTHESIS_PROFILE") or "dev"
    settings.load_profile(chosen)
    _loaded = chosen
    return chosen


def deep(base: settings | None = None) -> settings:
    """Return ``base`` (default: the current settings) raised to the loaded profile's DEEP.

    The profile is the one :func:`load` loaded last; without an entry in :data:`DEEP`,
    ``base`` itself.
    """
    base = base if base is not None else settings()
    extra = DEEP.get(_loaded or "")
    if extra is None:
        return base
    return settings(
        base,
        max_examples=extra["max_examples"],
        stateful_step_count=extra["stateful_step_count"],
    )
