"""Hypothesis profiles for properties that talk to a real broker.

Every example of such a property creates topics, produces and consumes over the network,
so example counts are small and deadlines off: a slow round trip is not a failure.

``register_profiles()`` registers them; ``load_profile(name)`` picks one.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

__all__ = [
    "DEFAULT_CI_PROFILE",
    "DEFAULT_DEV_PROFILE",
    "PROFILES",
    "PROFILE_ENV",
    "load_profile",
    "register_profiles",
]

PROFILE_ENV: Final = "KAFKA_LAB_HYPOTHESIS_PROFILE"
DEFAULT_CI_PROFILE: Final = "ci"
DEFAULT_DEV_PROFILE: Final = "dev"

PROFILES: Final[dict[str, int]] = {"ci": 25, "dev": 50, "thorough": 500}
"""Profile name -> ``max_examples``."""

def register_profiles() -> None:
    """Register the ``ci``, ``dev`` and ``thorough`` profiles with Hypothesis.

    Safe to call more than once; it replaces profiles of the same names. All three turn
    the deadline off (broker round trips vary), print a reproduction blob on failure
    (``@reproduce_failure``, so a CI failure replays locally), and allow function-scoped
    fixtures such as ``kafka_topic_factory``, which such properties use on purpose: made
    once per test, shared by its examples.
    """
    for name, max_examples in PROFILES.items():
        settings.register_profile(
            name,
            max_examples=max_examples,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )


def profile_name(name: str | None = None) -> str:
    """The profile to use: ``name``, else ``$KAFKA_LAB_HYPOTHESIS_PROFILE``, else ``ci``
    when ``$CI`` is set and ``dev`` when it is not. Raises ``ValueError`` for an unknown
    name, listing the known ones."""
    chosen = name or os.environ.get(PROFILE_ENV) or (
        DEFAULT_CI_PROFILE if os.environ.get("CI") else DEFAULT_DEV_PROFILE
    )
    if chosen not in PROFILES:
        source = "" if name else f" (from ${PROFILE_ENV})"
        raise ValueError(
            f"unknown Hypothesis profile {chosen!r}{source}; choose one of: {', '.join(PROFILES)}"
        )
    return chosen


def load_profile(name: str | None = None) -> str:
    """Register the profiles and load the one ``profile_name(name)`` picks; return its name.

    Loading sets Hypothesis' defaults for the whole process, as ``settings.load_profile``
    always does: tests' own ``@settings`` still override it.
    """
    chosen = profile_name(name)
    register_profiles()
    settings.load_profile(chosen)
    return chosen
