"""End to end in a real browser: the Dagster UI shows raw, dbt and serving assets; the daily
report renders its charts offline. Headless Debian Chromium driven by Playwright; nothing is
downloaded (no `playwright install`). Screenshots go to test-output/browser/.

Skipped, with the reason, when /usr/bin/chromium is absent (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestration.lib import report, serving
from tests.serving.synthetic_marts import build_synthetic_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CROSSWIND_CHROMIUM", "/usr/bin/chromium"))
OUTPUT = REPO_ROOT / "test-output" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"browser test skipped: {CHROMIUM} not found "
        "(apt-get install chromium; .ci/run does this)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CROSSWIND_WAREHOUSE_DIR": str(tmp_path_factory.mktemp("warehouse")),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    exe = Path(sys.executable).with_name("dagster-webserver")
    cmd = [str(exe) if exe.exists() else shutil.which("dagster-webserver") or "dagster-webserver"]
    log = open(home / "webserver.log", "w")  # closed in the finally below
    proc = subprocess.Popen(
        [*cmd, "-h", "127.0.0.1", "-p", str(port), "-m", "orchestration.definitions"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 45
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/server_info", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "dagster-webserver did not start:\n"
                    + (home / "webserver.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _page(browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    # dismiss the "join the community" dialog the UI shows on a fresh instance
    page.add_init_script("window.localStorage.setItem('communityNux', '1')")
    return page


def test_asset_graph_shows_raw_dbt_and_serving_assets(browser, webserver):
    page = _page(browser)
    page.goto(
        webserver + "/assets/serving/duckdb?view=lineage&lineageScope=upstream&lineageDepth=10"
    )
    page.get_by_text("fct_margin_events").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(OUTPUT / "asset_lineage_upstream_of_serving.png"))
    text = page.inner_text("body")
    for group in (
        "ingestion_fred",
        "ingestion_treasury",
        "staging",
        "intermediate",
        "marts",
        "serving",
    ):
        assert group in text, group
    for node in (
        "observations",
        "jgb_yields",
        "daily_bars",  # raw Python assets
        "int_calendar_days",
        "fct_margin_events",
        "fct_labor_monthly",  # dbt models
        "duckdb",
    ):  # the serving copy
        assert node in text, node

    page.goto(webserver + "/locations/orchestration.definitions/asset-groups/serving")
    page.get_by_text("daily_report").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(OUTPUT / "serving_group.png"))
    text = page.inner_text("body")
    assert "duckdb" in text and "daily_report" in text
    page.close()


def test_report_renders_its_charts_offline(browser, tmp_path):
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=800)
    published = serving.publish(wh / "crosswind.duckdb")
    written = report.write_report(published.path, wh / "reports", synthetic=True)
    page = _page(browser)
    requests: list[str] = []

    def block_network(route):
        requests.append(route.request.url)
        route.abort()

    page.route("http*://**/*", block_network)  # offline: any web request would be a bug
    page.goto(written.latest.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5", timeout=30_000
    )
    plots = page.evaluate(
        "Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => "
        "({id: d.id, traces: (d.data || []).length, "
        "h: d.getBoundingClientRect().height}))"
    )
    assert len(plots) == 5
    assert all(p["traces"] >= 1 and p["h"] > 200 for p in plots), plots
    assert page.locator(".heatmaplayer").count() == 2  # the pillar and correlation heatmaps drew
    assert requests == []
    page.screenshot(path=str(OUTPUT / "report_full.png"), full_page=True)
    page.close()
