"""`crosswind rehearse` on the genuine wire (../shared/wire, the snapshot for what it lacks):
the live job end to end, once per test session, as `make run` launches it.

The run takes about 1.5-3 minutes on a busy 2-core machine (the job itself, plus `dg launch`
loading the definitions); every test here reads the one run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration import cli
from orchestration.lib.catalog import load_catalog
from orchestration.rehearsal import answers, layout
from orchestration.rehearsal.run import Rehearsal, rehearse
from orchestration.sources.mof import CURRENT_FILE, TENOR_HEADER_RE, decode, parse_era_date
from tests.rehearsal.conftest import WIRE_DIR, wire_present
from tests.support.snapshot import SNAPSHOT_DIR, snapshot_present

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Run:
    result: Rehearsal
    output: list[str]

    @property
    def db(self) -> Path:
        return self.result.warehouse / "crosswind.duckdb"

    def served(self, service: str, origin: str) -> int:
        return self.result.served.get((service, origin), 0)


@pytest.fixture(scope="session")
def rehearsal(tmp_path_factory) -> Run:
    if not (wire_present() and snapshot_present()):
        pytest.skip(f"needs {WIRE_DIR} and {SNAPSHOT_DIR} (only on project machines)")
    warehouse = tmp_path_factory.mktemp("rehearsal") / "warehouse"
    output: list[str] = []
    result = rehearse(WIRE_DIR, SNAPSHOT_DIR, warehouse, out=output.append)
    return Run(result, output)


def test_the_live_job_succeeds(rehearsal):
    summary = "\n".join(rehearsal.output)
    assert rehearsal.result.exit_code == 0, summary
    assert rehearsal.result.outcome.success and "run       succeeded" in summary


def test_every_mart_is_built(rehearsal):
    expected = rehearsal.result.outcome.marts_expected
    assert expected, "no marts in the dbt manifest"
    assert sorted(set(rehearsal.result.outcome.marts_built)) == expected
    with duckdb.connect(str(rehearsal.db), read_only=True) as con:
        tables = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
            ).fetchall()
        }
        assert set(expected) <= tables, sorted(set(expected) - tables)
        rows = {m: con.execute(f"SELECT count(*) FROM marts.{m}").fetchone()[0] for m in expected}
    assert all(rows.values()), f"marts without rows: {[m for m, n in rows.items() if not n]}"


def test_the_current_month_mof_rows_are_loaded(rehearsal):
    """MOF's genuine current-month file (blank and footnote rows included) was fetched and read,
    and each of its values for the catalog's tenors is in raw_mof. (In ../shared/wire its days
    are also in the history file, with the same values: the fetch and the MOF step's success are
    what prove the file itself was read.)"""
    fetched = [r for r in rehearsal.result.requests if r[1].endswith(f"/{CURRENT_FILE}")]
    assert [(status, origin) for _, _, status, origin in fetched] == [(200, answers.WIRE)]
    assert rehearsal.result.outcome.sources["mof"].failure is None
    wanted = {s.id for s in load_catalog().for_source("mof")}
    lines = decode((WIRE_DIR / "mof" / CURRENT_FILE).read_bytes(), CURRENT_FILE).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("基準日"))
    tenors = [int(TENOR_HEADER_RE.match(c).group(1)) for c in lines[header].split(",")[1:]]
    expected = {}
    for line in lines[header + 1 :]:
        cells = line.split(",")
        try:
            day = parse_era_date(cells[0])
        except ValueError:
            continue  # the blank and ※ footnote rows
        for tenor, cell in zip(tenors, cells[1:], strict=False):
            if cell not in ("", "-") and f"JGB{tenor}Y" in wanted:
                expected[(f"JGB{tenor}Y", day)] = float(cell)
    assert len(expected) > 50
    with duckdb.connect(str(rehearsal.db), read_only=True) as con:
        loaded = {
            (series, day): value
            for series, day, value in con.execute(
                "SELECT series_id, date, value FROM raw_mof.jgb_yields"
            ).fetchall()
        }
    wrong = {k: (v, loaded.get(k)) for k, v in expected.items() if loaded.get(k) != v}
    assert not wrong, f"{len(wrong)} current-month values missing or different: {list(wrong)[:3]}"


def test_every_live_client_talked_to_the_fake_and_nothing_left_the_machine(rehearsal):
    by_source = {source: 0 for source in layout.SOURCE_OF.values()}
    for (service, _), count in rehearsal.result.served.items():
        assert service in layout.SOURCE_OF, f"{count} request(s) to a path no service has"
        by_source[layout.SOURCE_OF[service]] += count
    assert all(by_source.values()), by_source
    assert rehearsal.result.blocked == {}


def test_the_genuine_bodies_were_served_as_recorded(rehearsal):
    assert rehearsal.result.fred_mode == "csv"  # ../shared/wire holds more graph CSVs
    graph_files = len(list((WIRE_DIR / "fred" / "graph").glob("*.csv")))
    assert rehearsal.served(layout.FRED_GRAPH, answers.WIRE) == graph_files
    assert rehearsal.served(layout.MOF, answers.WIRE) == 2  # history and current month
    assert rehearsal.served(layout.SHILLER, answers.WIRE) == 1  # the workbook the page links


def test_loaded_fred_values_are_the_genuine_ones(rehearsal):
    """A series the wire recorded is loaded from those bytes, not from the snapshot."""
    rows = (WIRE_DIR / "fred" / "graph" / "DGS10.csv").read_text().splitlines()[1:]
    wire = {d: float(v) for d, v in (r.split(",") for r in rows) if v}
    with duckdb.connect(str(rehearsal.db), read_only=True) as con:
        loaded = dict(
            con.execute(
                "SELECT strftime(date, '%Y-%m-%d'), value FROM raw_fred.observations "
                "WHERE series_id = 'DGS10' AND value IS NOT NULL"
            ).fetchall()
        )
    assert set(loaded) == set(wire)
    assert all(math.isclose(loaded[d], wire[d]) for d in wire)


def test_a_missing_wire_folder_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["rehearse", "--wire", str(tmp_path / "nope"), "--warehouse", str(tmp_path)])
    assert code == 1
    assert f"crosswind rehearse: --wire {tmp_path / 'nope'} is not a folder" in (
        capsys.readouterr().err
    )
