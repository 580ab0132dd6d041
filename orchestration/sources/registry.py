"""Source name -> its module's `make_source(settings)`, imported only when asked for.

Lazy imports keep `crosswind record --sources fred` from importing (and failing on) the
modules of sources it does not touch.
"""

from __future__ import annotations

import importlib

from orchestration.lib.errors import CrosswindError
from orchestration.lib.settings import Settings

SOURCES = ("fred", "treasury", "mof", "markets", "shiller", "cme", "drops", "ofr")


def make_source(name: str, settings: Settings):
    """The live or replay client for source `name`, as `settings.source_mode` chooses."""
    if name not in SOURCES:
        raise CrosswindError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    module = importlib.import_module(f"orchestration.sources.{name}")
    return module.make_source(settings)
