"""What the fake services share: where a reply came from, and the folders they read.

Every reply is labelled with its origin, which the rehearsal summary counts per service:

- `wire`: a recorded body from the wire folder, byte for byte;
- `wire-derived`: built from recorded bodies (a FRED real-time period cut from a recording, a
  recorded page with its links pointed at the fake), in the service's own format;
- `snapshot`: the snapshot's values re-served in the service's own wire format;
- `generated`: the fake's own doing (a service error, the Shiller page when none was recorded);
- `missing`: neither folder has it; the service's own "not found" reply;
- `blocked`: a request meant for the internet, refused (a client not pointed at the fake).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestration.rehearsal.layout import WireRequest
from orchestration.rehearsal.loopback import Reply

WIRE = "wire"
DERIVED = "wire-derived"
SNAPSHOT = "snapshot"
GENERATED = "generated"
MISSING = "missing"
BLOCKED = "blocked"
ORIGINS = (WIRE, DERIVED, SNAPSHOT, GENERATED, MISSING, BLOCKED)

CONTENT_TYPES = {
    ".csv": "text/csv",
    ".xml": "text/xml; charset=UTF-8",
    ".json": "application/json",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class Answer:
    reply: Reply
    origin: str


class Folder:
    """A read-only data folder (the wire recording or the snapshot); `None` is an empty one."""

    def __init__(self, root: Path | None):
        self.root = Path(root).resolve() if root is not None else None

    def path(self, relative: str) -> Path | None:
        """The file at `relative` when it exists inside the folder, else None."""
        if self.root is None:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def read(self, relative: str) -> bytes | None:
        path = self.path(relative)
        return path.read_bytes() if path is not None else None

    def glob(self, folder: str, pattern: str) -> list[Path]:
        if self.root is None or not (self.root / folder).is_dir():
            return []
        return sorted(p for p in (self.root / folder).glob(pattern) if p.is_file())


def recorded(wire: Folder, key: WireRequest) -> Answer | None:
    """The recorded body for exactly this request, served as the service sent it."""
    body = wire.read(key.path)
    return Answer(Reply.raw(body, _content_type(key)), WIRE) if body is not None else None


def published_file(wire: Folder, snapshot: Folder, key: WireRequest) -> Answer | None:
    """A file a service publishes whole (MOF's CSVs, Shiller's workbook, OFR's index): as
    recorded, else as the snapshot keeps it (the snapshot holds these files byte for byte)."""
    exact = recorded(wire, key)
    if exact is not None or not key.plain:
        return exact
    kept = snapshot.read(key.path)
    return Answer(Reply.raw(kept, _content_type(key)), SNAPSHOT) if kept is not None else None


def not_found() -> Answer:
    """A web server's 404 page, for a file neither folder has."""
    page = "<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
    return Answer(Reply.html(page, status=404), MISSING)


def _content_type(key: WireRequest) -> str:
    return CONTENT_TYPES.get(Path(key.path).suffix.lower(), "application/octet-stream")
