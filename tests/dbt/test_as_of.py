"""As-of rebuilds and first releases, end to end: fake FRED API -> raw asset -> dbt.

One warehouse lives through a small story, each load on the warehouse clock (clock.now), the
fake FRED serving on each load day what FRED had published by then:

- PAYEMS (`vintages: true`): every month printed 36 days after it and revised 56 days later
  (April 2025: 05-07, revised 07-02; May 2025: 06-06, revised 08-01). Crosswind reads it with
  its ALFRED vintages, so it is known on FRED's clock (realtime_start).
- UNRATE is set to `vintages: false` here: FRED gives current values only, known from
  crosswind's own loads. February 2025 is revised on 07-08 and March on 08-01; December 2024
  is dropped before 07-10 and January 2025 before 08-05.
- Crosswind loads on 2025-07-01, then reconciles (full read, deletions applied) on 07-10 and
  08-05.

`crosswind asof 2025-07-20` must show what was known that day: what was revised or deleted
before it, and not what was revised or deleted after; the normal build shows everything, with
first releases beside latest values. The as-of build must not touch the build warehouse.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import cli
from orchestration.defs.ingestion.catalog.assets import series_catalog
from orchestration.defs.ingestion.fred.assets import fred_observations
from orchestration.lib import clock, reconcile
from orchestration.lib.asof import as_of_build
from orchestration.lib.catalog import load_catalog
from orchestration.lib.http import HttpClient
from orchestration.sources import fred
from tests.support.catalog import catalog_requiring
from tests.support.fred_api import FakeFredApi, FakeSeries
from tests.support.http_server import LocalHttpServer
from tests.support.resources import crosswind_resources
from tests.support.snapshot import dbt_build

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "0123456789abcdef0123456789abcdef"
LABOR = ["+fct_labor_monthly"]
AS_OF = "2025-07-20"
LOADS = ("2025-07-01 12:00", "2025-07-10 12:00", "2025-08-05 12:00")  # load, reconcile x2
PAYEMS_MONTHS = [date(2024, m, 1) for m in range(1, 13)] + [date(2025, m, 1) for m in range(1, 6)]
UNRATE_MONTHS = [date(2023, m, 1) for m in (10, 11, 12)] + PAYEMS_MONTHS
MARCH, APRIL, MAY = date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1)
# UNRATE: (month, day FRED revised it, new value) and (month, last day FRED carried it)
UNRATE_REVISED = {date(2025, 2, 1): (date(2025, 7, 8), 4.7), MARCH: (date(2025, 8, 1), 4.6)}
UNRATE_DROPPED = {date(2024, 12, 1): date(2025, 7, 5), date(2025, 1, 1): date(2025, 8, 2)}


def first_print(i: int) -> float:
    return 158_000.0 + 150 * i


def revised(i: int) -> float:
    return first_print(i) + 10 * (i % 4) - 25


def unrate(i: int) -> float:
    return round(4.0 + 0.1 * (i % 5), 1)


def payems_releases(day: date) -> list[tuple[date, date, str]]:
    """PAYEMS as FRED had published it by `day`: (month, published on, value)."""
    releases = []
    for i, month in enumerate(PAYEMS_MONTHS):
        printed = month + timedelta(days=36)
        releases.append((month, printed, f"{first_print(i):.0f}"))
        releases.append((month, printed + timedelta(days=56), f"{revised(i):.0f}"))
    return [r for r in releases if r[1] <= day]


def unrate_releases(day: date) -> list[tuple[date, date, str]]:
    releases = [(m, m + timedelta(days=36), f"{unrate(i)}") for i, m in enumerate(UNRATE_MONTHS)]
    releases += [(m, on, f"{value}") for m, (on, value) in UNRATE_REVISED.items()]
    return [
        r
        for r in releases
        if r[1] <= day and not (r[0] in UNRATE_DROPPED and UNRATE_DROPPED[r[0]] < day)
    ]


def _catalog(path: Path) -> Path:
    catalog_requiring(["PAYEMS", "UNRATE"], path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for n, line in enumerate(lines):
        if line.startswith("  UNRATE:"):
            assert "vintages: true," in line
            lines[n] = line.replace("vintages: true,", "vintages: false,")
    path.write_text("".join(lines), encoding="utf-8")
    load_catalog.cache_clear()  # catalog_requiring read the file before the edit
    return path


def _at(mp: pytest.MonkeyPatch, text: str) -> None:
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    mp.setattr(clock, "now", lambda: moment)


def _fingerprint(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
        return {
            f"{s}.{t}": hashlib.sha256(
                repr(con.execute(f'SELECT * FROM "{s}"."{t}" ORDER BY ALL').fetchall()).encode()
            ).hexdigest()
            for s, t in tables
        }
    finally:
        con.close()


def _labor(db: Path) -> dict[date, dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame = con.execute("SELECT * FROM marts.fct_labor_monthly ORDER BY month").df()
    finally:
        con.close()
    frame = frame.astype(object).where(frame.notna(), None)
    return {row["month"].date(): row for row in frame.to_dict("records")}


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """(build warehouse folder, as-of db, build db, build unchanged by the as-of build)."""
    work = tmp_path_factory.mktemp("as_of")
    build_dir = work / "warehouse"
    payems = FakeSeries("PAYEMS", "Thousands of Persons", [], frequency="Monthly")
    unemployment = FakeSeries("UNRATE", "Percent", [], frequency="Monthly")
    with pytest.MonkeyPatch.context() as mp, LocalHttpServer() as server:
        mp.setattr(fred, "API_MIN_INTERVAL", 0.0)
        original_init = HttpClient.__init__
        mp.setattr(
            HttpClient,
            "__init__",
            lambda self, *a, **kw: original_init(self, *a, **{**kw, "sleep": lambda s: None}),
        )
        api = FakeFredApi(server, [payems, unemployment], today=date(2025, 7, 1))
        for name, value in {
            "CROSSWIND_SOURCE": "live",
            "FRED_API_KEY": KEY,
            "CROSSWIND_FRED_API_URL": server.url("/fred"),
            "CROSSWIND_WAREHOUSE_DIR": str(build_dir),
            "CROSSWIND_CATALOG": str(_catalog(work / "catalog.yaml")),
        }.items():
            mp.setenv(name, value)

        for n, moment in enumerate(LOADS):
            _at(mp, moment)
            api.today = clock.now().date()
            payems.releases = payems_releases(api.today)
            unemployment.releases = unrate_releases(api.today)
            if n == 0:
                run = dg.materialize(
                    [series_catalog, fred_observations],
                    raise_on_error=False,
                    resources=crosswind_resources(),
                )
                assert run.success, [
                    str(e.event_specific_data) for e in run.get_step_failure_events()
                ]
            else:
                # what `crosswind reconcile fred` runs, in this process so the clock above holds
                run = dg.materialize(
                    [reconcile.raw_asset("fred")],
                    run_config=reconcile.run_config(["fred"], delete=True),
                    raise_on_error=False,
                    resources=crosswind_resources(),
                )
                assert run.success
        mp.delenv("FRED_API_KEY")

        db = build_dir / "crosswind.duckdb"
        before = _fingerprint(db)
        dest = work / f"as_of_{AS_OF}"
        assert cli.main(["asof", AS_OF, "--dest", str(dest), "--select", *LABOR]) == 0
        untouched = _fingerprint(db) == before
        proc, _ = dbt_build(
            build_dir,
            work,
            *("--select", *LABOR, "--indirect-selection", "cautious"),
            *("--exclude", "resource_type:unit_test"),
        )
        assert proc.returncode == 0, proc.stdout[-4000:]
    return build_dir, dest / "crosswind.duckdb", db, untouched


def test_as_of_a_date_revisions_made_later_do_not_appear_earlier_ones_do(story):
    _, as_of, built, _ = story
    then, now = _labor(as_of), _labor(built)
    april, may = PAYEMS_MONTHS.index(APRIL), PAYEMS_MONTHS.index(MAY)
    # PAYEMS on FRED's clock: April's revision (07-02) is in, May's (08-01) is not.
    assert then[APRIL]["payrolls_thousands"] == revised(april)
    assert then[MAY]["payrolls_thousands"] == first_print(may)
    assert then[MAY]["payroll_change_thousands"] == first_print(may) - revised(april)
    assert now[MAY]["payrolls_thousands"] == revised(may)
    # UNRATE on crosswind's clock: February's revision (loaded 07-10) in, March's (08-05) not.
    february = date(2025, 2, 1)
    assert then[february]["unemployment_rate_pct"] == now[february]["unemployment_rate_pct"] == 4.7
    assert then[MARCH]["unemployment_rate_pct"] == unrate(UNRATE_MONTHS.index(MARCH))
    assert now[MARCH]["unemployment_rate_pct"] == 4.6


def test_as_of_a_date_deletions_made_later_do_not_apply_earlier_ones_do(story):
    _, as_of, built, _ = story
    then, now = _labor(as_of), _labor(built)
    december, january = date(2024, 12, 1), date(2025, 1, 1)
    assert then[december]["unemployment_rate_pct"] is None  # deleted on 07-10
    assert then[january]["unemployment_rate_pct"] == unrate(UNRATE_MONTHS.index(january))
    assert now[january]["unemployment_rate_pct"] is None  # deleted on 08-05
    assert now[january]["payrolls_thousands"] is not None  # the month stays


def test_labor_mart_shows_first_releases_beside_latest_where_vintages_exist(story):
    *_, built, _ = story
    rows = _labor(built)
    march, april, may = (PAYEMS_MONTHS.index(m) for m in (MARCH, APRIL, MAY))
    row = rows[MAY]
    assert row["payrolls_thousands"] == revised(may)
    assert row["payrolls_first_release_thousands"] == first_print(may)
    assert row["payrolls_first_release_date"].date() == date(2025, 6, 6)
    # The headline change: May's first print against April as it stood on 06-06 (not yet
    # revised), and how far the latest change moved from it.
    assert row["payroll_change_first_release_thousands"] == first_print(may) - first_print(april)
    assert row["payroll_change_revision_thousands"] == pytest.approx(
        (revised(may) - revised(april)) - (first_print(may) - first_print(april))
    )
    assert row["has_first_release"] is True
    # March was revised (06-01) before crosswind's first load: its first print comes from
    # the ALFRED vintages backfilled then.
    assert rows[MARCH]["payrolls_first_release_thousands"] == first_print(march)
    assert rows[MARCH]["payrolls_thousands"] == revised(march)
    # UNRATE has no vintages here, and months before PAYEMS starts have no first release.
    assert all(r["unemployment_rate_first_release_pct"] is None for r in rows.values())
    for month in UNRATE_MONTHS[:3]:
        assert rows[month]["has_first_release"] is False
        assert rows[month]["payrolls_first_release_thousands"] is None
    assert sum(r["has_first_release"] for r in rows.values()) == len(PAYEMS_MONTHS)


def test_as_of_builds_leave_the_build_warehouse_alone(story, tmp_path, monkeypatch, capsys):
    build_dir, as_of, _, untouched = story
    assert untouched, "an as-of build changed the build warehouse"
    with duckdb.connect(str(as_of), read_only=True) as con:
        mark = con.execute("SELECT value FROM raw_meta.warehouse_info WHERE key = 'as_of'")
        assert mark.fetchone() == (AS_OF,)
    # The build folder itself, a folder holding another warehouse, a future date: refused.
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(build_dir))
    other = tmp_path / "other"
    other.mkdir()
    duckdb.connect(str(other / "crosswind.duckdb")).close()
    for when, dest, refusal in (
        ("2025-06-30", build_dir, "is the build warehouse's folder"),
        ("2025-06-30", other, "is not an as-of build"),
        ("2999-01-01", tmp_path / "new", "is in the future"),
    ):
        assert cli.main(["asof", when, "--dest", str(dest)]) == 1
        assert refusal in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_as_of_now_reads_the_snapshot_exactly_as_the_daily_build(snapshot_build, tmp_path):
    """On the real snapshot, every staging model (what every mart reads from raw) is row for
    row the same in an as-of build at the present instant as in the daily build: the as-of
    read neither drops nor repeats a row of any source table."""
    warehouse_dir, _ = snapshot_build
    now = clock.now().strftime("%Y-%m-%d %H:%M:%S")
    build = as_of_build(
        now,
        tmp_path / "now",
        warehouse_dir / "crosswind.duckdb",
        select=["staging"],
        out=lambda line: None,
    )
    assert build.ok
    daily = _staging_digests(warehouse_dir / "crosswind.duckdb")
    assert {"stg_markets__daily_bars", "stg_cme__margin_changes"} <= set(daily)
    assert _staging_digests(build.warehouse_path) == daily


def _staging_digests(db: Path) -> dict[str, tuple[int, int]]:
    """{staging view: (rows, sum of row hashes)}: equal for equal multisets of rows."""
    con = duckdb.connect(str(db), read_only=True)  # views name their own catalog: one file each
    try:
        views = con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'staging' ORDER BY 1"
        ).fetchall()
        return {
            view: con.execute(
                f"SELECT count(*), sum(hash(v)::HUGEINT) FROM staging.{view} AS v"
            ).fetchone()
            for (view,) in views
        }
    finally:
        con.close()
