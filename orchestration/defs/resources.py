"""The code location's resources: crosswind's settings, bound from the environment."""

import dagster as dg

from orchestration.lib.settings import RESOURCE_KEY, CrosswindSettings


@dg.definitions
def defs() -> dg.Definitions:
    # Built when the code location loads, so variables set then (by .env or the shell) are
    # bound as EnvVars and the rest keep their defaults (orchestration/lib/settings.py).
    return dg.Definitions(resources={RESOURCE_KEY: CrosswindSettings.from_env()})
