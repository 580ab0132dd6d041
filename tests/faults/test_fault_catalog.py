"""Catalog faults: a catalog that cannot lie.

A second `RRPONTSYD:` entry used to win silently (694 ON RRP rows relabelled, net liquidity moved
by 1,150 bn), and an alias bomb grew to 5 GB in 17 s with no message. Each case goes through the
FRED asset with the suite's three checks: a clear error naming the catalog key and line, nothing
changed, and a rerun with the good catalog recovers.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestration.lib.catalog import MAX_CATALOG_BYTES, load_catalog

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
SECOND_RRP = (
    '  RRPONTSYD:    {source: fred, units: "Millions of U.S. Dollars", frequency: daily, '
    'release_lag: 0d, staleness_days: 7, range: [0, 3000000], description: "a second entry"}\n'
)
# Ten levels of ten aliases each: 10^10 strings once expanded.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9)
)


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return lines[nth - 1]


@pytest.fixture
def good(replay_wh) -> str:
    """The good catalog of the run: the harness's copy of the repository catalog."""
    return Path(os.environ["CROSSWIND_CATALOG"]).read_text(encoding="utf-8")


@pytest.fixture
def catalog_env(replay_wh, tmp_path, monkeypatch):
    """Point CROSSWIND_CATALOG at a file in tmp; the good catalog again afterwards."""
    path = tmp_path / "catalog.yaml"

    def use(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("CROSSWIND_CATALOG", str(path))
        load_catalog.cache_clear()
        return path

    yield use
    load_catalog.cache_clear()


def _recover(replay_wh, catalog_env, good, before) -> None:
    catalog_env(good)
    replay_wh.assert_recovers("fred", before)


def test_a_second_entry_for_a_series_is_refused_with_its_line(replay_wh, catalog_env, good):
    before = replay_wh.state()
    anchor = "  WRESBAL:"
    text = good.replace(anchor, SECOND_RRP + anchor, 1)
    path = catalog_env(text)
    first, second = _line_of(text, "  RRPONTSYD:"), _line_of(text, "  RRPONTSYD:", 2)
    replay_wh.assert_rejected(
        "fred",
        before,
        "[catalog/RRPONTSYD]",
        f"{path} line {second}",
        f"duplicate key 'RRPONTSYD' (first on line {first})",
    )
    _recover(replay_wh, catalog_env, good, before)


BOMB_CHILD = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    from pathlib import Path
    from orchestration.lib.catalog import load_catalog
    from orchestration.lib.errors import CatalogError
    try:
        load_catalog(Path(sys.argv[1]))
    except CatalogError as exc:
        print(exc)
    """
)


def test_an_alias_bomb_is_refused_within_bounded_memory(replay_wh, catalog_env, good, tmp_path):
    before = replay_wh.state()
    path = catalog_env(good + "\n" + ALIAS_BOMB)
    # First in a child capped at 2 GB of address space: were the aliases expanded, it would
    # die of MemoryError instead of eating the machine (the unguarded load grew to 5 GB).
    limit = 2 * 1024**3
    if resource.getrlimit(resource.RLIMIT_AS)[1] not in (resource.RLIM_INFINITY,):
        limit = min(limit, resource.getrlimit(resource.RLIMIT_AS)[1])
    child = subprocess.run(
        [sys.executable, "-c", BOMB_CHILD, str(path), str(limit)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    bomb_line = _line_of(good + "\n" + ALIAS_BOMB, "a: &a")
    assert child.stdout.strip() == f"{path} line {bomb_line}: anchor &a (anchors are not allowed)"
    # Then through the FRED asset, with the three checks.
    text = replay_wh.assert_rejected("fred", before, str(path), "anchor &a", "not allowed")
    assert len(text) < 2000
    _recover(replay_wh, catalog_env, good, before)


def test_an_oversized_catalog_is_refused_before_parsing(replay_wh, catalog_env, good):
    before = replay_wh.state()
    padding = "# padding\n" * (MAX_CATALOG_BYTES // 10 + 1)  # just over the limit, in comments
    path = catalog_env(good + padding)
    limit = f"larger than {MAX_CATALOG_BYTES // 1024} KiB"
    replay_wh.assert_rejected("fred", before, str(path), limit, "refused")
    _recover(replay_wh, catalog_env, good, before)


def test_a_validation_error_names_the_field_and_never_prints_the_document(
    replay_wh, catalog_env, good
):
    before = replay_wh.state()
    huge = "x" * 500_000
    text = good.replace("staleness_days: 7,", "staleness_days: seven,", 1).replace(
        'description: "Overnight reverse repo', f'description: "{huge} Overnight reverse repo', 1
    )
    catalog_env(text)
    failure = replay_wh.assert_rejected(
        "fred", before, "invalid series catalog", "series.RRPONTSYD.staleness_days"
    )
    assert huge[:1000] not in failure and len(failure) < 3000
    _recover(replay_wh, catalog_env, good, before)
