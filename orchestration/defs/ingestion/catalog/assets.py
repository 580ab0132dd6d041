from datetime import date

import dagster as dg
import holidays
import pandas as pd

from orchestration.lib import warehouse
from orchestration.lib.asset_metadata import ENGINE, raw_definition_metadata, raw_stats
from orchestration.lib.calendars import CALENDARS
from orchestration.lib.catalog import load_catalog
from orchestration.lib.raw_assets import OWNERS
from orchestration.lib.raw_tables import (
    CALENDAR_HOLIDAYS,
    MARGIN_PRODUCTS,
    SERIES_CATALOG,
    UNIT_LABELS,
)
from orchestration.lib.raw_tables import (
    CALENDARS as CALENDARS_TABLE,
)
from orchestration.lib.settings import CrosswindSettings, ingest_pool

_KEYS = {
    t: dg.AssetKey([t.schema, t.table])
    for t in (SERIES_CATALOG, UNIT_LABELS, MARGIN_PRODUCTS, CALENDARS_TABLE, CALENDAR_HOLIDAYS)
}


@dg.multi_asset(
    name="raw_meta__catalog",
    specs=[
        dg.AssetSpec(
            key,
            description=f"{table.table} from orchestration/catalog.yaml (calendars: generated "
            "from the `holidays` package, orchestration/lib/calendars.py), so dbt reads unit "
            "factors, release lags, publisher calendars and staleness limits from one place.",
            group_name="ingestion_catalog",
            kinds={"python", "duckdb"},
            owners=OWNERS,
            metadata=raw_definition_metadata(table),
        )
        for table, key in _KEYS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "catalog_valid",
            asset=_KEYS[SERIES_CATALOG],
            blocking=True,
            description="The catalog parses, every series id is safe, every units label is "
            "known [Python (orchestration/lib/catalog.py), before the write; a failure blocks it].",
            metadata={ENGINE: "Python", "runs": "before the write; a failure blocks it"},
        )
    ],
    pool=ingest_pool("raw_meta__catalog"),
)
def series_catalog(context: dg.AssetExecutionContext, settings: CrosswindSettings):
    """Writes the series catalog into raw_meta (replacing it: it is reference data)."""
    settings = settings.resolve()
    # The file as it is now (load_catalog rereads a changed file); raises CatalogError, naming
    # the bad entry, before any write.
    catalog = load_catalog(settings.catalog_path)
    series = pd.DataFrame(
        [
            {
                "series_id": s.id,
                "source": s.source,
                "units": s.units,
                "stored_units": catalog.unit_labels[s.units].stored,
                "factor": catalog.unit_labels[s.units].factor,
                "frequency": s.frequency,
                "release_lag_days": s.release_lag_days,
                "release_lag_business": s.release_lag_business,
                "release_calendar": s.release_calendar,
                "staleness_days": s.staleness_days,
                "range_min": s.range[0],
                "range_max": s.range[1],
                "required": s.required,
                "description": s.description,
            }
            for s in catalog.series.values()
        ]
    )
    units = pd.DataFrame(
        [
            {"units": label, "stored_units": u.stored, "factor": u.factor}
            for label, u in catalog.unit_labels.items()
        ]
    )
    products = pd.DataFrame(
        [
            {
                "product": p,
                "description": m.description,
                "underlying": m.underlying,
                "proxy": m.proxy,
            }
            for p, m in catalog.margins.products.items()
        ]
    )
    calendars, calendar_holidays = calendar_frames()
    frames = {
        SERIES_CATALOG: series,
        UNIT_LABELS: units,
        MARGIN_PRODUCTS: products,
        CALENDARS_TABLE: calendars,
        CALENDAR_HOLIDAYS: calendar_holidays,
    }
    with warehouse.writer(settings.warehouse) as con:
        for table, frame in frames.items():
            warehouse.replace_all(con, table, frame, settings.source_mode)
        stats = raw_stats(con, list(frames))
    for table, key in _KEYS.items():
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={**stats[table].metadata(), "catalog": str(settings.catalog_path)},
        )
    yield dg.AssetCheckResult(
        asset_key=_KEYS[SERIES_CATALOG],
        check_name="catalog_valid",
        passed=True,
        metadata={"series": len(catalog.series), "unit_labels": len(catalog.unit_labels)},
    )


def calendar_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """raw_meta.calendars (one row per calendar and its span) and raw_meta.calendar_holidays."""
    spans, days = [], []
    for cal in CALENDARS.values():
        years = cal.years()
        spans.append(
            {
                "calendar": cal.name,
                "description": cal.description,
                "provider": f"{cal.provider} (holidays {holidays.__version__})",
                "first_date": date(years.start, 1, 1),
                "last_date": date(years.stop - 1, 12, 31),
            }
        )
        days += [
            {"calendar": cal.name, "date": day, "holiday_name": name}
            for day, name in cal.holidays()
        ]
    return pd.DataFrame(spans), pd.DataFrame(days)
