"""Imported once by the parallel executor's forkserver (lib/recovery.py): loads the code location.

Every step of a multiprocess run starts in a process forked from that server. Without this, each
step imports dbt, Great Expectations' callers and every asset module and reads the dbt manifest
again before it starts (~5 s a step measured here); forked from a warm server it only rebuilds
the Definitions objects (~0.3 s).
"""

from orchestration.definitions import defs

defs()
