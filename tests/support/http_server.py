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

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# The server itself lives in the product (the rehearsal's fake services use it too).
from orchestration.rehearsal.loopback import LoopbackServer, Reply
from orchestration.rehearsal.loopback import Request as RecordedRequest

__all__ = ["FakeSleep", "LocalHttpServer", "RecordedRequest", "Reply", "refused_url"]

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


class LocalHttpServer(LoopbackServer):
    """Threaded HTTP/1.0 server on 127.0.0.1 with an ephemeral port. Use as a context manager."""

    def __init__(self) -> None:
        super().__init__()
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

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

    def respond(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            ordered = [r for r in self._routes if r.query] + [
                r for r in self._routes if not r.query
            ]
            for route in ordered:
                if route.matches(request):
                    return route.next_reply(request)
        return Reply.text(f"no scripted response for {request.path}", status=404)


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
