"""A threaded HTTP server on 127.0.0.1 (ephemeral port) that answers through one method.

The rehearsal's fake services and the tests' scripted server (tests/support/http_server.py) are
both built on it: a subclass implements `respond(request) -> Reply`. Every request, proxy
`CONNECT`s included, reaches `respond`, so a fake can also refuse what was meant for the internet.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One response.

    `delay` waits before sending anything (to trigger client read timeouts); `drop` closes the
    connection without a response (a reset mid-request).
    """

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    @classmethod
    def text(
        cls,
        body: str,
        status: int = 200,
        content_type: str = "text/plain",
        headers: Mapping[str, str] | None = None,
        **kw,
    ) -> Reply:
        merged = {"Content-Type": f"{content_type}; charset=utf-8", **(headers or {})}
        return cls(status, body, merged, **kw)

    @classmethod
    def csv(cls, body: str, status: int = 200, **kw) -> Reply:
        return cls.text(body, status, "text/csv", **kw)

    @classmethod
    def html(cls, body: str, status: int = 200, **kw) -> Reply:
        return cls.text(body, status, "text/html", **kw)

    @classmethod
    def xml(cls, body: str, status: int = 200, **kw) -> Reply:
        return cls.text(body, status, "text/xml", **kw)

    @classmethod
    def json(cls, payload, status: int = 200, **kw) -> Reply:
        return cls.text(json.dumps(payload), status, "application/json", **kw)

    @classmethod
    def raw(cls, body: bytes, content_type: str, status: int = 200) -> Reply:
        """Bytes exactly as given (a recorded body, a Shift_JIS file, a workbook)."""
        return cls(status, body, {"Content-Type": content_type})

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    target: str  # the raw request target, query included
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived
    body: bytes = b""  # what a POST sent (the alert webhook tests read it)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def proxied_host(self) -> str | None:
        """The host a proxy request was meant for (`CONNECT host:443`, `GET http://host/`)."""
        if self.method == "CONNECT":
            return self.target
        split = urlsplit(self.target)
        return split.netloc or None


class LoopbackServer:
    """HTTP/1.0 on 127.0.0.1 with an ephemeral port; subclasses answer in `respond`."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    def respond(self, request: Request) -> Reply:
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self):
        # A short poll interval makes shutdown() (fixture teardown) return in milliseconds.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                length = self.headers.get("Content-Length", "").strip()
                length = int(length) if length.isdigit() else 0
                request = Request(
                    method=self.command,
                    path=split.path,
                    target=self.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    at=time.monotonic(),
                    body=self.rfile.read(length) if length > 0 else b"",
                )
                reply = server.respond(request)
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = reply.payload()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test); nothing to report

            do_HEAD = do_GET
            do_POST = do_GET
            do_CONNECT = do_GET

            def log_message(self, format: str, *args) -> None:  # keep output clean
                pass

        return _Handler
