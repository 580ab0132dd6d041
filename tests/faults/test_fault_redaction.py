"""The FRED API key, echoed back by a server in any escaping, never reaches a message.

The API client runs against the local server speaking the FRED API (test_fault_security's
FredApi). For one series the server answers 403 with a body quoting the key HTML-, JSON-, %- or
+-escaped. The key holds characters each escaping changes, so every form differs from the raw
key. Checks: (a) the failure names source, series and status and shows the key as ***, (b)
nothing changed, (c) once the server behaves, the run succeeds.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus

import pytest
from dagster._serdes import serialize_value

from orchestration.lib.http import redact_text
from tests.faults import harness
from tests.faults.test_fault_security import FredApi
from tests.support.http_server import RecordedRequest, Reply

pytestmark = pytest.mark.faults

KEY = "abc'def\"gh i<jk>"
ESCAPED = {
    "html": html.escape(KEY),
    "html_numeric": "".join(f"&#{ord(c)};" if not c.isalnum() else c for c in KEY),
    "json": json.dumps(KEY)[1:-1],
    "json_unicode": "".join(f"\\u{ord(c):04x}" if not c.isalnum() else c for c in KEY),
    "percent": quote(KEY, safe=""),
    "percent_lower": quote(KEY, safe="").lower(),
    "plus": quote_plus(KEY),
}


class EchoingFredApi(FredApi):
    """FRED API whose error page for `broken` series quotes the key in one escaping."""

    echo: str = ""

    def series(self, request: RecordedRequest) -> Reply:
        if (request.param("series_id") or "") in self.broken:
            return Reply.text(f"403 Forbidden: api_key={self.echo} is not valid", status=403)
        return super().series(request)


@pytest.mark.parametrize("form", list(ESCAPED))
def test_the_fred_key_echoed_in_any_escaping_never_appears(
    replay_wh, fast_http, http_server, monkeypatch, form
):
    assert ESCAPED[form] != KEY
    monkeypatch.setenv("CROSSWIND_SOURCE", "live")
    monkeypatch.setenv("FRED_API_KEY", KEY)
    monkeypatch.setenv("CROSSWIND_FRED_API_URL", http_server.url("/fred"))
    api = EchoingFredApi(http_server)
    api.echo = ESCAPED[form]
    api.broken = {"WTREGEN": 403}
    before = replay_wh.state()

    text = replay_wh.assert_rejected("fred", before, "[fred/WTREGEN]", "HTTP 403", "api_key=***")
    result = replay_wh.run("fred")
    everything = [text, *(serialize_value(e) for e in result.all_events)]
    assert not [t for t in everything if KEY in t or ESCAPED[form] in t]
    # not even a fragment: the longest run of the escaped key left anywhere is short
    assert not [t for t in everything if ESCAPED[form][: len(ESCAPED[form]) // 2] in t]

    api.broken = {}
    recovered = replay_wh.run("fred")
    assert recovered.success, harness.failure_text(recovered)


def test_a_mix_of_escapings_in_one_echo_is_redacted_too():
    mixed = "".join(
        html.escape(c) if i % 3 == 0 else (quote(c, safe="") if i % 3 == 1 else c)
        for i, c in enumerate(KEY)
    )
    assert redact_text(f"key={mixed}!", [KEY]) == "key=***!"
    body = json.dumps({"error": f"bad key {KEY}"}, ensure_ascii=True)
    assert KEY not in redact_text(body, [KEY]) and "***" in redact_text(body, [KEY])
