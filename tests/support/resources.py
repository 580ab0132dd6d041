"""Resources for tests that materialize crosswind assets outside the code location."""

from __future__ import annotations

from orchestration.lib.settings import RESOURCE_KEY, CrosswindSettings


def crosswind_resources() -> dict:
    """The settings resource bound from the environment as it is now, as the code location
    binds it when it loads (call it after setting the test's variables)."""
    return {RESOURCE_KEY: CrosswindSettings.from_env()}
