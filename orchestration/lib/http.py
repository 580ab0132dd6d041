"""The one HTTP client every live source uses: timeouts, retries with backoff, pacing, redaction.

Failures surface as the project's own errors, so a failed asset says which source, which series,
which host and what to do next:

- connection refused / DNS failure: `SourceUnreachable` after one quick retry, with the offline
  hint (a missing network is not going to come back in 30 seconds);
- timeouts, dropped connections, 429 and 5xx: retried with exponential backoff and full jitter
  (429/503 honour `Retry-After`), then `SourceUnreachable`;
- any other 4xx: `SourceHttpError` at once (retrying a 404 or a bad key never helps), quoting
  the service's whole message (up to ERROR_MESSAGE_CHARS; a source's `error_message` hook can
  pick the message out of its error envelope, e.g. FRED's `<error message="..."/>`);
- `expect="csv"/"json"/"binary"`: an empty body, an HTML page (error or login page) or JSON that
  does not parse is a `SourceFormatError`.

Secrets (the FRED API key travels in the query string) are replaced by `***` in every message,
log record and exception this module produces, and no exception is chained to a requests error
whose text carries the URL.

`tapped(observer)` shows every response a client hands back to its caller to `observer`
(`crosswind record --raw` writes the bodies to disk that way).
"""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable

log = logging.getLogger("crosswind.http")

OFFLINE_HINT = (
    "To work offline, set CROSSWIND_SOURCE=sample (bundled synthetic sample), or "
    "CROSSWIND_SOURCE=replay CROSSWIND_SNAPSHOT_DIR=<snapshot folder> (e.g. ../shared/snapshot)."
)
USER_AGENT = "crosswind/0.1 (market-liquidity warehouse; python-requests)"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Refused connections and DNS failures are retried once only: they are almost never transient.
CONNECT_FAILURE_RETRIES = 1
HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
# A service's error message is quoted whole up to this length: the part that says what to do
# often comes last (FRED's vintage cap ends "... allowed for this file type (2000).").
ERROR_MESSAGE_CHARS = 2_000

Expect = Literal["csv", "json", "binary", None]
# (source, URL as requested, response): sees each response `HttpClient.get` returns.
Tap = Callable[[str, str, requests.Response], None]
_TAPS: list[Tap] = []


@dataclass(frozen=True)
class _Failure:
    problem: str
    retry: bool = True
    retry_limit: int = 1_000  # capped by the client's max_retries
    retry_after: float | None = None
    status: int | None = None


class SourceHttpError(SourceError):
    """A non-retryable HTTP status (4xx other than 429): `status` says which."""

    def __init__(self, source: str, problem: str, series: str | None = None, *, status: int):
        self.status = status
        super().__init__(source, problem, series)


# Secrets of every client alive in this process, so the urllib3 debug log (which prints each
# request line, query string included) can be scrubbed too.
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


_HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
_JSON_SHORT = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _char_forms(char: str) -> list[str]:
    """Regex alternatives for one character of a secret, as a server might echo it back."""
    code = ord(char)
    utf8 = char.encode("utf-8")
    forms = [
        re.escape(char),
        "".join(f"%{b:02x}" for b in utf8),  # %-encoding (matched case-insensitively)
        f"&#0*{code};",  # HTML numeric entities
        f"&#x0*{code:x};",
    ]
    if char == " ":
        forms.append(r"\+")  # form encoding (quote_plus)
    if char in _HTML_NAMES:
        forms.append(f"&{_HTML_NAMES[char]};")
    if char in _JSON_SHORT:
        forms.append(re.escape(_JSON_SHORT[char]))
    units = char.encode("utf-16-be")  # JSON \\uXXXX, a surrogate pair beyond the BMP
    forms.append("".join(f"\\\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2)))
    return forms


@functools.lru_cache(maxsize=64)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    """Matches `secret` raw, %- or +-encoded, HTML-escaped or JSON-escaped, character by
    character, so a mix of escapings (or upper- vs lower-case hex) is caught as well."""
    body = "".join(f"(?:{'|'.join(_char_forms(c))})" for c in secret)
    return re.compile(body, re.IGNORECASE)


def redact_text(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret, in any escaping a server might echo, replaced by ***."""
    for secret in secrets:
        if secret:
            text = _secret_pattern(secret).sub("***", text)
    return text


def register_secrets(*secrets: str) -> None:
    """Have the urllib3 request log scrub these too (e.g. a webhook URL whose path is a token)."""
    with _SECRETS_LOCK:
        _SECRETS.update(s for s in secrets if s)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _SECRETS_LOCK:
            secrets = list(_SECRETS)
        if secrets:
            message = record.getMessage()
            cleaned = redact_text(message, secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


_REDACTING_FILTER = _RedactingFilter()
# Logger filters only see records logged on that exact logger, so attach to the one that logs
# request lines (and our own, in case a caller formats a secret into a message).
for _name in ("urllib3.connectionpool", "crosswind.http"):
    logging.getLogger(_name).addFilter(_REDACTING_FILTER)


@contextmanager
def tapped(observer: Tap) -> Iterator[None]:
    """Call `observer` with every response any client returns while the block runs."""
    _TAPS.append(observer)
    try:
        yield
    finally:
        _TAPS.remove(observer)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and any(marker in head for marker in HTML_MARKERS)


def _html_title(body: bytes) -> str | None:
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:8192], re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:80] or None


class HttpClient:
    """GET with timeouts, retries, pacing and secret redaction for one source.

    `timeout` is (connect, read) seconds. `max_retries` counts retries after the first attempt.
    `min_interval` is the least time between two request starts (rate limits). `redact` lists
    strings (API keys) never to appear in messages. `error_message(body)` returns the message
    of the source's error envelope, or None to quote the body as text. `sleep` is injectable so
    tests don't wait.
    """

    def __init__(
        self,
        source: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        min_interval: float = 0.0,
        redact: Sequence[str] = (),
        session: requests.Session | None = None,
        error_message: Callable[[bytes], str | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.source = source
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.min_interval = min_interval
        self._secrets = tuple(s for s in redact if s)
        self.session = session or requests.Session()
        if session is None:
            self.session.headers["User-Agent"] = USER_AGENT
        self._error_message = error_message
        self._sleep = sleep
        self._random = random.Random()
        self._pace_lock = threading.Lock()
        self._last_start: float | None = None
        register_secrets(*self._secrets)

    # -- public ----------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        return redact_text(str(text), self._secrets)

    def get(
        self,
        url: str,
        *,
        params: dict | None = None,
        series: str | None = None,
        expect: Expect = None,
    ) -> requests.Response:
        """GET `url`; returns the 2xx response or raises a `SourceError` subclass."""
        where = self._where(url)
        attempt = 0
        while True:
            self._pace()
            outcome = self._attempt(url, params)
            if isinstance(outcome, requests.Response):
                if expect is not None:
                    self._check_body(outcome, expect, where, series)
                for observer in tuple(_TAPS):
                    observer(self.source, (outcome.history or [outcome])[0].request.url, outcome)
                return outcome
            problem = self.redact(outcome.problem)
            if outcome.status is not None and not outcome.retry:
                raise SourceHttpError(
                    self.source, f"{where}: {problem}", series, status=outcome.status
                )
            if not outcome.retry:
                raise SourceError(self.source, f"{where}: {problem}", series)
            limit = min(self.max_retries, outcome.retry_limit)
            if attempt >= limit:
                tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
                raise SourceUnreachable(
                    self.source,
                    f"cannot reach {where}: {problem} (after {tries}). {OFFLINE_HINT}",
                    series,
                )
            delay = self._backoff(attempt, outcome.retry_after)
            attempt += 1
            log.warning(
                "%s: %s at %s; retry %d/%d in %.1f s",
                self.source if series is None else f"{self.source}/{series}",
                problem,
                where,
                attempt,
                limit,
                delay,
            )
            self._sleep(delay)

    # -- internals -------------------------------------------------------------------------------

    def _attempt(self, url: str, params: dict | None) -> requests.Response | _Failure:
        """The 2xx response, or what went wrong as plain text.

        Exceptions become strings here, so nothing raised later is chained to a requests error
        whose text carries the full URL (and the API key in it).
        """
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.exceptions.ConnectTimeout:
            return _Failure(f"could not connect within {self.timeout[0]:g} s")
        except requests.exceptions.Timeout:
            return _Failure(f"no response within {self.timeout[1]:g} s")
        except requests.exceptions.ConnectionError as exc:
            reason = _connect_failure(exc)
            if reason is not None:
                return _Failure(reason, retry_limit=CONNECT_FAILURE_RETRIES)
            return _Failure("connection dropped before a complete response")
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ):
            return _Failure("response cut short before its announced length")
        except requests.exceptions.RequestException as exc:
            # Invalid URL, redirect loop, ...: configuration, not weather; retrying won't help.
            return _Failure(f"request failed ({type(exc).__name__})", retry=False)
        status = response.status_code
        if 200 <= status < 300:
            return response
        problem = f"HTTP {status} {response.reason or ''}".rstrip()
        if status in RETRY_STATUSES or status >= 500:
            header = response.headers.get("Retry-After")
            retry_after = parse_retry_after(header)
            if retry_after is not None:
                problem += f" (Retry-After {header})"
            return _Failure(problem, status=status, retry_after=retry_after)
        snippet = _error_text(response, self._error_message, self.redact)
        return _Failure(f"{problem}: {snippet}" if snippet else problem, status=status, retry=False)

    def _pace(self) -> None:
        if self.min_interval <= 0:
            return
        with self._pace_lock:
            now = time.monotonic()
            if self._last_start is not None:
                wait = self._last_start + self.min_interval - now
                if wait > 0:
                    self._sleep(wait)
                    now += wait  # an injected sleep may not really wait
            self._last_start = max(now, time.monotonic())

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return self._random.uniform(0, ceiling)

    def _check_body(
        self, response: requests.Response, expect: str, where: str, series: str | None
    ) -> None:
        body = response.content or b""
        if not body.strip():
            raise SourceFormatError(
                self.source, self.redact(f"{where}: empty response, expected {expect}"), series
            )
        # The body decides: some servers label CSV downloads text/html, and a CSV body never
        # starts with markup.
        if looks_like_html(body):
            title = _html_title(body)
            what = f"an HTML page ({title!r})" if title else "an HTML page"
            raise SourceFormatError(
                self.source,
                self.redact(f"{where}: got {what} instead of {expect} (error or login page?)"),
                series,
            )
        if expect == "json" and not _parses_as_json(response):
            head = body[:60].decode("utf-8", "replace")
            raise SourceFormatError(
                self.source,
                self.redact(f"{where}: response is not valid JSON (starts {head!r})"),
                series,
            )

    def _where(self, url: str) -> str:
        """Host and path only: query strings may carry keys and are noise in messages."""
        parts = urlsplit(url)
        return self.redact(
            f"{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}{parts.path}"
        )


def _connect_failure(exc: requests.exceptions.ConnectionError) -> str | None:
    """'connection refused' / 'DNS lookup failed' when no connection was ever made, else None."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError):
            text = str(current).lower()
            if "name or service" in text or "resolve" in text or "nodename" in text:
                return "DNS lookup failed"
            if "refused" in text:
                return "connection refused"
            return "could not open a connection"
        current = (
            getattr(current, "reason", None)
            or (
                current.args[0]
                if current.args and isinstance(current.args[0], BaseException)
                else None
            )
            or current.__cause__
            or current.__context__
        )
    return None


def _error_text(
    response: requests.Response,
    error_message: Callable[[bytes], str | None] | None,
    redact: Callable[[str], str],
) -> str:
    """What the service said about its error, whole up to ERROR_MESSAGE_CHARS.

    Redacted before it is cut, so a cut can never leave part of a secret behind.
    """
    body = response.content or b""
    if looks_like_html(body):
        title = _html_title(body)
        return f"HTML page {title!r}" if title else "HTML page"
    message = error_message(body) if error_message is not None else None
    if message is None:
        message = body.decode("utf-8", "replace")
    text = " ".join(redact(message).split())
    if len(text) > ERROR_MESSAGE_CHARS:
        return text[: ERROR_MESSAGE_CHARS - 1] + "…"
    return text


def _parses_as_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True
