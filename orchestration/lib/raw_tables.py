"""The raw layer's tables: one definition each, used for DDL, upserts, checks and docs.

Asset key = [schema, table]; the dbt sources use the same names, so the lineage graph joins.
Every table carries `source_mode` (live / replay / sample) and `_loaded_at` (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

# The DuckDB catalog the raw schemas live in (the file crosswind.duckdb), as dbt names relations.
DATABASE = "crosswind"


@dataclass(frozen=True)
class RawTable:
    schema: str
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), lineage columns excluded
    key: tuple[str, ...]
    value_column: str | None  # the column magnitude checks apply to
    date_column: str = "date"
    series_column: str = "series_id"
    # (first, last) columns of the table's date range when it is not min/max of date_column
    range_columns: tuple[str, str] | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def date_range(self) -> tuple[str, str] | None:
        """Columns whose min and max are the table's first and last date (None: no dates)."""
        if self.range_columns is not None:
            return self.range_columns
        if dict(self.columns).get(self.date_column) == "DATE":
            return (self.date_column, self.date_column)
        return None

    @property
    def all_columns(self) -> tuple[tuple[str, str], ...]:
        return (*self.columns, ("source_mode", "VARCHAR"), ("_loaded_at", "TIMESTAMP"))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


_OBS = (
    ("series_id", "VARCHAR"),
    ("date", "DATE"),
    ("value", "DOUBLE"),
    ("units", "VARCHAR"),
)

FRED = RawTable(
    "raw_fred", "observations", (*_OBS, ("realtime_start", "DATE")), ("series_id", "date"), "value"
)
FRED_METADATA = RawTable(
    "raw_fred",
    "series_metadata",
    (
        ("series_id", "VARCHAR"),
        ("title", "VARCHAR"),
        ("units", "VARCHAR"),
        ("frequency", "VARCHAR"),
        ("last_updated", "VARCHAR"),
    ),
    ("series_id",),
    None,
)
TREASURY = RawTable("raw_treasury", "operating_cash_balance", _OBS, ("series_id", "date"), "value")
MOF = RawTable("raw_mof", "jgb_yields", _OBS, ("series_id", "date"), "value")
SHILLER = RawTable("raw_shiller", "monthly", _OBS, ("series_id", "date"), "value")
DROPS = RawTable("raw_drops", "observations", _OBS, ("series_id", "date"), "value")
OFR = RawTable("raw_ofr", "financial_stress_index", _OBS, ("series_id", "date"), "value")
MARKETS = RawTable(
    "raw_market",
    "daily_bars",
    (
        ("series_id", "VARCHAR"),
        ("date", "DATE"),
        ("open", "DOUBLE"),
        ("high", "DOUBLE"),
        ("low", "DOUBLE"),
        ("close", "DOUBLE"),
        ("volume", "DOUBLE"),
        ("units", "VARCHAR"),
    ),
    ("series_id", "date"),
    "close",
)
CME = RawTable(
    "raw_cme",
    "margin_changes",
    (
        ("product", "VARCHAR"),
        ("effective_date", "DATE"),
        ("initial_margin", "DOUBLE"),
        ("maintenance_margin", "DOUBLE"),
        ("unit", "VARCHAR"),
        ("previous_maintenance_margin", "DOUBLE"),
        ("source_file", "VARCHAR"),
    ),
    ("product", "effective_date"),
    "maintenance_margin",
    date_column="effective_date",
    series_column="product",
)

# Written from orchestration/catalog.yaml so dbt reads factors and staleness from one place.
SERIES_CATALOG = RawTable(
    "raw_meta",
    "series_catalog",
    (
        ("series_id", "VARCHAR"),
        ("source", "VARCHAR"),
        ("units", "VARCHAR"),
        ("stored_units", "VARCHAR"),
        ("factor", "DOUBLE"),
        ("frequency", "VARCHAR"),
        ("release_lag_days", "INTEGER"),
        ("release_lag_business", "BOOLEAN"),
        ("release_calendar", "VARCHAR"),
        ("staleness_days", "INTEGER"),
        ("range_min", "DOUBLE"),
        ("range_max", "DOUBLE"),
        ("required", "BOOLEAN"),
        ("description", "VARCHAR"),
    ),
    ("series_id",),
    None,
)
UNIT_LABELS = RawTable(
    "raw_meta",
    "unit_labels",
    (("units", "VARCHAR"), ("stored_units", "VARCHAR"), ("factor", "DOUBLE")),
    ("units",),
    None,
)
MARGIN_PRODUCTS = RawTable(
    "raw_meta",
    "margin_products",
    (
        ("product", "VARCHAR"),
        ("description", "VARCHAR"),
        ("underlying", "VARCHAR"),
        ("proxy", "VARCHAR"),
    ),
    ("product",),
    None,
)

# Publisher holiday calendars (orchestration/lib/calendars.py, generated from the `holidays`
# package): each calendar's covered span, and its holidays within that span.
CALENDARS = RawTable(
    "raw_meta",
    "calendars",
    (
        ("calendar", "VARCHAR"),
        ("description", "VARCHAR"),
        ("provider", "VARCHAR"),
        ("first_date", "DATE"),
        ("last_date", "DATE"),
    ),
    ("calendar",),
    None,
    range_columns=("first_date", "last_date"),
)
CALENDAR_HOLIDAYS = RawTable(
    "raw_meta",
    "calendar_holidays",
    (("calendar", "VARCHAR"), ("date", "DATE"), ("holiday_name", "VARCHAR")),
    ("calendar", "date"),
    None,
)

# The observation tables each source writes, by source name.
SOURCE_TABLES: dict[str, RawTable] = {
    "fred": FRED,
    "treasury": TREASURY,
    "mof": MOF,
    "markets": MARKETS,
    "shiller": SHILLER,
    "cme": CME,
    "drops": DROPS,
    "ofr": OFR,
}
ALL_TABLES = (
    *SOURCE_TABLES.values(),
    FRED_METADATA,
    SERIES_CATALOG,
    UNIT_LABELS,
    MARGIN_PRODUCTS,
    CALENDARS,
    CALENDAR_HOLIDAYS,
)
