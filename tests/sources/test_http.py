"""HttpClient against a local scripted server: retries, backoff, pacing, errors, redaction."""

from __future__ import annotations

import logging
import time
import traceback
from datetime import UTC, datetime

import pytest

from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable
from orchestration.lib.http import (
    ERROR_MESSAGE_CHARS,
    HttpClient,
    SourceHttpError,
    parse_retry_after,
)
from tests.support.http_server import FakeSleep, Reply, refused_url

KEY = "abcdef0123456789abcdef0123456789"


def client(**kw) -> tuple[HttpClient, FakeSleep]:
    sleep = FakeSleep()
    kw.setdefault("timeout", (1.0, 2.0))
    return HttpClient("fred", sleep=sleep, **kw), sleep


def assert_no_key(exc: BaseException, caplog=None) -> None:
    text = "".join(traceback.format_exception(exc))
    assert KEY not in text
    assert exc.__cause__ is None and exc.__context__ is None
    if caplog is not None:
        assert caplog.records, "expected log records to check"
        for record in caplog.records:
            assert KEY not in record.getMessage()


def test_retries_500_and_503_then_succeeds_with_jittered_backoff(http_server):
    http_server.route("/d", Reply(500), Reply(503), Reply.csv("DATE,X\n2024-01-02,1\n"))
    http, sleep = client(backoff_base=0.5)
    response = http.get(http_server.url("/d"), expect="csv")
    assert response.text.startswith("DATE,X")
    assert len(http_server.requests_to("/d")) == 3
    assert len(sleep.calls) == 2
    # full jitter: uniform in [0, base * 2**attempt]
    assert 0 <= sleep.calls[0] <= 0.5 and 0 <= sleep.calls[1] <= 1.0


def test_backoff_is_capped_by_backoff_max(http_server):
    http_server.route("/d", Reply(502))
    http, sleep = client(max_retries=6, backoff_base=10, backoff_max=3)
    with pytest.raises(SourceUnreachable):
        http.get(http_server.url("/d"))
    assert len(sleep.calls) == 6 and max(sleep.calls) <= 3


def test_429_waits_retry_after_seconds(http_server):
    http_server.route("/d", Reply(429, headers={"Retry-After": "7"}), Reply.json({"ok": 1}))
    http, sleep = client()
    assert http.get(http_server.url("/d"), expect="json").json() == {"ok": 1}
    assert sleep.calls == [7.0]


def test_retry_after_is_capped(http_server):
    http_server.route("/d", Reply(503, headers={"Retry-After": "3600"}), Reply.text("ok"))
    http, sleep = client(backoff_max=30)
    http.get(http_server.url("/d"))
    assert sleep.calls == [30]


def test_retry_after_http_date():
    now = datetime(2026, 2, 12, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 12 Feb 2026 12:00:09 GMT", now) == 9
    assert parse_retry_after("Thu, 12 Feb 2026 11:00:00 GMT", now) == 0  # already past
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_exhausted_5xx_raise_unreachable_with_attempt_count(http_server):
    http_server.route("/d", Reply(503))
    http, sleep = client(max_retries=2)
    with pytest.raises(SourceUnreachable) as err:
        http.get(http_server.url("/d"), series="WALCL")
    assert len(http_server.requests_to("/d")) == 3 and len(sleep.calls) == 2
    assert "HTTP 503" in str(err.value) and "3 attempts" in str(err.value)
    assert err.value.source == "fred" and err.value.series == "WALCL"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_other_4xx_are_not_retried(http_server, status):
    http_server.route("/d", Reply.text("nope", status=status))
    http, sleep = client()
    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/d"))
    assert err.value.status == status
    assert len(http_server.requests_to("/d")) == 1 and sleep.calls == []
    assert f"HTTP {status}" in str(err.value) and "nope" in str(err.value)


def test_a_4xx_message_is_quoted_whole_up_to_the_bound_with_secrets_redacted(http_server):
    sentence = f"Bad Request. The value {KEY} is wrong; the limit that applies is (2000)."
    http_server.route("/whole", Reply.text(" ".join([sentence] * 20), status=400))
    http_server.route("/long", Reply.text("x" * (ERROR_MESSAGE_CHARS * 3), status=400))
    http, _ = client(redact=(KEY,))
    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/whole"))
    text = str(err.value)
    assert text.count("(2000).") == 20 and text.count("***") == 20
    assert_no_key(err.value)
    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/long"))
    assert str(err.value).endswith("x…") and str(err.value).count("x") == ERROR_MESSAGE_CHARS - 1
    # A secret cut in two by the bound is still redacted: redaction comes before the cut.
    http_server.route("/cut", Reply.text(" " * 5_000 + "y" * 1_990 + KEY, status=400))
    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/cut"))
    assert KEY[:8] not in str(err.value) and str(err.value).endswith("y***")


def test_an_error_message_hook_picks_the_message_out_of_the_envelope(http_server):
    body = '<?xml version="1.0"?>\n<error code="400" message="Bad Request.  Too many (2000)."/>'
    http_server.route("/d", Reply.text(body, status=400, content_type="text/xml"))
    http_server.route("/other", Reply.text("plain words", status=404))

    def envelope(payload: bytes) -> str | None:
        return (
            payload.decode().split('message="')[1].split('"')[0] if b"<error" in payload else None
        )

    http, _ = client(error_message=envelope)
    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/d"))
    assert str(err.value).endswith("HTTP 400 Bad Request: Bad Request. Too many (2000).")
    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/other"))
    assert str(err.value).endswith(": plain words")  # no envelope: the body as text


def test_read_timeout_is_retried_then_unreachable(http_server):
    http_server.route("/slow", Reply(200, "late", delay=3))
    http, _ = client(timeout=(1.0, 0.2), max_retries=1)
    started = time.monotonic()
    with pytest.raises(SourceUnreachable) as err:
        http.get(http_server.url("/slow"))
    assert time.monotonic() - started < 2
    assert "no response within 0.2 s" in str(err.value)
    assert len(http_server.requests_to("/slow")) == 2


def test_timeout_then_success(http_server):
    http_server.route("/slow", Reply(200, "late", delay=3), Reply.text("on time"))
    http, _ = client(timeout=(1.0, 0.2))
    assert http.get(http_server.url("/slow")).text == "on time"


def test_dropped_connection_is_retried(http_server):
    http_server.route("/d", Reply(drop=True), Reply.text("fine"))
    http, sleep = client()
    assert http.get(http_server.url("/d")).text == "fine"
    assert len(sleep.calls) == 1


def test_connection_refused_fails_fast_with_offline_hint():
    url = refused_url("/fred/series")
    http, sleep = client(max_retries=4)
    started = time.monotonic()
    with pytest.raises(SourceUnreachable) as err:
        http.get(url, params={"api_key": KEY}, series="WALCL")
    assert time.monotonic() - started < 2
    assert len(sleep.calls) <= 1  # refused is retried once at most, not max_retries times
    message = str(err.value)
    host = url.split("//")[1].split("/")[0]
    assert host in message and "connection refused" in message
    assert "CROSSWIND_SOURCE=sample" in message
    assert "CROSSWIND_SOURCE=replay CROSSWIND_SNAPSHOT_DIR=" in message
    assert_no_key(err.value)


def test_html_page_instead_of_csv_is_a_format_error(http_server):
    page = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>x</body></html>"
    http_server.route("/d", Reply.html(page))
    http, _ = client()
    with pytest.raises(SourceFormatError) as err:
        http.get(http_server.url("/d"), series="DGS10", expect="csv")
    assert "HTML page" in str(err.value) and "Sign in" in str(err.value)
    assert err.value.series == "DGS10"


def test_html_is_detected_without_a_content_type(http_server):
    http_server.route("/d", Reply(200, b"\n  <html><body>Service down</body></html>"))
    http, _ = client()
    with pytest.raises(SourceFormatError, match="HTML page"):
        http.get(http_server.url("/d"), expect="binary")


def test_csv_body_mentioning_html_is_fine(http_server):
    http_server.route("/d", Reply.csv("DATE,X\n2024-01-02,<html>\n"))
    http, _ = client()
    assert http.get(http_server.url("/d"), expect="csv").status_code == 200


@pytest.mark.parametrize("expect", ["csv", "json", "binary"])
def test_empty_body_is_a_format_error(http_server, expect):
    http_server.route("/d", Reply(200, b"  \n"))
    http, _ = client()
    with pytest.raises(SourceFormatError, match="empty response"):
        http.get(http_server.url("/d"), expect=expect)


def test_unparseable_json_is_a_format_error(http_server):
    http_server.route("/d", Reply.text('{"data": [1, 2', content_type="application/json"))
    http, _ = client()
    with pytest.raises(SourceFormatError, match="not valid JSON") as err:
        http.get(http_server.url("/d"), expect="json")
    assert err.value.__context__ is None


def test_min_interval_paces_requests(http_server):
    http_server.route("/d", Reply.text("ok"))
    http, sleep = client(min_interval=0.5)
    http.get(http_server.url("/d"))
    http.get(http_server.url("/d"))
    assert len(sleep.calls) == 1 and 0.3 < sleep.calls[0] <= 0.5


def test_invalid_url_is_a_plain_source_error():
    http, sleep = client()
    with pytest.raises(SourceError) as err:
        http.get("not a url")
    assert not isinstance(err.value, SourceUnreachable) and sleep.calls == []


def test_key_never_leaks_into_errors_or_logs(http_server, caplog):
    caplog.set_level(logging.DEBUG)  # includes urllib3's request-line debug log
    # The server echoes the request target (query with the key) in its error bodies.
    http_server.route_fn("/echo", lambda req: Reply.text(f"bad request {req.target}", status=400))
    http_server.route("/down", Reply(500, f"oops {KEY}"))
    http, _ = client(redact=[KEY], max_retries=2)

    with pytest.raises(SourceHttpError) as err:
        http.get(http_server.url("/echo"), params={"api_key": KEY})
    assert "bad request" in str(err.value) and "***" in str(err.value)
    assert_no_key(err.value, caplog)

    with pytest.raises(SourceUnreachable) as err:
        http.get(http_server.url("/down"), params={"api_key": KEY})
    assert_no_key(err.value, caplog)
    assert any("retry 1/2" in r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)


def test_key_in_a_timeout_never_leaks(http_server, caplog):
    caplog.set_level(logging.DEBUG)
    http_server.route("/slow", Reply(200, "late", delay=3))
    http, _ = client(timeout=(1.0, 0.2), max_retries=1, redact=[KEY])
    with pytest.raises(SourceUnreachable) as err:
        http.get(http_server.url("/slow"), params={"api_key": KEY})
    assert_no_key(err.value, caplog)
