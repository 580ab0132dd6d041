"""The bitemporal raw layer: every version a table replaced is kept in its history table.

Revisions and deletions move the replaced row, as it was, to `<table>_history` in the upsert's
own transaction; FRED vintages (ALFRED) are added once; a warehouse from before the history
tables migrates in place from raw_meta.revision_log. The as-of reads themselves are dbt's
(tests/dbt/test_as_of.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pytest

from orchestration.lib import clock, warehouse
from orchestration.lib.errors import CrosswindError
from orchestration.lib.raw_tables import CME, FRED, SOURCE_TABLES

UNITS = "Thousands of Persons"


@pytest.fixture
def at(monkeypatch):
    """Set the warehouse clock: `at("2025-06-01 12:00")`; returns the naive UTC datetime."""

    def set_clock(text: str) -> datetime:
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
        monkeypatch.setattr(clock, "now", lambda: moment)
        return moment.replace(tzinfo=None)

    return set_clock


def _frame(values: dict[str, float | None], realtime: str | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": "PAYEMS",
            "date": [date.fromisoformat(d) for d in values],
            "value": pd.Series(list(values.values()), dtype="float64"),
            "units": UNITS,
            "realtime_start": pd.to_datetime(realtime) if realtime else pd.NaT,
        }
    )


def _vintages(*rows: tuple[str, float, str, str]) -> pd.DataFrame:
    """(date, value, realtime_start, realtime_end) rows of PAYEMS, as FredApiSource gives them."""
    return pd.DataFrame(
        {
            "series_id": "PAYEMS",
            "date": [date.fromisoformat(r[0]) for r in rows],
            "value": [r[1] for r in rows],
            "units": UNITS,
            "realtime_start": pd.to_datetime([r[2] for r in rows]),
            "realtime_end": pd.to_datetime([r[3] for r in rows]),
        }
    )


def _history(con, table=FRED) -> list[tuple]:
    key = ", ".join(f'"{k}"' for k in table.key)
    return con.execute(
        f'SELECT {key}, "{table.value_column}", _loaded_at, _superseded_at, _change '
        f"FROM {table.history} ORDER BY ALL"
    ).fetchall()


def test_every_source_table_has_a_history_table_with_its_columns(tmp_path):
    with warehouse.writer(tmp_path / "w.duckdb") as con:
        for table in SOURCE_TABLES.values():
            columns = con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? "
                "AND table_name = ? ORDER BY column_index",
                [table.schema, f"{table.table}_history"],
            ).fetchall()
            assert [c for (c,) in columns] == [n for n, _ in table.history_columns]


def test_a_revision_and_a_deletion_keep_the_replaced_row_as_it_was(tmp_path, at):
    with warehouse.writer(tmp_path / "w.duckdb") as con:
        loaded = at("2025-06-06 13:00")
        warehouse.upsert(
            con, FRED, _frame({"2025-05-01": 159_000.0, "2025-04-01": 158_800.0}), "live"
        )
        revised_at = at("2025-07-03 13:00")
        stats = warehouse.upsert(con, FRED, _frame({"2025-05-01": 159_144.0}), "live")
        assert (stats.revised_rows, stats.unchanged_rows) == (1, 0)
        again = warehouse.upsert(con, FRED, _frame({"2025-05-01": 159_144.0}), "live")
        assert again.unchanged_rows == 1
        deleted_at = at("2025-08-01 13:00")
        doomed = pd.DataFrame({"series_id": ["PAYEMS"], "date": [date(2025, 4, 1)]})
        stats = warehouse.upsert(con, FRED, _frame({}), "live", delete=doomed)
        assert stats.deleted_rows == 1

        assert _history(con) == [
            ("PAYEMS", date(2025, 4, 1), 158_800.0, loaded, deleted_at, "deleted"),
            ("PAYEMS", date(2025, 5, 1), 159_000.0, loaded, revised_at, "revised"),
        ]
        # The current table holds the new value, known since its load; nothing else moved.
        assert con.execute(
            "SELECT date, value, _loaded_at FROM raw_fred.observations"
        ).fetchall() == [(date(2025, 5, 1), 159_144.0, revised_at)]
        # The revision log keeps its old and new values as before.
        log = con.execute("SELECT date, old_value, new_value, change FROM raw_meta.revision_log")
        assert sorted(log.fetchall()) == [
            (date(2025, 4, 1), 158_800.0, None, "deleted"),
            (date(2025, 5, 1), 159_000.0, 159_144.0, "revised"),
        ]


def test_history_is_written_in_the_upserts_transaction(tmp_path, at):
    with warehouse.writer(tmp_path / "w.duckdb") as con:
        at("2025-06-06 13:00")
        warehouse.upsert(con, CME, _margins(10_000.0), "replay")
        at("2025-07-03 13:00")
        broken = _margins(12_000.0).astype({"initial_margin": object})
        broken.loc[0, "initial_margin"] = "not a number"
        with pytest.raises(Exception):  # noqa: B017 - DuckDB's conversion error type varies
            warehouse.upsert(con, CME, broken, "replay")
        assert _history(con, CME) == []
        assert con.execute("SELECT maintenance_margin FROM raw_cme.margin_changes").fetchall() == [
            (10_000.0,)
        ]


def _margins(maintenance: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product": ["SI"],
            "effective_date": [date(2026, 1, 13)],
            "initial_margin": [maintenance * 1.1],
            "maintenance_margin": [maintenance],
            "unit": ["usd_per_contract"],
            "previous_maintenance_margin": [None],
            "source_file": ["x.pdf"],
        }
    )


def test_fred_vintages_are_added_once_and_never_twice(tmp_path, at):
    first_print = ("2025-05-01", 139.0, "2025-06-06", "2025-07-02")
    second = ("2025-05-01", 144.0, "2025-07-03", "2025-07-31")
    with warehouse.writer(tmp_path / "w.duckdb") as con:
        loaded = at("2025-08-05 13:00")
        current = _frame({"2025-05-01": 19.0}, realtime="2025-08-01")
        stats = warehouse.upsert(
            con, FRED, current, "live", vintages=_vintages(first_print, second)
        )
        assert (stats.new_rows, stats.vintage_rows) == (1, 2)
        assert _history(con) == [
            ("PAYEMS", date(2025, 5, 1), 139.0, loaded, datetime(2025, 7, 3), "vintage"),
            ("PAYEMS", date(2025, 5, 1), 144.0, loaded, datetime(2025, 8, 1), "vintage"),
        ]
        realtime = con.execute(
            "SELECT realtime_start FROM raw_fred.observations_history ORDER BY 1"
        ).fetchall()
        assert realtime == [(date(2025, 6, 6),), (date(2025, 7, 3),)]

        # A rerun (the weekly full read) sends the same vintages: nothing is added.
        at("2025-08-12 13:00")
        again = warehouse.upsert(
            con, FRED, current, "live", vintages=_vintages(first_print, second)
        )
        assert again.vintage_rows == 0 and len(_history(con)) == 2

        # FRED revises again: crosswind's own revision keeps the replaced row; the vintage FRED
        # then reports for it is that same version (same realtime_start) and is not repeated.
        revised_at = at("2025-09-05 13:00")
        newer = _frame({"2025-05-01": 25.0}, realtime="2025-09-05")
        third = ("2025-05-01", 19.0, "2025-08-01", "2025-09-04")
        stats = warehouse.upsert(
            con, FRED, newer, "live", vintages=_vintages(first_print, second, third)
        )
        assert (stats.revised_rows, stats.vintage_rows) == (1, 0)
        assert _history(con) == [
            ("PAYEMS", date(2025, 5, 1), 19.0, loaded, revised_at, "revised"),
            ("PAYEMS", date(2025, 5, 1), 139.0, loaded, datetime(2025, 7, 3), "vintage"),
            ("PAYEMS", date(2025, 5, 1), 144.0, loaded, datetime(2025, 8, 1), "vintage"),
        ]

        with pytest.raises(CrosswindError, match="vintages repeat"):
            warehouse.upsert(con, FRED, newer, "live", vintages=_vintages(first_print, first_print))


def test_a_warehouse_from_before_history_migrates_from_the_revision_log(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw_fred")
    con.execute(
        "CREATE TABLE raw_fred.observations (series_id VARCHAR, date DATE, value DOUBLE, "
        "units VARCHAR, realtime_start DATE, source_mode VARCHAR, _loaded_at TIMESTAMP, "
        "PRIMARY KEY (series_id, date))"
    )
    con.execute(
        "INSERT INTO raw_fred.observations VALUES "
        "('UNRATE', '2025-04-01', 4.2, 'Percent', NULL, 'live', '2025-06-10 12:00'), "
        "('UNRATE', '2025-05-01', 4.1, 'Percent', NULL, 'live', '2025-03-01 12:00')"
    )
    # An old log: no `change` column (revisions only), then a deletion logged with one.
    con.execute("CREATE SCHEMA raw_meta")
    con.execute(
        "CREATE TABLE raw_meta.revision_log (table_name VARCHAR, series_id VARCHAR, date DATE, "
        "old_value DOUBLE, new_value DOUBLE, revised_at TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO raw_meta.revision_log VALUES "
        "('raw_fred.observations', 'UNRATE', '2025-04-01', 4.0, 4.3, '2025-05-10 12:00'), "
        "('raw_fred.observations', 'UNRATE', '2025-04-01', 4.3, 4.2, '2025-06-10 12:00')"
    )
    con.execute("ALTER TABLE raw_meta.revision_log ADD COLUMN change VARCHAR DEFAULT 'revised'")
    con.execute(
        "INSERT INTO raw_meta.revision_log VALUES ('raw_fred.observations', 'UNRATE', "
        "'2025-02-01', 3.9, NULL, '2025-04-01 12:00', 'deleted')"
    )
    before = con.execute("SELECT * FROM raw_fred.observations ORDER BY ALL").fetchall()
    log = con.execute("SELECT * FROM raw_meta.revision_log ORDER BY ALL").fetchall()
    con.close()

    with warehouse.writer(path) as con:
        history = con.execute(
            "SELECT date, value, units, realtime_start, _loaded_at, _superseded_at, _change "
            "FROM raw_fred.observations_history ORDER BY ALL"
        ).fetchall()
        assert con.execute("SELECT * FROM raw_fred.observations ORDER BY ALL").fetchall() == before
        assert con.execute("SELECT * FROM raw_meta.revision_log ORDER BY ALL").fetchall() == log
    first_load = datetime(2025, 3, 1, 12)  # the earliest load or change the warehouse records
    assert history == [
        # deleted: its row is gone, so its units are unknown (staging falls back to the catalog)
        (date(2025, 2, 1), 3.9, None, None, first_load, datetime(2025, 4, 1, 12), "deleted"),
        (date(2025, 4, 1), 4.0, "Percent", None, first_load, datetime(2025, 5, 10, 12), "revised"),
        (
            date(2025, 4, 1),
            4.3,
            "Percent",
            None,
            datetime(2025, 5, 10, 12),  # known from the change that made it current
            datetime(2025, 6, 10, 12),
            "revised",
        ),
    ]
    # Opening it again migrates nothing twice.
    with warehouse.writer(path) as con:
        assert con.execute("SELECT count(*) FROM raw_fred.observations_history").fetchone() == (3,)
