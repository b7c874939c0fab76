"""Hypothesis settings profiles for allocator fuzzing: ``dev``, ``ci`` and ``thorough``.

Importing :mod:`zheap.testing.machine` registers them and loads the one named by the
``HYPOTHESIS_PROFILE`` environment variable (default ``dev``), unless a profile of that
name was already loaded by the caller.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["load", "register"]


def register() -> None:
    """Register the three profiles (idempotent)."""
    settings.register_profile("dev", max_examples=30, stateful_step_count=30)
    settings.register_profile(
        "ci",
        parent=settings.get_profile("ci"),
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
    chosen = name or os.getenv("HYPOTHESIS_PROFILE") or "dev"
    settings.load_profile(chosen)
    return chosen
