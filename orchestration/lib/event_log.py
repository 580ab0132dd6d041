"""Dagster's SQLite event log, with each database's connection kept open between events.

Dagster's `SqliteEventLogStorage` creates a SQLAlchemy engine, opens a connection and disposes
of both for every event it stores: an asset check result touches three of them (the run's
database, then the index twice). That made each event cost ~7 ms on the 2-core machine, and a
1x build writes ~1,700 events (every dbt test is an asset check: planned, output, evaluation).
This subclass keeps one engine per database file, so a connection and SQLAlchemy's compiled
statements are reused: ~2 ms an event (bench/README.md, "Dagster's event log"). Files, schema
and transactions are Dagster's own, one per event as before; the UI and older runs read them
unchanged.

Installed by `orchestration/lib/instance.py` into every crosswind DAGSTER_HOME.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.engine import Connection, Engine

# A run worker uses two databases (its run's and the index); the UI and the daemon read many
# runs: keep the most recently used few open, close the rest.
KEEP_OPEN = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that reuses one engine (one pooled connection) per database."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():
            # A forked child must not use its parent's SQLite connections, nor close them.
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines, self._engines_pid = OrderedDict(), os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                pool_size=1,
                # Dagster's first-use schema check opens a second connection inside the first.
                max_overflow=2,
                # Used by one thread at a time (self._db_lock), not always the one that opened it.
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
        self._engines[shard] = engine
        while len(self._engines) > KEEP_OPEN:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # The parent's _connect, minus creating and disposing an engine each time.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _close_engines(self) -> None:
        with self._db_lock:
            engines, self._engines = self._engines, OrderedDict()
        for engine in engines.values():
            engine.dispose()

    def wipe(self) -> None:
        self._close_engines()  # the parent deletes the run databases' files
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_engines()
