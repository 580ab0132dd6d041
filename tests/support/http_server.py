"""A scripted HTTP server on 127.0.0.1 for testing live source clients without the internet.

    def test_retry(http_server):
        http_server.route("/data.csv", Reply(503), Reply.text("DATE,X\\n2024-01-02,1\\n"))
        client.get(http_server.url("/data.csv"))
        assert [r.path for r in http_server.requests] == ["/data.csv", "/data.csv"]

Routes match on the path, and optionally on query parameters (`query={"page[number]": "2"}`);
routes with a query are tried before plain ones. A route serves its replies in order and then
keeps repeating the last one. `route_fn` takes a callable for anything dynamic. Unknown paths
get a 404 saying so. Every request is logged (method, path, parsed query, headers, time).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted response.

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

    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    target: str  # the raw request target, query included
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


Handler = Callable[[RecordedRequest], Reply]


@dataclass
class _Route:
    path: str
    query: dict[str, str] | None
    replies: list[Reply] | None
    handler: Handler | None
    served: int = 0

    def matches(self, request: RecordedRequest) -> bool:
        if request.path != self.path:
            return False
        return all(request.param(k) == v for k, v in (self.query or {}).items())

    def next_reply(self, request: RecordedRequest) -> Reply:
        if self.handler is not None:
            return self.handler(request)
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class LocalHttpServer:
    """Threaded HTTP/1.0 server on 127.0.0.1 with an ephemeral port. Use as a context manager."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> LocalHttpServer:
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

    def __enter__(self) -> LocalHttpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------------

    def route(self, path: str, *replies: Reply, query: Mapping[str, str] | None = None) -> None:
        """Serve `replies` in order on `path` (the last one repeats). Replaces an earlier route."""
        if not replies:
            raise ValueError("route() needs at least one Reply")
        self._add(_Route(path, dict(query) if query else None, list(replies), None))

    def route_fn(self, path: str, handler: Handler) -> None:
        """Answer `path` with `handler(request) -> Reply`."""
        self._add(_Route(path, None, None, handler))

    def _add(self, new: _Route) -> None:
        with self._lock:
            self._routes = [r for r in self._routes if (r.path, r.query) != (new.path, new.query)]
            self._routes.append(new)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- serving ---------------------------------------------------------------------------------

    def _reply_for(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            ordered = [r for r in self._routes if r.query] + [
                r for r in self._routes if not r.query
            ]
            for route in ordered:
                if route.matches(request):
                    return route.next_reply(request)
        return Reply.text(f"no scripted response for {request.path}", status=404)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=split.path,
                    target=self.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    at=time.monotonic(),
                )
                reply = server._reply_for(request)
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

            def log_message(self, format: str, *args) -> None:  # keep pytest output clean
                pass

        return _Handler


def refused_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 where nothing listens, so connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path if path.startswith('/') else '/' + path}"


class FakeSleep:
    """Drop-in for time.sleep that records the requested delays instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)

    @property
    def total(self) -> float:
        return sum(self.calls)
