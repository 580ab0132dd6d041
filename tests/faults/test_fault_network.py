"""Network faults against the live clients (local HTTP server only, never the internet).

Transient faults (5xx, 429, one timeout) must be retried and the run must succeed with the same
rows; persistent or malformed answers must fail naming source, series and problem, leave the
warehouse, the mart and the serving copy exactly as they were, and a rerun must recover.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading

import pytest

from orchestration.sources import fred
from tests.faults import harness
from tests.support.http_server import Reply, refused_url

pytestmark = pytest.mark.faults

HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><h1>Service Temporarily Unavailable</h1></body></html>"
)
LOGIN_PAGE = (
    "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>Sign in</title></head>"
    "<body><form action='/login' method='post'><input name='user'></form></body></html>"
)


def _good_rrp() -> str:
    return harness.fred_csv("RRPONTSYD", harness.fred_series()["RRPONTSYD"])


# -- transient: retried, then the run succeeds with exactly the same rows -------------------------


def test_http_500_then_503_then_success_is_retried(live_wh, caplog):
    before = live_wh.state()
    live_wh.serve_fred("RRPONTSYD", Reply(500), Reply(503), Reply.csv(_good_rrp()))
    with caplog.at_level(logging.WARNING, logger="crosswind.http"):
        result = live_wh.run("fred")
    assert result.success, harness.failure_text(result)
    assert len(live_wh.fred_requests("RRPONTSYD")) == 3
    assert len(live_wh.fred_requests("WALCL")) == 1
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert any("fred/RRPONTSYD: HTTP 500" in m and "retry 1/4" in m for m in retries), retries
    assert any("fred/RRPONTSYD: HTTP 503" in m and "retry 2/4" in m for m in retries), retries
    assert live_wh.state().build == before.build


def test_429_retry_after_is_honoured(live_wh, caplog, monkeypatch):
    before = live_wh.state()
    live_wh.sleeps.cap = 5.0  # really wait, so the request log can show it ...
    monkeypatch.setattr(fred, "CSV_MIN_INTERVAL", 0.0)  # ... and only the retry waits
    live_wh.serve_fred(
        "RRPONTSYD",
        Reply.text("slow down", status=429, headers={"Retry-After": "1"}),
        Reply.csv(_good_rrp()),
    )
    with caplog.at_level(logging.WARNING, logger="crosswind.http"):
        result = live_wh.run("fred")
    assert result.success, harness.failure_text(result)
    first, second = live_wh.fred_requests("RRPONTSYD")
    assert second.at - first.at >= 0.95, "Retry-After: 1 was not waited for"
    assert 1.0 in live_wh.sleeps.calls
    assert any(
        "HTTP 429" in r.getMessage()
        and "Retry-After 1" in r.getMessage()
        and "in 1.0 s" in r.getMessage()
        for r in caplog.records
    )
    assert live_wh.state().build == before.build


def test_one_read_timeout_is_retried(live_wh):
    before = live_wh.state()
    # The client's read timeout is 0.3 s in these tests (fast_http); the first answer takes 2 s.
    live_wh.serve_fred("RRPONTSYD", Reply.csv(_good_rrp(), delay=2.0), Reply.csv(_good_rrp()))
    result = live_wh.run("fred")
    assert result.success, harness.failure_text(result)
    assert len(live_wh.fred_requests("RRPONTSYD")) == 2
    assert live_wh.state().build == before.build


# -- persistent / malformed: fail clearly, nothing changes, a rerun recovers ----------------------


def _refuse_fred(live, monkeypatch):
    monkeypatch.setenv("CROSSWIND_FRED_CSV_URL", refused_url("/fred/graph/fredgraph.csv"))


def _fred(*replies):
    return lambda live, mp: live.serve_fred("RRPONTSYD", *replies)


def _dts(*pages):
    return lambda live, mp: live.serve_dts(*pages)


def _mof(name, *replies):
    return lambda live, mp: live.serve_mof(name, *replies)


def _json_page(records_slice: slice, pages: int = 2) -> Reply:
    records = harness.fiscaldata_records()[records_slice]
    return Reply.json(harness.fiscaldata_page(records, pages))


HALF = len(harness.fiscaldata_records()) // 2
TRUNCATED_JSON = json.dumps(harness.fiscaldata_page(harness.fiscaldata_records()[:HALF], 2))[:700]

REJECTED = {
    # id: (source, inject, needles naming source/series, host or file, and the problem)
    "5xx_every_attempt": (
        "fred",
        _fred(Reply(503)),
        ["[fred/RRPONTSYD]", "cannot reach", "HTTP 503", "after 5 attempts", "CROSSWIND_SOURCE"],
    ),
    "timeout_every_attempt": (
        "fred",
        _fred(Reply.csv("observation_date,RRPONTSYD\n", delay=3.0)),
        ["[fred/RRPONTSYD]", "no response within 0.3 s", "after 5 attempts"],
    ),
    "connection_refused": (
        "fred",
        _refuse_fred,
        # Series never loaded are fetched (full history) before the known ones: WTREGEN first.
        ["[fred/WTREGEN]", "connection refused", "after 2 attempts", "CROSSWIND_SOURCE=replay"],
    ),
    "html_error_page_instead_of_csv": (
        "fred",
        _fred(Reply.html(HTML_ERROR)),
        ["[fred/RRPONTSYD]", "HTML page ('503 Service Temporarily Unavailable')", "instead of csv"],
    ),
    "login_page_instead_of_json": (
        "treasury",
        _dts(Reply.html(LOGIN_PAGE)),
        ["[treasury/TGA]", "HTML page ('Sign in')", "instead of json", "login page"],
    ),
    "login_page_instead_of_mof_csv": (
        "mof",
        _mof("jgbcm_all.csv", Reply.html(LOGIN_PAGE)),
        ["[mof]", "jgbcm_all.csv", "HTML page ('Sign in')", "instead of csv"],
    ),
    "truncated_csv_body": (
        "fred",
        _fred(Reply.csv(_good_rrp()[: len(_good_rrp()) // 2].rsplit(",", 1)[0])),
        ["[fred/RRPONTSYD]", "without exactly 2 columns"],
    ),
    "truncated_json_body": (
        "treasury",
        _dts(Reply.text(TRUNCATED_JSON, content_type="application/json")),
        ["[treasury/TGA]", "not valid JSON"],
    ),
    "empty_csv_body": (
        "fred",
        _fred(Reply.csv("")),
        ["[fred/RRPONTSYD]", "empty response, expected csv"],
    ),
    "empty_json_body": (
        "treasury",
        _dts(Reply(200, b"", {"Content-Type": "application/json"})),
        ["[treasury/TGA]", "empty response, expected json"],
    ),
    "empty_mof_body": (
        "mof",
        _mof("jgbcm.csv", Reply(200, b"", {"Content-Type": "text/csv"})),
        ["[mof]", "jgbcm.csv", "empty response, expected csv"],
    ),
    "fiscaldata_page_missing": (
        "treasury",
        _dts(_json_page(slice(0, HALF)), Reply.text("not found", status=404)),
        ["[treasury/TGA]", "page 2 of 2 missing (HTTP 404)"],
    ),
    "fiscaldata_page_empty": (
        "treasury",
        _dts(_json_page(slice(0, HALF)), _json_page(slice(0, 0))),
        ["[treasury/TGA]", "page 2 of 2 is empty"],
    ),
    "fiscaldata_schema_changed": (
        "treasury",
        _dts(
            Reply.json(
                harness.fiscaldata_page(
                    [
                        {k: v for k, v in r.items() if k != "open_today_bal"}
                        for r in harness.fiscaldata_records()[:HALF]
                    ],
                    2,
                )
            )
        ),
        ["[treasury/TGA]", "schema changed, missing ['open_today_bal']"],
    ),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_network_fault_fails_clearly_loses_nothing_and_recovers(live_wh, monkeypatch, case):
    source, inject, needles = REJECTED[case]
    before = live_wh.state()
    with monkeypatch.context() as mp:
        inject(live_wh, mp)
        live_wh.assert_rejected(source, before, *needles)
    live_wh.serve_all_good()
    live_wh.reset_fred_counts()
    live_wh.assert_recovers(source, before)


def test_persistent_5xx_is_tried_five_times_with_exponential_backoff(live_wh, caplog):
    live_wh.serve_fred("RRPONTSYD", Reply(502))
    with caplog.at_level(logging.WARNING, logger="crosswind.http"):
        result = live_wh.run("fred")
    assert not result.success
    assert len(live_wh.fred_requests("RRPONTSYD")) == 5  # 1 + max_retries (4)
    delays = [
        float(re.search(r"in ([0-9.]+) s$", r.getMessage()).group(1))
        for r in caplog.records
        if r.getMessage().startswith("fred/RRPONTSYD: HTTP 502")
    ]
    assert len(delays) == 4
    # Full jitter under a doubling ceiling: 0.5, 1, 2, 4 s.
    assert all(0 <= d <= 0.5 * 2**i + 0.05 for i, d in enumerate(delays)), delays


# -- a transfer cut short (Content-Length promised, connection closed early) ----------------------


class _TruncatingServer:
    """Answers with a Content-Length larger than the body, then closes: `cut` times, then good."""

    def __init__(self, cut: int):
        self.cut, self.hits = cut, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/fredgraph.csv"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536).decode("latin-1")
                wanted = next(
                    (
                        s
                        for s in ("WALCL", "RRPONTSYD")
                        if f"id={s}&" in request or f"id={s} " in request
                    ),
                    None,
                )
                if wanted is None:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                body = harness.fred_csv(wanted, harness.fred_series()[wanted]).encode()
                self.hits += wanted == "RRPONTSYD"
                short = wanted == "RRPONTSYD" and self.hits <= self.cut
                head = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                ).encode()
                conn.sendall(head + (body[: len(body) // 2] if short else body))

    def close(self):
        self.sock.close()


def test_transfer_cut_short_every_time_fails_clearly(live_wh, monkeypatch):
    before = live_wh.state()
    server = _TruncatingServer(cut=100)
    try:
        with monkeypatch.context() as mp:
            mp.setenv("CROSSWIND_FRED_CSV_URL", server.url)
            text = live_wh.assert_rejected("fred", before, "[fred/RRPONTSYD]")
        assert "cut short" in text, text
    finally:
        server.close()
    live_wh.assert_recovers("fred", before)


def test_transfer_cut_short_once_is_retried(live_wh, monkeypatch):
    before = live_wh.state()
    server = _TruncatingServer(cut=1)
    try:
        monkeypatch.setenv("CROSSWIND_FRED_CSV_URL", server.url)
        result = live_wh.run("fred")
        assert result.success, harness.failure_text(result)
        assert live_wh.state().build == before.build
    finally:
        server.close()
